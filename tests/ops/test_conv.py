"""Targeted tests of ``conv2d`` and pooling: Theano semantics, errors, gradients, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import convolve2d

import symgraph as sg
from symgraph.graph import toposort
from symgraph.ops import conv
from tests.ops.records_conv import ref_conv2d, ref_pool


def _run(outputs, inputs, *values):
    return sg.function(list(inputs), outputs, mode="py")(*values)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# -- conv2d: semantics --------------------------------------------------------------------------

def test_conv2d_is_a_true_convolution_by_default():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    got = _run(conv.conv2d(X, W), [X, W], x, w)
    # out[0, 0] = 4*0 + 3*1 + 2*3 + 1*4: the filter is flipped in both axes.
    np.testing.assert_array_equal(got[0, 0], [[13.0, 23.0], [43.0, 53.0]])
    np.testing.assert_array_equal(got[0, 0], convolve2d(x[0, 0], w[0, 0], mode="valid"))


def test_filter_flip_false_is_a_correlation(rng):
    x, w = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 3, 2))
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    corr = _run(conv.conv2d(X, W, filter_flip=False), [X, W], x, w)
    flipped = _run(conv.conv2d(X, W), [X, W], x, w[:, :, ::-1, ::-1].copy())
    np.testing.assert_allclose(corr, flipped, rtol=1e-12)


@pytest.mark.parametrize("border_mode, rows, cols", [
    ("valid", 4, 3), ("full", 8, 9), ("half", 6, 7), (1, 6, 5), ((0, 2), 4, 7)])
def test_output_sizes(border_mode, rows, cols, rng):
    # 'half' pads by filter // 2: an even filter width (4) grows the output by one.
    x, w = rng.normal(size=(1, 1, 6, 6)), rng.normal(size=(1, 1, 3, 4))
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    y = conv.conv2d(X, W, border_mode=border_mode)
    assert _run(y, [X, W], x, w).shape == (1, 1, rows, cols)
    assert tuple(_run(y.shape, [X, W], x, w)) == (1, 1, rows, cols)


def test_static_output_shape_and_dtype():
    x = sg.tensor("x", "float32", (8, 3, 10, 9))
    w = sg.tensor("w", "float32", (4, 3, 3, 3))
    y = conv.conv2d(x, w, border_mode="valid", subsample=(2, 2))
    assert y.type.shape == (8, 4, 4, 4)
    assert y.dtype == "float32"
    mixed = conv.conv2d(x, sg.dtensor4("w64"))
    assert mixed.dtype == "float64" and mixed.type.shape == (8, None, None, None)


def test_shape_hints_give_static_shapes_and_are_checked(rng):
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    y = conv.conv2d(X, W, input_shape=(None, 2, 5, 5), filter_shape=(3, 2, 3, 3))
    assert y.type.shape == (None, 3, 3, 3)
    f = sg.function([X, W], y, mode="py")
    assert f(rng.normal(size=(4, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3))).shape == (4, 3, 3, 3)
    with pytest.raises(ValueError, match="hint"):
        f(rng.normal(size=(4, 2, 6, 5)), rng.normal(size=(3, 2, 3, 3)))
    with pytest.raises(ValueError, match="hint"):
        conv.conv2d(sg.tensor("x", shape=(1, 2, 5, 5)), W, input_shape=(1, 3, 5, 5))


def test_subsample_matches_strided_reference(rng):
    x, w = rng.normal(size=(2, 2, 7, 6)), rng.normal(size=(3, 2, 2, 3))
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    got = _run(conv.conv2d(X, W, border_mode="full", subsample=(3, 2)), [X, W], x, w)
    np.testing.assert_allclose(got, ref_conv2d(x, w, (1, 2), (3, 2)), rtol=1e-12, atol=1e-12)


def test_ops_compare_by_parameters():
    assert conv.Conv2d(1) == conv.Conv2d((1, 1))
    assert hash(conv.Conv2d("half", 2)) == hash(conv.Conv2d("half", (2, 2)))
    assert conv.Conv2d("valid") != conv.Conv2d("valid", filter_flip=False)
    assert conv.Pool((2, 2)) == conv.Pool(2, stride=(2, 2))


# -- conv2d: errors ---------------------------------------------------------------------------

def test_wrong_rank_or_dtype_names_the_input():
    with pytest.raises(TypeError, match="input must be 4-d"):
        conv.conv2d(sg.dmatrix("x"), sg.dtensor4("w"))
    with pytest.raises(TypeError, match="filters must be 4-d"):
        conv.conv2d(sg.dtensor4("x"), sg.dtensor3("w"))
    with pytest.raises(TypeError, match="filters must have a float dtype"):
        conv.conv2d(sg.dtensor4("x"), sg.tensor("w", "int32", (None,) * 4))


@pytest.mark.parametrize("kwargs", [
    {"border_mode": "same"}, {"border_mode": -1}, {"border_mode": (1, 2, 3)},
    {"subsample": 0}, {"subsample": (1, 1.5)}])
def test_bad_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        conv.conv2d(sg.dtensor4("x"), sg.dtensor4("w"), **kwargs)


def test_channel_mismatch_static_and_at_run_time(rng):
    with pytest.raises(ValueError, match="channels"):
        conv.conv2d(sg.tensor("x", shape=(None, 3, None, None)),
                    sg.tensor("w", shape=(None, 2, None, None)))
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    f = sg.function([X, W], conv.conv2d(X, W), mode="py")
    with pytest.raises(ValueError, match="3 channels"):
        f(rng.normal(size=(1, 3, 5, 5)), rng.normal(size=(2, 2, 3, 3)))


def test_input_smaller_than_filter(rng):
    with pytest.raises(ValueError, match="smaller"):
        conv.conv2d(sg.tensor("x", shape=(1, 1, 2, 5)), sg.tensor("w", shape=(1, 1, 3, 3)))
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    f = sg.function([X, W], conv.conv2d(X, W), mode="py")
    with pytest.raises(ValueError, match="smaller"):
        f(rng.normal(size=(1, 1, 2, 5)), rng.normal(size=(1, 1, 3, 3)))
    # 'full' padding makes any filter fit.
    g = sg.function([X, W], conv.conv2d(X, W, border_mode="full"), mode="py")
    assert g(rng.normal(size=(1, 1, 2, 5)), rng.normal(size=(1, 1, 3, 3))).shape == (1, 1, 4, 7)


# -- conv2d: gradients ------------------------------------------------------------------------

def test_gradient_ops_and_adjoint_identities(rng):
    x, w = rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(3, 2, 3, 2))
    X, W = sg.dtensor4("x"), sg.dtensor4("w")
    y = conv.conv2d(X, W, border_mode=(1, 0), subsample=(2, 2))
    gz = rng.normal(size=_run(y, [X, W], x, w).shape)
    GZ = sg.constant(gz)
    gx, gw = sg.grad(sg.sum(y * GZ), [X, W])
    kinds = {type(node.op) for node in toposort([gx, gw])}
    assert {conv.Conv2dGradInputs, conv.Conv2dGradWeights} <= kinds
    gx_v, gw_v = _run([gx, gw], [X, W], x, w)
    total = float(np.sum(ref_conv2d(x, w, (1, 0), (2, 2)) * gz))
    assert np.isclose(np.sum(gx_v * x), total) and np.isclose(np.sum(gw_v * w), total)
    # With stride 2 no window reaches the last input column: its gradient is zero.
    assert np.all(gx_v[:, :, :, -1] == 0) and not np.all(gx_v[:, :, -1, :] == 0)


def test_second_order_gradient_matches_finite_differences(rng):
    x, w = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 2, 2, 2))

    def grad_of_squared_norm(a, b):
        y = conv.conv2d(a, b, border_mode="half")
        return sg.grad(sg.sum(y ** 2), a)

    sg.verify_grad(grad_of_squared_norm, [x, w], rng=np.random.default_rng(0))


def test_rop_is_the_convolution_of_the_tangent(rng):
    x, w, v = (rng.normal(size=s) for s in [(1, 2, 5, 5), (2, 2, 3, 3), (1, 2, 5, 5)])
    X, W, V = sg.dtensor4("x"), sg.dtensor4("w"), sg.dtensor4("v")
    y = conv.conv2d(X, W)
    f = sg.function([X, W, V], sg.Rop(y, X, V), mode="py", on_unused_input="ignore")
    got = f(x, w, v)
    np.testing.assert_allclose(got, ref_conv2d(v, w), rtol=1e-12, atol=1e-12)


def test_grad_ops_check_shapes_at_run_time(rng):
    W, GZ = sg.dtensor4("w"), sg.dtensor4("gz")
    op = conv.Conv2dGradInputs("valid", (1, 1))
    f = sg.function([W, GZ], op(W, GZ, 5, 5), mode="py")
    with pytest.raises(ValueError, match="output gradient has shape"):
        f(rng.normal(size=(2, 1, 3, 3)), rng.normal(size=(1, 2, 4, 3)))
    with pytest.raises(TypeError, match="rows must be an integer scalar"):
        op(W, GZ, 5.0, 5)


# -- pooling: semantics -----------------------------------------------------------------------

def test_max_pool_known_values():
    x = np.arange(20.0).reshape(4, 5)
    X = sg.dmatrix("x")
    got = _run(conv.max_pool_2d(X, (2, 2)), [X], x)
    np.testing.assert_array_equal(got, [[6.0, 8.0], [16.0, 18.0]])
    partial = _run(conv.max_pool_2d(X, (2, 2), ignore_border=False), [X], x)
    np.testing.assert_array_equal(partial, [[6.0, 8.0, 9.0], [16.0, 18.0, 19.0]])


def test_padding_never_wins_a_max():
    x = -np.ones((1, 3, 3)) - np.arange(9.0).reshape(1, 3, 3)
    X = sg.dtensor3("x")
    got = _run(conv.max_pool_2d(X, (2, 2), stride=(2, 2), pad=(1, 1)), [X], x)
    np.testing.assert_array_equal(got, [[[-1.0, -2.0], [-4.0, -5.0]]])


def test_average_modes_differ_on_the_padding():
    x = np.ones((1, 2, 2))
    X = sg.dtensor3("x")
    args = {"ws": (2, 2), "stride": (2, 2), "pad": (1, 1)}
    inc = _run(conv.pool_2d(X, mode="average_inc_pad", **args), [X], x)
    exc = _run(conv.pool_2d(X, mode="average_exc_pad", **args), [X], x)
    total = _run(conv.pool_2d(X, mode="sum", **args), [X], x)
    np.testing.assert_array_equal(inc, np.full((1, 2, 2), 0.25))
    np.testing.assert_array_equal(exc, np.ones((1, 2, 2)))
    np.testing.assert_array_equal(total, np.ones((1, 2, 2)))


def test_pooling_keeps_leading_dimensions(rng):
    x = rng.normal(size=(2, 1, 3, 4, 6))
    X = sg.tensor("x", shape=(None, 1, None, None, None))
    y = conv.max_pool_2d(X, (2, 3))
    assert y.type.shape == (None, 1, None, None, None)
    np.testing.assert_array_equal(_run(y, [X], x), ref_pool(x, (2, 3)))


def test_static_pool_shape_and_empty_output(rng):
    x = sg.tensor("x", shape=(3, 7, 5))
    assert conv.max_pool_2d(x, (2, 2)).type.shape == (3, 3, 2)
    assert conv.max_pool_2d(x, (2, 2), ignore_border=False).type.shape == (3, 4, 3)
    assert conv.max_pool_2d(x, (3, 2), stride=(1, 1)).type.shape == (3, 5, 4)
    small = conv.max_pool_2d(x, (8, 2))
    assert small.type.shape == (3, 0, 2)
    assert _run(small, [x], rng.normal(size=(3, 7, 5))).shape == (3, 0, 2)


def test_integer_max_pool_keeps_dtype():
    x = np.array([[3, -7, 2], [5, 1, -9]], dtype="int16")
    X = sg.tensor("x", "int16", (None, None))
    got = _run(conv.max_pool_2d(X, (2, 2), ignore_border=False), [X], x)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, [[5, 2]])


# -- pooling: gradients -----------------------------------------------------------------------

def test_max_pool_gradient_goes_to_the_first_maximum_on_ties():
    x = np.array([[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0]])
    X = sg.dmatrix("x")
    g = _run(sg.grad(sg.sum(conv.max_pool_2d(X, (2, 2)) * sg.constant([[10.0, 20.0]])), X),
             [X], x)
    np.testing.assert_array_equal(g, [[10.0, 0.0, 0.0, 20.0], [0.0, 0.0, 0.0, 0.0]])


def test_overlapping_windows_accumulate_gradient():
    x = np.array([[0.0, 5.0, 0.0, 0.0]])
    X = sg.dmatrix("x")
    y = conv.max_pool_2d(X, (1, 2), stride=(1, 1))
    g = _run(sg.grad(sg.sum(y), X), [X], x)
    # Windows [0, 5], [5, 0], [0, 0]: the tie in the last one goes to its first cell.
    np.testing.assert_array_equal(g, [[0.0, 2.0, 1.0, 0.0]])


def test_pool_gradient_ops(rng):
    X = sg.dtensor3("x")
    for mode, op_class in [("max", conv.MaxPoolGrad), ("sum", conv.AveragePoolGrad),
                           ("average_exc_pad", conv.AveragePoolGrad)]:
        g = sg.grad(sg.sum(conv.pool_2d(X, (2, 2), mode=mode)), X)
        assert any(isinstance(n.op, op_class) for n in toposort([g]))
    G = sg.dtensor3("g")
    f = sg.function([X, G], conv.MaxPoolGrad((2, 2))(X, G), mode="py")
    with pytest.raises(ValueError, match="output gradient has shape"):
        f(rng.normal(size=(1, 4, 4)), rng.normal(size=(1, 3, 3)))


# -- pooling: errors ----------------------------------------------------------------------------

def test_pool_type_errors_name_the_input():
    with pytest.raises(TypeError, match="input must have at least 2 dimensions"):
        conv.max_pool_2d(sg.dvector("v"))
    with pytest.raises(TypeError, match="input must have a numeric dtype"):
        conv.max_pool_2d(sg.tensor("b", "bool", (None, None)))
    with pytest.raises(TypeError, match="input must have a float dtype"):
        conv.pool_2d(sg.imatrix("i"), mode="average_inc_pad")


@pytest.mark.parametrize("kwargs", [
    {"mode": "median"}, {"ws": (0, 2)}, {"stride": (1, 0)}, {"pad": (2, 0)},
    {"pad": (1, 1), "ignore_border": False}, {"pad": -1}])
def test_pool_value_errors(kwargs):
    with pytest.raises(ValueError):
        conv.pool_2d(sg.dmatrix("x"), **kwargs)


def test_nnet_reexports():
    x = sg.dtensor4("x")
    assert isinstance(sg.nnet.max_pool_2d(x).owner.op, conv.Pool)
    assert isinstance(sg.nnet.conv2d(x, sg.dtensor4("w")).owner.op, conv.Conv2d)
