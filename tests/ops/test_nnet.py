"""Targeted tests of ``sg.nnet``: softmax stability, crossentropy semantics and errors,
gradient identities, activations and dropout."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import symgraph as sg
from symgraph.graph import toposort
from symgraph.ops import elemwise, nnet


def _run(outputs, inputs, *values, **kwargs):
    return sg.function(list(inputs), outputs, mode="py", **kwargs)(*values)


@pytest.fixture
def rng():
    return np.random.default_rng(3)


# -- softmax ------------------------------------------------------------------------------------

def test_softmax_is_stable_for_huge_and_tiny_inputs():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e5, -1e5, -1e5]])
    X = sg.dmatrix("x")
    sm, lsm = _run([nnet.softmax(X), nnet.log_softmax(X)], [X], x)
    np.testing.assert_allclose(sm, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)
    np.testing.assert_allclose(lsm, [[0.0, -1000.0, -2000.0], [-np.log(3)] * 3])
    assert np.all(np.isfinite(lsm))


def test_softmax_rows_sum_to_one_along_the_axis(rng):
    x = rng.normal(size=(2, 3, 4))
    X = sg.dtensor3("x")
    for axis in (0, 1, 2, -2):
        got = _run(nnet.softmax(X, axis=axis), [X], x)
        np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-12)
        np.testing.assert_allclose(got, sp.softmax(x, axis=axis), rtol=1e-12)
    whole = _run(nnet.softmax(X, axis=None), [X], x)
    assert np.isclose(whole.sum(), 1.0)


def test_softmax_dtypes():
    assert nnet.softmax(sg.fmatrix("x")).dtype == "float32"
    assert nnet.softmax(sg.imatrix("x")).dtype == "float64"
    assert nnet.log_softmax(sg.tensor("b", "int8", (None,))).dtype == "float32"
    assert nnet.softmax(sg.tensor("x", shape=(3, 1))).type.shape == (3, 1)


def test_softmax_argument_errors():
    with pytest.raises(ValueError, match="out of range"):
        nnet.softmax(sg.dmatrix("x"), axis=2)
    with pytest.raises(ValueError, match="out of range"):
        nnet.Softmax(-3)(sg.dmatrix("x"))
    with pytest.raises(TypeError, match="axis"):
        nnet.softmax(sg.dmatrix("x"), axis=1.0)
    with pytest.raises(TypeError, match="input x must be numeric"):
        nnet.softmax(sg.tensor("b", "bool", (None,)))


def test_softmax_gradient_is_a_graph_of_existing_ops(rng):
    X = sg.dmatrix("x")
    g = sg.grad(sg.sum(nnet.softmax(X) * sg.constant(rng.normal(size=(2, 3)))), X)
    ops = {type(node.op) for node in toposort([g])}
    assert nnet.Softmax in ops  # reused from the forward pass
    assert ops <= {nnet.Softmax, elemwise.Elemwise, elemwise.DimShuffle} | {
        type(node.op) for node in toposort([sg.sum(X, axis=1, keepdims=True)])}


def test_softmax_and_log_softmax_rop_match_the_jacobian(rng):
    x, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    X, V = sg.dmatrix("x"), sg.dmatrix("v")
    s = sp.softmax(x, axis=1)
    expected = s * (v - np.sum(v * s, axis=1, keepdims=True))
    np.testing.assert_allclose(_run(sg.Rop(nnet.softmax(X), X, V), [X, V], x, v), expected,
                               rtol=1e-10)
    expected_log = v - np.sum(v * s, axis=1, keepdims=True)
    np.testing.assert_allclose(_run(sg.Rop(nnet.log_softmax(X), X, V), [X, V], x, v),
                               expected_log, rtol=1e-10)


def test_softmax_on_an_empty_batch():
    X = sg.dmatrix("x")
    assert _run(nnet.softmax(X), [X], np.zeros((0, 4))).shape == (0, 4)


# -- crossentropies ---------------------------------------------------------------------------

def test_integer_and_one_hot_targets_agree_in_value_and_gradient(rng):
    x, t = rng.normal(size=(4, 5)), np.array([0, 4, 2, 2])
    X, T = sg.dmatrix("x"), sg.lvector("t")
    by_index = nnet.categorical_crossentropy(nnet.softmax(X), T)
    one_hot = nnet.categorical_crossentropy(nnet.softmax(X), sg.constant(np.eye(5)[t]))
    assert isinstance(by_index.owner.op, nnet.CrossentropyCategorical1Hot)
    v1, v2, g1, g2 = _run([by_index, one_hot, sg.grad(sg.sum(by_index), X),
                           sg.grad(sg.sum(one_hot), X)], [X, T], x, t)
    np.testing.assert_allclose(v1, -sp.log_softmax(x, axis=1)[np.arange(4), t], rtol=1e-12)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    # d/dx crossentropy(softmax(x), t) = softmax(x) - onehot(t)
    np.testing.assert_allclose(g1, sp.softmax(x, axis=1) - np.eye(5)[t], atol=1e-12)
    np.testing.assert_allclose(g1, g2, atol=1e-12)


def test_crossentropy_gradient_divides_only_the_true_class():
    p = np.array([[0.0, 1.0], [0.5, 0.5]])
    P, T = sg.dmatrix("p"), sg.lvector("t")
    g = _run(sg.grad(sg.sum(nnet.categorical_crossentropy(P, T)), P), [P, T], p,
             np.array([1, 0]))
    np.testing.assert_array_equal(g, [[0.0, -1.0], [-2.0, 0.0]])


def test_crossentropy_label_errors(rng):
    P, T = sg.dmatrix("p"), sg.lvector("t")
    f = sg.function([P, T], nnet.categorical_crossentropy(P, T), mode="py")
    p = sp.softmax(rng.normal(size=(3, 4)), axis=1)
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 4\)"):
        f(p, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="class indices"):
        f(p, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="needs class indices of shape"):
        f(p, np.array([0, 1]))


def test_crossentropy_type_errors():
    with pytest.raises(TypeError, match="true_one_of_n must be an integer tensor"):
        nnet.categorical_crossentropy(sg.dmatrix("p"), sg.dvector("t"))
    with pytest.raises(TypeError, match="true_one_of_n"):
        nnet.categorical_crossentropy(sg.dmatrix("p"), sg.lscalar("t"))
    with pytest.raises(TypeError, match="coding_dist must be a float tensor"):
        nnet.categorical_crossentropy(sg.imatrix("p"), sg.lvector("t"))
    with pytest.raises(TypeError, match="coding_dist must be float"):
        nnet.categorical_crossentropy(sg.imatrix("p"), sg.imatrix("t"))
    with pytest.raises(ValueError, match="static shapes"):
        nnet.categorical_crossentropy(sg.tensor("p", shape=(3, 4)),
                                      sg.tensor("t", "int64", (2,)))


def test_binary_crossentropy_of_sigmoid_has_the_textbook_gradient(rng):
    x, t = rng.normal(size=(3, 4)), (rng.random((3, 4)) < 0.5).astype(float)
    X, T = sg.dmatrix("x"), sg.dmatrix("t")
    cost = nnet.binary_crossentropy(nnet.sigmoid(X), T)
    value, g = _run([cost, sg.grad(sg.sum(cost), X)], [X, T], x, t)
    np.testing.assert_allclose(value, np.logaddexp(0, -x) * t + np.logaddexp(0, x) * (1 - t),
                               rtol=1e-10)
    np.testing.assert_allclose(g, sp.expit(x) - t, rtol=1e-9, atol=1e-12)


# -- activations --------------------------------------------------------------------------------

def test_relu_uses_the_table_row_unless_leaky():
    X = sg.dvector("x")
    assert elemwise.is_elemwise(nnet.relu(X), "relu")
    leaky = nnet.relu(X, alpha=0.2)
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(_run(leaky, [X], x), [-0.4, 0.0, 3.0])
    np.testing.assert_allclose(_run(sg.grad(sg.sum(leaky), X), [X], x), [0.2, 0.2, 1.0])
    assert elemwise.is_elemwise(nnet.sigmoid(X), "sigmoid")
    assert elemwise.is_elemwise(nnet.softplus(X), "softplus")


def test_hard_sigmoid_saturates():
    X = sg.dvector("x")
    np.testing.assert_allclose(_run(nnet.hard_sigmoid(X), [X], np.array([-10.0, 0.0, 1.0, 10.0])),
                               [0.0, 0.5, 0.7, 1.0])


# -- dropout ----------------------------------------------------------------------------------

def test_dropout_drops_a_fraction_p_and_rescales():
    X = sg.dmatrix("x")
    f = sg.function([X], nnet.dropout(X, p=0.3, rng=sg.random.RandomStream(1)), mode="py")
    x = np.ones((300, 300))
    a, b = f(x), f(x)
    assert set(np.unique(a)) <= {0.0, 1 / 0.7}
    assert abs((a == 0).mean() - 0.3) < 0.01
    assert abs(a.mean() - 1.0) < 0.02
    assert not np.array_equal(a, b), "each call draws a new mask"


def test_dropout_is_reproducible_with_a_seed():
    X = sg.dmatrix("x")
    x = np.ones((20, 20))
    draws = [sg.function([X], nnet.dropout(X, rng=sg.random.RandomStream(5)), mode="py")(x)
             for _ in range(2)]
    np.testing.assert_array_equal(draws[0], draws[1])


def test_dropout_identity_cases_and_dtype():
    X = sg.fmatrix("x")
    assert nnet.dropout(X, deterministic=True) is X
    assert nnet.dropout(X, p=0.0) is X
    y = nnet.dropout(X, p=sg.dscalar("p"))
    assert y.dtype == "float32"
    assert nnet.dropout(X).dtype == "float32"  # the default stream


def test_dropout_gradient_is_the_mask_times_the_scale():
    X = sg.dmatrix("x")
    y = nnet.dropout(X, p=0.5, rng=sg.random.RandomStream(2))
    out, g = _run([y, sg.grad(sg.sum(y), X)], [X], np.ones((10, 10)))
    np.testing.assert_array_equal(g, out)


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nnet.dropout(sg.dmatrix("x"), p=1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nnet.dropout(sg.dmatrix("x"), p=-0.1)
    with pytest.raises(TypeError, match="x must be a float tensor"):
        nnet.dropout(sg.imatrix("x"))


def test_public_names():
    for name in nnet.__all__:
        assert callable(getattr(sg.nnet, name)), name
