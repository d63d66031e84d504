"""Vectorisable math functions written in IR: range reduction, then polynomials evaluated with
``llvm.fmuladd``; special values (inf, nan, -0.0, denormals) handled with selects, no branches.

Coefficients are Taylor or odd-power series of the reduced argument (mathematical constants
computed here), with enough terms that truncation error is far below half an ulp, except
float32's exp and log, whose polynomials are minimax fits (shorter for the same error; their
error bounds are tested in tests/codegen/test_llvm_math.py).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.mathlib import POLYNOMIALS


class MathBuilder:
    """A tiny DSL over IRBuilder for one float dtype (``float32`` or ``float64``)."""

    def __init__(self, builder: ir.IRBuilder, mathlib: Any, dtype: str) -> None:
        self.b = builder
        self.lib = mathlib
        self.dtype = dtype
        self.ty = iu.register_type(dtype)
        self.bits = 64 if dtype == "float64" else 32
        self.ity = ir.IntType(self.bits)
        self.mant = 52 if dtype == "float64" else 23
        self.bias = 1023 if dtype == "float64" else 127

    # constants and arithmetic
    def c(self, value: float) -> Any:
        return ir.Constant(self.ty, float(value))

    def ci(self, value: int) -> Any:
        return ir.Constant(self.ity, value & ((1 << self.bits) - 1))

    def add(self, a: Any, b: Any) -> Any:
        return self.b.fadd(a, b)

    def sub(self, a: Any, b: Any) -> Any:
        return self.b.fsub(a, b)

    def mul(self, a: Any, b: Any) -> Any:
        return self.b.fmul(a, b)

    def div(self, a: Any, b: Any) -> Any:
        return self.b.fdiv(a, b)

    def neg(self, a: Any) -> Any:
        return self.b.fneg(a)

    def fma(self, a: Any, b: Any, c: Any) -> Any:
        """``a * b + c``, fused where the target has FMA (``llvm.fmuladd``)."""
        return self.b.call(iu.intrinsic(self.b.module, "llvm.fmuladd", self.ty, 3), [a, b, c])

    def intr(self, name: str, *args: Any) -> Any:
        return self.b.call(iu.intrinsic(self.b.module, f"llvm.{name}", self.ty, len(args)),
                           list(args))

    def fabs(self, a: Any) -> Any:
        return self.intr("fabs", a)

    def rint(self, a: Any) -> Any:
        return self.intr("rint", a)

    def copysign(self, a: Any, sign: Any) -> Any:
        return self.intr("copysign", a, sign)

    def poly(self, x: Any, coefficients: list[float]) -> Any:
        """``c0 + c1 x + c2 x^2 + ...`` by Horner's rule."""
        result = self.c(coefficients[-1])
        for coefficient in reversed(coefficients[:-1]):
            result = self.fma(result, x, self.c(coefficient))
        return result

    # comparisons and selection
    def lt(self, a: Any, b: Any) -> Any:
        return self.b.fcmp_ordered("<", a, b)

    def gt(self, a: Any, b: Any) -> Any:
        return self.b.fcmp_ordered(">", a, b)

    def le(self, a: Any, b: Any) -> Any:
        return self.b.fcmp_ordered("<=", a, b)

    def ge(self, a: Any, b: Any) -> Any:
        return self.b.fcmp_ordered(">=", a, b)

    def eq(self, a: Any, b: Any) -> Any:
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a: Any) -> Any:
        return self.b.fcmp_unordered("uno", a, a)

    def sel(self, cond: Any, a: Any, b: Any) -> Any:
        return self.b.select(cond, a, b)

    def or_(self, a: Any, b: Any) -> Any:
        return self.b.or_(a, b)

    def and_(self, a: Any, b: Any) -> Any:
        return self.b.and_(a, b)

    # bit manipulation
    def as_int(self, a: Any) -> Any:
        return self.b.bitcast(a, self.ity)

    def as_float(self, a: Any) -> Any:
        return self.b.bitcast(a, self.ty)

    def to_int(self, a: Any) -> Any:
        """An integral float (in range) as a signed integer."""
        return self.b.fptosi(a, self.ity)

    def to_float(self, a: Any) -> Any:
        return self.b.sitofp(a, self.ty)

    def pow2i(self, n: Any) -> Any:
        """``2.0 ** n`` for an integer ``n`` in the normal exponent range."""
        return self.as_float(self.b.shl(self.b.add(n, self.ci(self.bias)), self.ci(self.mant)))

    def call(self, name: str, *args: Any) -> Any:
        return self.lib.call(self.b, name, self.dtype, list(args))


