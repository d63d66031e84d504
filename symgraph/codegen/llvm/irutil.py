"""Small llvmlite IRBuilder helpers: dtype to IR type, loads and stores of array elements,
counted loops and stack slots, in the spirit of numba's cgutils.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
from llvmlite import ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F16 = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

_REGISTER_TYPES: dict[str, ir.Type] = {
    "bool": I1, "int8": I8, "uint8": I8, "int16": ir.IntType(16), "uint16": ir.IntType(16),
    "int32": I32, "uint32": I32, "int64": I64, "uint64": I64,
    "float16": F16, "float32": F32, "float64": F64,
}


def register_type(dtype: str) -> ir.Type:
    """IR type of a value of ``dtype`` held in a register (bool is ``i1``)."""
    return _REGISTER_TYPES[dtype]


def memory_type(dtype: str) -> ir.Type:
    """IR type of an element of ``dtype`` in memory (NumPy stores bool as one byte)."""
    return I8 if dtype == "bool" else _REGISTER_TYPES[dtype]


def itemsize(dtype: str) -> int:
    return np.dtype(dtype).itemsize


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, int(value))


def float_constant(value: float, dtype: str) -> ir.Constant:
    """A float constant exactly representable in ``dtype`` (rounded to it first)."""
    rounded = float(np.asarray(value, dtype=dtype))
    ty = register_type(dtype)
    if ty is F16:
        # llvmlite prints half constants as doubles; LLVM accepts them when exact.
        return ir.Constant(F16, rounded)
    return ir.Constant(ty, rounded)


def load_element(builder: ir.IRBuilder, pointer: Any, dtype: str) -> Any:
    value = builder.load(pointer, typ=memory_type(dtype))
    if dtype == "bool":
        return builder.icmp_unsigned("!=", value, ir.Constant(I8, 0))
    return value


def store_element(builder: ir.IRBuilder, value: Any, pointer: Any, dtype: str) -> None:
    if dtype == "bool":
        value = builder.zext(value, I8)
    builder.store(value, pointer)


def entry_alloca(builder: ir.IRBuilder, ty: ir.Type, name: str = "") -> Any:
    """A stack slot at the start of the function's entry block, so mem2reg turns it into
    registers. llvmlite types allocas as typed pointers; kernels use opaque ``ptr``, and
    the printed instruction only names the allocated type, so the slot is retyped."""
    saved = builder.block
    builder.position_at_start(builder.function.entry_basic_block)
    slot = builder.alloca(ty, name=name)
    slot.type = PTR
    builder.position_at_end(saved)
    return slot


@contextlib.contextmanager
def for_range(builder: ir.IRBuilder, start: Any, stop: Any, name: str = "i",
              interleave: int = 0) -> Iterator[Any]:
    """``for i in range(start, stop)`` with an ``i64`` counter; the body is the ``with`` block.
    ``interleave``: ask the loop vectoriser for that many vectors in flight per iteration
    (``llvm.loop.interleave.count``; see ``resolve_loop_ids``)."""
    function = builder.function
    before = builder.block
    header = function.append_basic_block(f"{name}.head")
    body = function.append_basic_block(f"{name}.body")
    after = function.append_basic_block(f"{name}.end")
    builder.branch(header)
    builder.position_at_end(header)
    index = builder.phi(I64, name=name)
    index.add_incoming(start, before)
    builder.cbranch(builder.icmp_signed("<", index, stop), body, after)
    builder.position_at_end(body)
    yield index
    following = builder.add(index, i64(1), name=f"{name}.next", flags=("nsw",))
    index.add_incoming(following, builder.block)
    latch = builder.branch(header)
    if interleave:
        module = builder.module
        hint = module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"),
                                    ir.Constant(I32, interleave)])
        # A placeholder first operand, unique per loop, that resolve_loop_ids makes the
        # node's reference to itself.
        own = ir.MetaDataString(module, f"{LOOP_SELF}{len(module.metadata)}")
        latch.set_metadata("llvm.loop", module.add_metadata([own, hint]))
    builder.position_at_end(after)


LOOP_SELF = "symgraph.loop.self."


def resolve_loop_ids(text: str) -> str:
    """A loop's metadata must start with a reference to itself (``!7 = distinct !{!7,
    ...}``), which llvmlite's metadata nodes cannot hold: ``for_range`` writes a placeholder
    string there, replaced in the module's text here."""
    return re.sub(r'^(!\d+) = !\{ *!"' + re.escape(LOOP_SELF) + r'\d+"',
                  lambda m: f"{m.group(1)} = distinct !{{{m.group(1)}", text, flags=re.M)


def declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type],
            attrs: tuple[str, ...] = ()) -> ir.Function:
    """The function ``name`` of ``module``, declared on first use."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing  # type: ignore[return-value]
    function = ir.Function(module, ir.FunctionType(ret, args), name=name)
    for attr in attrs:
        function.attributes.add(attr)
    return function


def intrinsic(module: ir.Module, base: str, ty: ir.Type, nargs: int,
              ret: ir.Type | None = None) -> ir.Function:
    """An overloaded LLVM intrinsic such as ``llvm.fmuladd.f32``."""
    suffix = {F16: "f16", F32: "f32", F64: "f64"}.get(ty, f"i{getattr(ty, 'width', 0)}")
    return declare(module, f"{base}.{suffix}", ret or ty, [ty] * nargs)


def global_i32(module: ir.Module, name: str) -> ir.GlobalVariable:
    """An external ``i32`` global (resolved by the JIT to a process-wide setting)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing  # type: ignore[return-value]
    var = ir.GlobalVariable(module, I32, name)
    var.linkage = "external"
    return var
