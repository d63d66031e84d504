"""CUDA C for reductions over any axes (``CAReduce``, ``FusedCAReduce``, ``Argmax``/``Argmin``),
with the elementwise pre-op of a fused reduction evaluated on the fly.

The runtime moves the reduced axes last and merges dimensions, so a kernel sees ``keep_ndim`` kept
and ``red_ndim`` reduced dimensions with arbitrary strides. Three kernels per module:
``_rows`` (a block per output, or per chunk of one when outputs are few: warp shuffles, then
shared memory across warps), ``_cols`` (a thread per output, serial over the reduced elements:
coalesced when the kept axis is the contiguous one) and ``_finish`` (combines chunk partials).
argmax/argmin break ties by the smaller index and let the first NaN win, so the result does not
depend on the order the threads combine in.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from symgraph import dtype as dt
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.emitter import CodeBlock, CudaEmitter, CValue, cast_expr
from symgraph.ops import elemwise, reduce
from symgraph.ops.composite import ScalarProgram
from symgraph.op import EmitError

ARG_KINDS = ("argmax", "argmin")
KINDS = ("add", "mul", "maximum", "minimum", "and_", "or_") + ARG_KINDS


@dataclass(frozen=True)
class ReduceSpec:
    """What a reduction module's code depends on.

    ``program`` has one output (the reduced value; for a plain reduction it returns its input);
    ``kind`` a CAReduce row name or argmax/argmin; ``acc_dtype`` the accumulator (see
    ``accumulator_dtype``); ``out_dtype`` the stored result (int64 for argmax/argmin).
    """

    program: ScalarProgram
    kind: str
    acc_dtype: str
    out_dtype: str
    keep_ndim: int
    red_ndim: int
    index_bits: int = 32

    @property
    def is_arg(self) -> bool:
        return self.kind in ARG_KINDS


def accumulator_dtype(kind: str, value_dtype: str, out_dtype: str) -> str:
    """The compared values' compute dtype for argmax/argmin; else CAReduce's accumulator:
    float64 for float16/float32 sums and products, since a thread of ``_cols`` (or of
    ``_rows`` with few chunks) adds its share of a long axis in order."""
    if kind in ARG_KINDS:
        return dt.compute_dtype(value_dtype)
    return reduce.accumulator_dtype(kind, out_dtype)


@functools.lru_cache(maxsize=4096)
def reduce_kernels(spec: ReduceSpec) -> tuple[kn.Kernel, kn.Kernel, kn.Kernel]:
    """``(rows, cols, finish)`` kernels of one reduction (one module, compiled together).

    ``rows``/``cols`` parameters: ``meta`` (``n_out, n_red, kshape, rshape, kstrides,
    rstrides``), one pointer per program input, the output, partial values and partial indices
    (``chunks > 1`` only), and ``chunks``. ``finish``: ``n_out, chunks``, partial values,
    partial indices, output.
    """
    if spec.kind not in KINDS:
        raise EmitError(f"no CUDA reduction {spec.kind!r}")
    header = _helpers(spec)
    rows = kn.finalize("red", header + _rows_kernel(spec), _params(spec, with_chunks=True))
    cols = kn.finalize("red", header + _cols_kernel(spec), _params(spec, with_chunks=False))
    finish = kn.finalize("red", header + _finish_kernel(spec), _finish_params(spec))
    return rows, cols, finish


def _params(spec: ReduceSpec, with_chunks: bool) -> list[str]:
    acc = src.register_type(spec.acc_dtype)
    params = ["const @NAME@_meta"]
    params += [f"const {src.storage_type(d)}*" for d in spec.program.input_dtypes]
    params += [f"{src.storage_type(spec.out_dtype)}*", f"{acc}*", "sg_i64*"]
    return params + (["int"] if with_chunks else [])


def _finish_params(spec: ReduceSpec) -> list[str]:
    acc = src.register_type(spec.acc_dtype)
    return ["sg_i64", "int", f"const {acc}*", "const sg_i64*",
            f"{src.storage_type(spec.out_dtype)}*"]


def _signature(spec: ReduceSpec, params: list[str], names: list[str]) -> str:
    return ", ".join(f"{p} {n}" for p, n in zip(params, names))


def _operand_names(spec: ReduceSpec, with_chunks: bool) -> list[str]:
    n_in = spec.program.n_inputs
    names = ["m"] + [f"p{k}" for k in range(n_in)] + ["out", "pv", "pi"]
    return names + (["chunks"] if with_chunks else [])


def _helpers(spec: ReduceSpec) -> str:
    """The meta struct, the value of reduced element ``j`` of an output, and the combine."""
    n_in, idx = spec.program.n_inputs, kn.index_type(spec.index_bits)
    acc = src.register_type(spec.acc_dtype)
    text = (f"struct @NAME@_meta {{ sg_i64 n_out; sg_i64 n_red; sg_i64 kshape[{spec.keep_ndim}]; "
            f"sg_i64 rshape[{spec.red_ndim}]; sg_i64 kstrides[{n_in}][{spec.keep_ndim}]; "
            f"sg_i64 rstrides[{n_in}][{spec.red_ndim}]; }};\n")
    ins = ", ".join(f"const {src.storage_type(d)}* p{k}"
                    for k, d in enumerate(spec.program.input_dtypes))
    kept = kn.decompose("o", "m.kshape", [f"m.kstrides[{k}]" for k in range(n_in)],
                        spec.keep_ndim, idx, [f"k{k}" for k in range(n_in)])
    text += (f"SG_DEV void @NAME@_kept(const @NAME@_meta& m, {idx} o, {idx}* ko) {{\n"
             + "".join(f"  {line}\n" for line in kept)
             + "".join(f"  ko[{k}] = k{k};\n" for k in range(n_in)) + "}\n")
    offsets = [f"o{k}" for k in range(n_in)]
    lines = kn.decompose("j", "m.rshape", [f"m.rstrides[{k}]" for k in range(n_in)],
                         spec.red_ndim, idx, offsets, [f"ko[{k}]" for k in range(n_in)])
    block = CodeBlock(prefix="v")
    inputs = [block.declare(d, src.load(d, f"p{k}", offsets[k]))
              for k, d in enumerate(spec.program.input_dtypes)]
    (value,) = kn.emit_program(block, spec.program, inputs)
    result = cast_expr(value.text, value.dtype, spec.acc_dtype) \
        if value.dtype != spec.acc_dtype else value.text
    text += (f"SG_DEV {acc} @NAME@_at(const @NAME@_meta& m, {ins}, const {idx}* ko, {idx} j) {{\n"
             + "".join(f"  {line}\n" for line in lines + block.lines)
             + f"  return {result};\n}}\n")
    return text + _combine(spec)


def _combine(spec: ReduceSpec) -> str:
    """``@NAME@_merge(acc, ai, v, vi)``: fold value ``v`` (at index ``vi``) into the
    accumulator, with the table row's own rule (or the argmax/argmin order)."""
    acc = src.register_type(spec.acc_dtype)
    if spec.is_arg:
        op = ">" if spec.kind == "argmax" else "<"
        nan = dt.is_float(spec.acc_dtype)
        nan_rule = ("  bool n1 = a != a, n2 = v != v;\n"
                    "  if (n1 || n2) return n2 && (!n1 || vi < ai);\n") if nan else ""
        return (f"SG_DEV bool @NAME@_better({acc} v, sg_i64 vi, {acc} a, sg_i64 ai) {{\n"
                "  if (vi < 0) return false;\n  if (ai < 0) return true;\n" + nan_rule
                + f"  return v {op} a || (v == a && vi < ai);\n}}\n"
                f"SG_DEV void @NAME@_merge({acc}& a, sg_i64& ai, {acc} v, sg_i64 vi) {{\n"
                "  if (@NAME@_better(v, vi, a, ai)) { a = v; ai = vi; }\n}\n")
    block = CodeBlock(prefix="c")
    e = CudaEmitter(block, spec.acc_dtype)
    result = elemwise.TABLE[spec.kind].emit(e, CValue("a", spec.acc_dtype),
                                           CValue("v", spec.acc_dtype))
    return (f"SG_DEV void @NAME@_merge({acc}& a, sg_i64& ai, {acc} v, sg_i64 vi) {{\n"
            + block.text("  ") + ("\n" if block.lines else "")
            + f"  a = {result};\n}}\n")