# ---------------------------------------------------------------------------------------------
# Compositions used by both the polynomial and the libm flavours
# ---------------------------------------------------------------------------------------------

def sigmoid(m: MathBuilder, x: Any) -> Any:
    """``1 / (1 + exp(-x))`` from ``e = exp(-|x|)``, which never overflows."""
    e = m.call("exp", m.neg(m.fabs(x)))
    one = m.c(1.0)
    denominator = m.add(one, e)
    return m.sel(m.ge(x, m.c(0.0)), m.div(one, denominator), m.div(e, denominator))


def softplus(m: MathBuilder, x: Any) -> Any:
    """``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``; NaN propagates. In float64,
    ``exp(-|x|)`` is kept as an unevaluated sum ``hi + lo`` and ``1 + hi + lo`` enters the
    logarithm with its rounding error as a correction term, so the two roundings do not add."""
    positive = m.sel(m.gt(x, m.c(0.0)), x, m.c(0.0))
    if m.dtype != "float64":
        tail = m.call("log1p", m.call("exp", m.neg(m.fabs(x))))
        return m.sel(m.isnan(x), x, m.add(positive, tail))
    e_hi, e_lo = _exp_two_part(m, m.neg(m.fabs(x)))
    u = m.add(m.c(1.0), e_hi)
    correction = m.div(m.add(m.sub(e_hi, m.sub(u, m.c(1.0))), e_lo), u)
    k, _, log_m = _log_parts(m, u)
    c = _Consts(m.dtype)
    tail = m.fma(k, m.c(c.ln2_hi), m.add(m.fma(k, m.c(c.ln2_lo), log_m), correction))
    return m.sel(m.isnan(x), x, m.add(positive, tail))


def _exp_two_part(m: MathBuilder, x: Any) -> tuple[Any, Any]:
    """``exp(x) = hi + lo`` for ``x <= 0`` (float64): ``2**n (1 + q)`` with ``1 + q`` split
    exactly (Fast2Sum)."""
    _, ni, r = _exp_reduce(m, x)
    q = m.fma(m.mul(r, r), m.poly(r, _Consts(m.dtype).expm1_q), r)
    s = m.add(m.c(1.0), q)
    s_lo = m.add(m.sub(m.c(1.0), s), q)
    return _scale(m, s, ni), _scale(m, s_lo, ni)


def taylor(n_terms: int, start: int = 0) -> list[float]:
    """Coefficients ``1/k!`` for ``k = start .. start + n_terms - 1``."""
    return [1.0 / math.factorial(k) for k in range(start, start + n_terms)]


def _split(value: float, bits: int) -> tuple[float, float]:
    """``value = hi + lo`` with ``hi`` holding ``bits`` significant bits, so that ``n * hi`` is
    exact for small integers ``n`` (Cody and Waite's range reduction)."""
    mantissa, exponent = math.frexp(value)
    hi = math.ldexp(math.floor(mantissa * 2.0 ** bits), exponent - bits)
    return hi, value - hi


LN2 = math.log(2.0)
# ln 2 = HI + LO with HI of few bits (n * HI exact) and LO the rest of ln 2 to 53 bits, from a
# 200-bit evaluation (``LN2 - HI`` in doubles would keep LN2's own rounding error).
LN2_HI64, LN2_LO64 = _split(LN2, 32)[0], float.fromhex("0x1.a39ef35793c76p-33")
LN2_HI32, LN2_LO32 = _split(LN2, 12)[0], 3.1946184945309415e-05


# Minimax coefficients of float32's exp on |r| <= 0.347 (ln2/2 and a margin for the rounding
# of r), fitted by Lawson's iteration (weighted least squares) on 20001 Chebyshev points,
# minimising the relative error.
EXP_MINIMAX32 = [1.0, 1.0, 0.49999991059303284, 0.16666418313980103, 0.041668232530355453,
                 0.008374917320907116, 0.0013836720027029514]


# log(1 + f) = f + f**2 P(f) for sqrt(1/2) - 1 <= f <= sqrt(2) - 1 in float32: P minimax of
# degree 8 (fitted as EXP_MINIMAX32 was, to the relative error of log(1 + f)), 6.0e-9
# relative with its coefficients rounded to float32, a tenth of an ulp.
LOG1P_MINIMAX32 = [-0.49999988079071045, 0.33333325386047363, -0.25001582503318787,
                   0.20001977682113647, -0.1660906970500946, 0.14181765913963318,
                   -0.13243015110492706, 0.12904778122901917, -0.0762212947010994]


