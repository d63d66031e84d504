"""The LLVM implementation of the backend-neutral scalar ``Emitter`` (symgraph.op): each
method appends IR to an llvmlite ``IRBuilder`` and remembers the dtype of the value it made.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from symgraph import dtype as dt
from symgraph.codegen.llvm import irutil as iu
from symgraph.op import EmitError

_SIGNED = ("int8", "int16", "int32", "int64")
_INT_PREDICATES = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class ErrorFlag:
    """Where a kernel's rules report an error (``Emitter.fail_if``): an i32 that the caller
    zeroes before the call and reads after it (a pointer passed as the kernel's last ``data``
    entry). ``used`` tells the kernel to pass it on to its loops."""

    def __init__(self, pointer: Any) -> None:
        self.pointer = pointer
        self.used = False

    def set_if(self, builder: ir.IRBuilder, condition: Any) -> None:
        self.used = True
        with builder.if_then(condition, likely=False):
            # Atomic: the threads of a parallel loop may all report. (IRBuilder.store_atomic
            # rejects opaque pointers, so the instruction is inserted directly.)
            builder._insert(ir.instructions.StoreAtomicInstr(  # noqa: SLF001
                builder.block, ir.Constant(iu.I32, 1), self.pointer, "monotonic", 4))


class LLVMEmitter:
    """Scalar code generation for one kernel.

    Parameters
    ----------
    builder : llvmlite.ir.IRBuilder
        Positioned inside the loop body.
    mathlib : symgraph.codegen.llvm.mathlib.MathLib
        Provides ``call`` functions (exp, log, ...) for this module.
    dtype : str
        The compute dtype of the rule being emitted (``e.dtype`` for rules).
    flag : ErrorFlag or None
        Where ``fail_if`` reports; without one, a rule that may fail cannot be compiled.
    """

    def __init__(self, builder: ir.IRBuilder, mathlib: Any, dtype: str = "float64",
                 flag: ErrorFlag | None = None) -> None:
        self.builder = builder
        self.mathlib = mathlib
        self.dtype = dtype
        self.flag = flag
        self.reassociate = False
        self._dtypes: dict[int, tuple[Any, str]] = {}

    # -- dtype bookkeeping ----------------------------------------------------------------
    def typed(self, value: Any, dtype: str) -> Any:
        self._dtypes[id(value)] = (value, dtype)
        return value

    def dtype_of(self, value: Any) -> str:
        entry = self._dtypes.get(id(value))
        return entry[1] if entry is not None else self.dtype

    def _float_flags(self) -> tuple[str, ...]:
        return ("reassoc", "contract") if self.reassociate else ("contract",)

    # -- the Emitter protocol -------------------------------------------------------------
    def constant(self, value: float | bool, dtype: str | None = None) -> Any:
        dtype = dtype or self.dtype
        if dt.is_float(dtype):
            return self.typed(iu.float_constant(float(value), dtype), dtype)
        ty = iu.register_type(dtype)
        if dtype == "bool":
            return self.typed(ir.Constant(ty, int(bool(value))), dtype)
        return self.typed(ir.Constant(ty, int(value) & ((1 << ty.width) - 1)), dtype)

    def _binary(self, a: Any, b: Any, float_op: str, int_op: str) -> Any:
        dtype = self.dtype_of(a)
        if dt.is_float(dtype):
            value = getattr(self.builder, float_op)(a, b, flags=self._float_flags())
        else:
            value = getattr(self.builder, int_op)(a, b)
        return self.typed(value, dtype)

    def add(self, a: Any, b: Any) -> Any:
        if self.dtype_of(a) == "bool":  # NumPy's logical or; i1 addition would wrap (xor)
            return self.or_(a, b)
        return self._binary(a, b, "fadd", "add")

    def sub(self, a: Any, b: Any) -> Any:
        return self._binary(a, b, "fsub", "sub")

    def mul(self, a: Any, b: Any) -> Any:
        if self.dtype_of(a) == "bool":  # NumPy's logical and
            return self.and_(a, b)
        return self._binary(a, b, "fmul", "mul")

    def div(self, a: Any, b: Any) -> Any:
        """Float division, or integer division truncating towards zero (``b`` must not be 0)."""
        dtype = self.dtype_of(a)
        if dt.is_float(dtype):
            return self._binary(a, b, "fdiv", "fdiv")
        op = self.builder.sdiv if dtype in _SIGNED else self.builder.udiv
        return self.typed(op(a, b), dtype)

    def rem(self, a: Any, b: Any) -> Any:
        """C remainder: ``fmod`` for floats, truncating for integers (``b`` must not be 0)."""
        dtype = self.dtype_of(a)
        if dt.is_float(dtype):
            return self.typed(self.builder.frem(a, b), dtype)
        op = self.builder.srem if dtype in _SIGNED else self.builder.urem
        return self.typed(op(a, b), dtype)

    def neg(self, a: Any) -> Any:
        dtype = self.dtype_of(a)
        if dt.is_float(dtype):
            return self.typed(self.builder.fneg(a), dtype)
        return self.typed(self.builder.neg(a), dtype)

    def compare(self, predicate: str, a: Any, b: Any) -> Any:
        """``==, !=, <, <=, >, >=`` with NumPy's NaN rules (only ``!=`` is true for NaN)."""
        dtype = self.dtype_of(a)
        if dt.is_float(dtype):
            if predicate == "!=":
                value = self.builder.fcmp_unordered("!=", a, b)
            else:
                value = self.builder.fcmp_ordered(predicate, a, b)
        elif dtype in _SIGNED:
            value = self.builder.icmp_signed(_INT_PREDICATES[predicate], a, b)
        else:
            value = self.builder.icmp_unsigned(_INT_PREDICATES[predicate], a, b)
        return self.typed(value, "bool")

    def select(self, cond: Any, a: Any, b: Any) -> Any:
        if self.dtype_of(cond) != "bool":
            cond = self.cast(cond, "bool")
        return self.typed(self.builder.select(cond, a, b), self.dtype_of(a))

    def and_(self, a: Any, b: Any) -> Any:
        return self.typed(self.builder.and_(a, b), self.dtype_of(a))

    def or_(self, a: Any, b: Any) -> Any:
        return self.typed(self.builder.or_(a, b), self.dtype_of(a))

    def xor(self, a: Any, b: Any) -> Any:
        return self.typed(self.builder.xor(a, b), self.dtype_of(a))

    def invert(self, a: Any) -> Any:
        return self.typed(self.builder.not_(a), self.dtype_of(a))

    def is_nan(self, a: Any) -> Any:
        if not dt.is_float(self.dtype_of(a)):
            return self.constant(False, "bool")
        return self.typed(self.builder.fcmp_unordered("uno", a, a), "bool")

    def call(self, function: str, *args: Any) -> Any:
        dtype = self.dtype_of(args[0])
        if not dt.is_float(dtype) or dtype == "float16":
            raise EmitError(f"{function} is emitted for float32/float64 only, not {dtype}")
        value = self.mathlib.call(self.builder, function, dtype, list(args))
        return self.typed(value, dtype)

    def fail_if(self, condition: Any, error: type[Exception], message: str) -> None:
        """The call re-runs on the reference path where ``condition`` holds, whose ``perform``
        raises ``error`` (NumPy's own message)."""
        if self.flag is None:
            raise EmitError(f"this kernel cannot report errors ({message})")
        self.flag.set_if(self.builder, condition)

    def cast(self, a: Any, dtype: str) -> Any:
        """NumPy ``astype``: wrapping integer casts, truncating float-to-int (x86 results
        for NaN and out-of-range values), NaN converts to True."""
        source = self.dtype_of(a)
        if source == dtype:
            return a
        return self.typed(_cast(self.builder, self.mathlib, a, source, dtype), dtype)


