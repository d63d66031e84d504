"""Theano tutorial, "Using random numbers": a RandomStreams with a uniform and a normal draw,
functions with and without default updates, seeding one draw or the whole stream, sharing a
stream between functions, and copying the random state from one graph to another."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T
from symgraph import function
from symgraph.sandbox.rng_mrg import MRG_RandomStreams
from symgraph.tensor.shared_randomstreams import RandomStreams

pytestmark = pytest.mark.theano_programs


def test_brief_example():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n, no_default_updates=True)  # rv_n's generator stays where it is
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)

    f_val0 = f()
    f_val1 = f()
    assert f_val0.shape == (2, 2) and not numpy.allclose(f_val0, f_val1)
    assert ((0 <= f_val0) & (f_val0 < 1)).all()

    g_val0 = g()
    g_val1 = g()
    assert numpy.array_equal(g_val0, g_val1)

    # one draw per call, however many times the graph uses it
    assert numpy.allclose(nearly_zeros(), 0)


def test_seeding_streams():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n)

    # seed one random variable through its generator
    rng_val = rv_u.rng.get_value(borrow=True)
    rng_val.seed(89234)
    rv_u.rng.set_value(rng_val, borrow=True)
    first = f()
    rng_val = rv_u.rng.get_value(borrow=True)
    rng_val.seed(89234)
    rv_u.rng.set_value(rng_val, borrow=True)
    assert numpy.array_equal(f(), first)

    # seed all of them
    srng.seed(902340)
    u0, n0 = f(), g()
    srng.seed(902340)
    assert numpy.array_equal(f(), u0) and numpy.array_equal(g(), n0)


def test_sharing_streams_between_functions():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = function([], rv_u)
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)

    f()
    state_after_v0 = rv_u.rng.get_value().get_state()
    nearly_zeros()  # advances rv_u's generator too
    v1 = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state_after_v0)
    rv_u.rng.set_value(rng, borrow=True)
    v2 = f()
    v3 = f()
    assert not numpy.allclose(v1, v2)
    assert numpy.array_equal(v1, v3)


class Graph():
    def __init__(self, seed=123):
        self.rng = RandomStreams(seed)
        self.y = self.rng.uniform(size=(1,))


class MRGGraph():
    def __init__(self, seed=123):
        self.rng = MRG_RandomStreams(seed)
        self.y = self.rng.uniform(size=(1,))


def copy_random_state(g1, g2):
    if isinstance(g1.rng, MRG_RandomStreams):
        g2.rng.rstate = g1.rng.rstate
    for (su1, su2) in zip(g1.rng.state_updates, g2.rng.state_updates):
        su2[0].set_value(su1[0].get_value())


@pytest.mark.parametrize("make_graph", [Graph, MRGGraph])
def test_copying_random_state_between_graphs(make_graph):
    g1 = make_graph(seed=123)
    f1 = symgraph.function([], g1.y)
    g2 = make_graph(seed=987)
    f2 = symgraph.function([], g2.y)
    assert f1() != f2()  # out of sync

    copy_random_state(g1, g2)
    assert f1() == f2()
    assert f1() == f2()


def test_other_distributions():
    srng = RandomStreams(seed=1)
    ints = srng.random_integers((1000,), 0, 3)
    coin = srng.binomial(size=(1000,), n=1, p=0.25, dtype=symgraph.config.floatX)
    scaled = srng.normal((1000,), avg=5.0, std=0.1)
    perm = srng.permutation(n=6)
    draw = function([], [ints, coin, scaled, perm])()
    assert set(numpy.unique(draw[0])) == {0, 1, 2, 3}
    assert draw[1].dtype == symgraph.config.floatX and 0.15 < draw[1].mean() < 0.35
    assert abs(draw[2].mean() - 5.0) < 0.05
    assert sorted(draw[3]) == list(range(6))

    mrg = MRG_RandomStreams(seed=2)
    x = T.matrix('x')
    mask = mrg.binomial(size=x.shape, p=0.5, dtype=x.dtype)
    dropped = function([x], x * mask)(numpy.ones((50, 40)))
    assert set(numpy.unique(dropped)) == {0.0, 1.0} and 0.4 < dropped.mean() < 0.6