class _Consts:
    """Per-dtype parameters of the exponential and logarithm."""

    def __init__(self, dtype: str) -> None:
        wide = dtype == "float64"
        self.ln2_hi, self.ln2_lo = (LN2_HI64, LN2_LO64) if wide else (LN2_HI32, LN2_LO32)
        # exp(r) = poly(r, exp_poly) and expm1(r) = r + r**2 poly(r, expm1_q) for |r| <= ln2/2.
        # Taylor series so that r**(d+1)/(d+1)! < eps/4 (degree 13 in float64, 7 in float32),
        # except float32's exp: a minimax fit of degree 6, relative error 1.8e-8 (0.3 ulp)
        # with its coefficients rounded to float32. (A minimax expm1 one term shorter spreads
        # that error down to small r, where tanh's result then came within 3 ulps, not 2.)
        self.exp_poly = taylor(14) if wide else EXP_MINIMAX32
        self.expm1_q = taylor(12 if wide else 6, start=2)
        # float64's log(1 + f) = f - f**2/2 + s (f**2/2 + R(s**2)) with |s| = |f / (2 + f)|
        # <= 0.1716 and R(z) = 2/3 z + 2/5 z**2 + ... to 12 terms (float32 takes
        # LOG1P_MINIMAX32 instead: no division).
        self.log_terms = 12
        self.exp_lo, self.exp_hi = (-746.0, 710.0) if wide else (-104.0, 89.0)
        self.tiny = 2.0 ** -1022 if wide else 2.0 ** -126
        self.denormal_scale = 54 if wide else 25


def _exp_reduce(m: MathBuilder, x: Any, clamp: bool = True) -> tuple[Any, Any, Any]:
    """``x = n ln2 + r`` with integer ``n`` and ``|r| <= ln2/2``, as ``(n, n as an integer,
    r)``; ``x`` clamped first so that ``n`` fits, unless the caller's ``x`` is already in
    range (``clamp=False``). ``n`` is rounded by adding and subtracting the shifter
    ``1.5 * 2**mant``, its integer read from the sum's bits: no float-to-integer conversion,
    which LLVM leaves undefined (poison) for NaN, so a NaN (which the clamps pass) flows
    through to the result."""
    k = _Consts(m.dtype)
    if clamp:
        # "bound < x ? bound : x": one vector min or max, NaN passed on.
        x = m.sel(m.lt(m.c(k.exp_hi), x), m.c(k.exp_hi), x)
        x = m.sel(m.gt(m.c(k.exp_lo), x), m.c(k.exp_lo), x)
    shifter = m.c(1.5 * 2.0 ** m.mant)
    shifted = m.fma(x, m.c(1.0 / LN2), shifter)
    n = m.sub(shifted, shifter)
    ni = m.b.sub(m.as_int(shifted), m.as_int(shifter))
    r = m.fma(n, m.c(-k.ln2_hi), x)
    r = m.fma(n, m.c(-k.ln2_lo), r)
    return n, ni, r


def _scale(m: MathBuilder, value: Any, ni: Any) -> Any:
    """``value * 2**ni`` (``ni`` an integer, ``|ni|`` below 2**31) rounded once, so that
    overflow gives inf and small results round once into the subnormal range: one ldexp where
    the target has it as an instruction (vscalef), else two multiplications by powers of two
    (the first exact). The results are the same bit for bit."""
    if m.lib.has_scalef:
        if m.bits == 64:
            ni = m.b.trunc(ni, iu.I32)
        suffix = "f64" if m.bits == 64 else "f32"
        ldexp = iu.declare(m.b.module, f"llvm.ldexp.{suffix}.i32", m.ty, [m.ty, iu.I32])
        return m.b.call(ldexp, [value, ni])
    half = m.b.ashr(ni, m.ci(1))
    return m.mul(m.mul(value, m.pow2i(half)), m.pow2i(m.b.sub(ni, half)))


def exp(m: MathBuilder, x: Any) -> Any:
    """NaN comes through the computation (see ``_exp_reduce``), -inf and +inf through the
    clamps (to 0 and inf)."""
    _, ni, r = _exp_reduce(m, x)
    return _scale(m, m.poly(r, _Consts(m.dtype).exp_poly), ni)


def exp2(m: MathBuilder, x: Any) -> Any:
    k = _Consts(m.dtype)
    clamped = m.intr("maxnum", m.intr("minnum", x, m.c(k.exp_hi / LN2)), m.c(k.exp_lo / LN2))
    n = m.rint(clamped)
    r = m.mul(m.sub(clamped, n), m.c(LN2))
    p = m.poly(r, k.exp_poly)
    return m.sel(m.isnan(x), x, _scale(m, p, m.to_int(n)))


