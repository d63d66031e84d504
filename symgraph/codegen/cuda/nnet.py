"""CUDA C and rules for softmax, log-softmax and the crossentropy ops of ``symgraph.ops.nnet``.

Row-wise kernels give each row a warp: the lanes stride over the row and combine with
butterfly shuffles, so every lane holds the row's maximum and sum. Rows are the positions of
the other axes of a C-contiguous array: row ``r`` starts at ``(r / inner) * n * inner +
r % inner`` and steps by ``inner`` (1 for the last axis). Class indices out of range set the
error flag (the call then raises ``ValueError``, as ``perform`` does).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from symgraph import dtype as dt
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.emitter import CodeBlock, CudaEmitter, CValue, _math, cast_expr
from symgraph.codegen.cuda.rules import Lowering, Rule, simple, tensors_only
from symgraph.codegen.cuda.source import ERROR_CLASS_INDEX
from symgraph.graph import Apply
from symgraph.ops import nnet

WARPS_PER_BLOCK = 8


def _load(dtype: str, pointer: str, offset: str, compute: str) -> str:
    value = src.load(dtype, pointer, offset)
    return value if dt.compute_dtype(dtype) == compute else \
        f"({cast_expr(value, dt.compute_dtype(dtype), compute)})"


def _store(dtype: str, value: str) -> str:
    compute = dt.compute_dtype(dtype)
    return src.store_value(dtype, value if compute == dtype else f"sg_h2f(sg_f2h({value}))")


def _max_function(compute: str) -> str:
    """``@NAME@_max(a, b)``: NumPy's maximum (NaN propagates), from the table's rule."""
    block = CodeBlock(prefix="c")
    from symgraph.ops import elemwise

    result = elemwise.TABLE["maximum"].emit(CudaEmitter(block, compute), CValue("a", compute),
                                           CValue("b", compute))
    ctype = src.register_type(compute)
    return (f"SG_DEV {ctype} @NAME@_max({ctype} a, {ctype} b) {{\n{block.text('  ')}\n"
            f"  return {result};\n}}\n")


def _row_stats(x_dtype: str, compute: str) -> str:
    """Statements giving ``m`` (row maximum) and ``s`` (sum of exp(x - m)) on every lane."""
    ctype, exp = src.register_type(compute), _math("exp", compute)
    load = _load(x_dtype, "x", "base + j * inner", compute)
    return (f"    {ctype} m = {src.literal(float('-inf'), compute)};\n"
            f"    for (sg_i64 j = lane; j < n; j += SG_WARP) m = @NAME@_max(m, {load});\n"
            "    for (int o = SG_WARP / 2; o > 0; o >>= 1) m = @NAME@_max(m, sg_shfl_xor(m, o));\n"
            f"    {ctype} s = 0;\n"
            f"    for (sg_i64 j = lane; j < n; j += SG_WARP) s += {exp}({load} - m);\n"
            "    for (int o = SG_WARP / 2; o > 0; o >>= 1) s += sg_shfl_xor(s, o);\n")


_ROW_LOOP = ("  const sg_i64 per_block = (sg_i64)(blockDim.x / SG_WARP);\n"
             "  const int lane = (int)(threadIdx.x % SG_WARP);\n"
             "  for (sg_i64 r = (sg_i64)blockIdx.x * per_block + threadIdx.x / SG_WARP; r < rows;"
             " r += (sg_i64)gridDim.x * per_block) {\n"
             "    const sg_i64 base = (r / inner) * n * inner + r % inner;\n")


@functools.lru_cache(maxsize=256)
def softmax_kernel(log: bool, x_dtype: str, out_dtype: str) -> kn.Kernel:
    """``(rows, n, inner, x, out)``: softmax (or log-softmax) along the rows."""
    compute = dt.compute_dtype(out_dtype)
    exp, logf = _math("exp", compute), _math("log", compute)
    value = "(v - m) - lg" if log else f"{exp}(v - m) / s"
    ctype = src.register_type(compute)
    params = ["sg_i64", "sg_i64", "sg_i64", f"const {src.storage_type(x_dtype)}*",
              f"{src.storage_type(out_dtype)}*"]
    code = (_max_function(compute)
            + f"SG_KERNEL void @NAME@(sg_i64 rows, sg_i64 n, sg_i64 inner, {params[3]} x, "
            f"{params[4]} y) {{\n" + _ROW_LOOP + _row_stats(x_dtype, compute)
            + f"    const {ctype} lg = {logf}(s);\n"
            "    for (sg_i64 j = lane; j < n; j += SG_WARP) {\n"
            f"      const {ctype} v = {_load(x_dtype, 'x', 'base + j * inner', compute)};\n"
            f"      y[base + j * inner] = {_store(out_dtype, value)};\n    }}\n  }}\n}}\n")
    return kn.finalize("softmax", code, params)


@functools.lru_cache(maxsize=256)
def crossentropy_kernel(kind: str, dtypes: tuple[str, ...], out_dtype: str) -> kn.Kernel:
    """The kernel of one crossentropy op (``kind``: ``onehot``, ``onehot_grad``,
    ``logits_index``, ``logits_dense``, ``logits_index_grad``, ``logits_dense_grad``).

    Parameters: ``rows, n``, the op's inputs (C-contiguous), the output, then the error
    flag and code for the kinds that take class indices.
    """
    compute = dt.compute_dtype(out_dtype)
    ctype = src.register_type(compute)
    names = {"onehot": ("p", "t"), "onehot_grad": ("gy", "p", "t"),
             "logits_index": ("x", "t"), "logits_dense": ("x", "t"),
             "logits_index_grad": ("gy", "p", "t"), "logits_dense_grad": ("gy", "p", "t")}[kind]
    indexed = kind in ("onehot", "onehot_grad", "logits_index", "logits_index_grad")
    params = ["sg_i64", "sg_i64"] + [f"const {src.storage_type(d)}*" for d in dtypes] + \
        [f"{src.storage_type(out_dtype)}*"] + (["int*", "int"] if indexed else [])
    args = ["rows", "n", *names, "out"] + (["flag", "code"] if indexed else [])
    signature = ", ".join(f"{p} {a}" for p, a in zip(params, args))
    loads = {name: (dtype, functools.partial(_load, dtype, name, compute=compute))
             for name, dtype in zip(names, dtypes)}
    body = _BODIES[kind](loads, compute, ctype, out_dtype)
    prefix = _max_function(compute) if kind.startswith("logits") else ""
    code = prefix + f"SG_KERNEL void @NAME@({signature}) {{\n  const sg_i64 inner = 1;\n" + body
    return kn.finalize("xent", code, params)


def _label(loads: dict[str, Any], row: str) -> str:
    return (f"const sg_i64 label = (sg_i64)t[{row}];\n"
            "if (label < 0 || label >= n) { sg_raise(flag, code); continue; }\n")


def _onehot(loads: dict[str, Any], compute: str, ctype: str, out: str) -> str:
    log = _math("log", compute)
    return ("  " + kn.grid_stride("r", "rows", "sg_i64") + " {\n    "
            + _label(loads, "r").replace("\n", "\n    ")
            + f"out[r] = {_store(out, '-' + log + '(' + loads['p'][1]('r * n + label') + ')')};"
            "\n  }\n}\n")


def _onehot_grad(loads: dict[str, Any], compute: str, ctype: str, out: str) -> str:
    value = f"label == i % n ? -{loads['gy'][1]('i / n')} / {loads['p'][1]('i')} : ({ctype})0"
    return ("  " + kn.grid_stride("i", "rows * n", "sg_i64") + " {\n    "
            + _label(loads, "i / n").replace("\n", "\n    ")
            + f"out[i] = {_store(out, f'({value})')};\n  }}\n}}\n")


def _logits_index_grad(loads: dict[str, Any], compute: str, ctype: str, out: str) -> str:
    value = (f"{loads['gy'][1]('i / n')} * ({loads['p'][1]('i')} - "
             f"(label == i % n ? ({ctype})1 : ({ctype})0))")
    return ("  " + kn.grid_stride("i", "rows * n", "sg_i64") + " {\n    "
            + _label(loads, "i / n").replace("\n", "\n    ")
            + f"out[i] = {_store(out, f'({value})')};\n  }}\n}}\n")


def _logits_index(loads: dict[str, Any], compute: str, ctype: str, out: str) -> str:
    log = _math("log", compute)
    stats = _row_stats(loads["x"][0], compute)
    picked = loads["x"][1]("base + label")
    return (_ROW_LOOP + stats
            + "    const sg_i64 label = (sg_i64)t[r];\n"
            "    if (label < 0 || label >= n) { if (lane == 0) sg_raise(flag, code); continue; }\n"
            f"    if (lane == 0) out[r] = {_store(out, f'({log}(s) - ({picked} - m))')};"
            "\n  }\n}\n")


def _logits_dense(loads: dict[str, Any], compute: str, ctype: str, out: str) -> str:
    log = _math("log", compute)
    stats = _row_stats(loads["x"][0], compute)
    x, t = loads["x"][1]("base + j"), loads["t"][1]("base + j")
    return (_ROW_LOOP + stats + f"    const {ctype} lg = {log}(s);\n"
            f"    {ctype} total = 0;\n"
            f"    for (sg_i64 j = lane; j < n; j += SG_WARP) total += {t} * (({x} - m) - lg);\n"
            "    for (int o = SG_WARP / 2; o > 0; o >>= 1) total += sg_shfl_xor(total, o);\n"
            f"    if (lane == 0) out[r] = {_store(out, '(-total)')};\n  }}\n}}\n")


def _logits_dense_grad(loads: dict[str, Any], compute: str, ctype: str, out: str) -> str:
    p, t, gy = loads["p"][1]("base + j"), loads["t"][1]("base + j"), loads["gy"][1]("r")
    return (_ROW_LOOP + f"    {ctype} total = 0;\n"
            f"    for (sg_i64 j = lane; j < n; j += SG_WARP) total += {t};\n"
            "    for (int o = SG_WARP / 2; o > 0; o >>= 1) total += sg_shfl_xor(total, o);\n"
            "    for (sg_i64 j = lane; j < n; j += SG_WARP)\n"
            f"      out[base + j] = {_store(out, f'({gy} * ({p} * total - {t}))')};\n  }}\n}}\n")


_BODIES = {"onehot": _onehot, "onehot_grad": _onehot_grad, "logits_index": _logits_index,
           "logits_dense": _logits_dense, "logits_index_grad": _logits_index_grad,
           "logits_dense_grad": _logits_dense_grad}


def row_grid(device: Any, rows: int) -> tuple[int, int]:
    block = 32 * WARPS_PER_BLOCK
    return max(1, min((rows + WARPS_PER_BLOCK - 1) // WARPS_PER_BLOCK, device.sm_count * 64)), \
        block


# -- rules --------------------------------------------------------------------------------------
def lower_softmax(node: Apply) -> Lowering | None:
    if not tensors_only(node):
        return None
    op, x_var = node.op, node.inputs[0]
    out_dtype = node.outputs[0].type.dtype
    kernel = softmax_kernel(isinstance(op, nnet.LogSoftmax), x_var.type.dtype, out_dtype)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        x = device.contiguous(values[0])
        out = device.empty(x.shape, out_dtype)
        if x.size == 0:
            return [out]
        if op.axis is None:
            n, inner = x.size, 1
        else:
            axis = op.axis % x.ndim
            n, inner = x.shape[axis], math.prod(x.shape[axis + 1:])
        rows = x.size // n
        grid, block = row_grid(device, rows)
        device.launch(kernel, grid, block, [rows, n, inner, x, out])
        return [out]

    return simple(run, kernels=(kernel,))


def _crossentropy(kind: str, node: Apply) -> Lowering | None:
    if not tensors_only(node):
        return None
    dtypes = tuple(v.type.dtype for v in node.inputs)
    out_dtype = node.outputs[0].type.dtype
    kernel = crossentropy_kernel(kind, dtypes, out_dtype)
    indexed = "index" in kind or kind.startswith("onehot")
    matrix = 1 if kind in ("onehot_grad", "logits_index_grad", "logits_dense_grad") else 0

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        device = ctx.device
        values = [device.contiguous(v) for v in values]
        reference = values[matrix]
        n = reference.shape[-1]
        rows = reference.size // n if n else math.prod(reference.shape[:-1])
        _check_shapes(node, kind, values, matrix)
        out_shape = reference.shape if matrix or kind.endswith("grad") else reference.shape[:-1]
        out = device.empty(out_shape, out_dtype)
        if out.size == 0 or n == 0:
            return [out]
        extra = [ctx.flag, ctx.error_code(node, ERROR_CLASS_INDEX)] if indexed else []
        if kind in ("onehot", "onehot_grad", "logits_index_grad"):
            grid, block = device.grid_for(rows * (n if "grad" in kind else 1)), 256
        else:
            grid, block = row_grid(device, rows)
        device.launch(kernel, grid, block, [rows, n, *values, out, *extra])
        return [out]

    return simple(run, kernels=(kernel,))


def _check_shapes(node: Apply, kind: str, values: list[Any], matrix: int) -> None:
    """The shape checks ``perform`` makes, before any kernel runs."""
    rows = values[matrix].shape[:-1]
    for k, value in enumerate(values):
        if k == matrix:
            continue
        expected = values[matrix].shape if value.ndim == values[matrix].ndim else rows
        if value.shape != expected:
            raise ValueError(f"{node.op}: input {k} has shape {value.shape}, expected "
                             f"{expected}")


def lower_onehot(node: Apply) -> Lowering | None:
    return _crossentropy("onehot", node)


def lower_onehot_grad(node: Apply) -> Lowering | None:
    return _crossentropy("onehot_grad", node)


def _dense_same_shape(node: Apply, a: int, b: int) -> bool:
    """Dense labels that never broadcast against the logits (the kernels assume it)."""
    sa, sb = node.inputs[a].type.shape, node.inputs[b].type.shape
    return len(sa) == len(sb) and all((x == 1) == (y == 1) for x, y in zip(sa, sb))


def lower_softmax_crossentropy(node: Apply) -> Lowering | None:
    if dt.is_integer(node.inputs[1].type.dtype):
        return _crossentropy("logits_index", node)
    return _crossentropy("logits_dense", node) if _dense_same_shape(node, 0, 1) else None


def lower_softmax_crossentropy_grad(node: Apply) -> Lowering | None:
    if dt.is_integer(node.inputs[2].type.dtype):
        return _crossentropy("logits_index_grad", node)
    if not _dense_same_shape(node, 1, 2):
        return None
    return _crossentropy("logits_dense_grad", node)


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    nnet.Softmax: lower_softmax,
    nnet.LogSoftmax: lower_softmax,
    nnet.CrossentropyCategorical1Hot: lower_onehot,
    nnet.CrossentropyCategorical1HotGrad: lower_onehot_grad,
    nnet.SoftmaxCrossentropy: lower_softmax_crossentropy,
    nnet.SoftmaxCrossentropyGrad: lower_softmax_crossentropy_grad,
}
