"""The CUDA C implementation of the backend-neutral scalar ``Emitter`` (symgraph.op): each method
appends one typed C declaration to a ``CodeBlock`` and returns the value's name and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from symgraph import dtype as dt
from symgraph.codegen.cuda import source as src
from symgraph.op import MATH_FUNCTIONS, EmitError

# ``Emitter.call`` functions -> C math library names (double; "f" appended for float): C99's,
# and the prelude's own sigmoid and softplus.
MATH: dict[str, str] = {
    **{name: c_name for name, (c_name, _) in MATH_FUNCTIONS.items()},
    "sigmoid": "sg_sigmoid", "softplus": "sg_softplus",
}
_PREDICATES = ("==", "!=", "<", "<=", ">", ">=")
# Parameter names of a kernel that reports errors: the flag, and a code per error kind.
ERROR_FLAG = "sg_flag"
ERROR_CODE = "sg_code"


@dataclass(frozen=True)
class CValue:
    """A scalar in generated code: a C identifier (or literal) and the dtype it holds."""

    text: str
    dtype: str

    def __str__(self) -> str:
        return self.text


@dataclass
class CodeBlock:
    """Straight-line C statements under construction, with fresh temporary names.

    ``errors`` lists the ``(exception class, message)`` that rules report with ``fail_if``
    (the kernel then takes an error flag and one code per entry); ``None`` in kernels that
    cannot report errors, where such a rule raises ``EmitError``.
    """

    lines: list[str] = field(default_factory=list)
    prefix: str = "t"
    count: int = 0
    errors: list[tuple[type, str]] | None = None

    def declare(self, dtype: str, expr: str) -> CValue:
        name = f"{self.prefix}{self.count}"
        self.count += 1
        self.lines.append(f"const {src.register_type(dtype)} {name} = {expr};")
        return CValue(name, dtype)

    def fail_if(self, condition: CValue, error: type[Exception], message: str) -> None:
        if self.errors is None:
            raise EmitError(f"this kernel cannot report errors ({message})")
        if (error, message) not in self.errors:
            self.errors.append((error, message))
        code = f"{ERROR_CODE}{self.errors.index((error, message))}"
        self.lines.append(f"if ({condition}) sg_raise({ERROR_FLAG}, {code});")

    def text(self, indent: str = "    ") -> str:
        return "\n".join(indent + line for line in self.lines)


class CudaEmitter:
    """Scalar code generation into a ``CodeBlock``.

    Parameters
    ----------
    block : CodeBlock
    dtype : str
        The compute dtype of the rule being emitted (``e.dtype`` for rules).
    """

    def __init__(self, block: CodeBlock, dtype: str = "float64") -> None:
        self.block = block
        self.dtype = dtype

    def typed(self, text: str, dtype: str) -> CValue:
        return CValue(text, dtype)

    def _value(self, dtype: str, expr: str) -> CValue:
        if dtype == "float16":  # float registers keep float16 values at half precision
            expr = f"sg_h2f(sg_f2h({expr}))"
        return self.block.declare(dtype, expr)

    # -- the Emitter protocol -------------------------------------------------------------
    def constant(self, value: float | bool, dtype: str | None = None) -> CValue:
        dtype = dtype or self.dtype
        return CValue(src.literal(value, dtype), dtype)

    def _arith(self, a: CValue, b: CValue, op: str) -> CValue:
        dtype = a.dtype
        if dt.is_float(dtype):
            return self._value(dtype, f"{a} {op} {b}")
        if dtype == "bool":  # NumPy: + is a logical or, * a logical and
            logical = {"+": "||", "*": "&&"}.get(op)
            if logical is not None:
                return self._value(dtype, f"{a} {logical} {b}")
            return self._value(dtype, f"(bool)((int){a} {op} (int){b})")
        wide = src.WRAPPING[dtype]
        return self._value(dtype, f"({src.register_type(dtype)})(({wide}){a} {op} ({wide}){b})")

    def add(self, a: CValue, b: CValue) -> CValue:
        return self._arith(a, b, "+")

    def sub(self, a: CValue, b: CValue) -> CValue:
        return self._arith(a, b, "-")

    def mul(self, a: CValue, b: CValue) -> CValue:
        return self._arith(a, b, "*")

    def div(self, a: CValue, b: CValue) -> CValue:
        """Float division, or C's truncating integer division (``b`` must not be 0)."""
        if dt.is_float(a.dtype):
            return self._value(a.dtype, f"{a} / {b}")
        return self._value(a.dtype, f"({src.register_type(a.dtype)})({a} / {b})")

    def rem(self, a: CValue, b: CValue) -> CValue:
        """``fmod`` for floats, C's truncating remainder for integers (``b`` must not be 0)."""
        if dt.is_float(a.dtype):
            return self._value(a.dtype, f"{_math('fmod', a.dtype)}({a}, {b})")
        return self._value(a.dtype, f"({src.register_type(a.dtype)})({a} % {b})")

    def neg(self, a: CValue) -> CValue:
        if dt.is_float(a.dtype):
            return self._value(a.dtype, f"-{a}")
        if a.dtype == "bool":
            return a
        wide = src.WRAPPING[a.dtype]
        return self._value(a.dtype, f"({src.register_type(a.dtype)})(({wide})0 - ({wide}){a})")

    def compare(self, predicate: str, a: CValue, b: CValue) -> CValue:
        """``==, !=, <, <=, >, >=``; C comparisons follow NumPy's NaN rules already."""
        if predicate not in _PREDICATES:
            raise EmitError(f"unknown comparison {predicate!r}")
        return self.block.declare("bool", f"{a} {predicate} {b}")

    def select(self, cond: CValue, a: CValue, b: CValue) -> CValue:
        if cond.dtype != "bool":
            cond = self.cast(cond, "bool")
        return self.block.declare(a.dtype, f"{cond} ? {a} : {b}")

    def _bitwise(self, a: CValue, b: CValue, op: str) -> CValue:
        return self.block.declare(a.dtype, f"({src.register_type(a.dtype)})({a} {op} {b})")

    def and_(self, a: CValue, b: CValue) -> CValue:
        return self._bitwise(a, b, "&")

    def or_(self, a: CValue, b: CValue) -> CValue:
        return self._bitwise(a, b, "|")

    def xor(self, a: CValue, b: CValue) -> CValue:
        return self._bitwise(a, b, "^")

    def invert(self, a: CValue) -> CValue:
        if a.dtype == "bool":
            return self.block.declare("bool", f"!{a}")
        return self.block.declare(a.dtype, f"({src.register_type(a.dtype)})(~{a})")

    def is_nan(self, a: CValue) -> CValue:
        if not dt.is_float(a.dtype):
            return self.constant(False, "bool")
        return self.block.declare("bool", f"{a} != {a}")

    def call(self, function: str, *args: Any) -> CValue:
        dtype = args[0].dtype
        if not dt.is_float(dtype):
            raise EmitError(f"{function} is emitted for floats only, not {dtype}")
        if function not in MATH:
            raise EmitError(f"no CUDA math function for {function!r}")
        text = ", ".join(str(a) for a in args)
        return self._value(dtype, f"{_math(function, dtype)}({text})")

    def fail_if(self, condition: CValue, error: type[Exception], message: str) -> None:
        """The kernel reports ``error(message)`` through the schedule's error flag where
        ``condition`` holds (checked when the call's outputs come back)."""
        self.block.fail_if(condition, error, message)

    def cast(self, a: CValue, dtype: str) -> CValue:
        """NumPy ``astype``: wrapping integer casts, x86 results for float-to-int (NaN and
        out-of-range values give the minimum integer), NaN converts to True."""
        if a.dtype == dtype:
            return a
        if a.dtype == "float16" and dtype == "float32":  # the register is a float already
            return CValue(a.text, dtype)
        return self.block.declare(dtype, cast_expr(a.text, a.dtype, dtype))


def _math(function: str, dtype: str) -> str:
    name = MATH[function]
    return name + "f" if dtype in ("float32", "float16") else name


def cast_expr(value: str, source: str, target: str) -> str:
    """C expression converting register ``value`` of dtype ``source`` to ``target``."""
    ctype = src.register_type(target)
    if target == "bool":
        return f"{value} != 0"
    if source == "bool":
        return f"({ctype})({value} ? 1 : 0)"
    if target == "float16":
        if source in ("float32", "float16"):
            return f"sg_h2f(sg_f2h({value}))"
        return f"sg_h2f(sg_d2h((double){value}))"
    if dt.is_float(target):
        return f"({ctype}){value}"
    if dt.is_float(source):
        if target in ("int64", "uint32"):
            return f"({ctype})sg_cvt64((double){value})"
        if target == "uint64":
            return f"sg_cvtu64((double){value})"
        return f"({ctype})sg_cvt32((double){value})"
    return f"({ctype}){value}"
