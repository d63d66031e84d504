"""Random draws in exported code: the counter-based Philox4x32-10 generator (Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3", SC 2011) for ``normal`` and ``uniform`` draws
with scalar parameters, the same blocks, counters and conversions as the CUDA backend's
``codegen/cuda/random.py``: draw number ``k`` of a stream with key ``key`` equals that
kernel's ``draw(..., key, offset=k)``.

The stream's state is two 64-bit words ``[key, draws so far]`` that the generator variable's
slot points to (``standalone.lower`` gives it the context's memory); a draw reads the key and
its offset and counts itself, in place. Only ``sg.export`` uses this rule: in ``mode="llvm"``
random variables keep NumPy's streams (their ``perform``), as in mode "py".
"""

from __future__ import annotations

import math
from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.plan import Match, Program, Step
from symgraph.graph import Apply
from symgraph.ops.random import RandomVariable
from symgraph.type import TensorType

ROUND_KEYS = (0x9E3779B9, 0xBB67AE85)
MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
I32 = iu.I32


class PhiloxRule:
    """``normal``/``uniform`` draws in float32 or float64 with 0-d parameters and a size."""

    name = "Philox4x32-10"

    def match(self, node: Apply, program: Program) -> Match | None:
        op = node.op
        if not isinstance(op, RandomVariable) or op.dist not in ("normal", "uniform") or \
                op.dtype not in ("float32", "float64"):
            return None
        size, params = node.inputs[1].type, [p.type for p in node.inputs[2:]]
        if not isinstance(size, TensorType) or size.shape[0] != op.ndim or \
                any(not isinstance(p, TensorType) or p.ndim for p in params):
            return None
        return Match(node.inputs, aliases={0: 0}, allocates=(1,), note="Philox4x32-10")

    def emit(self, code: Any, step: Step) -> None:
        g, b = code.gen, code.gen.b
        rng, size, *params = step.node.inputs
        op: RandomVariable = step.node.op  # type: ignore[assignment]
        draws = step.node.outputs[1]
        size_slot = code.slot(size)
        base = g.data(size_slot)
        stride = g.load(size_slot.stride(0)) if size_slot.ndim else iu.i64(8)
        dims = []
        for d in range(op.ndim):
            at = b.gep(base, [b.mul(stride, iu.i64(d))], source_etype=iu.I8)
            dims.append(b.load(at, typ=iu.I64))
        if dims:
            g.bail_if_any([b.icmp_signed("<", d, iu.i64(0)) for d in dims])
        code.alloc(draws, dims)
        count: Any = iu.i64(1)
        for d in dims:
            count = b.mul(count, d)
        values = [g.read_scalar(code.slot(p), "float64") for p in params]
        if len(values) < 2:
            values += [ir.Constant(iu.F64, v) for v in ((0.0, 1.0)[len(values):])]
        if op.dist == "normal":  # NumPy refuses a negative scale (and NaN)
            g.bail_if(b.fcmp_unordered("<", values[1], ir.Constant(iu.F64, 0.0)))
        state = g.load(code.slot(rng).obj, iu.PTR)
        offset_ptr = b.gep(state, [iu.i64(1)], source_etype=iu.I64)
        key = b.load(state, typ=iu.I64)
        offset = b.load(offset_ptr, typ=iu.I64)
        fill = _fill_function(g.module, op.dist, op.dtype)
        b.call(fill, [g.data(code.slot(draws)), count, key, offset, *values])
        b.store(b.add(offset, iu.i64(1)), offset_ptr)


