"""Records for tensor products: ``Dot``, ``Matmul``, ``TensorDot``, ``outer``, ``batched_dot``,
and the BLAS-shaped ``Gemm``, ``Gemv`` and ``Ger`` made by the specialize phase.

References are explicit sums of broadcast products or ``numpy.einsum``, never the functions the
ops call.
"""

from __future__ import annotations

import numpy as np

from symgraph.ops import blas, elemwise
from tests.records import B, F, Given, I, OpRecord


def _contract(a, b, a_axis=-1, b_axis=0):
    """Sum of products over one axis pair, written with broadcasting (free axes: a's, then b's)."""
    a = np.moveaxis(a, a_axis, -1)
    b = np.moveaxis(b, b_axis, 0)
    a_full = a.reshape(a.shape[:-1] + (1,) * (b.ndim - 1) + a.shape[-1:])
    b_full = np.moveaxis(b, 0, -1)
    return (a_full * b_full).sum(axis=-1)


def _batched_matmul(a, b):
    """matmul with broadcasting: (..., n, k) x (..., k, p)."""
    return (a[..., :, :, None] * b[..., None, :, :]).sum(axis=-2)


RECORDS = [
    # dot: every Dot case, 0-d operands and higher ranks
    OpRecord("blas_dot_vv", blas.dot, [F(5), F(5)], lambda a, b: (a * b).sum()),
    OpRecord("blas_dot_mv", blas.dot, [F(3, 4), F(4)], lambda a, b: (a * b).sum(axis=1)),
    OpRecord("blas_dot_vm", blas.dot, [F(4), F(4, 3)], lambda a, b: (a[:, None] * b).sum(0)),
    OpRecord("blas_dot_mm", blas.dot, [F(3, 4), F(4, 2)], _contract),
    OpRecord("blas_dot_method", lambda a, b: a.dot(b), [F(2, 3), F(3, 3)], _contract),
    OpRecord("blas_dot_static_row", blas.dot, [F(1, 4, static=(1, None)), F(4, 2)], _contract),
    OpRecord("blas_dot_scalar", blas.dot, [F(), F(3, 4)], lambda a, b: a * b),
    OpRecord("blas_dot_3d_matrix", blas.dot, [F(2, 3, 4), F(4, 2)], _contract),
    OpRecord("blas_dot_3d_3d", blas.dot, [F(2, 3, 4), F(2, 4, 3)],
             lambda a, b: np.einsum("ijk,lkm->ijlm", a, b)),
    OpRecord("blas_dot_3d_vector", blas.dot, [F(2, 3, 4), F(4)], _contract),
    OpRecord("blas_dot_int", blas.dot, [I(3, 4, lo=-5, hi=5, dtype="int32"), I(4, 2, lo=-5)],
             lambda a, b: _contract(a.astype("int64"), b), grad=False),
    OpRecord("blas_dot_bool", blas.dot, [B(3, 4), B(4)],
             lambda a, b: (a & b).any(axis=1), grad=False),
    OpRecord("blas_dot_mixed_float", blas.dot, [F(3, 4, dtype="float32"), F(4, 2)],
             lambda a, b: _contract(a.astype("float64"), b), grad=False),
    OpRecord("blas_dot_float32", blas.dot, [F(3, 4, dtype="float32"), F(4, 2, dtype="float32")],
             lambda a, b: _contract(a, b).astype("float32"), grad=False),
    # matmul
    OpRecord("blas_matmul_mm", lambda a, b: a @ b, [F(3, 4), F(4, 2)], _contract),
    OpRecord("blas_matmul_batched", blas.matmul, [F(2, 3, 4), F(2, 4, 5)], _batched_matmul),
    OpRecord("blas_matmul_broadcast_batch", blas.matmul,
             [F(2, 1, 3, 4, static=(None, 1, None, None)), F(5, 4, 2)], _batched_matmul),
    OpRecord("blas_matmul_matrix_times_stack", blas.matmul, [F(3, 4), F(2, 4, 2)],
             _batched_matmul),
    OpRecord("blas_matmul_vector_left", blas.matmul, [F(4), F(2, 4, 3)],
             lambda a, b: _batched_matmul(a[None, :], b)[..., 0, :]),
    OpRecord("blas_matmul_vector_right", blas.matmul, [F(2, 3, 4), F(4)],
             lambda a, b: _batched_matmul(a, b[:, None])[..., 0]),
    OpRecord("blas_matmul_vv", blas.matmul, [F(4), F(4)], lambda a, b: (a * b).sum()),
    OpRecord("blas_matmul_int", blas.matmul, [I(2, 3, 4, lo=-3), I(2, 4, 2, lo=-3)],
             _batched_matmul, grad=False),
    # outer
    OpRecord("blas_outer", blas.outer, [F(3), F(4)], lambda a, b: a[:, None] * b[None, :]),
    OpRecord("blas_outer_scalar", blas.outer, [F(), F(2)], lambda a, b: a * b[None, :]),
    # tensordot
    OpRecord("blas_tensordot_default", blas.tensordot, [F(2, 3, 4), F(3, 4, 2)],
             lambda a, b: np.einsum("aij,ijb->ab", a, b)),
    OpRecord("blas_tensordot_pairs", lambda a, b: blas.tensordot(a, b, ([0, 2], [1, 0])),
             [F(3, 4, 5), F(5, 3, 2)], lambda a, b: np.einsum("ijk,kib->jb", a, b)),
    OpRecord("blas_tensordot_negative_axes", lambda a, b: blas.tensordot(a, b, (-1, -2)),
             [F(2, 3), F(4, 3, 2)], lambda a, b: np.einsum("ij,kjl->ikl", a, b)),
    OpRecord("blas_tensordot_axes0", lambda a, b: blas.tensordot(a, b, 0), [F(2, 3), F(4)],
             lambda a, b: a[:, :, None] * b[None, None, :]),
    OpRecord("blas_tensordot_full", lambda a, b: blas.tensordot(a, b, 2), [F(3, 4), F(3, 4)],
             lambda a, b: (a * b).sum()),
    OpRecord("blas_tensordot_int", lambda a, b: blas.tensordot(a, b, 1),
             [I(2, 3, 4, lo=-4), I(4, 2, lo=-4, dtype="int8")],
             lambda a, b: np.einsum("ijk,kl->ijl", a, b.astype("int64")), grad=False),
    # batched_dot (Theano)
    OpRecord("blas_batched_dot_3d", blas.batched_dot, [F(3, 2, 4), F(3, 4, 5)],
             lambda a, b: np.einsum("bij,bjk->bik", a, b)),
    OpRecord("blas_batched_dot_vectors", blas.batched_dot, [F(3, 4), F(3, 4)],
             lambda a, b: (a * b).sum(axis=1)),
    OpRecord("blas_batched_dot_matrix_vector", blas.batched_dot, [F(3, 2, 4), F(3, 4)],
             lambda a, b: np.einsum("bij,bj->bi", a, b)),
    OpRecord("blas_batched_dot_vector_matrix", blas.batched_dot, [F(3, 4), F(3, 4, 5)],
             lambda a, b: np.einsum("bi,bij->bj", a, b)),
    OpRecord("blas_batched_dot_scale", blas.batched_dot, [F(3), F(3, 4)],
             lambda a, b: a[:, None] * b),
    OpRecord("blas_batched_dot_4d_left", blas.batched_dot, [F(2, 3, 4, 5), F(2, 5, 3)],
             lambda a, b: np.einsum("bxyk,bkz->bxyz", a, b)),
    OpRecord("blas_batched_dot_4d_right", blas.batched_dot, [F(2, 3, 5), F(2, 4, 5, 3)],
             lambda a, b: np.einsum("bak,bpkz->bapz", a, b)),
    OpRecord("blas_batched_dot_4d_vector", blas.batched_dot, [F(2, 3, 4, 5), F(2, 5)],
             lambda a, b: np.einsum("bxyk,bk->bxy", a, b)),
    # Gemm / Gemv / Ger: beta * z + alpha * product, with z broadcast along static 1s
    OpRecord("blas_gemm", blas.Gemm(), [F(3, 2), F(), F(3, 4), F(4, 2), F()],
             lambda z, a, x, y, b: b * z + a * _contract(x, y)),
    OpRecord("blas_gemm_broadcast_z", blas.Gemm(),
             [F(1, 2, static=(1, None)), F(), F(3, 4), F(4, 2), F()],
             lambda z, a, x, y, b: b * z + a * _contract(x, y)),
    OpRecord("blas_gemm_beta_zero_ignores_z", blas.Gemm(),
             [Given(np.full((1, 1), np.nan), static=(1, 1)), F(), F(3, 4), F(4, 2),
              Given(np.float64(0.0))],
             lambda z, a, x, y, b: a * _contract(x, y), grad_inputs=(1, 2, 3)),
    # The overwritten accumulator is a copy: a graph never destroys a function input.
    OpRecord("blas_gemm_inplace",
             lambda z, a, x, y, b: blas.Gemm(inplace=True)(elemwise.identity(z), a, x, y, b),
             [F(3, 2), F(), F(3, 4), F(4, 2), F()],
             lambda z, a, x, y, b: b * z + a * _contract(x, y)),
    OpRecord("blas_ger_inplace",
             lambda m, a, x, y: blas.Ger(inplace=True)(elemwise.identity(m), a, x, y),
             [F(3, 4), F(), F(3), F(4)], lambda m, a, x, y: m + a * x[:, None] * y[None, :]),
    OpRecord("blas_gemm_float32", blas.Gemm(),
             [F(3, 2, dtype="float32"), Given(np.float32(2.0)), F(3, 4, dtype="float32"),
              F(4, 2, dtype="float32"), Given(np.float32(0.5))],
             lambda z, a, x, y, b: (0.5 * z + 2 * _contract(x, y)).astype("float32"),
             grad=False),
    OpRecord("blas_gemv", blas.Gemv(), [F(3), F(), F(3, 4), F(4), F()],
             lambda z, a, m, v, b: b * z + a * (m * v).sum(axis=1)),
    OpRecord("blas_gemv_broadcast_z", blas.Gemv(),
             [F(1, static=(1,)), F(), F(3, 4), F(4), F()],
             lambda z, a, m, v, b: b * z + a * (m * v).sum(axis=1)),
    OpRecord("blas_ger", blas.Ger(), [F(3, 4), F(), F(3), F(4)],
             lambda m, a, x, y: m + a * x[:, None] * y[None, :]),
    OpRecord("blas_ger_broadcast_a", blas.Ger(), [F(1, 4, static=(1, None)), F(), F(3), F(4)],
             lambda m, a, x, y: m + a * x[:, None] * y[None, :]),
]