def _warp_reduce(spec: ReduceSpec, indent: str) -> str:
    acc = src.register_type(spec.acc_dtype)
    lines = ["for (int s = SG_WARP / 2; s > 0; s >>= 1) {",
             f"  {acc} v2 = sg_shfl_down(acc, s); sg_i64 i2 = sg_shfl_down(ai, s);",
             "  @NAME@_merge(acc, ai, v2, i2);", "}"]
    return "".join(f"{indent}{line}\n" for line in lines)


def _final(spec: ReduceSpec, target: str) -> str:
    """Statement storing the finished accumulator of output ``target``."""
    if spec.is_arg:
        return f"out[{target}] = ai;"
    value = cast_expr("acc", spec.acc_dtype, spec.out_dtype) \
        if spec.acc_dtype != spec.out_dtype else "acc"
    return f"out[{target}] = {src.store_value(spec.out_dtype, f'({value})')};"


def _block_combine(spec: ReduceSpec, ident: str) -> str:
    """Combine the block's threads: within warps, then the warps' results in warp 0 (whose
    ``if`` stays open for the caller's store)."""
    acc = src.register_type(spec.acc_dtype)
    lines = [f"SG_SHARED {acc} sv[32]; SG_SHARED sg_i64 si[32];",
             "const int lane = (int)(threadIdx.x % SG_WARP);",
             "const int warp = (int)(threadIdx.x / SG_WARP);",
             "if (lane == 0) { sv[warp] = acc; si[warp] = ai; }", "SG_SYNC();",
             "const int n_warps = (int)((blockDim.x + SG_WARP - 1) / SG_WARP);",
             f"acc = lane < n_warps ? sv[lane] : {ident};",
             "ai = lane < n_warps ? si[lane] : -1;", "if (warp == 0) {"]
    return (_warp_reduce(spec, "    ") + "".join(f"    {line}\n" for line in lines)
            + _warp_reduce(spec, "      "))