def _cast(b: ir.IRBuilder, mathlib: Any, a: Any, source: str, target: str) -> Any:
    ty = iu.register_type(target)
    if target == "bool":
        if dt.is_float(source):
            zero = ir.Constant(iu.register_type(source), 0.0)
            return b.fcmp_unordered("!=", a, zero)
        return b.icmp_unsigned("!=", a, ir.Constant(a.type, 0))
    if source == "bool":
        return b.uitofp(a, ty) if dt.is_float(target) else b.zext(a, ty)
    if dt.is_float(source) and dt.is_float(target):
        return _float_to_float(b, a, source, target)
    if dt.is_float(target):
        if target == "float16":
            wide = b.sitofp(a, iu.F64) if source in _SIGNED else b.uitofp(a, iu.F64)
            return _float_to_float(b, wide, "float64", "float16")
        return b.sitofp(a, ty) if source in _SIGNED else b.uitofp(a, ty)
    if dt.is_float(source):
        if source == "float16":
            a = b.fpext(a, iu.F32)
        return _float_to_int(b, a, target)
    if ty.width < a.type.width:
        return b.trunc(a, ty)
    if ty.width > a.type.width:
        return b.sext(a, ty) if source in _SIGNED else b.zext(a, ty)
    return a


def _float_to_float(b: ir.IRBuilder, a: Any, source: str, target: str) -> Any:
    ty = iu.register_type(target)
    if iu.itemsize(target) > iu.itemsize(source):
        return b.fpext(a, ty)
    if source == "float64" and target == "float16":
        return b.fptrunc(_round_to_odd_float(b, a), iu.F16)
    return b.fptrunc(a, ty)


