"""DeepLearningTutorials, rnnrbm.py: an RNN-RBM. An RNN over the time steps gives each step's
RBM its biases; training runs the deterministic recurrence in one scan, then a CD-k Gibbs
chain (another scan) over all steps at once; generation runs a scan whose every step samples
from its RBM with a nested scan. Synthetic piano rolls (a pattern that moves up one note per
step) stand in for the MIDI files; tiny sizes, few epochs."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T
from symgraph.tensor.shared_randomstreams import RandomStreams

pytestmark = pytest.mark.theano_programs

numpy.random.seed(0xbeef)
rng = RandomStreams(seed=numpy.random.randint(1 << 30))
symgraph.config.warn.subtensor_merge_bug = False


def build_rbm(v, W, bv, bh, k):
    """A k-step Gibbs chain from v; returns (sample, CD cost, pseudo-likelihood, updates)."""

    def gibbs_step(v):
        mean_h = T.nnet.sigmoid(T.dot(v, W) + bh)
        h = rng.binomial(size=mean_h.shape, n=1, p=mean_h, dtype=symgraph.config.floatX)
        mean_v = T.nnet.sigmoid(T.dot(h, W.T) + bv)
        v = rng.binomial(size=mean_v.shape, n=1, p=mean_v, dtype=symgraph.config.floatX)
        return mean_v, v

    chain, updates = symgraph.scan(lambda v: gibbs_step(v)[1], outputs_info=[v], n_steps=k)
    v_sample = chain[-1]

    mean_v = gibbs_step(v_sample)[0]
    monitor = T.xlogx.xlogy0(v, mean_v) + T.xlogx.xlogy0(1 - v, 1 - mean_v)
    monitor = monitor.sum() / v.shape[0]

    def free_energy(v):
        return -(v * bv).sum() - T.log(1 + T.exp(T.dot(v, W) + bh)).sum()
    cost = (free_energy(v) - free_energy(v_sample)) / v.shape[0]
    return v_sample, cost, monitor, updates


def shared_normal(num_rows, num_cols, scale=1):
    return symgraph.shared(numpy.random.normal(
        scale=scale, size=(num_rows, num_cols)).astype(symgraph.config.floatX))


def shared_zeros(*shape):
    return symgraph.shared(numpy.zeros(shape, dtype=symgraph.config.floatX))


def build_rnnrbm(n_visible, n_hidden, n_hidden_recurrent, n_generated=12):
    W = shared_normal(n_visible, n_hidden, 0.01)
    bv = shared_zeros(n_visible)
    bh = shared_zeros(n_hidden)
    Wuh = shared_normal(n_hidden_recurrent, n_hidden, 0.0001)
    Wuv = shared_normal(n_hidden_recurrent, n_visible, 0.0001)
    Wvu = shared_normal(n_visible, n_hidden_recurrent, 0.0001)
    Wuu = shared_normal(n_hidden_recurrent, n_hidden_recurrent, 0.0001)
    bu = shared_zeros(n_hidden_recurrent)
    params = W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu

    v = T.matrix()  # one training sequence, a row per time step
    u0 = T.zeros((n_hidden_recurrent,))

    # with v_t: the biases of step t's RBM; without: sample v_t from that RBM too
    def recurrence(v_t, u_tm1):
        bv_t = bv + T.dot(u_tm1, Wuv)
        bh_t = bh + T.dot(u_tm1, Wuh)
        generate = v_t is None
        if generate:
            v_t, _, _, updates = build_rbm(T.zeros((n_visible,)), W, bv_t, bh_t, k=5)
        u_t = T.tanh(bu + T.dot(v_t, Wvu) + T.dot(u_tm1, Wuu))
        return ([v_t, u_t], updates) if generate else [u_t, bv_t, bh_t]

    (u_t, bv_t, bh_t), updates_train = symgraph.scan(
        lambda v_t, u_tm1, *_: recurrence(v_t, u_tm1),
        sequences=v, outputs_info=[u0, None, None], non_sequences=params)
    v_sample, cost, monitor, updates_rbm = build_rbm(v, W, bv_t[:], bh_t[:], k=5)
    updates_train.update(updates_rbm)

    (v_t, u_t), updates_generate = symgraph.scan(
        lambda u_tm1, *_: recurrence(None, u_tm1),
        outputs_info=[None, u0], non_sequences=params, n_steps=n_generated)
    return (v, v_sample, cost, monitor, params, updates_train, v_t, updates_generate)


class RnnRbm:
    def __init__(self, n_visible=8, n_hidden=12, n_hidden_recurrent=6, lr=0.05):
        (v, v_sample, cost, monitor, params, updates_train, v_t,
         updates_generate) = build_rnnrbm(n_visible, n_hidden, n_hidden_recurrent)
        gradient = T.grad(cost, params, consider_constant=[v_sample])
        updates_train.update(((p, p - lr * g) for p, g in zip(params, gradient)))
        self.train_function = symgraph.function([v], monitor, updates=updates_train)
        self.generate_function = symgraph.function([], v_t, updates=updates_generate)

    def train(self, dataset, batch_size=10, num_epochs=8):
        epoch_costs = []
        for epoch in range(num_epochs):
            numpy.random.shuffle(dataset)
            costs = []
            for s, sequence in enumerate(dataset):
                for i in range(0, len(sequence), batch_size):
                    cost = self.train_function(sequence[i:i + batch_size])
                    costs.append(cost)
            epoch_costs.append(numpy.mean(costs))
        return epoch_costs


def piano_rolls(n, length, n_visible):
    """Rolls where one note sounds at each step, one higher than the step before."""
    rolls = []
    for s in range(n):
        roll = numpy.zeros((length, n_visible), dtype=symgraph.config.floatX)
        start = numpy.random.randint(n_visible)
        roll[numpy.arange(length), (start + numpy.arange(length)) % n_visible] = 1
        rolls.append(roll)
    return rolls


def test_rnnrbm():
    model = RnnRbm()
    epoch_costs = model.train(piano_rolls(6, 20, 8))
    # the monitor is a pseudo log-likelihood: it goes up
    assert all(numpy.isfinite(epoch_costs)) and epoch_costs[-1] > epoch_costs[0]
    piano_roll = model.generate_function()
    again = model.generate_function()
    assert piano_roll.shape == (12, 8) and set(numpy.unique(piano_roll)) <= {0.0, 1.0}
    assert not numpy.array_equal(piano_roll, again) or piano_roll.sum() == 0