def _rows_kernel(spec: ReduceSpec) -> str:
    idx = kn.index_type(spec.index_bits)
    ident = kn.identity_literal(spec.kind, spec.acc_dtype)
    acc = src.register_type(spec.acc_dtype)
    ins = ", ".join(f"p{k}" for k in range(spec.program.n_inputs))
    names = _operand_names(spec, with_chunks=True)
    return (f"SG_KERNEL void @NAME@({_signature(spec, _params(spec, True), names)}) {{\n"
            f"  const {idx} n_red = ({idx})m.n_red;\n"
            f"  const {idx} size = (n_red + chunks - 1) / chunks;\n"
            f"  {kn.block_stride('task', 'm.n_out * chunks', idx)} {{\n"
            f"    const {idx} o = task / chunks, lo = (task % chunks) * size;\n"
            f"    const {idx} hi = lo + size < n_red ? lo + size : n_red;\n"
            f"    {idx} ko[{max(spec.program.n_inputs, 1)}];\n"
            f"    @NAME@_kept(m, o, ko);\n"
            f"    {acc} acc = {ident}; sg_i64 ai = -1;\n"
            f"    for ({idx} j = lo + ({idx})threadIdx.x; j < hi; j += ({idx})blockDim.x)\n"
            f"      @NAME@_merge(acc, ai, @NAME@_at(m, {ins}, ko, j), (sg_i64)j);\n"
            + _block_combine(spec, ident)
            + "      if (lane == 0) {\n"
            f"        if (chunks == 1) {_final(spec, 'o')}\n"
            "        else { pv[task] = acc; pi[task] = ai; }\n"
            "      }\n    }\n    SG_SYNC();\n  }\n}\n")


def _cols_kernel(spec: ReduceSpec) -> str:
    idx = kn.index_type(spec.index_bits)
    ident = kn.identity_literal(spec.kind, spec.acc_dtype)
    acc = src.register_type(spec.acc_dtype)
    ins = ", ".join(f"p{k}" for k in range(spec.program.n_inputs))
    names = _operand_names(spec, with_chunks=False)
    return (f"SG_KERNEL void @NAME@({_signature(spec, _params(spec, False), names)}) {{\n"
            f"  {kn.grid_stride('o', 'm.n_out', idx)} {{\n"
            f"    {idx} ko[{max(spec.program.n_inputs, 1)}];\n"
            f"    @NAME@_kept(m, o, ko);\n"
            f"    {acc} acc = {ident}; sg_i64 ai = -1;\n"
            f"    for ({idx} j = 0; j < ({idx})m.n_red; ++j)\n"
            f"      @NAME@_merge(acc, ai, @NAME@_at(m, {ins}, ko, j), (sg_i64)j);\n"
            f"    {_final(spec, 'o')}\n  }}\n}}\n")


def _finish_kernel(spec: ReduceSpec) -> str:
    ident = kn.identity_literal(spec.kind, spec.acc_dtype)
    acc = src.register_type(spec.acc_dtype)
    names = ["n_out", "chunks", "pv", "pi", "out"]
    return (f"SG_KERNEL void @NAME@({_signature(spec, _finish_params(spec), names)}) {{\n"
            f"  {kn.block_stride('o', 'n_out', 'sg_i64')} {{\n"
            f"    {acc} acc = {ident}; sg_i64 ai = -1;\n"
            "    for (int c = (int)threadIdx.x; c < chunks; c += (int)blockDim.x)\n"
            "      @NAME@_merge(acc, ai, pv[o * chunks + c], pi[o * chunks + c]);\n"
            + _block_combine(spec, ident)
            + f"      if (lane == 0) {_final(spec, 'o')}\n"
            "    }\n    SG_SYNC();\n  }\n}\n")


def identity_program(dtype: str) -> ScalarProgram:
    return ScalarProgram((dtype,), (), (0,))
