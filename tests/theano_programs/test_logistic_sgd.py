"""DeepLearningTutorials, logistic_sgd.py: multiclass logistic regression trained by minibatch
SGD with early stopping, the data in shared variables indexed through givens, the best model
pickled and loaded again to predict. The 8x8 digits stand in for MNIST."""

import pickle
import timeit

import numpy

import pytest
import symgraph
import symgraph.tensor as T

from .data import digit_splits

pytestmark = pytest.mark.theano_programs


class LogisticRegression(object):
    """Softmax regression: P(Y=i|x) = softmax(x W + b)_i."""

    def __init__(self, input, n_in, n_out):
        self.W = symgraph.shared(value=numpy.zeros((n_in, n_out), dtype=symgraph.config.floatX),
                                 name='W', borrow=True)
        self.b = symgraph.shared(value=numpy.zeros((n_out,), dtype=symgraph.config.floatX),
                                 name='b', borrow=True)
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        # mean over the minibatch of -log P(y_i | x_i): rows picked by arange, columns by y
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError('y should have the same shape as self.y_pred',
                            ('y', y.type, 'y_pred', self.y_pred.type))
        if y.dtype.startswith('int'):
            return T.mean(T.neq(self.y_pred, y))
        else:
            raise NotImplementedError()


def load_data(n_train=600, n_valid=200, n_test=200):
    def shared_dataset(data_xy, borrow=True):
        data_x, data_y = data_xy
        shared_x = symgraph.shared(numpy.asarray(data_x, dtype=symgraph.config.floatX),
                                   borrow=borrow)
        shared_y = symgraph.shared(numpy.asarray(data_y, dtype=symgraph.config.floatX),
                                   borrow=borrow)
        # labels are stored as floats (GPU friendly) and used as ints
        return shared_x, T.cast(shared_y, 'int32')

    train_set, valid_set, test_set = digit_splits(n_train, n_valid, n_test)
    test_set_x, test_set_y = shared_dataset(test_set)
    valid_set_x, valid_set_y = shared_dataset(valid_set)
    train_set_x, train_set_y = shared_dataset(train_set)
    return [(train_set_x, train_set_y), (valid_set_x, valid_set_y), (test_set_x, test_set_y)]


def sgd_optimization_digits(learning_rate=0.3, n_epochs=8, batch_size=50, model_file=None):
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    valid_set_x, valid_set_y = datasets[1]
    test_set_x, test_set_y = datasets[2]

    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()  # a minibatch's index
    x = T.matrix('x')    # rasterised images
    y = T.ivector('y')   # labels

    classifier = LogisticRegression(input=x, n_in=8 * 8, n_out=10)
    cost = classifier.negative_log_likelihood(y)

    test_model = symgraph.function(
        inputs=[index], outputs=classifier.errors(y),
        givens={x: test_set_x[index * batch_size: (index + 1) * batch_size],
                y: test_set_y[index * batch_size: (index + 1) * batch_size]})
    validate_model = symgraph.function(
        inputs=[index], outputs=classifier.errors(y),
        givens={x: valid_set_x[index * batch_size: (index + 1) * batch_size],
                y: valid_set_y[index * batch_size: (index + 1) * batch_size]})

    g_W = T.grad(cost=cost, wrt=classifier.W)
    g_b = T.grad(cost=cost, wrt=classifier.b)
    updates = [(classifier.W, classifier.W - learning_rate * g_W),
               (classifier.b, classifier.b - learning_rate * g_b)]
    train_model = symgraph.function(
        inputs=[index], outputs=cost, updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size],
                y: train_set_y[index * batch_size: (index + 1) * batch_size]})

    # early stopping: patience grows when the validation error improves enough
    patience = 5000
    patience_increase = 2
    improvement_threshold = 0.995
    validation_frequency = min(n_train_batches, patience // 2)
    best_validation_loss = numpy.inf
    test_score = 0.
    start_time = timeit.default_timer()
    costs = []
    done_looping = False
    epoch = 0
    while (epoch < n_epochs) and (not done_looping):
        epoch = epoch + 1
        for minibatch_index in range(n_train_batches):
            minibatch_avg_cost = train_model(minibatch_index)
            costs.append(float(minibatch_avg_cost))
            iter = (epoch - 1) * n_train_batches + minibatch_index
            if (iter + 1) % validation_frequency == 0:
                validation_losses = [validate_model(i) for i in range(n_valid_batches)]
                this_validation_loss = numpy.mean(validation_losses)
                if this_validation_loss < best_validation_loss:
                    if this_validation_loss < best_validation_loss * improvement_threshold:
                        patience = max(patience, iter * patience_increase)
                    best_validation_loss = this_validation_loss
                    test_losses = [test_model(i) for i in range(n_test_batches)]
                    test_score = numpy.mean(test_losses)
                    if model_file is not None:
                        with open(model_file, 'wb') as f:
                            pickle.dump(classifier, f)
            if patience <= iter:
                done_looping = True
                break
    end_time = timeit.default_timer()
    assert end_time >= start_time
    return best_validation_loss, test_score, costs


def predict(model_file):
    classifier = pickle.load(open(model_file, 'rb'))
    predict_model = symgraph.function(inputs=[classifier.input], outputs=classifier.y_pred)
    datasets = load_data()
    test_set_x, test_set_y = datasets[2]
    test_set_x = test_set_x.get_value()
    predicted_values = predict_model(test_set_x[:10])
    return predicted_values


def test_logistic_sgd(tmp_path):
    model_file = str(tmp_path / 'best_model.pkl')
    best_validation_loss, test_score, costs = sgd_optimization_digits(model_file=model_file)
    assert numpy.mean(costs[-12:]) < costs[0] / 2
    assert best_validation_loss < 0.1 and test_score < 0.1

    predicted = predict(model_file)
    labels = digit_splits(600, 200, 200)[2][1][:10]
    assert predicted.shape == (10,) and (predicted == labels).mean() >= 0.8
