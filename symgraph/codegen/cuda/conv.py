"""CUDA C and rules for ``Conv2d`` (im2col, then one strided-batched cuBLAS GEMM) and ``Pool``
(one thread per output cell; max, sum and both averages, Theano's border rules).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from symgraph import dtype as dt
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.blas_rules import BLAS_DTYPES, _strided_batched
from symgraph.codegen.cuda.device import meta_bytes
from symgraph.codegen.cuda.emitter import cast_expr
from symgraph.codegen.cuda.rules import Lowering, Rule, simple, tensors_only
from symgraph.graph import Apply
from symgraph.ops import conv as conv_ops

COLUMN_BYTES = 512 * 2 ** 20  # im2col buffer per GEMM batch


@functools.lru_cache(maxsize=64)
def im2col_kernel(dtype: str) -> kn.Kernel:
    """``cols[b, (c, u, v), (i, j)] = x[b, c, i*sr + u - pr, j*sc + v - pc]`` (0 outside),
    the filter taps reversed when ``flip`` (a true convolution)."""
    t = src.storage_type(dtype)
    fields = ["b", "c", "h", "w", "kr", "ks", "pr", "pc", "sr", "sc", "orows", "ocols", "flip"]
    code = (f"struct @NAME@_meta {{ {' '.join(f'sg_i64 {f};' for f in fields)} }};\n"
            f"SG_KERNEL void @NAME@(const @NAME@_meta m, const {t}* x, {t}* cols) {{\n"
            "  const sg_i64 P = m.orows * m.ocols, Q = m.c * m.kr * m.ks;\n"
            f"  {kn.grid_stride('i', 'm.b * Q * P', 'sg_i64')} {{\n"
            "    const sg_i64 p = i % P, q = (i / P) % Q, bi = i / (P * Q);\n"
            "    const sg_i64 ch = q / (m.kr * m.ks);\n"
            "    sg_i64 u = (q / m.ks) % m.kr, v = q % m.ks;\n"
            "    if (m.flip) { u = m.kr - 1 - u; v = m.ks - 1 - v; }\n"
            "    const sg_i64 r = (p / m.ocols) * m.sr + u - m.pr;\n"
            "    const sg_i64 s = (p % m.ocols) * m.sc + v - m.pc;\n"
            "    const bool inside = r >= 0 && r < m.h && s >= 0 && s < m.w;\n"
            f"    cols[i] = inside ? x[((bi * m.c + ch) * m.h + r) * m.w + s] : ({t})0;\n"
            "  }\n}\n")
    return kn.finalize("im2col", code, ["const @NAME@_meta", f"const {t}*", f"{t}*"])


@functools.lru_cache(maxsize=64)
def pool_kernel(mode: str, dtype: str) -> kn.Kernel:
    """One output cell per thread over ``x`` (n, h, w): windows ``ws`` every ``stride``
    from ``-pad``; cells outside the image never win a max and add nothing to sums."""
    compute = dt.compute_dtype(dtype)
    ctype, t = src.register_type(compute), src.storage_type(dtype)
    load = src.load(dtype, "x", "(b * m.h + rr) * m.w + cc")
    if mode == "max":
        init = kn.identity_literal("maximum", compute)
        update = f"{{ const {ctype} v = {load}; if (v > acc || v != v) acc = v; }}"
        final = "acc"
    else:
        init, update = f"({ctype})0", f"acc += {load};"
        final = "acc" if mode == "sum" else "(double)acc / (double)count"
    out = cast_expr(f"({final})", "float64" if mode.startswith("average") else compute, compute)
    fields = ["n", "h", "w", "orows", "ocols", "wr", "wc", "sr", "sc", "pr", "pc"]
    inc_pad = "true" if mode == "average_inc_pad" else "false"
    code = (f"struct @NAME@_meta {{ {' '.join(f'sg_i64 {f};' for f in fields)} }};\n"
            f"SG_KERNEL void @NAME@(const @NAME@_meta m, const {t}* x, {t}* y) {{\n"
            f"  {kn.grid_stride('i', 'm.n * m.orows * m.ocols', 'sg_i64')} {{\n"
            "    const sg_i64 j = i % m.ocols, r = (i / m.ocols) % m.orows, "
            "b = i / (m.orows * m.ocols);\n"
            "    const sg_i64 r0 = r * m.sr - m.pr, c0 = j * m.sc - m.pc;\n"
            f"    {ctype} acc = {init}; sg_i64 count = 0;\n"
            "    for (sg_i64 u = 0; u < m.wr; ++u) for (sg_i64 v = 0; v < m.wc; ++v) {\n"
            "      const sg_i64 rr = r0 + u, cc = c0 + v;\n"
            f"      if ({inc_pad} && rr < m.h + m.pr && cc < m.w + m.pc) ++count;\n"
            "      if (rr < 0 || rr >= m.h || cc < 0 || cc >= m.w) continue;\n"
            f"      if (!{inc_pad}) ++count;\n      {update}\n    }}\n"
            f"    y[i] = {src.store_value(dtype, f'({out})')};\n  }}\n}}\n")
    return kn.finalize("pool", code, ["const @NAME@_meta", f"const {t}*", f"{t}*"])


def lower_conv2d(node: Apply) -> Lowering | None:
    op = node.op
    dtype = node.outputs[0].type.dtype
    if not tensors_only(node) or dtype not in BLAS_DTYPES or \
            any(v.type.dtype != dtype for v in node.inputs):
        return None
    kernel = im2col_kernel(dtype)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        x, w = (device.contiguous(v) for v in values)
        for name, value, hint in (("input", x, op.input_shape), ("filters", w, op.filter_shape)):
            if hint is not None and any(h is not None and h != s for h, s in
                                        zip(hint, value.shape)):
                raise ValueError(f"{op}: {name} has shape {value.shape}, the hint says {hint}")
        if x.shape[1] != w.shape[1]:
            raise ValueError(f"{op}: the input has {x.shape[1]} channels (shape {x.shape}) but "
                             f"the filters expect {w.shape[1]} (shape {w.shape})")
        pads, (orows, ocols) = conv_ops._conv_geometry(op, x.shape[2:], w.shape[2:])
        batch, channels = x.shape[:2]
        k, q, p = w.shape[0], channels * w.shape[2] * w.shape[3], orows * ocols
        out = device.empty((batch, k, orows, ocols), dtype)
        if out.size == 0:
            return [out]
        step = max(1, COLUMN_BYTES // max(1, q * p * x.itemsize))
        weights = w.view((1, k, q), (0, q, 1))
        for start in range(0, batch, step):
            count = min(step, batch - start)
            cols = device.empty((count, q, p), dtype)
            part = x.view((count,) + x.shape[1:], x.strides, start * x.strides[0])
            meta = meta_bytes(count, channels, x.shape[2], x.shape[3], w.shape[2], w.shape[3],
                              pads[0], pads[1], op.subsample[0], op.subsample[1], orows, ocols,
                              int(op.filter_flip))
            device.launch(kernel, device.grid_for(count * q * p), 256, [meta, part, cols])
            target = out.view((count, k, p), (k * p, p, 1), start * k * p)
            _strided_batched(device, weights.broadcast_to((count, k, q)), cols, target, count)
        return [out]

    return simple(run, kernels=(kernel,), note="im2col + cuBLAS gemm")


def lower_pool(node: Apply) -> Lowering | None:
    op = node.op
    dtype = node.outputs[0].type.dtype
    if not tensors_only(node):
        return None
    kernel = pool_kernel(op.mode, dtype)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        x = device.contiguous(values[0])
        h, w = x.shape[-2:]
        out_shape = op.pool_shape(x.shape)
        out = device.empty(out_shape, dtype)
        n = math.prod(x.shape[:-2])
        if out.size:
            meta = meta_bytes(n, h, w, out_shape[-2], out_shape[-1], op.ws[0], op.ws[1],
                              op.stride[0], op.stride[1], op.pad[0], op.pad[1])
            device.launch(kernel, device.grid_for(out.size), 256, [meta, x, out])
        return [out]

    return simple(run, kernels=(kernel,))


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    conv_ops.Conv2d: lower_conv2d,
    conv_ops.Pool: lower_pool,
}
