"""CUDA C and rules for advanced indexing: ``x[..., idx_1, ..., idx_m, ...]`` with integer
index arrays on adjacent axes between full slices (gather), and ``inc_subtensor`` /
``set_subtensor`` on it (scatter: atomic adds, so duplicate indices accumulate as
``numpy.add.at`` does; for ``set`` one of the duplicates wins, not necessarily the last).

The operand is viewed as ``(P, D_1 .. D_m, S)``: ``P`` the product of the axes before the
indexed ones, ``S`` of those after. Negative indices wrap; one out of range sets the error flag
(the call raises ``IndexError``). Other index patterns (masks, mixed integers) run on the host.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.device import meta_bytes
from symgraph.codegen.cuda.rules import Lowering, Rule, simple, tensors_only
from symgraph.codegen.cuda.source import ERROR_INDEX
from symgraph.graph import Apply
from symgraph.ops import subtensor

FULL = subtensor.Slice(None, None, None)


@functools.lru_cache(maxsize=1024)
def index_kernel(mode: str, dtype: str, index_dtypes: tuple[str, ...]) -> kn.Kernel:
    """``mode``: ``gather`` (``out[i] = x[...]``), ``inc`` (atomic add into ``out``) or
    ``set``. Parameters: ``meta`` (``P, NB, S, dims[m]``), the index arrays (``NB`` entries
    each), ``x`` (gather) or ``y`` (scatter, shaped ``P, NB, S``), ``out``, flag, code."""
    m = len(index_dtypes)
    storage = src.storage_type(dtype)
    params = ["const @NAME@_meta"] + [f"const {src.storage_type(d)}*" for d in index_dtypes] \
        + [f"const {storage}*", f"{storage}*", "int*", "int"]
    names = ["m"] + [f"i{k}" for k in range(m)] + ["src", "out", "flag", "code"]
    lines = ["const sg_i64 s = i % m.s, q = (i / m.s) % m.nb, p = i / (m.s * m.nb);",
             "sg_i64 off = p; bool bad = false;"]
    for k in range(m):
        lines += [f"sg_i64 v{k} = (sg_i64)i{k}[q];", f"if (v{k} < 0) v{k} += m.dims[{k}];",
                  f"bad = bad || v{k} < 0 || v{k} >= m.dims[{k}];",
                  f"off = off * m.dims[{k}] + v{k};"]
    lines += ["if (bad) { sg_raise(flag, code); continue; }", "off = off * m.s + s;"]
    if mode == "gather":
        lines.append("out[i] = src[off];")
    elif mode == "set":
        lines.append("out[off] = src[i];")
    elif dtype == "float16":
        lines.append("sg_atomic_add_f16(&out[off], sg_h2f(src[i]));")
    else:
        lines.append("sg_atomic_add(&out[off], src[i]);")
    body = "".join(f"    {line}\n" for line in lines)
    signature = ", ".join(f"{p} {n}" for p, n in zip(params, names))
    code = (f"struct @NAME@_meta {{ sg_i64 p; sg_i64 nb; sg_i64 s; sg_i64 dims[{m}]; }};\n"
            f"SG_KERNEL void @NAME@({signature}) {{\n"
            f"  {kn.grid_stride('i', 'm.p * m.nb * m.s', 'sg_i64')} {{\n{body}  }}\n}}\n")
    return kn.finalize("index", code, params)


def _pattern(idx_list: tuple[Any, ...]) -> tuple[int, int] | None:
    """``(axes before, number of index arrays)`` for the supported index lists."""
    kinds = ["array" if e == subtensor.ARRAY else "full" if e == FULL else "other"
             for e in idx_list]
    if "other" in kinds or "array" not in kinds:
        return None
    first = kinds.index("array")
    count = kinds.count("array")
    if kinds[first:first + count] != ["array"] * count:
        return None
    return first, count


def _indices(ctx: Any, arrays: list[Any]) -> tuple[tuple[int, ...], list[Any]]:
    try:
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
    except ValueError as err:
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together "
                         f"with shapes {[a.shape for a in arrays]}") from err
    return shape, [ctx.device.contiguous(a.broadcast_to(shape)) for a in arrays]


def _geometry(x_shape: tuple[int, ...], first: int, count: int, batch: tuple[int, ...]
              ) -> tuple[int, int, int, list[int], tuple[int, ...]]:
    before, dims, after = x_shape[:first], list(x_shape[first:first + count]), \
        x_shape[first + count:]
    return math.prod(before), math.prod(batch), math.prod(after), dims, before + batch + after


def lower_gather(node: Apply) -> Lowering | None:
    found = _pattern(node.op.idx_list)
    if found is None or not tensors_only(node):
        return None
    first, count = found
    dtype = node.outputs[0].type.dtype
    kernel = index_kernel("gather", dtype, tuple(v.type.dtype for v in node.inputs[1:]))

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        x = ctx.device.contiguous(values[0])
        batch, arrays = _indices(ctx, values[1:])
        p, nb, s, dims, out_shape = _geometry(x.shape, first, count, batch)
        out = ctx.device.empty(out_shape, dtype)
        n = p * nb * s
        if n:
            if any(d == 0 for d in dims):
                raise IndexError(f"index out of bounds for an axis of length 0 ({node.op})")
            ctx.device.launch(kernel, ctx.device.grid_for(n), 256,
                              [meta_bytes(p, nb, s, dims), *arrays, x, out, ctx.flag,
                               ctx.error_code(node, ERROR_INDEX)])
        return [out]

    return simple(run, kernels=(kernel,))


def lower_scatter(node: Apply) -> Lowering | None:
    op = node.op
    found = _pattern(op.idx_list)
    if found is None or not tensors_only(node):
        return None
    first, count = found
    dtype = node.outputs[0].type.dtype
    mode = "set" if op.set_instead_of_inc else "inc"
    kernel = index_kernel(mode, dtype, tuple(v.type.dtype for v in node.inputs[2:]))

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        x, y = values[0], values[1]
        batch, arrays = _indices(ctx, values[2:])
        p, nb, s, dims, region = _geometry(x.shape, first, count, batch)
        subtensor._check_runtime_fit(op, node.inputs[1], y.shape, region)
        out = x.copy()
        n = p * nb * s
        if n:
            if any(d == 0 for d in dims):
                raise IndexError(f"index out of bounds for an axis of length 0 ({op})")
            source = device.contiguous(y.broadcast_to(region))
            device.launch(kernel, device.grid_for(n), 256,
                          [meta_bytes(p, nb, s, dims), *arrays, source, out, ctx.flag,
                           ctx.error_code(node, ERROR_INDEX)])
        return [out]

    return simple(run, kernels=(kernel,))


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    subtensor.AdvancedSubtensor: lower_gather,
    subtensor.AdvancedIncSubtensor: lower_scatter,
}
