"""DeepLearningTutorials, rnnslu.py: an Elman network labelling every word of a sentence
from a window of word embeddings; scan over the words, a softmax of each step's vector
(Theano makes it a (1, n) row, hence s[:, 0, :]), per-sentence SGD, normalised embeddings,
the parameters saved with numpy.save and the best model kept by copy.deepcopy. Synthetic
sentences stand in for ATIS: a word's label depends on the word and on the one before it."""

import copy
import os
import random
from collections import OrderedDict

import numpy

import pytest
import symgraph
from symgraph import tensor as T

pytestmark = pytest.mark.theano_programs


def shuffle(lists, seed):
    """Shuffle each list in place, all in the same order."""
    for items in lists:
        random.seed(seed)
        random.shuffle(items)


def contextwin(sentence, win):
    """For each word of the sentence, the indexes of the win words centred on it; -1 pads
    the edges (the last row of the embeddings)."""
    assert (win % 2) == 1
    assert win >= 1
    sentence = list(sentence)
    lpadded = win // 2 * [-1] + sentence + win // 2 * [-1]
    out = [lpadded[i:i + win] for i in range(len(sentence))]
    assert len(out) == len(sentence)
    return out


class RNNSLU(object):
    """The Elman network: nh hidden units, nc classes, ne words of de dimensions, windows of
    cs words."""

    def __init__(self, nh, nc, ne, de, cs):
        floatX = symgraph.config.floatX
        self.emb = symgraph.shared(name='embeddings',
                                   value=0.2 * numpy.random.uniform(-1.0, 1.0, (ne + 1, de))
                                   .astype(floatX))  # one more row: the padding
        self.wx = symgraph.shared(name='wx', value=0.2 * numpy.random.uniform(
            -1.0, 1.0, (de * cs, nh)).astype(floatX))
        self.wh = symgraph.shared(name='wh', value=0.2 * numpy.random.uniform(
            -1.0, 1.0, (nh, nh)).astype(floatX))
        self.w = symgraph.shared(name='w', value=0.2 * numpy.random.uniform(
            -1.0, 1.0, (nh, nc)).astype(floatX))
        self.bh = symgraph.shared(name='bh', value=numpy.zeros(nh, dtype=floatX))
        self.b = symgraph.shared(name='b', value=numpy.zeros(nc, dtype=floatX))
        self.h0 = symgraph.shared(name='h0', value=numpy.zeros(nh, dtype=floatX))
        self.params = [self.emb, self.wx, self.wh, self.w, self.bh, self.b, self.h0]

        idxs = T.imatrix()  # one row of cs word indexes per word of the sentence
        x = self.emb[idxs].reshape((idxs.shape[0], de * cs))
        y_sentence = T.ivector('y_sentence')

        def recurrence(x_t, h_tm1):
            h_t = T.nnet.sigmoid(T.dot(x_t, self.wx) + T.dot(h_tm1, self.wh) + self.bh)
            s_t = T.nnet.softmax(T.dot(h_t, self.w) + self.b)
            return [h_t, s_t]

        [h, s], _ = symgraph.scan(fn=recurrence, sequences=x, outputs_info=[self.h0, None],
                                  n_steps=x.shape[0])
        p_y_given_x_sentence = s[:, 0, :]
        y_pred = T.argmax(p_y_given_x_sentence, axis=1)

        lr = T.scalar('lr')
        sentence_nll = -T.mean(T.log(p_y_given_x_sentence)[T.arange(x.shape[0]), y_sentence])
        sentence_gradients = T.grad(sentence_nll, self.params)
        sentence_updates = OrderedDict((p, p - lr * g)
                                       for p, g in zip(self.params, sentence_gradients))

        self.classify = symgraph.function(inputs=[idxs], outputs=y_pred)
        self.sentence_train = symgraph.function(inputs=[idxs, y_sentence, lr],
                                                outputs=sentence_nll, updates=sentence_updates)
        self.normalize = symgraph.function(
            inputs=[],
            updates={self.emb: self.emb / T.sqrt((self.emb ** 2).sum(axis=1)).dimshuffle(0, 'x')})

    def train(self, x, y, window_size, learning_rate):
        cwords = contextwin(x, window_size)
        words = list(map(lambda x: numpy.asarray(x).astype('int32'), cwords))
        labels = y
        nll = self.sentence_train(words, labels, learning_rate)
        self.normalize()
        return nll

    def save(self, folder):
        for param in self.params:
            numpy.save(os.path.join(folder, param.name + '.npy'), param.get_value())

    def load(self, folder):
        for param in self.params:
            param.set_value(numpy.load(os.path.join(folder, param.name + '.npy')))


def synthetic_sentences(n, vocsize, rng):
    sentences, labels = [], []
    for _ in range(n):
        words = rng.randint(0, vocsize, size=rng.randint(4, 9))
        previous = numpy.concatenate([[0], words[:-1]])
        sentences.append(words.astype('int32'))
        labels.append(((words % 3) + 3 * (previous >= vocsize // 2)).astype('int32'))
    return sentences, labels


def accuracy(rnn, lex, y, win):
    right = total = 0
    for x, labels in zip(lex, y):
        predicted = rnn.classify(numpy.asarray(contextwin(x, win)).astype('int32'))
        right += (predicted == labels).sum()
        total += len(labels)
    return right / total


def test_rnnslu(tmp_path):
    param = {'lr': 0.5, 'win': 3, 'nhidden': 16, 'seed': 345, 'emb_dimension': 8,
             'nepochs': 6, 'vocsize': 12}
    rng = numpy.random.RandomState(0)
    train_lex, train_y = synthetic_sentences(40, param['vocsize'], rng)
    valid_lex, valid_y = synthetic_sentences(15, param['vocsize'], rng)
    nclasses = 6

    numpy.random.seed(param['seed'])
    random.seed(param['seed'])
    rnn = RNNSLU(nh=param['nhidden'], nc=nclasses, ne=param['vocsize'],
                 de=param['emb_dimension'], cs=param['win'])
    before = accuracy(rnn, valid_lex, valid_y, param['win'])

    best_accuracy = -numpy.inf
    epoch_nll = []
    for e in range(param['nepochs']):
        shuffle([train_lex, train_y], param['seed'])
        epoch_nll.append(numpy.mean([rnn.train(x, y, param['win'], param['lr'])
                                     for x, y in zip(train_lex, train_y)]))
        valid_accuracy = accuracy(rnn, valid_lex, valid_y, param['win'])
        if valid_accuracy > best_accuracy:
            rnn.save(str(tmp_path))
            best_rnn = copy.deepcopy(rnn)
            best_accuracy = valid_accuracy

    print(epoch_nll, before, best_accuracy)
    assert epoch_nll[-1] < epoch_nll[0] * 0.7
    assert best_accuracy > max(before + 0.2, 0.5)
    # the copy kept the best parameters; the saved files hold them too
    assert accuracy(best_rnn, valid_lex, valid_y, param['win']) == best_accuracy
    rnn.load(str(tmp_path))
    assert accuracy(rnn, valid_lex, valid_y, param['win']) == best_accuracy