def expm1(m: MathBuilder, x: Any) -> Any:
    """``2**n (1 + p) - 1`` as ``2 (t p + (t - 1/2))`` with ``t = 2**(n-1)``: exact scaling,
    one rounding in the sum, and no overflow of ``t`` near the top of the range."""
    k = _Consts(m.dtype)
    lowest = -40.0 if m.dtype == "float64" else -18.0
    result = _expm1_in_range(m, m.intr("maxnum", x, m.c(lowest)), clamp=True)
    result = m.sel(m.gt(x, m.c(k.exp_hi)), m.c(math.inf), result)
    # expm1(+-0) keeps the sign of zero; NaN propagates.
    return m.sel(m.or_(m.eq(x, m.c(0.0)), m.isnan(x)), x, result)


def _expm1_in_range(m: MathBuilder, x: Any, clamp: bool = False, half: bool = False) -> Any:
    """expm1 without its special cases (``expm1(0)`` comes out as +0 exactly), of a number
    already in ``[lowest, exp_hi]`` or NaN (tanh's ``2|x|``, clamped to 80), or of any
    number with ``clamp`` (expm1's own, which selects inf and NaN back). ``half``: half of it,
    exactly (the last doubling left out)."""
    k = _Consts(m.dtype)
    _, ni, r = _exp_reduce(m, x, clamp)
    p = m.fma(m.mul(r, r), m.poly(r, k.expm1_q), r)
    t = m.pow2i(m.b.sub(ni, m.ci(1)))
    # t p is exact (t a power of two), so one fma rounds the same sum.
    halved = m.fma(t, p, m.sub(t, m.c(0.5)))
    return halved if half else m.mul(m.c(2.0), halved)


def _log1p_series32(m: MathBuilder, f: Any, addend: Any) -> Any:
    """``f**2 P(f) + addend`` in one fma, float32's ``log(1 + f) = f + f**2 P(f)`` with P the
    minimax polynomial of degree 8 (no division); ``addend`` is ``f`` for the logarithm
    itself."""
    return m.fma(m.mul(f, f), m.poly(f, LOG1P_MINIMAX32), addend)


def _log_parts(m: MathBuilder, x: Any, subnormal: bool = True) -> tuple[Any, Any, Any]:
    """``x = 2**k (1 + f)`` with ``sqrt(1/2) <= 1 + f < sqrt(2)``; returns ``(k, f, log1p(f)
    without the k ln2 term)`` for finite positive ``x`` (subnormals are scaled first, unless
    the caller's ``x`` is never one: ``subnormal=False``)."""
    c = _Consts(m.dtype)
    small = m.lt(x, m.c(c.tiny)) if subnormal else None
    if small is not None:
        x = m.sel(small, m.mul(x, m.c(2.0 ** c.denormal_scale)), x)
    # Adding `offset` to the bits carries into the exponent exactly when the mantissa is
    # above sqrt(2)'s (in this dtype); the mantissa bits left, plus the bits of 1.0 less the
    # offset, are then 1.M or 1.M / 2 in [sqrt(1/2), sqrt(2)].
    mask = (1 << m.mant) - 1
    sqrt2 = struct.unpack("<Q" if m.bits == 64 else "<I",
                          struct.pack("<d" if m.bits == 64 else "<f", math.sqrt(2.0)))[0]
    offset = (1 << m.mant) - ((sqrt2 & mask) + 1)
    shifted = m.b.add(m.as_int(x), m.ci(offset))
    k = m.to_float(m.b.sub(m.b.lshr(shifted, m.ci(m.mant)), m.ci(m.bias)))
    mantissa = m.as_float(m.b.add(m.b.and_(shifted, m.ci(mask)),
                                  m.ci((m.bias << m.mant) - offset)))
    if small is not None:
        k = m.sub(k, m.sel(small, m.c(c.denormal_scale), m.c(0.0)))
    f = m.sub(mantissa, m.c(1.0))
    if m.dtype == "float32":
        return k, f, _log1p_series32(m, f, f)
    s = m.div(f, m.add(m.c(2.0), f))
    z = m.mul(s, s)
    # log(1 + f) = f - hfsq + s (hfsq + R(z)), R(z) = 2/3 z + 2/5 z^2 + ...
    series = [2.0 / (2 * i + 3) for i in range(c.log_terms)]
    r = m.mul(z, m.poly(z, series))
    hfsq = m.mul(m.c(0.5), m.mul(f, f))
    return k, f, m.sub(f, m.sub(hfsq, m.mul(s, m.add(hfsq, r))))