def _round_to_odd_float(b: ir.IRBuilder, a: Any) -> Any:
    """``a`` narrowed to float32 with round-to-odd, so that rounding it again to float16 gives
    the correctly rounded result (no double-rounding error; float32 has 13 spare bits)."""
    nearest = b.fptrunc(a, iu.F32)
    inexact = b.fcmp_ordered("!=", b.fpext(nearest, iu.F64), a)
    bits = b.bitcast(nearest, iu.I32)
    even = b.icmp_unsigned("==", b.and_(bits, ir.Constant(iu.I32, 1)), ir.Constant(iu.I32, 0))
    too_far = b.fcmp_ordered(">", b.fpext(_fabs(b, nearest), iu.F64), _fabs(b, a))
    step = b.select(too_far, ir.Constant(iu.I32, -1), ir.Constant(iu.I32, 1))
    adjusted = b.bitcast(b.add(bits, step), iu.F32)
    return b.select(b.and_(inexact, even), adjusted, nearest)


def _fabs(b: ir.IRBuilder, a: Any) -> Any:
    return b.call(iu.intrinsic(b.module, "llvm.fabs", a.type, 1), [a])


def _float_to_int(b: ir.IRBuilder, a: Any, target: str) -> Any:
    """What NumPy's C casts give on x86 (cvtt* instructions): int64 and uint32/uint64 go
    through a 64-bit conversion, narrower types through a 32-bit one; NaN and out-of-range
    values give the minimum integer of that width."""
    ty = iu.register_type(target)
    width = 64 if target in ("int64", "uint32", "uint64") else 32
    if target == "uint64":
        # Values >= 2**63 convert after subtracting 2**63, as compilers do for unsigned.
        big = ir.Constant(a.type, 2.0 ** 63)
        low = _cvtt(b, a, 64)
        high = b.xor(_cvtt(b, b.fsub(a, big), 64), ir.Constant(iu.I64, 1 << 63))
        return b.select(b.fcmp_ordered(">=", a, big), high, low)
    value = _cvtt(b, a, width)
    return b.trunc(value, ty) if ty.width < width else value


def _cvtt(b: ir.IRBuilder, a: Any, width: int) -> Any:
    ity = ir.IntType(width)
    limit = 2.0 ** (width - 1)
    in_range = b.and_(b.fcmp_ordered(">=", a, ir.Constant(a.type, -limit)),
                      b.fcmp_ordered("<", a, ir.Constant(a.type, limit)))
    return b.select(in_range, b.fptosi(a, ity), ir.Constant(ity, -(1 << (width - 1))))
