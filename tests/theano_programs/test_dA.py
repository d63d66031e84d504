"""DeepLearningTutorials, dA.py: a denoising autoencoder with tied weights; the input is
corrupted by a binomial mask drawn as floatX from RandomStreams, the cost is the
cross-entropy of the reconstruction, trained by minibatch SGD (no corruption, then 30%)."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T
from symgraph.tensor.shared_randomstreams import RandomStreams

from .test_logistic_sgd import load_data

pytestmark = pytest.mark.theano_programs


class dA(object):
    def __init__(self, numpy_rng, theano_rng=None, input=None, n_visible=64, n_hidden=32,
                 W=None, bhid=None, bvis=None):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        if not theano_rng:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
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
        self.W_prime = self.W.T  # tied weights
        self.theano_rng = theano_rng
        if input is None:
            self.x = T.dmatrix(name='input')
        else:
            self.x = input
        self.params = [self.W, self.b, self.b_prime]

    def get_corrupted_input(self, input, corruption_level):
        # keep each pixel with probability 1 - corruption_level; the mask is floatX so that
        # the product stays in floatX
        return self.theano_rng.binomial(size=input.shape, n=1, p=1 - corruption_level,
                                        dtype=symgraph.config.floatX) * input

    def get_hidden_values(self, input):
        return T.nnet.sigmoid(T.dot(input, self.W) + self.b)

    def get_reconstructed_input(self, hidden):
        return T.nnet.sigmoid(T.dot(hidden, self.W_prime) + self.b_prime)

    def get_cost_updates(self, corruption_level, learning_rate):
        tilde_x = self.get_corrupted_input(self.x, corruption_level)
        y = self.get_hidden_values(tilde_x)
        z = self.get_reconstructed_input(y)
        # one cross-entropy per example of the minibatch
        L = - T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        cost = T.mean(L)
        gparams = T.grad(cost, self.params)
        updates = [(param, param - learning_rate * gparam)
                   for param, gparam in zip(self.params, gparams)]
        return (cost, updates)


def train_dA(corruption_level, learning_rate=0.1, training_epochs=5, batch_size=20):
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()
    x = T.matrix('x')
    rng = numpy.random.RandomState(123)
    theano_rng = RandomStreams(rng.randint(2 ** 30))
    da = dA(numpy_rng=rng, theano_rng=theano_rng, input=x, n_visible=8 * 8, n_hidden=32)
    cost, updates = da.get_cost_updates(corruption_level=corruption_level,
                                        learning_rate=learning_rate)
    train_da = symgraph.function(
        [index], cost, updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size]})

    epoch_costs = []
    for epoch in range(training_epochs):
        c = []
        for batch_index in range(n_train_batches):
            c.append(train_da(batch_index))
        epoch_costs.append(numpy.mean(c, dtype='float64'))
    return epoch_costs, da


@pytest.mark.parametrize("corruption_level", [0., 0.3])
def test_dA(corruption_level):
    epoch_costs, da = train_dA(corruption_level)
    assert all(numpy.isfinite(epoch_costs))
    assert epoch_costs[-1] < epoch_costs[0] * 0.9
    assert da.W.get_value(borrow=True).shape == (64, 32)