def _log_specials(m: MathBuilder, x: Any, result: Any) -> Any:
    """log of 0 is -inf, of a negative number NaN, of +inf +inf; NaN propagates."""
    result = m.sel(m.eq(x, m.c(0.0)), m.c(-math.inf), result)
    result = m.sel(m.lt(x, m.c(0.0)), m.c(math.nan), result)
    return m.sel(m.or_(m.isnan(x), m.eq(x, m.c(math.inf))), x, result)


def log(m: MathBuilder, x: Any) -> Any:
    c = _Consts(m.dtype)
    k, _, log_m = _log_parts(m, x)
    result = m.fma(k, m.c(c.ln2_hi), m.fma(k, m.c(c.ln2_lo), log_m))
    return _log_specials(m, x, result)


def log2(m: MathBuilder, x: Any) -> Any:
    k, _, log_m = _log_parts(m, x)
    return _log_specials(m, x, m.fma(log_m, m.c(1.0 / LN2), k))


def log10(m: MathBuilder, x: Any) -> Any:
    k, _, log_m = _log_parts(m, x)
    result = m.fma(k, m.c(math.log10(2.0)), m.mul(log_m, m.c(1.0 / math.log(10.0))))
    return _log_specials(m, x, result)


def log1p(m: MathBuilder, x: Any) -> Any:
    """``log(u) + (x - (u - 1)) / u`` with ``u = 1 + x`` rounded: the second term restores
    what rounding ``u`` lost."""
    c = _Consts(m.dtype)
    u = m.add(m.c(1.0), x)
    # u is 0, negative (selected away below) or at least the ulp of 1: never subnormal.
    k, f, log_m = _log_parts(m, u, subnormal=False)
    correction = m.div(m.sub(x, m.sub(u, m.c(1.0))), u)
    if m.dtype == "float32":
        # f (exact) added last to the small terms f**2 P(f) + correction: one rounding of
        # the sum where k is 0 (log_m, f + f**2 P(f) rounded, is left unused).
        small = _log1p_series32(m, f, correction)
        inner = m.add(m.fma(k, m.c(c.ln2_lo), small), f)
    else:
        inner = m.add(m.fma(k, m.c(c.ln2_lo), log_m), correction)
    result = m.fma(k, m.c(c.ln2_hi), inner)
    # x itself for NaN, +-0 and +-inf, the numbers with x + x unordered or equal to x (one
    # add and one compare instead of three compares); then -inf at -1 and NaN below it,
    # -inf included.
    result = m.sel(m.b.fcmp_unordered("==", m.add(x, x), x), x, result)
    result = m.sel(m.eq(x, m.c(-1.0)), m.c(-math.inf), result)
    return m.sel(m.lt(x, m.c(-1.0)), m.c(math.nan), result)


def tanh(m: MathBuilder, x: Any) -> Any:
    """From ``t = expm1(2|x|)``: ``t / (t + 2)`` below 1, ``1 - 2 / (t + 2)`` above (the
    numerator chosen before dividing, so one division per element); the sign comes back with
    copysign (so -0.0 stays -0.0); 1 beyond the point where tanh rounds to 1. In float64 the
    division is corrected for the rounding of ``t + 2`` and of the quotient (a TwoSum and an
    fma remainder), which keeps the result within an ulp or so of ``t``'s."""
    a = m.fabs(x)
    # 2|x| clamped to [0, 80] is in expm1's range; a NaN passes the clamp ("40 < a ? 40 :
    # a") and the computation (see _exp_reduce) to the result. The quotients take h = t/2
    # over h + 1 (and 1 over h + 1): scaled by 2 exactly, the same results as t over t + 2,
    # without the doubling.
    limit = m.c(40.0)
    h = _expm1_in_range(m, m.mul(m.c(2.0), m.sel(m.lt(limit, a), limit, a)), half=True)
    one = m.c(1.0)
    d = m.add(h, one)
    below = m.lt(a, one)
    top = m.sel(below, h, one)
    q = m.div(top, d)
    if m.dtype == "float64":
        bb = m.sub(d, h)
        err = m.add(m.sub(h, m.sub(d, bb)), m.sub(one, bb))  # h + 1 == d + err exactly
        q = m.add(q, m.div(m.sub(m.fma(m.neg(q), d, top), m.mul(q, err)), d))
    return m.copysign(m.sel(below, q, m.sub(one, q)), x)


for _name, _fn in (("exp", exp), ("exp2", exp2), ("expm1", expm1), ("log", log),
                   ("log2", log2), ("log10", log10), ("log1p", log1p), ("tanh", tanh)):
    POLYNOMIALS[_name] = _fn
