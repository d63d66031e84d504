"""DeepLearningTutorials, convolutional_mlp.py: LeNet, two convolution + max-pooling layers
(conv2d, pool.pool_2d), a tanh hidden layer and a logistic regression on top, trained by
minibatch SGD. On 8x8 digits: 3x3 filters, then 2x2 ones; the older API (conv.conv2d with
image_shape, downsample.max_pool_2d with ds) is checked to give the same output."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T
from symgraph.tensor.nnet import conv2d
from symgraph.tensor.signal import pool

from .test_logistic_sgd import LogisticRegression, load_data
from .test_mlp import HiddenLayer

pytestmark = pytest.mark.theano_programs


class LeNetConvPoolLayer(object):
    """A convolution followed by max-pooling, then tanh(pooled + b)."""

    def __init__(self, rng, input, filter_shape, image_shape, poolsize=(2, 2)):
        assert image_shape[1] == filter_shape[1]
        self.input = input
        # each hidden unit sees channels * filter height * filter width inputs
        fan_in = numpy.prod(filter_shape[1:])
        fan_out = (filter_shape[0] * numpy.prod(filter_shape[2:]) // numpy.prod(poolsize))
        W_bound = numpy.sqrt(6. / (fan_in + fan_out))
        self.W = symgraph.shared(
            numpy.asarray(rng.uniform(low=-W_bound, high=W_bound, size=filter_shape),
                          dtype=symgraph.config.floatX),
            borrow=True)
        b_values = numpy.zeros((filter_shape[0],), dtype=symgraph.config.floatX)
        self.b = symgraph.shared(value=b_values, borrow=True)

        conv_out = conv2d(input=input, filters=self.W, filter_shape=filter_shape,
                          input_shape=image_shape)
        pooled_out = pool.pool_2d(input=conv_out, ws=poolsize, ignore_border=True)
        # the bias is a vector: one value per feature map, broadcast over batch and pixels
        self.output = T.tanh(pooled_out + self.b.dimshuffle('x', 0, 'x', 'x'))
        self.params = [self.W, self.b]
        self.conv_out = conv_out
        self.pooled_out = pooled_out


def evaluate_lenet5(learning_rate=0.2, n_epochs=6, nkerns=(6, 12), batch_size=20):
    rng = numpy.random.RandomState(23455)
    datasets = load_data(n_train=400, n_valid=100, n_test=100)
    train_set_x, train_set_y = datasets[0]
    valid_set_x, valid_set_y = datasets[1]
    test_set_x, test_set_y = datasets[2]
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()
    x = T.matrix('x')
    y = T.ivector('y')

    # (batch, 64) rows become (batch, 1, 8, 8) images
    layer0_input = x.reshape((batch_size, 1, 8, 8))
    # 8x8 -> 3x3 filters -> 6x6 -> pool -> 3x3
    layer0 = LeNetConvPoolLayer(rng, input=layer0_input, image_shape=(batch_size, 1, 8, 8),
                                filter_shape=(nkerns[0], 1, 3, 3), poolsize=(2, 2))
    # 3x3 -> 2x2 filters -> 2x2 -> pool -> 1x1
    layer1 = LeNetConvPoolLayer(rng, input=layer0.output,
                                image_shape=(batch_size, nkerns[0], 3, 3),
                                filter_shape=(nkerns[1], nkerns[0], 2, 2), poolsize=(2, 2))
    layer2_input = layer1.output.flatten(2)
    layer2 = HiddenLayer(rng, input=layer2_input, n_in=nkerns[1] * 1 * 1, n_out=32,
                         activation=T.tanh)
    layer3 = LogisticRegression(input=layer2.output, n_in=32, n_out=10)
    cost = layer3.negative_log_likelihood(y)

    test_model = symgraph.function(
        [index], layer3.errors(y),
        givens={x: test_set_x[index * batch_size: (index + 1) * batch_size],
                y: test_set_y[index * batch_size: (index + 1) * batch_size]})
    validate_model = symgraph.function(
        [index], layer3.errors(y),
        givens={x: valid_set_x[index * batch_size: (index + 1) * batch_size],
                y: valid_set_y[index * batch_size: (index + 1) * batch_size]})

    params = layer3.params + layer2.params + layer1.params + layer0.params
    grads = T.grad(cost, params)
    updates = [(param_i, param_i - learning_rate * grad_i)
               for param_i, grad_i in zip(params, grads)]
    train_model = symgraph.function(
        [index], cost, updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size],
                y: train_set_y[index * batch_size: (index + 1) * batch_size]})

    epoch_costs = []
    best_validation_loss = numpy.inf
    test_score = None
    for epoch in range(n_epochs):
        epoch_costs.append(numpy.mean([train_model(i) for i in range(n_train_batches)]))
        this_validation_loss = numpy.mean([validate_model(i) for i in range(n_valid_batches)])
        if this_validation_loss < best_validation_loss:
            best_validation_loss = this_validation_loss
            test_score = numpy.mean([test_model(i) for i in range(n_test_batches)])
    return epoch_costs, best_validation_loss, test_score, layer0, x


def test_lenet5():
    epoch_costs, best_validation_loss, test_score, layer0, x = evaluate_lenet5()
    print(epoch_costs, best_validation_loss, test_score)
    assert epoch_costs[-1] < epoch_costs[0] * 0.8
    assert best_validation_loss < 0.6 and test_score < 0.6

    # The same layer written with Theano's older convolution and pooling functions.
    from symgraph.tensor.nnet import conv
    from symgraph.tensor.signal import downsample
    images = T.tensor4('images')
    old_conv = conv.conv2d(input=images, filters=layer0.W, filter_shape=(6, 1, 3, 3),
                           image_shape=(20, 1, 8, 8))
    old_pooled = downsample.max_pool_2d(input=old_conv, ds=(2, 2), ignore_border=True)
    new_pooled = symgraph.clone(layer0.pooled_out, replace={layer0.input: images}, strict=False)
    f = symgraph.function([images], [old_pooled, new_pooled])
    batch = numpy.random.RandomState(0).uniform(size=(20, 1, 8, 8)).astype(
        symgraph.config.floatX)
    old, new = f(batch)
    assert old.shape == (20, 6, 3, 3) and numpy.allclose(old, new)
