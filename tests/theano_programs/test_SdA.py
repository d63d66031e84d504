"""DeepLearningTutorials, SdA.py: a stack of denoising autoencoders sharing their weights with
sigmoid hidden layers; greedy layer-wise pretraining with In() defaults for the corruption
and the learning rate (called by keyword), then supervised finetuning with early stopping."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T
from symgraph.tensor.shared_randomstreams import RandomStreams

from .test_dA import dA
from .test_logistic_sgd import LogisticRegression, load_data
from .test_mlp import HiddenLayer

pytestmark = pytest.mark.theano_programs


class SdA(object):
    def __init__(self, numpy_rng, theano_rng=None, n_ins=64, hidden_layers_sizes=[40, 40],
                 n_outs=10, corruption_levels=[0.1, 0.1]):
        self.sigmoid_layers = []
        self.dA_layers = []
        self.params = []
        self.n_layers = len(hidden_layers_sizes)
        assert self.n_layers > 0
        if not theano_rng:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        self.x = T.matrix('x')
        self.y = T.ivector('y')

        for i in range(self.n_layers):
            if i == 0:
                input_size = n_ins
                layer_input = self.x
            else:
                input_size = hidden_layers_sizes[i - 1]
                layer_input = self.sigmoid_layers[-1].output
            sigmoid_layer = HiddenLayer(rng=numpy_rng, input=layer_input, n_in=input_size,
                                        n_out=hidden_layers_sizes[i], activation=T.nnet.sigmoid)
            self.sigmoid_layers.append(sigmoid_layer)
            # the autoencoders' biases of the visible units are theirs alone
            self.params.extend(sigmoid_layer.params)
            dA_layer = dA(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                          n_visible=input_size, n_hidden=hidden_layers_sizes[i],
                          W=sigmoid_layer.W, bhid=sigmoid_layer.b)
            self.dA_layers.append(dA_layer)

        self.logLayer = LogisticRegression(input=self.sigmoid_layers[-1].output,
                                           n_in=hidden_layers_sizes[-1], n_out=n_outs)
        self.params.extend(self.logLayer.params)
        self.finetune_cost = self.logLayer.negative_log_likelihood(self.y)
        self.errors = self.logLayer.errors(self.y)

    def pretraining_functions(self, train_set_x, batch_size):
        index = T.lscalar('index')
        corruption_level = T.scalar('corruption')
        learning_rate = T.scalar('lr')
        batch_begin = index * batch_size
        batch_end = batch_begin + batch_size
        pretrain_fns = []
        for dA_layer in self.dA_layers:
            cost, updates = dA_layer.get_cost_updates(corruption_level, learning_rate)
            fn = symgraph.function(
                inputs=[index,
                        symgraph.In(corruption_level, value=0.2),
                        symgraph.In(learning_rate, value=0.1)],
                outputs=cost, updates=updates,
                givens={self.x: train_set_x[batch_begin: batch_end]})
            pretrain_fns.append(fn)
        return pretrain_fns

    def build_finetune_functions(self, datasets, batch_size, learning_rate):
        (train_set_x, train_set_y) = datasets[0]
        (valid_set_x, valid_set_y) = datasets[1]
        (test_set_x, test_set_y) = datasets[2]
        n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
        n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

        index = T.lscalar('index')
        gparams = T.grad(self.finetune_cost, self.params)
        updates = [(param, param - gparam * learning_rate)
                   for param, gparam in zip(self.params, gparams)]
        train_fn = symgraph.function(
            inputs=[index], outputs=self.finetune_cost, updates=updates,
            givens={self.x: train_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: train_set_y[index * batch_size: (index + 1) * batch_size]},
            name='train')
        test_score_i = symgraph.function(
            [index], self.errors,
            givens={self.x: test_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: test_set_y[index * batch_size: (index + 1) * batch_size]},
            name='test')
        valid_score_i = symgraph.function(
            [index], self.errors,
            givens={self.x: valid_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: valid_set_y[index * batch_size: (index + 1) * batch_size]},
            name='valid')

        def valid_score():
            return [valid_score_i(i) for i in range(n_valid_batches)]

        def test_score():
            return [test_score_i(i) for i in range(n_test_batches)]

        return train_fn, valid_score, test_score


def test_SdA(finetune_lr=0.5, pretraining_epochs=3, pretrain_lr=0.1, training_epochs=8,
             batch_size=20):
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

    numpy_rng = numpy.random.RandomState(89677)
    sda = SdA(numpy_rng=numpy_rng, n_ins=8 * 8, hidden_layers_sizes=[40, 40], n_outs=10)

    pretraining_fns = sda.pretraining_functions(train_set_x=train_set_x,
                                                batch_size=batch_size)
    corruption_levels = [.1, .2]
    pretraining_costs = []
    for i in range(sda.n_layers):
        layer_costs = []
        for epoch in range(pretraining_epochs):
            c = []
            for batch_index in range(n_train_batches):
                c.append(pretraining_fns[i](index=batch_index,
                                            corruption=corruption_levels[i],
                                            lr=pretrain_lr))
            layer_costs.append(numpy.mean(c, dtype='float64'))
        pretraining_costs.append(layer_costs)
    for layer_costs in pretraining_costs:
        assert layer_costs[-1] < layer_costs[0]
    # the defaults given with In
    assert numpy.isfinite(pretraining_fns[0](0))

    train_fn, validate_model, test_model = sda.build_finetune_functions(
        datasets=datasets, batch_size=batch_size, learning_rate=finetune_lr)
    best_validation_loss = numpy.inf
    test_score = None
    epoch_costs = []
    for epoch in range(training_epochs):
        epoch_costs.append(numpy.mean([train_fn(i) for i in range(n_train_batches)]))
        this_validation_loss = numpy.mean(validate_model(), dtype='float64')
        if this_validation_loss < best_validation_loss:
            best_validation_loss = this_validation_loss
            test_score = numpy.mean(test_model(), dtype='float64')
    print(epoch_costs, best_validation_loss, test_score)
    assert epoch_costs[-1] < epoch_costs[0] / 2
    assert best_validation_loss < 0.2 and test_score < 0.2
