"""Records for ``sg.linalg``: inverse, solve, determinant, Cholesky factor and ``LowerTriangle``.

References come from ``scipy.linalg`` (an implementation independent of the ``numpy.linalg``
calls the ops make) or from explicit formulas. Matrices are well conditioned so that central
differences are accurate.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from symgraph.ops import blas, linalg
from tests.records import F, InputSpec, OpRecord


def well_conditioned(*shape: int, dtype: str = "float64") -> InputSpec:
    """Square matrices with a dominant diagonal: uniform(-1, 1) entries plus n on the diagonal."""
    n = shape[-1]

    def make(rng: np.random.Generator) -> np.ndarray:
        return (rng.uniform(-1, 1, size=shape) + n * np.eye(n)).astype(dtype)

    return InputSpec(dtype, tuple(shape), make)


def positive_definite(*shape: int, dtype: str = "float64") -> InputSpec:
    """Symmetric positive-definite matrices ``M Mᵀ + n I``."""
    n = shape[-1]

    def make(rng: np.random.Generator) -> np.ndarray:
        m = rng.uniform(-1, 1, size=shape)
        return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)

    return InputSpec(dtype, tuple(shape), make)


def _symmetrize(a):
    # verify_grad perturbs entries one at a time: factor the symmetric part so every
    # perturbation stays in the op's domain.
    return (a + blas.swap_last_axes(a)) / 2


def _each(function, *arrays):
    """Apply a matrix function to each matrix of a stack (leading axis)."""
    return np.stack([function(*parts) for parts in zip(*arrays)])


def _lower_triangle_halved(x):
    rows, cols = np.indices(x.shape[-2:])
    return np.where(rows > cols, x, np.where(rows == cols, x / 2, 0.0))


def _sym_np(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


RECORDS = [
    OpRecord("linalg_inv", linalg.inv, [well_conditioned(4, 4)], sla.inv),
    OpRecord("linalg_inv_batched", linalg.inv, [well_conditioned(2, 3, 3)],
             lambda a: _each(sla.inv, a)),
    OpRecord("linalg_inv_float32", linalg.inv, [well_conditioned(3, 3, dtype="float32")],
             lambda a: sla.inv(a.astype("float64")).astype("float32"), grad=False,
             rtol=1e-5, atol=1e-6, why_tolerance="float32 LU against a float64 reference"),
    OpRecord("linalg_solve_vector", linalg.solve, [well_conditioned(4, 4), F(4)], sla.solve),
    OpRecord("linalg_solve_matrix", linalg.solve, [well_conditioned(4, 4), F(4, 2)], sla.solve),
    OpRecord("linalg_solve_batched", linalg.solve, [well_conditioned(2, 3, 3), F(2, 3, 2)],
             lambda a, b: _each(sla.solve, a, b)),
    OpRecord("linalg_solve_broadcast_rhs", linalg.solve, [well_conditioned(2, 3, 3), F(3, 2)],
             lambda a, b: _each(lambda m: sla.solve(m, b), a)),
    OpRecord("linalg_solve_vector_batched_a", linalg.solve, [well_conditioned(2, 3, 3), F(3)],
             lambda a, b: _each(lambda m: sla.solve(m, b), a)),
    OpRecord("linalg_det", linalg.det, [well_conditioned(3, 3)], sla.det),
    OpRecord("linalg_det_batched", linalg.det, [well_conditioned(2, 3, 3)],
             lambda a: _each(sla.det, a)),
    OpRecord("linalg_cholesky", lambda a: linalg.cholesky(_symmetrize(a)),
             [positive_definite(4, 4)], lambda a: sla.cholesky(_sym_np(a), lower=True)),
    OpRecord("linalg_cholesky_upper", lambda a: linalg.cholesky(_symmetrize(a), lower=False),
             [positive_definite(3, 3)], lambda a: sla.cholesky(_sym_np(a), lower=False)),
    OpRecord("linalg_cholesky_batched", lambda a: linalg.cholesky(_symmetrize(a)),
             [positive_definite(2, 3, 3)],
             lambda a: _each(lambda m: sla.cholesky(m, lower=True), _sym_np(a))),
    OpRecord("linalg_lower_triangle", linalg.LowerTriangle(0.5), [F(2, 3, 3)],
             _lower_triangle_halved),
    OpRecord("linalg_lower_triangle_rectangular", linalg.LowerTriangle(1.0), [F(3, 4)],
             lambda x: x * (np.arange(3)[:, None] >= np.arange(4)[None, :])),
]
