"""Targeted tests of the reductions and cumulative ops: NumPy dtypes and edge cases, errors,
op parameters, and the gradient conventions (ties, zeros, logsumexp, reversed cumsum)."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops import reduce
from symgraph.ops.elemwise import TABLE
from symgraph.ops.reduce import Argmax, Argmin, ArgReduce, CAReduce, CumOp


def run(inputs, outputs, *values):
    return sg.function(inputs, outputs, mode="py")(*values)


# -- NumPy semantics -----------------------------------------------------------------------------

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint32", "float16", "float32",
          "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "all", "any", "mean", "var",
                                  "std", "argmax", "argmin"])
def test_reduction_dtype_and_value_match_numpy(name, dtype):
    value = np.random.default_rng(3).integers(0, 4, size=(3, 5)).astype(dtype)
    x = sg.tensor("x", dtype=dtype, shape=(None, None))
    for axis in (None, 0, (1,), (0, 1)):
        out = getattr(sg, name)(x, axis=axis)
        got = run([x], out, value)
        if name.startswith("arg") and isinstance(axis, tuple):   # NumPy takes one int axis
            expected = getattr(np, name)(value, axis=None if len(axis) == 2 else axis[0])
        else:
            expected = getattr(np, name)(value, axis=axis)
        assert out.dtype == got.dtype.name == np.asarray(expected).dtype.name, (axis, out.dtype)
        # float16/float32 sums accumulate in float64, NumPy's in their own dtype: the
        # results may differ by the roundings of NumPy's (var: 1.3155558 for 1.3155556).
        rtol = {"float16": 2e-3, "float32": 1e-6}.get(dtype, 1e-12)
        np.testing.assert_allclose(got.astype("float64"), np.asarray(expected, dtype="float64"),
                                   rtol=rtol)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64", "float16", "float32"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative_dtype_and_value_match_numpy(name, dtype):
    value = np.random.default_rng(4).integers(0, 3, size=(4, 3)).astype(dtype)
    x = sg.tensor("x", dtype=dtype, shape=(None, None))
    for axis in (0, 1, -1):
        got = run([x], getattr(sg, name)(x, axis=axis), value)
        expected = getattr(np, name)(value, axis=axis)
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got.astype("float64"), expected.astype("float64"))


def test_keepdims_gives_broadcastable_static_dimensions():
    x = sg.tensor("x", shape=(2, None, 4))
    assert sg.sum(x, axis=(0, 2), keepdims=True).type.shape == (1, None, 1)
    assert sg.max(x, axis=1, keepdims=True).type.shape == (2, 1, 4)
    assert sg.argmax(x, keepdims=True).type.shape == (1, 1, 1)
    assert sg.mean(x, axis=-1).type.shape == (2, None)
    assert sg.cumsum(x, axis=1).type.shape == (2, None, 4)


def test_mean_dtype_argument_and_float16_accumulation():
    x = sg.tensor("x", dtype="int32", shape=(None,))
    value = np.arange(7, dtype="int32")
    got = run([x], sg.mean(x, dtype="float32"), value)
    assert got.dtype == np.float32 and got == np.mean(value, dtype="float32")
    h = sg.tensor("h", dtype="float16", shape=(None,))
    halves = np.full(5000, 1.1, dtype="float16")   # a float16 running sum would stall at 2048
    got = run([h], sg.mean(h), halves)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, np.mean(halves), rtol=1e-3)


def test_var_and_std_ddof_match_numpy():
    x = sg.dmatrix("x")
    value = np.random.default_rng(5).normal(size=(4, 6))
    for ddof in (0, 1, 2):
        v, s = run([x], [sg.var(x, axis=1, ddof=ddof), sg.std(x, axis=0, ddof=ddof)], value)
        np.testing.assert_allclose(v, np.var(value, axis=1, ddof=ddof), rtol=1e-12)
        np.testing.assert_allclose(s, np.std(value, axis=0, ddof=ddof), rtol=1e-12)


def test_mean_over_empty_axis_is_nan_and_sums_use_identities():
    x = sg.dmatrix("x")
    empty = np.zeros((2, 0))
    mean, total, product = run([x], [sg.mean(x, axis=1), sg.sum(x, axis=1),
                                     sg.prod(x, axis=1)], empty)
    assert np.all(np.isnan(mean))
    np.testing.assert_array_equal(total, [0.0, 0.0])
    np.testing.assert_array_equal(product, [1.0, 1.0])


def test_max_and_argmax_with_nan_follow_numpy():
    x = sg.dvector("x")
    value = np.array([1.0, np.nan, 3.0, np.nan])
    top, index, low_index = run([x], [sg.max(x), sg.argmax(x), sg.argmin(x)], value)
    assert np.isnan(top)
    assert index == np.argmax(value) == 1 and low_index == np.argmin(value) == 1


def test_argmax_ties_pick_the_first_index():
    x = sg.dmatrix("x")
    value = np.array([[2.0, 5.0, 5.0], [1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(run([x], sg.argmax(x, axis=1), value), [1, 0])
    np.testing.assert_array_equal(run([x], sg.argmin(x, axis=1), value), [0, 2])


def test_argmax_over_several_axes_moves_them_last_and_flattens():
    x = sg.dtensor3("x")
    value = np.random.default_rng(6).normal(size=(2, 3, 4))
    got = run([x], sg.argmax(x, axis=(0, 2)), value)
    expected = np.argmax(value.transpose(1, 0, 2).reshape(3, 8), axis=1)
    np.testing.assert_array_equal(got, expected)
    assert run([x], sg.argmax(x, axis=(2, 0)), value).tolist() == expected.tolist()
    got_all = run([x], sg.argmin(x, keepdims=True), value)
    assert got_all.shape == (1, 1, 1) and got_all.item() == np.argmin(value)


def test_zero_dimensional_inputs():
    s = sg.dscalar("s")
    total, top, index, running = run([s], [sg.sum(s), sg.max(s), sg.argmax(s),
                                           sg.cumsum(s, axis=None)], np.float64(2.5))
    assert total == 2.5 and top == 2.5 and index == 0
    np.testing.assert_array_equal(running, [2.5])


def test_cumsum_without_axis_flattens_in_c_order():
    x = sg.dmatrix("x")
    value = np.arange(6.0).reshape(2, 3)
    got = run([x], [sg.cumsum(x), sg.cumprod(x + 1.0)], value)
    np.testing.assert_array_equal(got[0], np.cumsum(value))
    np.testing.assert_array_equal(got[1], np.cumprod(value + 1.0))


def test_tensor_methods_reach_the_reductions():
    x = sg.dmatrix("x")
    value = np.random.default_rng(7).normal(size=(3, 4))
    outs = [x.sum(axis=0), x.prod(), x.max(axis=1), x.min(keepdims=True), x.mean(axis=-1),
            x.std(), x.var(ddof=1), x.argmax(axis=0), x.argmin(), x.all(), x.any(axis=1),
            x.cumsum(axis=1), x.cumprod(axis=0)]
    expected = [value.sum(axis=0), value.prod(), value.max(axis=1), value.min(keepdims=True),
                value.mean(axis=-1), value.std(), value.var(ddof=1), value.argmax(axis=0),
                value.argmin(), value.all(), value.any(axis=1), value.cumsum(axis=1),
                value.cumprod(axis=0)]
    for got, want in zip(run([x], outs, value), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# -- errors ----------------------------------------------------------------------------------

def test_max_min_argmax_of_empty_axis_raise_value_error_at_run_time():
    x = sg.dmatrix("x")
    empty_columns = np.zeros((3, 0))
    for out in (sg.max(x, axis=1), sg.min(x), sg.argmax(x, axis=1), sg.argmin(x),
                sg.logsumexp(x, axis=1)):
        f = sg.function([x], out, mode="py")
        with pytest.raises(ValueError, match="empty|no element"):
            f(empty_columns)
    # An empty kept axis is fine: nothing is reduced over nothing.
    got = run([x], sg.max(x, axis=0), empty_columns)
    assert got.shape == (0,)


def test_axis_errors():
    x = sg.dmatrix("x")
    with pytest.raises(ValueError, match="out of range"):
        sg.sum(x, axis=2)
    with pytest.raises(ValueError, match="out of range"):
        sg.argmax(x, axis=-3)
    with pytest.raises(ValueError, match="repeated"):
        sg.max(x, axis=(1, -1))
    with pytest.raises(TypeError, match="axis"):
        sg.sum(x, axis=sg.lscalar("a"))
    with pytest.raises(TypeError, match="axis"):
        sg.mean(x, axis=1.0)
    with pytest.raises(TypeError, match="axis"):
        sg.cumsum(x, axis=(0, 1))
    with pytest.raises(ValueError, match="out of range"):
        sg.cumprod(x, axis=2)


def test_ops_reject_inputs_they_cannot_take_naming_them():
    x = sg.dmatrix("weights")
    with pytest.raises(TypeError, match="weights"):
        CAReduce("add", (2,))(x)
    with pytest.raises(TypeError, match="weights.*bool"):
        CAReduce("and_", (0,))(x)
    with pytest.raises(TypeError, match="weights"):
        Argmax((0, 3))(x)
    with pytest.raises(TypeError, match="weights"):
        CumOp(2, "add")(x)


def test_op_parameters_are_validated():
    with pytest.raises(ValueError, match="unknown reduction"):
        CAReduce("sub", (0,))
    with pytest.raises(ValueError, match="distinct"):
        CAReduce("add", (0, 0))
    with pytest.raises(ValueError, match="dtype"):
        CAReduce("maximum", (0,), "float64")
    with pytest.raises(ValueError, match="mode"):
        CumOp(0, "max")
    with pytest.raises(ValueError, match="non-negative"):
        CumOp(-1)


# -- op parameters (what rewrites and code generators rely on) -----------------------------

def test_ops_compare_by_parameters_with_sorted_axes():
    assert CAReduce("add", (2, 0)) == CAReduce("add", (0, 2))
    assert hash(CAReduce("add", (2, 0))) == hash(CAReduce("add", [0, 2]))
    assert CAReduce("add", (2, 0)).axis == (0, 2)
    assert CAReduce("add", (0,)) != CAReduce("mul", (0,))
    assert CAReduce("add", (0,)) != CAReduce("add", (0,), "float32")
    assert Argmax((1, 0)) == Argmax((0, 1)) and Argmax((0,)) != Argmin((0,))
    assert CumOp(1, "add") != CumOp(1, "add", reverse=True)
    assert ArgReduce.abstract and not Argmax.abstract and not Argmin.abstract


def test_default_dtype_spelled_out_builds_the_same_op():
    x = sg.tensor("x", dtype="int16", shape=(None,))
    assert sg.sum(x, dtype="int64").owner.op == sg.sum(x).owner.op
    assert sg.sum(x, dtype="int32").owner.op != sg.sum(x).owner.op


def test_careduce_identities_and_rows():
    assert [CAReduce(k, (0,)).identity for k in ("add", "mul", "and_", "or_")] == \
        [0, 1, True, False]
    assert CAReduce("maximum", (0,)).identity is None
    op = CAReduce("minimum", (0,))
    assert op.kind == "minimum" and op.scalar_op is TABLE["minimum"]
    assert op == CAReduce(TABLE["minimum"], [0])


# -- gradients -------------------------------------------------------------------------------

def test_max_gradient_goes_to_every_tied_maximum():
    x = sg.dmatrix("x")
    value = np.array([[1.0, 3.0, 3.0, 2.0], [4.0, 0.0, 4.0, 4.0]])
    g_max = run([x], sg.grad(sg.sum(sg.max(x, axis=1)), x), value)
    np.testing.assert_array_equal(g_max, [[0, 1, 1, 0], [1, 0, 1, 1]])
    g_min = run([x], sg.grad(sg.min(x), x), value)
    np.testing.assert_array_equal(g_min, [[0, 0, 0, 0], [0, 1, 0, 0]])


def _product_of_others(row):
    return np.array([np.prod(np.delete(row, i)) for i in range(row.size)])


def test_prod_gradient_is_exact_at_zeros():
    x = sg.dmatrix("x")
    value = np.array([[0.0, 2.0, -3.0, 0.5],
                      [0.0, 0.0, 1.5, 2.0],
                      [1.5, -2.0, 0.25, 4.0]])
    got = run([x], sg.grad(sg.sum(sg.prod(x, axis=1)), x), value)
    expected = np.stack([_product_of_others(row) for row in value])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.all(np.isfinite(got))


def test_prod_second_derivative_away_from_zeros():
    sg.verify_grad(lambda x: sg.grad(sg.prod(x), x), [np.array([0.5, -1.5, 2.0, 1.2])],
                   rng=np.random.default_rng(0))


def test_logsumexp_gradient_is_softmax_even_for_huge_inputs():
    x = sg.dmatrix("x")
    value = np.array([[1000.0, 1001.0, 999.0], [-5.0, 2.0, 2.0]])
    lse, g = run([x], [sg.logsumexp(x, axis=1), sg.grad(sg.sum(sg.logsumexp(x, axis=1)), x)],
                 value)
    shifted = np.exp(value - value.max(axis=1, keepdims=True))
    np.testing.assert_allclose(g, shifted / shifted.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(lse, [1001.0 + np.log(np.exp(-1) + 1 + np.exp(-2)),
                                     2.0 + np.log(2 + np.exp(-7))], rtol=1e-12)


def test_cumsum_gradient_is_the_reversed_cumsum():
    x = sg.dmatrix("x")
    weights = np.random.default_rng(8).normal(size=(3, 4))
    g = run([x], sg.grad(sg.sum(sg.cumsum(x, axis=1) * weights), x), np.zeros((3, 4)))
    np.testing.assert_allclose(g, np.flip(np.cumsum(np.flip(weights, 1), axis=1), 1),
                               rtol=1e-12)


def test_cumprod_gradient_is_not_finite_at_zeros_as_documented():
    x = sg.dvector("x")
    g = run([x], sg.grad(sg.sum(sg.cumprod(x)), x), np.array([2.0, 0.0, 3.0]))
    assert np.isfinite(g[0]) and not np.isfinite(g[1])


def test_integer_and_boolean_results_carry_no_gradient():
    x = sg.dvector("x")
    cost = sg.cast(sg.argmax(x) + sg.sum(sg.any(x > 0)), "float64")
    with pytest.raises(sg.DisconnectedInputError):
        sg.grad(cost, x)
    truncated = sg.sum(x, dtype="int64")
    g = CAReduce("add", (0,), "int64").L_op([x], [truncated], [sg.ones_like(truncated)])[0]
    np.testing.assert_array_equal(run([x], g, np.array([0.5, 1.5])), [0.0, 0.0])


def test_rop_of_linear_reductions_matches_the_jacobian():
    x, v = sg.dmatrix("x"), sg.dmatrix("v")
    value = np.random.default_rng(9).normal(size=(3, 4))
    tangent = np.random.default_rng(10).normal(size=(3, 4))
    outs = sg.Rop([sg.sum(x, axis=0), sg.cumsum(x, axis=1), sg.max(x, axis=1)], x, v)
    r_sum, r_cum, r_max = run([x, v], outs, value, tangent)
    np.testing.assert_allclose(r_sum, tangent.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(r_cum, np.cumsum(tangent, axis=1), rtol=1e-12)
    np.testing.assert_allclose(r_max, tangent[np.arange(3), value.argmax(axis=1)], rtol=1e-12)


def test_public_names_are_exported():
    for name in reduce.__all__:
        assert getattr(sg, name) is getattr(reduce, name)
