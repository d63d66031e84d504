"""DeepLearningTutorials, DBN.py: a deep belief network, RBMs stacked on sigmoid layers that
share their weights, with MRG_RandomStreams; greedy CD-k pretraining (the learning rate an
In() default passed by keyword), then finetuning as an MLP. Short."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T
from symgraph.sandbox.rng_mrg import MRG_RandomStreams

from .test_logistic_sgd import LogisticRegression, load_data
from .test_mlp import HiddenLayer
from .test_rbm import RBM

pytestmark = pytest.mark.theano_programs


class DBN(object):
    def __init__(self, numpy_rng, theano_rng=None, n_ins=64, hidden_layers_sizes=[40, 40],
                 n_outs=10):
        self.sigmoid_layers = []
        self.rbm_layers = []
        self.params = []
        self.n_layers = len(hidden_layers_sizes)
        assert self.n_layers > 0
        if not theano_rng:
            theano_rng = MRG_RandomStreams(numpy_rng.randint(2 ** 30))
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
            self.params.extend(sigmoid_layer.params)
            rbm_layer = RBM(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                            n_visible=input_size, n_hidden=hidden_layers_sizes[i],
                            W=sigmoid_layer.W, hbias=sigmoid_layer.b)
            self.rbm_layers.append(rbm_layer)
        self.logLayer = LogisticRegression(input=self.sigmoid_layers[-1].output,
                                           n_in=hidden_layers_sizes[-1], n_out=n_outs)
        self.params.extend(self.logLayer.params)
        self.finetune_cost = self.logLayer.negative_log_likelihood(self.y)
        self.errors = self.logLayer.errors(self.y)

    def pretraining_functions(self, train_set_x, batch_size, k):
        index = T.lscalar('index')
        learning_rate = T.scalar('lr')
        batch_begin = index * batch_size
        batch_end = batch_begin + batch_size
        pretrain_fns = []
        for rbm in self.rbm_layers:
            cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=k)
            fn = symgraph.function(
                inputs=[index, symgraph.In(learning_rate, value=0.1)],
                outputs=cost, updates=updates,
                givens={self.x: train_set_x[batch_begin:batch_end]})
            pretrain_fns.append(fn)
        return pretrain_fns

    def build_finetune_functions(self, datasets, batch_size, learning_rate):
        (train_set_x, train_set_y) = datasets[0]
        (valid_set_x, valid_set_y) = datasets[1]
        n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
        index = T.lscalar('index')
        gparams = T.grad(self.finetune_cost, self.params)
        updates = []
        for param, gparam in zip(self.params, gparams):
            updates.append((param, param - gparam * learning_rate))
        train_fn = symgraph.function(
            inputs=[index], outputs=self.finetune_cost, updates=updates,
            givens={self.x: train_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: train_set_y[index * batch_size: (index + 1) * batch_size]})
        valid_score_i = symgraph.function(
            [index], self.errors,
            givens={self.x: valid_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: valid_set_y[index * batch_size: (index + 1) * batch_size]})

        def valid_score():
            return [valid_score_i(i) for i in range(n_valid_batches)]

        return train_fn, valid_score


def test_DBN(finetune_lr=0.5, pretraining_epochs=2, pretrain_lr=0.05, k=1, training_epochs=6,
             batch_size=20):
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    numpy_rng = numpy.random.RandomState(123)
    dbn = DBN(numpy_rng=numpy_rng, n_ins=8 * 8, hidden_layers_sizes=[40, 40], n_outs=10)
    assert isinstance(dbn.rbm_layers[0].theano_rng, MRG_RandomStreams)

    pretraining_fns = dbn.pretraining_functions(train_set_x=train_set_x,
                                                batch_size=batch_size, k=k)
    for i in range(dbn.n_layers):
        costs = []
        for epoch in range(pretraining_epochs):
            c = []
            for batch_index in range(n_train_batches):
                c.append(pretraining_fns[i](index=batch_index, lr=pretrain_lr))
            costs.append(numpy.mean(c, dtype='float64'))
        assert all(numpy.isfinite(costs))

    train_fn, validate_model = dbn.build_finetune_functions(
        datasets=datasets, batch_size=batch_size, learning_rate=finetune_lr)
    epoch_costs = []
    for epoch in range(training_epochs):
        epoch_costs.append(numpy.mean([train_fn(i) for i in range(n_train_batches)]))
    validation_loss = numpy.mean(validate_model(), dtype='float64')
    assert epoch_costs[-1] < epoch_costs[0] / 2
    assert validation_loss < 0.2