def _fill_function(module: ir.Module, dist: str, dtype: str) -> ir.Function:
    """``void fill(ptr out, i64 n, i64 key, i64 offset, double a, double b)``, one per
    module and kind of draw."""
    name = f"sg_philox_{dist}_{dtype}"
    found = module.globals.get(name)
    if found is not None:
        return found  # type: ignore[return-value]
    fn = ir.Function(module, ir.FunctionType(iu.VOID, [iu.PTR, iu.I64, iu.I64, iu.I64,
                                                      iu.F64, iu.F64]), name=name)
    fn.linkage = "internal"
    out, n, key, offset, a, scale = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    per = 2 if dtype == "float64" else 4
    blocks = b.sdiv(b.add(n, iu.i64(per - 1)), iu.i64(per))
    with iu.for_range(b, iu.i64(0), blocks, "block") as block:
        words = philox(b, [_low(b, block), _high(b, block), _low(b, offset), _high(b, offset)],
                       _low(b, key), _high(b, key))
        units = _units(b, words, dtype)
        if dist == "normal":
            units = _box_muller(b, module, units, dtype)
        for j, unit in enumerate(units):
            wide = b.fpext(unit, iu.F64) if dtype == "float32" else unit
            if dist == "uniform":
                value = b.fadd(a, b.fmul(b.fsub(scale, a), wide))
            else:
                value = b.fadd(a, b.fmul(scale, wide))
            if dtype == "float32":
                value = b.fptrunc(value, iu.F32)
            index = b.add(b.mul(block, iu.i64(per)), iu.i64(j))
            with b.if_then(b.icmp_signed("<", index, n)):
                b.store(value, b.gep(out, [index], source_etype=iu.register_type(dtype)))
    b.ret_void()
    return fn


def _low(b: ir.IRBuilder, value: Any) -> Any:
    return b.trunc(value, I32)


def _high(b: ir.IRBuilder, value: Any) -> Any:
    return b.trunc(b.lshr(value, iu.i64(32)), I32)


def philox(b: ir.IRBuilder, counter: list[Any], k0: Any, k1: Any) -> list[Any]:
    """Ten rounds of Philox4x32 on ``counter`` (four i32) with the key ``(k0, k1)``."""
    c = list(counter)
    for r in range(10):
        if r:
            k0 = b.add(k0, ir.Constant(I32, ROUND_KEYS[0]))
            k1 = b.add(k1, ir.Constant(I32, ROUND_KEYS[1]))
        p0 = b.mul(iu.i64(MULTIPLIERS[0]), b.zext(c[0], iu.I64))
        p1 = b.mul(iu.i64(MULTIPLIERS[1]), b.zext(c[2], iu.I64))
        c = [b.xor(b.xor(_high(b, p1), c[1]), k0), _low(b, p1),
             b.xor(b.xor(_high(b, p0), c[3]), k1), _low(b, p0)]
    return c


def _units(b: ir.IRBuilder, words: list[Any], dtype: str) -> list[Any]:
    """Uniform numbers in [0, 1): two doubles of 53 bits, or four floats of 24 bits."""
    if dtype == "float64":
        units = []
        for j in range(2):
            high = b.uitofp(b.lshr(words[2 * j], ir.Constant(I32, 5)), iu.F64)
            low = b.uitofp(b.lshr(words[2 * j + 1], ir.Constant(I32, 6)), iu.F64)
            both = b.fadd(b.fmul(high, ir.Constant(iu.F64, 67108864.0)), low)
            units.append(b.fmul(both, ir.Constant(iu.F64, 2.0 ** -53)))
        return units
    return [b.fmul(b.uitofp(b.lshr(w, ir.Constant(I32, 8)), iu.F32),
                   ir.Constant(iu.F32, 2.0 ** -24)) for w in words]


def _box_muller(b: ir.IRBuilder, module: ir.Module, units: list[Any], dtype: str) -> list[Any]:
    """Pairs of uniforms to pairs of standard normals (Box and Muller, 1958), with libm."""
    ty = iu.register_type(dtype)
    suffix = "" if dtype == "float64" else "f"
    log, cos, sin = (iu.declare(module, f"{f}{suffix}", ty, [ty]) for f in ("log", "cos", "sin"))
    sqrt = iu.intrinsic(module, "llvm.sqrt", ty, 1)
    one = ir.Constant(ty, 1.0)
    two_pi = ir.Constant(ty, float(iu.float_constant(2 * math.pi, dtype).constant))
    out = []
    for j in range(0, len(units), 2):
        radius = b.call(sqrt, [b.fmul(ir.Constant(ty, -2.0),
                                      b.call(log, [b.fsub(one, units[j])]))])
        angle = b.fmul(two_pi, units[j + 1])
        out += [b.fmul(radius, b.call(cos, [angle])), b.fmul(radius, b.call(sin, [angle]))]
    return out
