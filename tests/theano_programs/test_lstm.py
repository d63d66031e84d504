"""DeepLearningTutorials, lstm.py: a sentiment classifier, an LSTM over word embeddings with
a mask for the padded time steps, mean pooling, dropout through a switch on a shared flag,
a softmax classifier, trained with adadelta (f_grad_shared / f_update), with the parameters
kept as numpy arrays (unzip / zipp) and saved with numpy.savez. Synthetic "reviews" stand
in for IMDB: each is made mostly of words from one half of the vocabulary, its label. The
embeddings and the classifier start at 0.5 * rand rather than 0.01 * rand, so that a few
epochs of adadelta on little data get somewhere."""

import random
from collections import OrderedDict

import numpy

import pytest
import symgraph
import symgraph.tensor as tensor
from symgraph import config
from symgraph.sandbox.rng_mrg import MRG_RandomStreams as RandomStreams

pytestmark = pytest.mark.theano_programs

SEED = 123


def numpy_floatX(data):
    return numpy.asarray(data, dtype=config.floatX)


def get_minibatches_idx(n, minibatch_size, shuffle=False):
    idx_list = numpy.arange(n, dtype="int32")
    if shuffle:
        numpy.random.shuffle(idx_list)
    minibatches = []
    minibatch_start = 0
    for i in range(n // minibatch_size):
        minibatches.append(idx_list[minibatch_start:minibatch_start + minibatch_size])
        minibatch_start += minibatch_size
    if minibatch_start != n:
        minibatches.append(idx_list[minibatch_start:])
    return zip(range(len(minibatches)), minibatches)


def zipp(params, tparams):
    for kk, vv in params.items():
        tparams[kk].set_value(vv)


def unzip(zipped):
    new_params = OrderedDict()
    for kk, vv in zipped.items():
        new_params[kk] = vv.get_value()
    return new_params


def dropout_layer(state_before, use_noise, trng):
    proj = tensor.switch(use_noise,
                         (state_before * trng.binomial(state_before.shape, p=0.5, n=1,
                                                       dtype=state_before.dtype)),
                         state_before * 0.5)
    return proj


def _p(pp, name):
    return '%s_%s' % (pp, name)


def ortho_weight(ndim):
    W = numpy.random.randn(ndim, ndim)
    u, s, v = numpy.linalg.svd(W)
    return u.astype(config.floatX)


def init_params(options):
    params = OrderedDict()
    randn = numpy.random.rand(options['n_words'], options['dim_proj'])
    params['Wemb'] = (options['init_scale'] * randn).astype(config.floatX)
    params = param_init_lstm(options, params, prefix=options['encoder'])
    params['U'] = options['init_scale'] * numpy.random.randn(options['dim_proj'],
                                            options['ydim']).astype(config.floatX)
    params['b'] = numpy.zeros((options['ydim'],)).astype(config.floatX)
    return params


def init_tparams(params):
    tparams = OrderedDict()
    for kk, pp in params.items():
        tparams[kk] = symgraph.shared(params[kk], name=kk)
    return tparams


def param_init_lstm(options, params, prefix='lstm'):
    dim = options['dim_proj']
    W = numpy.concatenate([ortho_weight(dim) for _ in range(4)], axis=1)
    params[_p(prefix, 'W')] = W
    U = numpy.concatenate([ortho_weight(dim) for _ in range(4)], axis=1)
    params[_p(prefix, 'U')] = U
    b = numpy.zeros((4 * dim,))
    params[_p(prefix, 'b')] = b.astype(config.floatX)
    return params


def lstm_layer(tparams, state_below, options, prefix='lstm', mask=None):
    nsteps = state_below.shape[0]
    if state_below.ndim == 3:
        n_samples = state_below.shape[1]
    else:
        n_samples = 1
    assert mask is not None

    def _slice(_x, n, dim):
        if _x.ndim == 3:
            return _x[:, :, n * dim:(n + 1) * dim]
        return _x[:, n * dim:(n + 1) * dim]

    def _step(m_, x_, h_, c_):
        preact = tensor.dot(h_, tparams[_p(prefix, 'U')])
        preact += x_
        i = tensor.nnet.sigmoid(_slice(preact, 0, options['dim_proj']))
        f = tensor.nnet.sigmoid(_slice(preact, 1, options['dim_proj']))
        o = tensor.nnet.sigmoid(_slice(preact, 2, options['dim_proj']))
        c = tensor.tanh(_slice(preact, 3, options['dim_proj']))
        c = f * c_ + i * c
        # where the mask is 0 (padding) the state is carried over unchanged
        c = m_[:, None] * c + (1. - m_)[:, None] * c_
        h = o * tensor.tanh(c)
        h = m_[:, None] * h + (1. - m_)[:, None] * h_
        return h, c

    # the input projection of every step at once, outside the loop
    state_below = (tensor.dot(state_below, tparams[_p(prefix, 'W')]) + tparams[_p(prefix, 'b')])
    dim_proj = options['dim_proj']
    rval, updates = symgraph.scan(
        _step, sequences=[mask, state_below],
        outputs_info=[tensor.alloc(numpy_floatX(0.), n_samples, dim_proj),
                      tensor.alloc(numpy_floatX(0.), n_samples, dim_proj)],
        name=_p(prefix, '_layers'), n_steps=nsteps)
    return rval[0]


def adadelta(lr, tparams, grads, x, mask, y, cost):
    """Zeiler's adadelta: one function stores the gradients and their running mean square,
    another applies the step (lr is not used)."""
    zipped_grads = [symgraph.shared(p.get_value() * numpy_floatX(0.), name='%s_grad' % k)
                    for k, p in tparams.items()]
    running_up2 = [symgraph.shared(p.get_value() * numpy_floatX(0.), name='%s_rup2' % k)
                   for k, p in tparams.items()]
    running_grads2 = [symgraph.shared(p.get_value() * numpy_floatX(0.), name='%s_rgrad2' % k)
                      for k, p in tparams.items()]
    zgup = [(zg, g) for zg, g in zip(zipped_grads, grads)]
    rg2up = [(rg2, 0.95 * rg2 + 0.05 * (g ** 2)) for rg2, g in zip(running_grads2, grads)]
    f_grad_shared = symgraph.function([x, mask, y], cost, updates=zgup + rg2up,
                                      name='adadelta_f_grad_shared')
    updir = [-tensor.sqrt(ru2 + 1e-6) / tensor.sqrt(rg2 + 1e-6) * zg
             for zg, ru2, rg2 in zip(zipped_grads, running_up2, running_grads2)]
    ru2up = [(ru2, 0.95 * ru2 + 0.05 * (ud ** 2)) for ru2, ud in zip(running_up2, updir)]
    param_up = [(p, p + ud) for p, ud in zip(tparams.values(), updir)]
    f_update = symgraph.function([lr], [], updates=ru2up + param_up, on_unused_input='ignore',
                                 name='adadelta_f_update')
    return f_grad_shared, f_update


def sgd(lr, tparams, grads, x, mask, y, cost):
    """Plain SGD, in the same two steps: store the gradients, then apply them."""
    gshared = [symgraph.shared(p.get_value() * 0., name='%s_grad' % k)
               for k, p in tparams.items()]
    gsup = [(gs, g) for gs, g in zip(gshared, grads)]
    f_grad_shared = symgraph.function([x, mask, y], cost, updates=gsup,
                                      name='sgd_f_grad_shared')
    pup = [(p, p - lr * g) for p, g in zip(tparams.values(), gshared)]
    f_update = symgraph.function([lr], [], updates=pup, name='sgd_f_update')
    return f_grad_shared, f_update


def build_model(tparams, options):
    trng = RandomStreams(SEED)
    # 1 while training (dropout draws a mask), 0 while predicting (halves instead)
    use_noise = symgraph.shared(numpy_floatX(0.))

    x = tensor.matrix('x', dtype='int64')
    mask = tensor.matrix('mask', dtype=config.floatX)
    y = tensor.vector('y', dtype='int64')

    n_timesteps = x.shape[0]
    n_samples = x.shape[1]
    emb = tparams['Wemb'][x.flatten()].reshape([n_timesteps, n_samples, options['dim_proj']])
    proj = lstm_layer(tparams, emb, options, prefix=options['encoder'], mask=mask)
    if options['encoder'] == 'lstm':
        proj = (proj * mask[:, :, None]).sum(axis=0)
        proj = proj / mask.sum(axis=0)[:, None]
    if options['use_dropout']:
        proj = dropout_layer(proj, use_noise, trng)

    pred = tensor.nnet.softmax(tensor.dot(proj, tparams['U']) + tparams['b'])
    f_pred_prob = symgraph.function([x, mask], pred, name='f_pred_prob')
    f_pred = symgraph.function([x, mask], pred.argmax(axis=1), name='f_pred')

    off = 1e-8
    if pred.dtype == 'float16':
        off = 1e-6
    cost = -tensor.log(pred[tensor.arange(n_samples), y] + off).mean()
    return use_noise, x, mask, y, f_pred_prob, f_pred, cost


def prepare_data(seqs, labels, maxlen=None):
    """Pad the sequences into a (maxlen, n_samples) matrix with a mask of the real steps."""
    lengths = [len(s) for s in seqs]
    n_samples = len(seqs)
    maxlen = numpy.max(lengths)
    x = numpy.zeros((maxlen, n_samples)).astype('int64')
    x_mask = numpy.zeros((maxlen, n_samples)).astype(config.floatX)
    for idx, s in enumerate(seqs):
        x[:lengths[idx], idx] = s
        x_mask[:lengths[idx], idx] = 1.
    return x, x_mask, labels


def pred_error(f_pred, prepare_data, data, iterator):
    valid_err = 0
    for _, valid_index in iterator:
        x, mask, y = prepare_data([data[0][t] for t in valid_index],
                                  numpy.array(data[1])[valid_index], maxlen=None)
        preds = f_pred(x, mask)
        targets = numpy.array(data[1])[valid_index]
        valid_err += (preds == targets).sum()
    valid_err = 1. - numpy_floatX(valid_err) / len(data[0])
    return valid_err


def synthetic_reviews(n, n_words, rng):
    seqs, labels = [], []
    for _ in range(n):
        label = rng.randint(2)
        # mostly words of one half of the vocabulary, a few of the other
        words = rng.randint(1, n_words // 2, size=rng.randint(3, 10)) + label * (n_words // 2)
        noise = rng.uniform(size=len(words)) < 0.2
        words[noise] = rng.randint(1, n_words, size=noise.sum())
        seqs.append(list(words))
        labels.append(label)
    return seqs, labels


def train_lstm(dim_proj=8, max_epochs=6, decay_c=0.01, lrate=0.0001, n_words=20,
               init_scale=0.5, optimizer=adadelta,
               encoder='lstm', saveto=None, batch_size=16, valid_batch_size=16,
               use_dropout=True):
    model_options = locals().copy()
    rng = numpy.random.RandomState(SEED)
    numpy.random.seed(SEED)
    random.seed(SEED)
    train = synthetic_reviews(160, n_words, rng)
    valid = synthetic_reviews(48, n_words, rng)
    ydim = numpy.max(train[1]) + 1
    model_options['ydim'] = ydim

    params = init_params(model_options)
    tparams = init_tparams(params)
    (use_noise, x, mask, y, f_pred_prob, f_pred, cost) = build_model(tparams, model_options)

    if decay_c > 0.:
        decay_c = symgraph.shared(numpy_floatX(decay_c), name='decay_c')
        weight_decay = 0.
        weight_decay += (tparams['U'] ** 2).sum()
        weight_decay *= decay_c
        cost += weight_decay

    f_cost = symgraph.function([x, mask, y], cost, name='f_cost')
    grads = tensor.grad(cost, wrt=list(tparams.values()))
    f_grad = symgraph.function([x, mask, y], grads, name='f_grad')
    lr = tensor.scalar(name='lr')
    f_grad_shared, f_update = optimizer(lr, tparams, grads, x, mask, y, cost)

    kf_valid = list(get_minibatches_idx(len(valid[0]), valid_batch_size))
    use_noise.set_value(0.)
    valid_err_before = pred_error(f_pred, prepare_data, valid, kf_valid)

    history_errs = []
    best_p = None
    epoch_costs = []
    for eidx in range(max_epochs):
        kf = get_minibatches_idx(len(train[0]), batch_size, shuffle=True)
        costs = []
        for _, train_index in kf:
            use_noise.set_value(1.)
            y_batch = [train[1][t] for t in train_index]
            x_batch, mask_batch, y_batch = prepare_data([train[0][t] for t in train_index],
                                                        y_batch)
            costs.append(f_grad_shared(x_batch, mask_batch, y_batch))
            f_update(lrate)
        epoch_costs.append(numpy.mean(costs))
        use_noise.set_value(0.)
        valid_err = pred_error(f_pred, prepare_data, valid, kf_valid)
        history_errs.append(valid_err)
        if best_p is None or valid_err <= numpy.array(history_errs).min():
            best_p = unzip(tparams)
    if best_p is not None:
        zipp(best_p, tparams)
    if saveto:
        numpy.savez(saveto, history_errs=history_errs, **best_p)

    use_noise.set_value(0.)
    x_batch, mask_batch, y_batch = prepare_data(valid[0][:4], valid[1][:4])
    probs = f_pred_prob(x_batch, mask_batch)
    gradients = f_grad(x_batch, mask_batch, y_batch)
    final_cost = f_cost(x_batch, mask_batch, y_batch)
    return (valid_err_before, pred_error(f_pred, prepare_data, valid, kf_valid), epoch_costs,
            probs, gradients, final_cost, tparams)


def test_lstm(tmp_path):
    saveto = str(tmp_path / 'lstm_model.npz')
    (before, after, epoch_costs, probs, gradients, final_cost,
     tparams) = train_lstm(saveto=saveto)
    assert epoch_costs[-1] < epoch_costs[0]
    assert after < before and after < 0.3
    assert probs.shape == (4, 2) and numpy.allclose(probs.sum(axis=1), 1)
    assert len(gradients) == len(tparams) and numpy.isfinite(final_cost)
    saved = numpy.load(saveto)
    assert numpy.array_equal(saved['lstm_U'], tparams['lstm_U'].get_value())
