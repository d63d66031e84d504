"""DeepLearningTutorials, rbm.py: a restricted Boltzmann machine trained by contrastive
divergence (CD-k, the Gibbs chain written with scan) and by persistent CD with the
pseudo-likelihood as the monitoring cost; then sampling from a persistent chain with scan.
On binarised 8x8 digits, few epochs."""

import numpy

import pytest
import symgraph
import symgraph.tensor as T
from symgraph.tensor.shared_randomstreams import RandomStreams

from .test_logistic_sgd import load_data

pytestmark = pytest.mark.theano_programs


class RBM(object):
    def __init__(self, input=None, n_visible=64, n_hidden=32, W=None, hbias=None, vbias=None,
                 numpy_rng=None, theano_rng=None):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        if numpy_rng is None:
            numpy_rng = numpy.random.RandomState(1234)
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        if W is None:
            initial_W = numpy.asarray(
                numpy_rng.uniform(low=-4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  high=4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  size=(n_visible, n_hidden)),
                dtype=symgraph.config.floatX)
            W = symgraph.shared(value=initial_W, name='W', borrow=True)
        if hbias is None:
            hbias = symgraph.shared(value=numpy.zeros(n_hidden, dtype=symgraph.config.floatX),
                                    name='hbias', borrow=True)
        if vbias is None:
            vbias = symgraph.shared(value=numpy.zeros(n_visible, dtype=symgraph.config.floatX),
                                    name='vbias', borrow=True)
        self.input = input
        if not input:
            self.input = T.matrix('input')
        self.W = W
        self.hbias = hbias
        self.vbias = vbias
        self.theano_rng = theano_rng
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v_sample):
        wx_b = T.dot(v_sample, self.W) + self.hbias
        vbias_term = T.dot(v_sample, self.vbias)
        hidden_term = T.sum(T.log(1 + T.exp(wx_b)), axis=1)
        return -hidden_term - vbias_term

    def propup(self, vis):
        pre_sigmoid_activation = T.dot(vis, self.W) + self.hbias
        return [pre_sigmoid_activation, T.nnet.sigmoid(pre_sigmoid_activation)]

    def sample_h_given_v(self, v0_sample):
        pre_sigmoid_h1, h1_mean = self.propup(v0_sample)
        h1_sample = self.theano_rng.binomial(size=h1_mean.shape, n=1, p=h1_mean,
                                             dtype=symgraph.config.floatX)
        return [pre_sigmoid_h1, h1_mean, h1_sample]

    def propdown(self, hid):
        pre_sigmoid_activation = T.dot(hid, self.W.T) + self.vbias
        return [pre_sigmoid_activation, T.nnet.sigmoid(pre_sigmoid_activation)]

    def sample_v_given_h(self, h0_sample):
        pre_sigmoid_v1, v1_mean = self.propdown(h0_sample)
        v1_sample = self.theano_rng.binomial(size=v1_mean.shape, n=1, p=v1_mean,
                                             dtype=symgraph.config.floatX)
        return [pre_sigmoid_v1, v1_mean, v1_sample]

    def gibbs_hvh(self, h0_sample):
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)
        return [pre_sigmoid_v1, v1_mean, v1_sample, pre_sigmoid_h1, h1_mean, h1_sample]

    def gibbs_vhv(self, v0_sample):
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v0_sample)
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h1_sample)
        return [pre_sigmoid_h1, h1_mean, h1_sample, pre_sigmoid_v1, v1_mean, v1_sample]

    def get_cost_updates(self, lr=0.1, persistent=None, k=1):
        pre_sigmoid_ph, ph_mean, ph_sample = self.sample_h_given_v(self.input)
        # CD starts the chain at the data's hidden sample, PCD where it stopped last time
        if persistent is None:
            chain_start = ph_sample
        else:
            chain_start = persistent
        ([pre_sigmoid_nvs, nv_means, nv_samples, pre_sigmoid_nhs, nh_means, nh_samples],
         updates) = symgraph.scan(self.gibbs_hvh,
                                  outputs_info=[None, None, None, None, None, chain_start],
                                  n_steps=k, name="gibbs_hvh")
        chain_end = nv_samples[-1]
        cost = T.mean(self.free_energy(self.input)) - T.mean(self.free_energy(chain_end))
        # the chain's end is a sample: no gradient flows through it
        gparams = T.grad(cost, self.params, consider_constant=[chain_end])
        for gparam, param in zip(gparams, self.params):
            updates[param] = param - gparam * T.cast(lr, dtype=symgraph.config.floatX)
        if persistent:
            updates[persistent] = nh_samples[-1]
            monitoring_cost = self.get_pseudo_likelihood_cost(updates)
        else:
            monitoring_cost = self.get_reconstruction_cost(updates, pre_sigmoid_nvs[-1])
        return monitoring_cost, updates

    def get_pseudo_likelihood_cost(self, updates):
        bit_i_idx = symgraph.shared(value=0, name='bit_i_idx')
        xi = T.round(self.input)
        fe_xi = self.free_energy(xi)
        # flip one bit of every example; which bit changes from call to call
        xi_flip = T.set_subtensor(xi[:, bit_i_idx], 1 - xi[:, bit_i_idx])
        fe_xi_flip = self.free_energy(xi_flip)
        cost = T.mean(self.n_visible * T.log(T.nnet.sigmoid(fe_xi_flip - fe_xi)))
        updates[bit_i_idx] = (bit_i_idx + 1) % self.n_visible
        return cost

    def get_reconstruction_cost(self, updates, pre_sigmoid_nv):
        cross_entropy = T.mean(
            T.sum(self.input * T.log(T.nnet.sigmoid(pre_sigmoid_nv))
                  + (1 - self.input) * T.log(1 - T.nnet.sigmoid(pre_sigmoid_nv)), axis=1))
        return cross_entropy


