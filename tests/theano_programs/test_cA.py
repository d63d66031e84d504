"""DeepLearningTutorials, cA.py: a contractive autoencoder, whose cost adds the squared
Frobenius norm of the Jacobian of the hidden units (written with reshapes and broadcasting)
to the reconstruction's cross-entropy; minibatch SGD on digits."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T

from .test_logistic_sgd import load_data

pytestmark = pytest.mark.theano_programs


class cA(object):
    def __init__(self, numpy_rng, input=None, n_visible=64, n_hidden=32, n_batchsize=1,
                 W=None, bhid=None, bvis=None):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        self.n_batchsize = n_batchsize
        if not W:
            initial_W = numpy.asarray(
                numpy_rng.uniform(low=-4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  high=4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  size=(n_visible, n_hidden)),
                dtype=symgraph.config.floatX)
            W = symgraph.shared(value=initial_W, name='W', borrow=True)
        if not bvis:
            bvis = symgraph.shared(value=numpy.zeros(n_visible, dtype=symgraph.config.floatX),
                                   borrow=True)
        if not bhid:
            bhid = symgraph.shared(value=numpy.zeros(n_hidden, dtype=symgraph.config.floatX),
                                   name='b', borrow=True)
        self.W = W
        self.b = bhid
        self.b_prime = bvis
        self.W_prime = self.W.T
        if input is None:
            self.x = T.dmatrix(name='input')
        else:
            self.x = input
        self.params = [self.W, self.b, self.b_prime]

    def get_hidden_values(self, input):
        return T.nnet.sigmoid(T.dot(input, self.W) + self.b)

    def get_jacobian(self, hidden, W):
        """The Jacobian of each example's hidden units: (batch, n_visible, n_hidden)."""
        return T.reshape(hidden * (1 - hidden), (self.n_batchsize, 1, self.n_hidden)) * \
            T.reshape(W, (1, self.n_visible, self.n_hidden))

    def get_reconstructed_input(self, hidden):
        return T.nnet.sigmoid(T.dot(hidden, self.W_prime) + self.b_prime)

    def get_cost_updates(self, contraction_level, learning_rate):
        y = self.get_hidden_values(self.x)
        z = self.get_reconstructed_input(y)
        J = self.get_jacobian(y, self.W)
        self.L_rec = - T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        # the contraction: the Jacobian's squared Frobenius norm, averaged over the batch
        self.L_jacob = T.sum(J ** 2) // self.n_batchsize
        cost = T.mean(self.L_rec) + contraction_level * T.mean(self.L_jacob)
        gparams = T.grad(cost, self.params)
        updates = []
        for param, gparam in zip(self.params, gparams):
            updates.append((param, param - learning_rate * gparam))
        return (cost, updates)


def test_cA(learning_rate=0.05, training_epochs=5, batch_size=20, contraction_level=.1):
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    index = T.lscalar()
    x = T.matrix('x')
    rng = numpy.random.RandomState(123)
    ca = cA(numpy_rng=rng, input=x, n_visible=8 * 8, n_hidden=32, n_batchsize=batch_size)
    cost, updates = ca.get_cost_updates(contraction_level=contraction_level,
                                        learning_rate=learning_rate)
    train_ca = symgraph.function(
        [index], [T.mean(ca.L_rec), ca.L_jacob], updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size]})
    epoch_costs = []
    for epoch in range(training_epochs):
        c = []
        for batch_index in range(n_train_batches):
            c.append(train_ca(batch_index))
        c_array = numpy.vstack(c)
        epoch_costs.append(numpy.mean(c_array[0]))
    assert epoch_costs[-1] < epoch_costs[0] * 0.9
    assert numpy.isfinite(c_array).all()
