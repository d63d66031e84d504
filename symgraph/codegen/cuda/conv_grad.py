"""CUDA C and rules for the gradients of ``Conv2d`` and of pooling: ``Conv2dGradInputs``
(cuBLAS ``filtersᵀ @ gz`` per image, then col2im), ``Conv2dGradWeights`` (im2col, then
``gz @ colᵀ`` accumulated over the batch), ``MaxPoolGrad``, ``MaxPoolGradGrad`` and
``AveragePoolGrad``.

Every kernel gathers (one thread per result cell, no atomics), so results do not depend on
the schedule. Max-pool windows pick their arg-max as the reference does: the first maximum in
row-major order over the whole window, padded cells holding the lowest value, NaN winning.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import launch
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.blas_rules import BLAS_DTYPES
from symgraph.codegen.cuda.conv import COLUMN_BYTES, im2col_kernel
from symgraph.codegen.cuda.device import meta_bytes
from symgraph.codegen.cuda.rules import Lowering, Rule, simple, tensors_only
from symgraph.graph import Apply
from symgraph.ops import conv as conv_ops

CONV_FIELDS = ["b", "c", "h", "w", "kr", "ks", "pr", "pc", "sr", "sc", "orows", "ocols", "flip"]
POOL_FIELDS = ["n", "h", "w", "orows", "ocols", "wr", "wc", "sr", "sc", "pr", "pc"]
POOL_GRAD_KINDS = ("max_grad", "max_grad_grad", "sum", "average_inc_pad", "average_exc_pad")


def _meta(name: str, fields: list[str]) -> str:
    return f"struct {name}_meta {{ {' '.join(f'sg_i64 {f};' for f in fields)} }};\n"


@functools.lru_cache(maxsize=64)
def col2im_kernel(dtype: str) -> kn.Kernel:
    """``x[b, c, r, s] = sum of cols[b, (c, u, v), (i, j)]`` over the taps and output cells
    whose window reads ``(r, s)`` (im2col's transpose; taps reversed when ``flip``)."""
    t = src.storage_type(dtype)
    code = (_meta("@NAME@", CONV_FIELDS) +
            f"SG_KERNEL void @NAME@(const @NAME@_meta m, const {t}* cols, {t}* x) {{\n"
            "  const sg_i64 P = m.orows * m.ocols, Q = m.c * m.kr * m.ks;\n"
            f"  {kn.grid_stride('i', 'm.b * m.c * m.h * m.w', 'sg_i64')} {{\n"
            "    const sg_i64 s = i % m.w, r = (i / m.w) % m.h, ch = (i / (m.w * m.h)) % m.c;\n"
            "    const sg_i64 bi = i / (m.w * m.h * m.c);\n"
            f"    {t} acc = ({t})0;\n"
            "    for (sg_i64 u = 0; u < m.kr; ++u) {\n"
            "      const sg_i64 uu = m.flip ? m.kr - 1 - u : u, tr = r + m.pr - uu;\n"
            "      if (tr < 0 || tr % m.sr != 0 || tr / m.sr >= m.orows) continue;\n"
            "      for (sg_i64 v = 0; v < m.ks; ++v) {\n"
            "        const sg_i64 vv = m.flip ? m.ks - 1 - v : v, tc = s + m.pc - vv;\n"
            "        if (tc < 0 || tc % m.sc != 0 || tc / m.sc >= m.ocols) continue;\n"
            "        const sg_i64 q = (ch * m.kr + u) * m.ks + v;\n"
            "        acc += cols[(bi * Q + q) * P + (tr / m.sr) * m.ocols + tc / m.sc];\n"
            "      }\n    }\n    x[i] = acc;\n  }\n}\n")
    return kn.finalize("col2im", code, ["const @NAME@_meta", f"const {t}*", f"{t}*"])


def _argmax_code(dtype: str, ctype: str) -> str:
    """C statements setting ``where`` (index in the image plane) and ``found`` (it lies in
    the image) for the window at ``(r0, c0)`` of plane ``b``."""
    lowest = kn.identity_literal("maximum", dt.compute_dtype(dtype))
    load = src.load(dtype, "x", "(b * m.h + rr) * m.w + cc")
    nan = " || (v != v && best == best)" if dt.is_float(dtype) else ""
    return (f"      {ctype} best = {lowest}; sg_i64 where = r0 * m.w + c0;\n"
            "      bool found = r0 >= 0 && c0 >= 0;\n"
            "      for (sg_i64 rr = r0 < 0 ? 0 : r0; rr < r0 + m.wr && rr < m.h; ++rr)\n"
            "        for (sg_i64 cc = c0 < 0 ? 0 : c0; cc < c0 + m.wc && cc < m.w; ++cc) {\n"
            f"          const {ctype} v = {load};\n"
            f"          if (v > best{nan}) {{ best = v; where = rr * m.w + cc; found = true; }}\n"
            "        }\n")


def _windows_over() -> str:
    """C loop headers over the windows ``(wi, wj)`` that contain cell ``(r, s)``."""
    return ("    const sg_i64 lr = r + m.pr - m.wr + 1, lc = s + m.pc - m.wc + 1;\n"
            "    const sg_i64 i0 = lr <= 0 ? 0 : (lr + m.sr - 1) / m.sr;\n"
            "    const sg_i64 j0 = lc <= 0 ? 0 : (lc + m.sc - 1) / m.sc;\n"
            "    for (sg_i64 wi = i0; wi <= (r + m.pr) / m.sr && wi < m.orows; ++wi)\n"
            "     for (sg_i64 wj = j0; wj <= (s + m.pc) / m.sc && wj < m.ocols; ++wj) {\n"
            "      const sg_i64 r0 = wi * m.sr - m.pr, c0 = wj * m.sc - m.pc;\n")


@functools.lru_cache(maxsize=64)
def pool_grad_kernel(kind: str, dtype: str) -> kn.Kernel:
    """``kind`` in POOL_GRAD_KINDS: 'max_grad' (one thread per input cell, adding the output
    gradient of every window whose arg-max it is, windows in row-major order), 'max_grad_grad'
    (one thread per window: ``g`` read at its arg-max), or a pooling mode (one thread per input
    cell: the output gradients of its windows, divided by their counts for the averages)."""
    compute = dt.compute_dtype(dtype)
    ctype, t = src.register_type(compute), src.storage_type(dtype)
    grad = src.load(dtype, "g", "(b * m.orows + wi) * m.ocols + wj")
    if kind == "max_grad_grad":
        body = (f"  {kn.grid_stride('i', 'm.n * m.orows * m.ocols', 'sg_i64')} {{\n"
                "    const sg_i64 wj = i % m.ocols, wi = (i / m.ocols) % m.orows, "
                "b = i / (m.orows * m.ocols);\n"
                "    {\n      const sg_i64 r0 = wi * m.sr - m.pr, c0 = wj * m.sc - m.pc;\n"
                f"{_argmax_code(dtype, ctype)}"
                f"      y[i] = found ? g[b * m.h * m.w + where] : ({t})0;\n    }}\n  }}\n")
    else:
        if kind == "max_grad":
            step = (f"{_argmax_code(dtype, ctype)}"
                    f"      if (found && where == r * m.w + s) acc += {grad};\n")
        elif kind == "sum":
            step = f"      acc += {grad};\n"
        else:
            inc = kind == "average_inc_pad"
            rows = ("((r0 + m.wr < m.h + m.pr ? r0 + m.wr : m.h + m.pr) - r0)" if inc else
                    "((r0 + m.wr < m.h ? r0 + m.wr : m.h) - (r0 < 0 ? 0 : r0))")
            cols = ("((c0 + m.wc < m.w + m.pc ? c0 + m.wc : m.w + m.pc) - c0)" if inc else
                    "((c0 + m.wc < m.w ? c0 + m.wc : m.w) - (c0 < 0 ? 0 : c0))")
            step = (f"      acc += ({ctype})((double)({grad}) / (double)({rows} * {cols}));\n")
        body = (f"  {kn.grid_stride('i', 'm.n * m.h * m.w', 'sg_i64')} {{\n"
                "    const sg_i64 s = i % m.w, r = (i / m.w) % m.h, b = i / (m.w * m.h);\n"
                f"    {ctype} acc = ({ctype})0;\n"
                f"{_windows_over()}{step}    }}\n"
                f"    y[i] = {src.store_value(dtype, 'acc')};\n  }}\n")
    code = (_meta("@NAME@", POOL_FIELDS) +
            f"SG_KERNEL void @NAME@(const @NAME@_meta m, const {t}* x, const {t}* g, "
            f"{t}* y) {{\n{body}}}\n")
    return kn.finalize("poolgrad", code,
                       ["const @NAME@_meta", f"const {t}*", f"const {t}*", f"{t}*"])


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

def _conv_dtype(node: Apply) -> str | None:
    dtype = node.outputs[0].type.dtype
    if not tensors_only(node) or dtype not in BLAS_DTYPES or any(
            v.type.dtype != dtype for v in node.inputs[:2]):
        return None
    return dtype


def _grad_operands(device: Any, op: Any, values: list[Any], to_inputs: bool) -> tuple:
    """``(first, gz, size, pads, out)``: the tensor operands C-contiguous, the result's
    spatial size, the pads and output lengths (checked against the output gradient as the
    reference checks them)."""
    first, gz = (device.contiguous(v) for v in values[:2])
    size = (int(values[2]), int(values[3]))
    return (first, gz, size, *_grad_geometry(op, first, gz, size, to_inputs))


def _result(device: Any, shape: tuple[int, ...], dtype: str, column: int, work: int
            ) -> tuple[Any, int]:
    """The result array and how many images one im2col buffer of ``column`` elements per
    image holds; 0 when there is nothing to compute (the result is then filled)."""
    result = device.empty(shape, dtype)
    if result.size and work == 0:
        launch.fill(device, result, 0)
    if result.size == 0 or work == 0:
        return result, 0
    return result, max(1, COLUMN_BYTES // max(1, column * np.dtype(dtype).itemsize))


def _grad_geometry(op: Any, first: Any, gz: Any, size: tuple[int, int], to_inputs: bool
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Pads and output lengths, with the reference's checks of the output gradient."""
    kernel = first.shape[2:] if to_inputs else size
    spatial = size if to_inputs else first.shape[2:]
    pads, out = conv_ops._conv_geometry(op, spatial, kernel)
    batch, channels = (gz.shape[0], first.shape[0]) if to_inputs else (first.shape[0],
                                                                        gz.shape[1])
    conv_ops._check_output_grad(op, gz, out, batch, channels)
    return pads, out


def _conv_meta(op: Any, batch: int, image: tuple[int, ...], kernel: tuple[int, ...],
               pads: tuple[int, int], out: tuple[int, int]) -> bytes:
    return meta_bytes(batch, image[1], image[2], image[3], kernel[0], kernel[1], pads[0],
                      pads[1], op.subsample[0], op.subsample[1], out[0], out[1],
                      int(op.filter_flip))


def lower_conv2d_grad_inputs(node: Apply) -> Lowering | None:
    op = node.op
    dtype = _conv_dtype(node)
    if dtype is None:
        return None
    kernel = col2im_kernel(dtype)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        w, gz, size, pads, out = _grad_operands(device, op, values, True)
        batch, (k, channels) = gz.shape[0], w.shape[:2]
        q, p = channels * w.shape[2] * w.shape[3], out[0] * out[1]
        result, step = _result(device, (batch, channels, *size), dtype, q * p, q * p * k)
        if step == 0:
            return [result]
        for start in range(0, batch, step):
            count = min(step, batch - start)
            cols = device.empty((count, q, p), dtype)
            # Row-major cols_b (q, p) = wᵀ (q, k) @ gz_b (k, p), as column-major cuBLAS sees it.
            device.blas.gemm(dtype, False, True, p, q, k, 1.0, gz.ptr + start * k * p *
                             gz.itemsize, p, w.ptr, q, 0.0, cols.ptr, p, batch=count,
                             stride_a=k * p, stride_b=0, stride_c=q * p)
            part = result.view((count, channels, *size), result.strides,
                               start * result.strides[0])
            meta = _conv_meta(op, count, (count, channels, *size), w.shape[2:], pads, out)
            device.launch(kernel, device.grid_for(part.size), 256, [meta, cols, part])
        return [result]

    return simple(run, host_inputs=(2, 3), kernels=(kernel,), note="cuBLAS gemm + col2im")


def lower_conv2d_grad_weights(node: Apply) -> Lowering | None:
    op = node.op
    dtype = _conv_dtype(node)
    if dtype is None:
        return None
    kernel = im2col_kernel(dtype)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        x, gz, size, pads, out = _grad_operands(device, op, values, False)
        batch, channels, k = x.shape[0], x.shape[1], gz.shape[1]
        q, p = channels * size[0] * size[1], out[0] * out[1]
        result, step = _result(device, (k, channels, *size), dtype, q * p, batch * p)
        if step == 0:
            return [result]
        for start in range(0, batch, step):
            count = min(step, batch - start)
            cols = device.empty((count, q, p), dtype)
            part = x.view((count,) + x.shape[1:], x.strides, start * x.strides[0])
            meta = _conv_meta(op, count, part.shape, size, pads, out)
            device.launch(kernel, device.grid_for(count * q * p), 256, [meta, part, cols])
            for b in range(count):
                # Row-major result (k, q) += gz_b (k, p) @ cols_bᵀ (p, q).
                device.blas.gemm(dtype, True, False, q, k, p, 1.0,
                                 cols.ptr + b * q * p * cols.itemsize, p,
                                 gz.ptr + (start + b) * k * p * gz.itemsize, p,
                                 0.0 if start + b == 0 else 1.0, result.ptr, q)
        return [result]

    return simple(run, host_inputs=(2, 3), kernels=(kernel,), note="im2col + cuBLAS gemm")


def _pool_meta(op: Any, n: int, x_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bytes:
    return meta_bytes(n, x_shape[-2], x_shape[-1], out_shape[-2], out_shape[-1], op.ws[0],
                      op.ws[1], op.stride[0], op.stride[1], op.pad[0], op.pad[1])


def _lower_pool_grad(kind_of: Any) -> Any:
    def lower(node: Apply) -> Lowering | None:
        op = node.op
        dtype = node.outputs[0].type.dtype
        if not tensors_only(node) or not dt.is_float(dtype) or dtype == "float16" or any(
                v.type.dtype != dtype for v in node.inputs):
            return None
        kind = kind_of(op)
        kernel = pool_grad_kernel(kind, dtype)

        def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
            device = ctx.device
            x, g = (device.contiguous(v) for v in values)
            pooled = op.pool_shape(x.shape)
            expected = x.shape if kind == "max_grad_grad" else pooled
            what = "the input gradient" if kind == "max_grad_grad" else "the output gradient"
            conv_ops._check_pooled_shape(op, what, g, expected)
            result = device.empty(pooled if kind == "max_grad_grad" else x.shape, dtype)
            if result.size:
                meta = _pool_meta(op, math.prod(x.shape[:-2]), x.shape, pooled)
                device.launch(kernel, device.grid_for(result.size), 256, [meta, x, g, result])
            return [result]

        return simple(run, kernels=(kernel,), note="gather kernel")

    return lower


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    conv_ops.Conv2dGradInputs: lower_conv2d_grad_inputs,
    conv_ops.Conv2dGradWeights: lower_conv2d_grad_weights,
    conv_ops.MaxPoolGrad: _lower_pool_grad(lambda op: "max_grad"),
    conv_ops.MaxPoolGradGrad: _lower_pool_grad(lambda op: "max_grad_grad"),
    conv_ops.AveragePoolGrad: _lower_pool_grad(lambda op: op.mode),
}
