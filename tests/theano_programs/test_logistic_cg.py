"""DeepLearningTutorials, logistic_cg.py: logistic regression with its parameters packed in one
shared vector (W and b are views of it), trained by scipy.optimize.fmin_cg, the cost and the
gradient compiled as functions of a minibatch index, the callback validating."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T

from .test_logistic_sgd import load_data

pytestmark = pytest.mark.theano_programs


class LogisticRegression(object):
    def __init__(self, input, n_in, n_out):
        # W (n_in x n_out) and b (n_out), flattened into one vector
        self.theta = symgraph.shared(
            value=numpy.zeros(n_in * n_out + n_out, dtype=symgraph.config.floatX),
            name='theta', borrow=True)
        self.W = self.theta[0:n_in * n_out].reshape((n_in, n_out))
        self.b = self.theta[n_in * n_out:n_in * n_out + n_out]
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=-1)
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError('y should have the same shape as self.y_pred',
                            ('y', y.type, 'y_pred', self.y_pred.type))
        if y.dtype.startswith('int'):
            return T.mean(T.neq(self.y_pred, y))
        else:
            raise NotImplementedError()


def test_cg_optimization(n_epochs=12, batch_size=100):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    valid_set_x, valid_set_y = datasets[1]
    test_set_x, test_set_y = datasets[2]
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size
    n_in = 8 * 8
    n_out = 10

    minibatch_offset = T.lscalar()
    x = T.matrix()
    y = T.ivector()
    classifier = LogisticRegression(input=x, n_in=n_in, n_out=n_out)
    cost = classifier.negative_log_likelihood(y).mean()

    test_model = symgraph.function(
        [minibatch_offset], classifier.errors(y),
        givens={x: test_set_x[minibatch_offset:minibatch_offset + batch_size],
                y: test_set_y[minibatch_offset:minibatch_offset + batch_size]},
        name="test")
    validate_model = symgraph.function(
        [minibatch_offset], classifier.errors(y),
        givens={x: valid_set_x[minibatch_offset: minibatch_offset + batch_size],
                y: valid_set_y[minibatch_offset: minibatch_offset + batch_size]},
        name="validate")
    batch_cost = symgraph.function(
        [minibatch_offset], cost,
        givens={x: train_set_x[minibatch_offset: minibatch_offset + batch_size],
                y: train_set_y[minibatch_offset: minibatch_offset + batch_size]},
        name="batch_cost")
    batch_grad = symgraph.function(
        [minibatch_offset], T.grad(cost, classifier.theta),
        givens={x: train_set_x[minibatch_offset: minibatch_offset + batch_size],
                y: train_set_y[minibatch_offset: minibatch_offset + batch_size]},
        name="batch_grad")

    def train_fn(theta_value):
        classifier.theta.set_value(theta_value, borrow=True)
        train_losses = [batch_cost(i * batch_size) for i in range(n_train_batches)]
        return numpy.mean(train_losses)

    def train_fn_grad(theta_value):
        classifier.theta.set_value(theta_value, borrow=True)
        grad = batch_grad(0)
        for i in range(1, n_train_batches):
            grad += batch_grad(i * batch_size)
        return grad / n_train_batches

    validation_scores = [numpy.inf, 0]

    def callback(theta_value):
        classifier.theta.set_value(theta_value, borrow=True)
        validation_losses = [validate_model(i * batch_size) for i in range(n_valid_batches)]
        this_validation_loss = numpy.mean(validation_losses)
        if this_validation_loss < validation_scores[0]:
            validation_scores[0] = this_validation_loss
            test_losses = [test_model(i * batch_size) for i in range(n_test_batches)]
            validation_scores[1] = numpy.mean(test_losses)

    start_cost = train_fn(numpy.zeros((n_in + 1) * n_out, dtype=symgraph.config.floatX))
    best_w_b = scipy_optimize.fmin_cg(
        f=train_fn, x0=numpy.zeros((n_in + 1) * n_out, dtype=x.dtype), fprime=train_fn_grad,
        callback=callback, disp=0, maxiter=n_epochs)
    assert train_fn(best_w_b) < start_cost / 3
    assert validation_scores[0] < 0.1 and validation_scores[1] < 0.1
