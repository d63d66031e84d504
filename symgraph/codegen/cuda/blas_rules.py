"""CUDA rules of the matrix products (``Dot``, ``Matmul``, ``Gemm``, ``Gemv``, ``Ger``): one
cuBLAS GEMM each (strided-batched for stacks), float32 and float64.

Operands are row-major or column-major views; cuBLAS sees row-major ``C = A B`` as the
column-major ``C^T = B^T A^T``, and a transposed view becomes a transpose flag rather than a copy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symgraph.codegen.cuda import launch
from symgraph.codegen.cuda.array import DeviceArray
from symgraph.codegen.cuda.rules import Lowering, Rule, simple, tensors_only
from symgraph.graph import Apply
from symgraph.ops import blas, elemwise
from symgraph.ops.composite import ScalarProgram

BLAS_DTYPES = ("float32", "float64")


def _layout(x: DeviceArray) -> tuple[bool, int] | None:
    """``(row_major, leading dimension)`` of a 2-d view cuBLAS can read, None if it cannot."""
    rows, cols = x.shape
    s0, s1 = x.strides
    if (s1 == 1 or cols == 1) and (rows == 1 or s0 >= cols):
        return True, max(s0 if rows > 1 else cols, cols, 1)
    if (s0 == 1 or rows == 1) and (cols == 1 or s1 >= rows):
        return False, max(s1 if cols > 1 else rows, rows, 1)
    return None


def _usable(device: Any, x: DeviceArray) -> tuple[DeviceArray, bool, int]:
    found = _layout(x)
    if found is None:
        x = device.contiguous(x, force=True)
        found = _layout(x)
    assert found is not None
    return x, found[0], found[1]


def gemm(device: Any, a: DeviceArray, b: DeviceArray, out: DeviceArray, alpha: float = 1.0,
         beta: float = 0.0) -> None:
    """``out = alpha a @ b + beta out`` for 2-d views; ``out`` C-contiguous (m, n)."""
    (m, k), n = a.shape, b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0 or alpha == 0:
        _scale(device, out, beta)
        return
    a, a_rows, lda = _usable(device, a)
    b, b_rows, ldb = _usable(device, b)
    device.blas.gemm(out.dtype, not b_rows, not a_rows, n, m, k, alpha, b.ptr, ldb, a.ptr,
                     lda, beta, out.ptr, max(n, 1))


def _scale(device: Any, out: DeviceArray, beta: float) -> None:
    if beta == 0:
        launch.fill(device, out, 0)
        return
    dtype = out.dtype
    const = ScalarProgram((dtype,), (
        (elemwise_constant(beta, dtype), (), dtype),
        (elemwise.TABLE["mul"], (0, 1), dtype)), (2,))
    launch.elementwise(device, const, [out], [out])


def elemwise_constant(value: float, dtype: str) -> Any:
    from symgraph.ops.composite import constant_scalar_op

    return constant_scalar_op(float(value), dtype)


def _as_matrix(x: DeviceArray, column: bool) -> DeviceArray:
    """A 1-d operand as a (1, k) row or a (k, 1) column view."""
    if x.ndim == 2:
        return x
    (k,), (s,) = x.shape, x.strides
    return x.view((k, 1), (s, 1)) if column else x.view((1, k), (1, s))


def _float_blas(node: Apply) -> bool:
    return tensors_only(node) and node.outputs[0].type.dtype in BLAS_DTYPES


def lower_dot(node: Apply) -> Lowering | None:
    if not _float_blas(node):
        return None

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        a, b = values
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"Dot: shapes {a.shape} and {b.shape} are not aligned: dimension "
                             f"{a.ndim - 1} of input 0 has length {a.shape[-1]}, dimension 0 "
                             f"of input 1 has length {b.shape[0]}")
        out = ctx.device.empty(a.shape[:-1] + b.shape[1:], node.outputs[0].type.dtype)
        am, bm = _as_matrix(a, column=False), _as_matrix(b, column=True)
        gemm(ctx.device, am, bm, out.view((am.shape[0], bm.shape[1]), (bm.shape[1], 1)))
        return [out]

    return simple(run, note="cuBLAS gemm")


def lower_matmul(node: Apply) -> Lowering | None:
    if not _float_blas(node):
        return None

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        return [batched_matmul(ctx.device, values[0], values[1], node.outputs[0].type.dtype)]

    return simple(run, note="cuBLAS gemm (strided batched)")


def batched_matmul(device: Any, a: DeviceArray, b: DeviceArray, dtype: str) -> DeviceArray:
    """``numpy.matmul`` with batch broadcasting."""
    a2 = a if a.ndim > 1 else a.view((1,) + a.shape, (0,) + a.strides)
    b2 = b if b.ndim > 1 else b.view(b.shape + (1,), b.strides + (0,))
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{a2.shape[-1]} != {b2.shape[-2]}")
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    m, n = a2.shape[-2], b2.shape[-1]
    out = device.empty(batch + (m, n), dtype)
    count = math.prod(batch)
    if count == 1 or out.size == 0:
        a_mat = a2.broadcast_to(batch + a2.shape[-2:]).view(a2.shape[-2:], a2.strides[-2:])
        b_mat = b2.broadcast_to(batch + b2.shape[-2:]).view(b2.shape[-2:], b2.strides[-2:])
        gemm(device, a_mat, b_mat, out.view((m, n), (n, 1)))
    else:
        _strided_batched(device, a2.broadcast_to(batch + a2.shape[-2:]),
                         b2.broadcast_to(batch + b2.shape[-2:]), out, count)
    shape = batch + (() if a.ndim == 1 else (m,)) + (() if b.ndim == 1 else (n,))
    return out.view(shape, _c_strides(shape))


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    from symgraph.codegen.cuda.array import c_strides

    return c_strides(shape)


def _batch_stride(device: Any, x: DeviceArray, count: int) -> tuple[DeviceArray, int]:
    """The operand with one uniform stride between its matrices (copied if it has none)."""
    shape, strides = launch.collapse(x.shape[:-2], [x.strides[:-2]])
    if len(shape) == 1 and _layout(x.view(x.shape[-2:], x.strides[-2:])) is not None:
        return x, strides[0][0] if shape[0] == count else 0
    x = device.contiguous(x, force=True)
    return x, x.shape[-1] * x.shape[-2]


def _strided_batched(device: Any, a: DeviceArray, b: DeviceArray, out: DeviceArray,
                     count: int) -> None:
    (m, k), n = a.shape[-2:], b.shape[-1]
    if k == 0:
        launch.fill(device, out, 0)
        return
    a, stride_a = _batch_stride(device, a, count)
    b, stride_b = _batch_stride(device, b, count)
    _, a_rows, lda = _usable(device, a.view(a.shape[-2:], a.strides[-2:]))
    _, b_rows, ldb = _usable(device, b.view(b.shape[-2:], b.strides[-2:]))
    device.blas.gemm(out.dtype, not b_rows, not a_rows, n, m, k, 1.0, b.ptr, ldb, a.ptr, lda,
                     0.0, out.ptr, max(n, 1), batch=count, stride_a=stride_b,
                     stride_b=stride_a, stride_c=m * n)


def lower_gemm(node: Apply) -> Lowering | None:
    if not _float_blas(node):
        return None
    op = node.op
    dtype = node.outputs[0].type.dtype

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        z, alpha, a, b, beta = values
        alpha, beta = float(alpha), float(beta)
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{a.shape[1]} != {b.shape[0]}")
        shape = op.product_shape(a.shape, b.shape)
        if z.ndim != len(shape) or any(zs not in (1, s) for zs, s in zip(z.shape, shape)) or \
                any(zs == 1 and s != 1 and st != 1 for zs, s, st in
                    zip(z.shape, shape, node.inputs[0].type.shape)):
            raise ValueError(f"{op}: z has shape {z.shape}, the product has shape {shape}")
        out = ctx.device.empty(shape, dtype)
        if beta != 0:
            launch.copy_into(ctx.device, z, out)
        bm = _as_matrix(b, column=True)
        gemm(ctx.device, a, bm, out.view((shape[0], bm.shape[1]), (bm.shape[1], 1)), alpha,
             beta)
        return [out]

    return simple(run, host_inputs=(1, 4), note="cuBLAS gemm")


def lower_ger(node: Apply) -> Lowering | None:
    if not _float_blas(node):
        return None
    dtype = node.outputs[0].type.dtype

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        a, alpha, x, y = values
        alpha = float(alpha)
        shape = (x.shape[0], y.shape[0])
        if any(s not in (1, t) for s, t in zip(a.shape, shape)):
            raise ValueError(f"{node.op}: a has shape {a.shape}, the update has shape {shape}")
        out = ctx.device.empty(shape, dtype)
        launch.copy_into(ctx.device, a, out)
        gemm(ctx.device, _as_matrix(x, column=True), _as_matrix(y, column=False), out, alpha,
             1.0)
        return [out]

    return simple(run, host_inputs=(1,), note="cuBLAS gemm (rank-1)")


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    blas.Dot: lower_dot,
    blas.Matmul: lower_matmul,
    blas.Gemm: lower_gemm,
    blas.Gemv: lower_gemm,
    blas.Ger: lower_ger,
}
