"""Targeted tests for ``sg.linalg``: values against NumPy, errors, and gradient formulas."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops import linalg
from symgraph.ops.linalg import Cholesky, LowerTriangle

RNG = np.random.default_rng(1)


def run(inputs, outputs, *values):
    return sg.function(inputs, outputs, mode="py")(*values)


def spd(n, batch=()):
    m = RNG.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def test_namespace():
    assert set(sg.linalg.__all__) == {"inv", "solve", "det", "cholesky"}
    assert sg.linalg.cholesky is linalg.cholesky
    assert not hasattr(sg, "cholesky")


def test_values_match_numpy():
    a, b = sg.dmatrix("a"), sg.dmatrix("b")
    av, bv = spd(4), RNG.standard_normal((4, 2))
    outs = run([a, b], [sg.linalg.inv(a), sg.linalg.solve(a, b), sg.linalg.det(a),
                        sg.linalg.cholesky(a), sg.linalg.cholesky(a, lower=False)], av, bv)
    expected = [np.linalg.inv(av), np.linalg.solve(av, bv), np.linalg.det(av),
                np.linalg.cholesky(av), np.linalg.cholesky(av).T]
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_float32_stays_float32_and_float16_works():
    for dtype in ("float32", "float16"):
        a = sg.tensor("a", dtype=dtype, shape=(None, None))
        av = spd(3).astype(dtype)
        out = sg.linalg.inv(a)
        assert out.dtype == dtype
        got = run([a], out, av)
        assert got.dtype.name == dtype
        np.testing.assert_allclose(got.astype("float64"),
                                   np.linalg.inv(av.astype("float64")), rtol=1e-2, atol=1e-3)


def test_singular_inverse_raises_linalg_error_naming_the_node():
    a = sg.dmatrix("a")
    f = sg.function([a], sg.linalg.inv(a), mode="py")
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix") as info:
        f(np.zeros((3, 3)))
    message = str(info.value)
    assert "MatrixInverse" in message and "built at" in message and "test_linalg.py" in message


def test_cholesky_of_a_non_positive_definite_matrix_raises():
    a = sg.dmatrix("a")
    f = sg.function([a], sg.linalg.cholesky(a), mode="py")
    with pytest.raises(np.linalg.LinAlgError, match="positive definite") as info:
        f(-np.eye(2))
    assert "Cholesky" in str(info.value)


@pytest.mark.parametrize("function", [linalg.inv, linalg.det, linalg.cholesky])
def test_type_errors_name_the_input(function):
    with pytest.raises(TypeError, match="input 0 .* dtype int64"):
        function(sg.lmatrix("m"))
    with pytest.raises(TypeError, match="input 0 .* 1-d"):
        function(sg.dvector("v"))
    with pytest.raises(ValueError, match="square"):
        function(sg.tensor("r", shape=(2, 3)))


def test_runtime_non_square_raises_value_error():
    a = sg.dmatrix("a")
    f = sg.function([a], sg.linalg.det(a), mode="py")
    with pytest.raises(ValueError, match="not square"):
        f(np.ones((2, 3)))


def test_solve_shape_errors():
    with pytest.raises(ValueError, match="3 rows"):
        sg.linalg.solve(sg.tensor("a", shape=(3, 3)), sg.tensor("b", shape=(4,)))
    with pytest.raises(TypeError, match="input 1 .* 0-d"):
        sg.linalg.solve(sg.dmatrix("a"), sg.dscalar("s"))
    with pytest.raises(TypeError, match="input 1 .* dtype int64"):
        sg.linalg.solve(sg.dmatrix("a"), sg.lvector("b"))
    a, b = sg.dmatrix("a"), sg.dmatrix("b")
    f = sg.function([a, b], sg.linalg.solve(a, b), mode="py")
    with pytest.raises(ValueError, match="needs b with 3 rows"):
        f(np.eye(3), np.ones((2, 2)))


def test_solve_follows_numpy2_vector_rule_and_broadcasts():
    a, v = sg.tensor3("a"), sg.dvector("v")
    av, vv = spd(3, (2,)), RNG.standard_normal(3)
    out = sg.linalg.solve(a, v)
    assert out.ndim == 2
    np.testing.assert_allclose(run([a, v], out, av, vv), np.linalg.solve(av, vv))
    b = sg.dmatrix("b")
    bv = RNG.standard_normal((3, 2))
    np.testing.assert_allclose(run([a, b], sg.linalg.solve(a, b), av, bv),
                               np.linalg.solve(av, bv))


def test_solve_mixed_dtypes_promote():
    a, b = sg.fmatrix("a"), sg.dvector("b")
    assert sg.linalg.solve(a, b).dtype == "float64"


def test_inverse_gradient_formula():
    a, w = sg.dmatrices("a w")
    ga = sg.grad((sg.linalg.inv(a) * w).sum(), a)
    av, wv = spd(3), RNG.standard_normal((3, 3))
    inv_t = np.linalg.inv(av).T
    np.testing.assert_allclose(run([a, w], ga, av, wv), -inv_t @ wv @ inv_t)


def test_det_gradient_is_jacobi_formula_in_a_batch():
    a = sg.tensor3("a")
    ga = sg.grad(sg.linalg.det(a).sum(), a)
    av = spd(3, (2,))
    expected = np.linalg.det(av)[:, None, None] * np.swapaxes(np.linalg.inv(av), 1, 2)
    np.testing.assert_allclose(run([a], ga, av), expected)


def test_solve_gradients():
    a, b, w = sg.dmatrix("a"), sg.dvector("b"), sg.dvector("w")
    ga, gb = sg.grad((sg.linalg.solve(a, b) * w).sum(), [a, b])
    av, bv, wv = spd(3), RNG.standard_normal(3), RNG.standard_normal(3)
    x = np.linalg.solve(av, bv)
    gbv = np.linalg.solve(av.T, wv)
    got_a, got_b = run([a, b, w], [ga, gb], av, bv, wv)
    np.testing.assert_allclose(got_b, gbv)
    np.testing.assert_allclose(got_a, -np.outer(gbv, x))


def test_cholesky_gradient_is_symmetric_and_matches_symmetric_differences():
    a, w = sg.dmatrices("a w")
    cost = (sg.linalg.cholesky(a) * w).sum()
    ga = sg.grad(cost, a)
    av, wv = spd(4), RNG.standard_normal((4, 4))
    got = run([a, w], ga, av, wv)
    np.testing.assert_allclose(got, got.T, rtol=1e-12)
    # Directional derivative along a symmetric perturbation.
    e = RNG.standard_normal((4, 4))
    e = e + e.T
    eps = 1e-6

    def cost_at(m):
        return float((np.linalg.cholesky(m) * wv).sum())

    numeric = (cost_at(av + eps * e) - cost_at(av - eps * e)) / (2 * eps)
    np.testing.assert_allclose((got * e).sum(), numeric, rtol=1e-6)


def test_cholesky_upper_gradient_equals_lower_gradient_of_transpose():
    a, w = sg.dmatrices("a w")
    g_upper = sg.grad((sg.linalg.cholesky(a, lower=False) * w).sum(), a)
    g_lower = sg.grad((sg.linalg.cholesky(a) * w.T).sum(), a)
    av, wv = spd(3), RNG.standard_normal((3, 3))
    upper, lower = run([a, w], [g_upper, g_lower], av, wv)
    np.testing.assert_allclose(upper, lower, rtol=1e-12)


def test_second_derivative_through_inverse():
    a = sg.dmatrix("a")
    cost = sg.linalg.inv(a).sum()
    g = sg.grad(cost, a)
    gg = sg.grad((g * g).sum(), a)
    av = spd(3)
    value = run([a], gg, av)
    eps = 1e-6
    e = RNG.standard_normal((3, 3))

    def inner(m):
        inv_t = np.linalg.inv(m).T
        grad = -inv_t @ np.ones((3, 3)) @ inv_t
        return float((grad * grad).sum())

    numeric = (inner(av + eps * e) - inner(av - eps * e)) / (2 * eps)
    np.testing.assert_allclose((value * e).sum(), numeric, rtol=1e-5)


def test_ops_compare_by_params():
    assert Cholesky(True) == Cholesky() and Cholesky(True) != Cholesky(False)
    assert LowerTriangle(0.5) == LowerTriangle(0.5) != LowerTriangle(1.0)
    with pytest.raises(TypeError, match="dtype int64"):
        LowerTriangle()(sg.lmatrix("m"))
