"""Theano tutorial, "Configuration settings and compiling modes" and "Profiling": the
logistic regression compiled with named modes and Mode objects, DebugMode, a profiled
function's summary, and config flags set as Theano programs set them."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs


def build(mode):
    rng = numpy.random.RandomState(0)
    N, feats = 30, 40
    floatX = symgraph.config.floatX
    D = (rng.randn(N, feats).astype(floatX), rng.randint(size=N, low=0, high=2).astype(floatX))
    x = T.matrix("x")
    y = T.vector("y")
    w = symgraph.shared(rng.randn(feats).astype(floatX), name="w")
    b = symgraph.shared(numpy.asarray(0., dtype=floatX), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = symgraph.function(inputs=[x, y], outputs=[prediction, xent],
                              updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], name="train",
                              mode=mode)
    predict = symgraph.function(inputs=[x], outputs=prediction, name="predict", mode=mode)
    return D, train, predict, w


@pytest.mark.parametrize("named_mode", ["FAST_RUN", "FAST_COMPILE", "DebugMode", None])
def test_named_modes(named_mode):
    D, train, predict, w = build(named_mode)
    for i in range(100):
        train(D[0], D[1])
    assert (predict(D[0]) == D[1]).mean() > 0.8


def test_mode_objects():
    mode = symgraph.compile.mode.get_mode("FAST_RUN")
    D, train, predict, w = build(mode)
    train(D[0], D[1])
    D, train2, predict2, w2 = build(symgraph.Mode(linker="py", optimizer="fast_compile"))
    train2(D[0], D[1])
    assert numpy.allclose(w.get_value(), w2.get_value())
    D, train3, predict3, w3 = build(symgraph.Mode(linker="cvm", optimizer=None))
    train3(D[0], D[1])
    assert numpy.allclose(w.get_value(), w3.get_value())
    excluding = symgraph.compile.mode.get_default_mode().excluding_rules("fusion")
    D, train4, predict4, w4 = build(excluding)
    train4(D[0], D[1])
    assert numpy.allclose(w.get_value(), w4.get_value())


def test_profiling():
    x, y, z = T.dvectors('x', 'y', 'z')
    f = symgraph.function([x, y, z], [(x + y + z) * 2, (x + y + z) * 3], profile=True)
    f(numpy.ones(5), numpy.ones(5), numpy.ones(5))
    summary = f.profile.summary()
    assert summary is None or isinstance(summary, str)


def test_config_flags_as_programs_set_them():
    symgraph.config.warn.subtensor_merge_bug = False
    symgraph.config.exception_verbosity = 'high'
    symgraph.config.compute_test_value = 'off'
    assert symgraph.config.floatX in ('float32', 'float64')
    with symgraph.config.change_flags(floatX='float32'):
        assert T.matrix().dtype == 'float32'
