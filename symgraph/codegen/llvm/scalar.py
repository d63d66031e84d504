"""Scalar programs to IR: each step of a ``ScalarProgram`` (or one Elemwise row) is emitted by
its table row's ``emit`` rule, in the dtype the NumPy reference computes in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir

from symgraph import dtype as dt
from symgraph.codegen.llvm.emitter import ErrorFlag, LLVMEmitter
from symgraph.ops import elemwise
from symgraph.op import EmitError

Typed = tuple[Any, str]


def emit_step(builder: ir.IRBuilder, mathlib: Any, row: elemwise.ScalarOp,
              args: list[Typed], out_dtype: str, flag: ErrorFlag | None = None) -> Typed:
    """Emit one row applied to ``args``; the result is converted to ``out_dtype``; rules
    report errors to ``flag``."""
    if row.nin == 0:
        value = row.params[0]
        e = LLVMEmitter(builder, mathlib, out_dtype)
        return e.constant(value, out_dtype), out_dtype
    if row.emit is None:
        raise EmitError(f"the elementwise row {row.name} has no emit rule")
    compute, wanted = elemwise.compute_dtypes(row, [d for _, d in args], out_dtype)
    e = LLVMEmitter(builder, mathlib, compute, flag)
    values = []
    for (value, dtype), want in zip(args, wanted):
        e.typed(value, dtype)
        values.append(e.cast(value, want))
    result = row.emit(e, *values)
    return e.cast(result, out_dtype), out_dtype


def emit_program(builder: ir.IRBuilder, mathlib: Any, program: Any, inputs: list[Typed],
                 flag: ErrorFlag | None = None) -> list[Typed]:
    """Emit every step of ``program``; returns the typed output values."""
    slots: list[Typed] = list(inputs)
    for row, arg_slots, out_dtype in program.steps:
        slots.append(emit_step(builder, mathlib, row, [slots[a] for a in arg_slots], out_dtype,
                               flag))
    return [slots[o] for o in program.outputs]


def identity_value(kind: str, dtype: str) -> float | int | bool:
    """The start value of a reduction of ``kind`` accumulating in ``dtype``."""
    if kind in ("add", "or_"):
        return 0
    if kind in ("mul", "and_"):
        return 1
    if dtype == "bool":
        return kind == "minimum"
    if dt.is_float(dtype):
        return -np.inf if kind in ("maximum", "argmax") else np.inf
    info = np.iinfo(dtype)
    return int(info.min) if kind in ("maximum", "argmax") else int(info.max)


def emit_combine(builder: ir.IRBuilder, mathlib: Any, kind: str, dtype: str, acc: Any,
                 value: Any) -> Any:
    """``acc (kind) value`` with the reduction row's own emit rule; float sums and products may
    be reassociated, which lets the vectoriser keep several partial accumulators."""
    row = elemwise.TABLE[kind]
    if row.emit is None:
        raise EmitError(f"the reduction {kind} has no emit rule")
    e = LLVMEmitter(builder, mathlib, dtype)
    e.reassociate = kind in ("add", "mul")
    e.typed(acc, dtype)
    e.typed(value, dtype)
    return row.emit(e, acc, value)


def emit_arg_update(builder: ir.IRBuilder, mathlib: Any, kind: str, dtype: str,
                    best: Any, index: Any, value: Any, position: Any) -> tuple[Any, Any]:
    """One step of argmax/argmin: the first extreme wins, and the first NaN beats all."""
    e = LLVMEmitter(builder, mathlib, dtype)
    e.typed(best, dtype)
    e.typed(value, dtype)
    better = e.compare(">" if kind == "argmax" else "<", value, best)
    if dt.is_float(dtype):
        first_nan = builder.and_(e.is_nan(value), builder.not_(e.is_nan(best)))
        better = builder.or_(better, first_nan)
    return builder.select(better, value, best), builder.select(better, position, index)