def binarised_data():
    datasets = load_data()
    train_set_x, train_set_y = datasets[0]
    test_set_x, test_set_y = datasets[2]
    train_set_x.set_value((train_set_x.get_value() > 0.5).astype(symgraph.config.floatX))
    test_set_x.set_value((test_set_x.get_value() > 0.5).astype(symgraph.config.floatX))
    return train_set_x, test_set_x


def train_rbm(persistent, k, learning_rate=0.1, training_epochs=4, batch_size=20, n_hidden=32):
    train_set_x, test_set_x = binarised_data()
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    index = T.lscalar()
    x = T.matrix('x')
    rng = numpy.random.RandomState(123)
    theano_rng = RandomStreams(rng.randint(2 ** 30))
    rbm = RBM(input=x, n_visible=8 * 8, n_hidden=n_hidden, numpy_rng=rng,
              theano_rng=theano_rng)
    if persistent:
        persistent_chain = symgraph.shared(
            numpy.zeros((batch_size, n_hidden), dtype=symgraph.config.floatX), borrow=True)
    else:
        persistent_chain = None
    cost, updates = rbm.get_cost_updates(lr=learning_rate, persistent=persistent_chain, k=k)
    train_rbm = symgraph.function(
        [index], cost, updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size]},
        name='train_rbm')
    epoch_costs = []
    for epoch in range(training_epochs):
        mean_cost = []
        for batch_index in range(n_train_batches):
            mean_cost += [train_rbm(batch_index)]
        epoch_costs.append(numpy.mean(mean_cost))
    return rbm, epoch_costs, test_set_x


def test_rbm_contrastive_divergence():
    rbm, epoch_costs, test_set_x = train_rbm(persistent=False, k=1)
    # the reconstruction log-likelihood goes up
    assert epoch_costs[-1] > epoch_costs[0] + 1


def test_rbm_persistent_cd_and_sampling(n_chains=4, n_samples=3, plot_every=5):
    rbm, epoch_costs, test_set_x = train_rbm(persistent=True, k=3)
    assert all(numpy.isfinite(epoch_costs)) and epoch_costs[-1] > epoch_costs[0]

    number_of_test_samples = test_set_x.get_value(borrow=True).shape[0]
    rng = numpy.random.RandomState(123)
    test_idx = rng.randint(number_of_test_samples - n_chains)
    persistent_vis_chain = symgraph.shared(
        numpy.asarray(test_set_x.get_value(borrow=True)[test_idx:test_idx + n_chains],
                      dtype=symgraph.config.floatX))
    ([presig_hids, hid_mfs, hid_samples, presig_vis, vis_mfs, vis_samples],
     updates) = symgraph.scan(rbm.gibbs_vhv,
                              outputs_info=[None, None, None, None, None, persistent_vis_chain],
                              n_steps=plot_every, name="gibbs_vhv")
    # keep the chain going from one call to the next
    updates.update({persistent_vis_chain: vis_samples[-1]})
    sample_fn = symgraph.function([], [vis_mfs[-1], vis_samples[-1]], updates=updates,
                                  name='sample_fn')
    image_data = numpy.zeros((9 * n_samples + 1, 9 * n_chains - 1), dtype='uint8')
    for idx in range(n_samples):
        vis_mf, vis_sample = sample_fn()
        assert vis_mf.shape == (n_chains, 64) and ((0 <= vis_mf) & (vis_mf <= 1)).all()
        assert set(numpy.unique(vis_sample)) <= {0.0, 1.0}
        image_data[9 * idx:9 * idx + 8, :8] = (vis_mf[0].reshape(8, 8) * 255).astype('uint8')
    assert not numpy.array_equal(persistent_vis_chain.get_value(),
                                 test_set_x.get_value()[test_idx:test_idx + n_chains])
