"""The kernel rules of the elementwise table: each row's ``emit(e, *xs)``, written once against
the backend-neutral ``Emitter`` (symgraph.op) and used by the LLVM and CUDA code generators.

``e.dtype`` is the dtype a rule computes in, so branching on it happens at code generation
time. The rules reproduce NumPy's results, NaN, signed-zero and integer-overflow rules included.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from symgraph import dtype as dt

Rule = Callable[..., Any]

# NumPy's error for integer powers with negative exponents.
NEGATIVE_POWER = "Integers to negative integer powers are not allowed."


def is_signed(e: Any) -> bool:
    return np.dtype(e.dtype).kind == "i"


def call(name: str) -> Rule:
    """The math function ``name`` of the emitters' vocabulary (``Emitter.call``)."""

    def rule(e: Any, *xs: Any) -> Any:
        return e.call(name, *xs)

    return rule


def fold(method: str) -> Rule:
    """A variadic row: ``method`` applied left to right (``x + y + z``)."""

    def rule(e: Any, *xs: Any) -> Any:
        return functools.reduce(getattr(e, method), xs)

    return rule


def compare(predicate: str) -> Rule:
    def rule(e: Any, x: Any, y: Any) -> Any:
        return e.compare(predicate, x, y)

    return rule


def rounding(name: str) -> Rule:
    """A float rounding function; integers are already whole."""

    def rule(e: Any, x: Any) -> Any:
        return e.call(name, x) if dt.is_float(e.dtype) else x

    return rule


def _float_divmod(e: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """NumPy's ``npy_divmod`` for floats: the floor quotient and the remainder with the sign
    of ``y``, both snapped so that ``x == q * y + r`` holds as closely as possible."""
    zero, one = e.constant(0.0), e.constant(1.0)
    mod = e.rem(x, y)
    div = e.div(e.sub(x, mod), y)
    nonzero = e.compare("!=", mod, zero)
    flip = e.and_(nonzero, e.xor(e.compare("<", y, zero), e.compare("<", mod, zero)))
    mod = e.select(flip, e.add(mod, y), e.select(nonzero, mod, e.call("copysign", zero, y)))
    div = e.select(flip, e.sub(div, one), div)
    floor = e.call("floor", div)
    floor = e.select(e.compare(">", e.sub(div, floor), e.constant(0.5)), e.add(floor, one), floor)
    quotient = e.div(x, y)
    floor = e.select(e.compare("!=", div, zero), floor, e.call("copysign", zero, quotient))
    by_zero = e.compare("==", y, zero)
    return e.select(by_zero, quotient, floor), e.select(by_zero, e.rem(x, y), mod)


def _int_divmod(e: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Python's floor division and modulo of integers; NumPy's 0 for a zero divisor and
    wrapping for ``MIN // -1``."""
    zero, one = e.constant(0), e.constant(1)
    by_zero = e.compare("==", y, zero)
    if not is_signed(e):
        safe = e.select(by_zero, one, y)
        return (e.select(by_zero, zero, e.div(x, safe)),
                e.select(by_zero, zero, e.rem(x, safe)))
    minus_one = e.compare("==", y, e.constant(-1))
    safe = e.select(e.or_(by_zero, minus_one), one, y)
    q, r = e.div(x, safe), e.rem(x, safe)
    adjust = e.and_(e.compare("!=", r, zero),
                    e.xor(e.compare("<", r, zero), e.compare("<", y, zero)))
    q = e.select(adjust, e.sub(q, one), q)
    r = e.select(adjust, e.add(r, y), r)
    q = e.select(minus_one, e.neg(x), q)
    return e.select(by_zero, zero, q), e.select(by_zero, zero, r)


def _divmod(e: Any, x: Any, y: Any) -> tuple[Any, Any]:
    return _float_divmod(e, x, y) if dt.is_float(e.dtype) else _int_divmod(e, x, y)


def floor_divide(e: Any, x: Any, y: Any) -> Any:
    return _divmod(e, x, y)[0]


def remainder(e: Any, x: Any, y: Any) -> Any:
    return _divmod(e, x, y)[1]


def power(e: Any, x: Any, y: Any) -> Any:
    """C's ``pow`` for floats. For integers NumPy's loop: repeated squaring in the dtype
    (wrapping on overflow), unrolled over the exponent's bits; a negative exponent raises."""
    if dt.is_float(e.dtype):
        return e.call("pow", x, y)
    signed = is_signed(e)
    if signed:
        e.fail_if(e.compare("<", y, e.constant(0)), ValueError, NEGATIVE_POWER)
    bits = 8 * np.dtype(e.dtype).itemsize - signed
    zero = e.constant(0)
    result, base = e.constant(1), x
    for k in range(bits):
        if k:
            base = e.mul(base, base)
        taken = e.compare("!=", e.and_(y, e.constant(1 << k)), zero)
        result = e.select(taken, e.mul(result, base), result)
    return result


def absolute(e: Any, x: Any) -> Any:
    if dt.is_float(e.dtype):
        return e.call("fabs", x)
    if is_signed(e):
        return e.select(e.compare("<", x, e.constant(0)), e.neg(x), x)
    return x


def sign(e: Any, x: Any) -> Any:
    zero = e.constant(0)
    positive = e.select(e.compare(">", x, zero), e.constant(1), zero)
    if not dt.is_float(e.dtype) and not is_signed(e):
        return positive
    negative = e.select(e.compare("<", x, zero), e.constant(-1), positive)
    if dt.is_float(e.dtype):  # NaN stays NaN; -0.0 gives 0.0, as NumPy
        return e.select(e.compare("!=", x, x), x, negative)
    return negative


def _extreme(predicate: str) -> Rule:
    """NumPy's maximum/minimum: NaN propagates; at ties (``-0.0`` vs ``0.0``) the second."""

    def rule(e: Any, x: Any, y: Any) -> Any:
        wins = e.compare(predicate, x, y)
        if dt.is_float(e.dtype):
            wins = e.or_(wins, e.compare("!=", x, x))
        return e.select(wins, x, y)

    return rule


maximum = _extreme(">")
minimum = _extreme("<")


def clip(e: Any, x: Any, lo: Any, hi: Any) -> Any:
    return minimum(e, maximum(e, x, lo), hi)


def relu(e: Any, x: Any) -> Any:
    return maximum(e, x, e.constant(0))


def isnan(e: Any, x: Any) -> Any:
    return e.compare("!=", x, x) if dt.is_float(e.dtype) else e.constant(False, "bool")


def isinf(e: Any, x: Any) -> Any:
    if not dt.is_float(e.dtype):
        return e.constant(False, "bool")
    return e.compare("==", e.call("fabs", x), e.constant(math.inf))
