"""Targeted tests for tensor products: NumPy/Theano semantics, dtypes, errors, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops import blas
from symgraph.ops.blas import Dot, Matmul, TensorDot


def run(inputs, outputs, *values):
    return sg.function(inputs, outputs, mode="py")(*values)


def ops_in(var):
    return {type(node.op) for node in sg.graph.toposort([var])}


RNG = np.random.default_rng(0)


# -- public names and operators ---------------------------------------------------------------

def test_public_names_are_top_level():
    for name in ("dot", "matmul", "outer", "tensordot", "batched_dot"):
        assert getattr(sg, name) is getattr(blas, name)


def test_matmul_operator_and_dot_method_build_the_ops():
    x, y = sg.dmatrices("x y")
    assert (x @ y).owner.op == Matmul()
    assert x.dot(y).owner.op == Dot()
    a = RNG.standard_normal((2, 3))
    b = RNG.standard_normal((3, 4))
    got = run([x, y], [x @ y, x.dot(y), a @ y], a, b)
    for value in got:
        np.testing.assert_allclose(value, a @ b)


def test_ops_compare_by_params():
    assert Dot() == Dot() and hash(Dot()) == hash(Dot())
    assert TensorDot((1,), (0,)) == TensorDot([1], [0])
    assert TensorDot((1,), (0,)) != TensorDot((0,), (1,))
    with pytest.raises(ValueError, match="pair up"):
        TensorDot((0, 1), (0,))


# -- dot ----------------------------------------------------------------------------------------

def test_dot_of_a_scalar_is_an_elementwise_product():
    s, m = sg.dscalar("s"), sg.dmatrix("m")
    out = sg.dot(s, m)
    assert Dot not in ops_in(out)
    value = RNG.standard_normal((2, 3))
    np.testing.assert_allclose(run([s, m], out, 2.5, value), np.dot(2.5, value))


def test_dot_higher_rank_matches_numpy():
    a, b = sg.tensor3("a"), sg.tensor3("b")
    av, bv = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((5, 4, 2))
    out = sg.dot(a, b)
    assert out.type.ndim == 4
    np.testing.assert_allclose(run([a, b], out, av, bv), np.dot(av, bv))


@pytest.mark.parametrize("dtypes, expected", [
    (("int8", "int8"), "int8"), (("int32", "float32"), "float64"),
    (("float32", "float32"), "float32"), (("bool", "bool"), "bool"),
    (("uint8", "int8"), "int16"), (("float16", "float16"), "float16"),
])
def test_dot_output_dtype_follows_numpy_promotion(dtypes, expected):
    x = sg.tensor("x", dtype=dtypes[0], shape=(None, None))
    y = sg.tensor("y", dtype=dtypes[1], shape=(None,))
    out = sg.dot(x, y)
    assert out.dtype == expected
    xv = RNG.integers(0, 3, size=(2, 3)).astype(dtypes[0])
    yv = RNG.integers(0, 3, size=3).astype(dtypes[1])
    value = run([x, y], out, xv, yv)
    reference = np.dot(xv, yv)
    assert value.dtype.name == reference.dtype.name == expected
    np.testing.assert_allclose(value.astype("float64"), reference.astype("float64"), rtol=1e-3)


def test_dot_static_mismatch_fails_at_build_time():
    x = sg.tensor("x", shape=(2, 3))
    y = sg.tensor("y", shape=(4, 5))
    with pytest.raises(ValueError, match=r"contracted dimensions differ \(3 != 4\)"):
        sg.dot(x, y)


def test_dot_runtime_mismatch_names_the_node():
    x, y = sg.dmatrices("x y")
    raw = sg.function([x, y], sg.dot(x, y), mode=sg.Mode("py", rewrites=False))
    with pytest.raises(ValueError, match="not aligned") as info:
        raw(np.ones((2, 3)), np.ones((4, 2)))
    assert "Dot" in str(info.value) and "built at" in str(info.value)
    # Rewritten, the product runs as Gemm: the message names that node and the same line.
    f = sg.function([x, y], sg.dot(x, y), mode="py")
    with pytest.raises(ValueError) as info:
        f(np.ones((2, 3)), np.ones((4, 2)))
    running = type(f.fgraph.toposort()[-1].op).__name__
    assert running in str(info.value) and "test_blas.py" in str(info.value)


def test_dot_rejects_non_tensors_and_bad_ranks():
    x = sg.dmatrix("x")
    with pytest.raises(TypeError):
        sg.dot(x, "not a tensor")
    with pytest.raises(TypeError, match="input 1"):
        Dot()(x, sg.tensor3("t"))


def test_dot_gradients_match_the_matrix_formulas():
    x, y = sg.dmatrices("x y")
    w = sg.dmatrix("w")
    cost = (sg.dot(x, y) * w).sum()
    gx, gy = sg.grad(cost, [x, y])
    xv, yv = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    wv = RNG.standard_normal((2, 4))
    gxv, gyv = run([x, y, w], [gx, gy], xv, yv, wv)
    np.testing.assert_allclose(gxv, wv @ yv.T)
    np.testing.assert_allclose(gyv, xv.T @ wv)


def test_dot_gradient_through_mixed_dtypes_keeps_input_dtypes():
    x = sg.fmatrix("x")
    y = sg.dmatrix("y")
    out = sg.dot(x, y)
    assert out.dtype == "float64"
    gx, gy = sg.grad(out.sum(), [x, y])
    assert gx.dtype == "float32" and gy.dtype == "float64"
    xv = RNG.standard_normal((2, 3)).astype("float32")
    yv = RNG.standard_normal((3, 2))
    gxv = run([x, y], gx, xv, yv)
    np.testing.assert_allclose(gxv, np.ones((2, 2)) @ yv.T, rtol=1e-6)


def test_dot_of_integers_has_no_gradient_path():
    x = sg.imatrix("x")
    y = sg.dmatrix("y")
    out = sg.dot(x, y)
    assert out.dtype == "float64"
    gy = sg.grad(out.sum(), y)
    xv = RNG.integers(-3, 3, size=(2, 3)).astype("int32")
    np.testing.assert_allclose(run([x, y], gy, xv, np.ones((3, 2))), xv.T @ np.ones((2, 2)))


def test_dot_rop_matches_product_rule():
    x, y = sg.dmatrices("x y")
    vx, vy = sg.dmatrices("vx vy")
    out = sg.Rop(sg.dot(x, y), [x, y], [vx, vy])
    xv, yv, dx, dy = (RNG.standard_normal((3, 3)) for _ in range(4))
    np.testing.assert_allclose(run([x, y, vx, vy], out, xv, yv, dx, dy), dx @ yv + xv @ dy)


def test_dot_float16_is_computed_in_float32():
    x = sg.tensor("x", dtype="float16", shape=(None,))
    # A float16 accumulator would stall at 2048 (2048 + 1 rounds back to 2048).
    value = np.full(4096, 1.0, dtype="float16")
    got = run([x], sg.dot(x, x), value)
    assert got.dtype == np.float16 and float(got) == 4096.0


# -- matmul -------------------------------------------------------------------------------------

def test_matmul_of_a_scalar_raises_type_error():
    with pytest.raises(TypeError, match="input 0 .* 0-d"):
        sg.matmul(sg.dscalar("s"), sg.dmatrix("m"))
    with pytest.raises(TypeError, match="input 1"):
        sg.dvector("v") @ 2.0


def test_matmul_static_shapes():
    a = sg.tensor("a", shape=(4, 1, 2, 3))
    b = sg.tensor("b", shape=(5, 3, 6))
    assert sg.matmul(a, b).type.shape == (4, 5, 2, 6)
    assert sg.matmul(sg.tensor("v", shape=(3,)), b).type.shape == (5, 6)
    assert sg.matmul(a, sg.tensor("w", shape=(3,))).type.shape == (4, 1, 2)
    assert sg.matmul(sg.tensor("v", shape=(3,)), sg.tensor("w", shape=(3,))).type.shape == ()
    with pytest.raises(ValueError, match="batch dimensions"):
        sg.matmul(sg.tensor("c", shape=(2, 2, 3)), sg.tensor("d", shape=(4, 3, 2)))


def test_matmul_batch_size_one_broadcasts_only_when_declared():
    a, b = sg.tensor3("a"), sg.tensor3("b")
    f = sg.function([a, b], sg.matmul(a, b), mode="py")
    with pytest.raises(ValueError, match="broadcastable"):
        f(np.ones((1, 2, 3)), np.ones((4, 3, 2)))
    a1 = sg.tensor("a1", shape=(1, None, None))
    g = sg.function([a1, b], sg.matmul(a1, b), mode="py")
    av, bv = RNG.standard_normal((1, 2, 3)), RNG.standard_normal((4, 3, 2))
    np.testing.assert_allclose(g(av, bv), np.matmul(av, bv))


def test_matmul_gradient_sums_over_broadcast_batch_axes():
    a = sg.tensor("a", shape=(None, None))
    b = sg.tensor3("b")
    ga, gb = sg.grad(sg.matmul(a, b).sum(), [a, b])
    av, bv = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 3, 5))
    gav, gbv = run([a, b], [ga, gb], av, bv)
    assert gav.shape == av.shape and gbv.shape == bv.shape
    np.testing.assert_allclose(gav, (np.ones((4, 2, 5)) @ np.swapaxes(bv, 1, 2)).sum(0))
    np.testing.assert_allclose(gbv, np.broadcast_to(av.T @ np.ones((2, 5)), bv.shape))


def test_matmul_runtime_core_mismatch():
    a, b = sg.dmatrices("a b")
    f = sg.function([a, b], a @ b, mode="py")
    with pytest.raises(ValueError, match="not aligned"):
        f(np.ones((2, 3)), np.ones((2, 3)))


def test_matmul_rop():
    a, b = sg.tensor3("a"), sg.dvector("b")
    va, vb = sg.tensor3("va"), sg.dvector("vb")
    out = sg.Rop(a @ b, [a, b], [va, vb])
    av, dav = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 4))
    bv, dbv = RNG.standard_normal(4), RNG.standard_normal(4)
    np.testing.assert_allclose(run([a, b, va, vb], out, av, bv, dav, dbv), dav @ bv + av @ dbv)


# -- outer and tensordot ------------------------------------------------------------------------

def test_outer_of_bools_stays_bool():
    x, y = sg.tensor("x", dtype="bool", shape=(None,)), sg.tensor("y", dtype="bool", shape=(None,))
    out = sg.outer(x, y)
    xv, yv = np.array([True, False]), np.array([True, True, False])
    assert out.dtype == "bool"
    np.testing.assert_array_equal(run([x, y], out, xv, yv), np.outer(xv, yv))


def test_outer_flattens_its_operands():
    x, y = sg.dmatrix("x"), sg.dvector("y")
    xv, yv = RNG.standard_normal((2, 3)), RNG.standard_normal(4)
    np.testing.assert_allclose(run([x, y], sg.outer(x, y), xv, yv), np.outer(xv, yv))


@pytest.mark.parametrize("a_shape, b_shape, axes", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 2), 1), ((3, 4), (5,), 0),
    ((3, 4, 5), (5, 4, 3), ([1, 2], [1, 0])), ((2, 3), (2, 3), ([-2, -1], [0, 1])),
    ((4, 3), (3, 2, 4), (0, 2)), ((3,), (3, 2), ([0], [0])),
])
def test_tensordot_matches_numpy(a_shape, b_shape, axes):
    a = sg.tensor("a", shape=(None,) * len(a_shape))
    b = sg.tensor("b", shape=(None,) * len(b_shape))
    av, bv = RNG.standard_normal(a_shape), RNG.standard_normal(b_shape)
    out = sg.tensordot(a, b, axes)
    np.testing.assert_allclose(run([a, b], out, av, bv), np.tensordot(av, bv, axes))


def test_tensordot_of_matrices_over_one_axis_is_a_dot():
    a, b = sg.dmatrices("a b")
    assert sg.tensordot(a, b, 1).owner.op == Dot()
    assert isinstance(sg.tensordot(a, b, ([0], [0])).owner.op, TensorDot)


@pytest.mark.parametrize("axes, message", [
    (3, "axes=3"), (-1, "axes=-1"), (([0, 1], [0]), "pair up"), (([2], [0]), "out of range"),
    (([0, 0], [0, 1]), "repeated"), ("bad", "pair of sequences"),
])
def test_tensordot_rejects_bad_axes(axes, message):
    with pytest.raises(ValueError, match=message):
        sg.tensordot(sg.dmatrix("a"), sg.dmatrix("b"), axes)


def test_tensordot_static_and_runtime_mismatch():
    with pytest.raises(ValueError, match="contracted dimensions differ"):
        sg.tensordot(sg.tensor("a", shape=(2, 3)), sg.tensor("b", shape=(4, 2)), ([1], [0]))
    a, b = sg.tensor3("a"), sg.tensor3("b")
    f = sg.function([a, b], sg.tensordot(a, b, 2), mode="py")
    with pytest.raises(ValueError, match="not aligned"):
        f(np.ones((2, 3, 4)), np.ones((3, 5, 2)))


# -- batched_dot ----------------------------------------------------------------------------------

@pytest.mark.parametrize("a_shape, b_shape, out_shape", [
    ((5, 2, 3), (5, 3, 4), (5, 2, 4)), ((5, 3), (5, 3), (5,)), ((5, 2, 3), (5, 3), (5, 2)),
    ((5, 3), (5, 3, 4), (5, 4)), ((5,), (5, 3), (5, 3)), ((5, 2, 3), (5,), (5, 2, 3)),
])
def test_batched_dot_is_a_dot_per_batch_entry(a_shape, b_shape, out_shape):
    a = sg.tensor("a", shape=(None,) * len(a_shape))
    b = sg.tensor("b", shape=(None,) * len(b_shape))
    av, bv = RNG.standard_normal(a_shape), RNG.standard_normal(b_shape)
    got = run([a, b], sg.batched_dot(a, b), av, bv)
    expected = np.stack([np.dot(x, y) for x, y in zip(av, bv)])
    assert got.shape == out_shape
    np.testing.assert_allclose(got, expected)


def test_batched_dot_needs_a_batch_axis():
    with pytest.raises(TypeError, match="input 1 .* 0-d"):
        sg.batched_dot(sg.dmatrix("a"), sg.dscalar("s"))


def test_batched_dot_batch_sizes_must_match_at_run_time():
    a, b = sg.tensor3("a"), sg.tensor3("b")
    f = sg.function([a, b], sg.batched_dot(a, b), mode="py")
    with pytest.raises(ValueError):
        f(np.ones((2, 2, 3)), np.ones((3, 3, 2)))
