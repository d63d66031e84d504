"""Vectorisable erf, sin, cos and float32 pow in IR (see symgraph.codegen.llvm.polys).

erf: a Taylor series below 1, ``1 - exp(-x^2) erfcx(x)`` above, with ``erfcx`` a Chebyshev
expansion on three intervals (coefficients computed at 120 bits with mpmath: the discrete
Chebyshev transform at Chebyshev nodes, error below 1e-19). sin/cos: Cody-Waite reduction by
a 3-part pi/2 (exact for |x| < 2**20 pi/2) and Taylor polynomials; larger arguments take the C
library's exact reduction through a branch. float32 functions are evaluated in float64.
"""

from __future__ import annotations

import math
from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.mathlib import POLYNOMIALS
from symgraph.codegen.llvm.polys import MathBuilder

# erf(x) = x * sum_n ERF_TAYLOR[n] x^(2n): 2/sqrt(pi) (-1)^n / (n! (2n + 1)).
ERF_TAYLOR = [
    1.1283791670955126, -0.37612638903183754, 0.11283791670955126, -0.026866170645131252,
    0.005223977625442188, -0.0008548327023450853, 0.00012055332981789664, -1.492565035840625e-05,
    1.6462114365889248e-06, -1.6365844691234924e-07, 1.4807192815879218e-08,
    -1.2290555301717928e-09, 9.422759064650411e-11, -6.7113668551641105e-12,
    4.4632242632864775e-13, -2.7835162072109215e-14, 1.6342614095367152e-15,
    -9.063970842808673e-17, 4.763348040515068e-18, -2.3784598852774293e-19,
    1.131218725924631e-20,
]

# erfc(x) exp(x^2) on [a, b] as sum_k c_k T_k(u), u = (2x - a - b) / (b - a).
ERFCX_CHEBYSHEV = {
    (1, 2): [
        0.331427281639452, -0.0850021377067432, 0.009951127341466115, -0.0010810888102208325,
        0.0001102324363119495, -1.0636830518218601e-05, 9.775012680479055e-07,
        -8.597922867888315e-08, 7.2677084117248425e-09, -5.923543840592542e-10,
        4.6683928572294154e-11, -3.56612770156775e-12, 2.6458779519104523e-13,
        -1.9101658673527567e-14, 1.343976588479829e-15, -9.228790549094304e-17,
        6.192673084639954e-18, -4.065222431941215e-19,
    ],
    (2, 3.5): [
        0.19943078169681192, -0.04938002535992735, 0.00584049638189269, -0.0006632226933017975,
        7.259178935511736e-05, -7.682952765978158e-06, 7.883915794570548e-07,
        -7.861599623239447e-08, 7.632681897920269e-09, -7.227220937985042e-10,
        6.683956650788739e-11, -6.045467151546551e-12, 5.353822288044628e-13,
        -4.6471602519833763e-14, 3.957386034387204e-15, -3.308992047917726e-16,
        2.7188560213862072e-17, -2.1967869996356313e-18, 1.7465616477056095e-19,
    ],
    (3.5, 6): [
        0.12011119518612726, -0.03077508367843977, 0.003865397162805732, -0.00047649553104630324,
        5.770371528146291e-05, -6.87063803752421e-06, 8.049536979209691e-07,
        -9.285957122953073e-08, 1.055453759031051e-08, -1.1826607946099641e-09,
        1.3071369079163705e-10, -1.4257239280506568e-11, 1.5353276736774004e-12,
        -1.6330584393840342e-13, 1.7163606034121513e-14, -1.7831232826161186e-15,
        1.8317656195293998e-16, -1.861292362447608e-17, 1.8713162494550654e-18,
        -1.861892676974335e-19, 1.8170067628125625e-20,
    ],
}

# pi/2 as a sum of three parts of 33, 33 and 53 bits (Cody-Waite reduction).
PIO2 = [float.fromhex(h) for h in
        ["0x1.921fb54400000p+0", "0x1.0b4611a600000p-34", "0x1.3198a2e037074p-69"]]
TWO_OVER_PI = float.fromhex("0x1.45f306dc9c883p-1")
SIN_TERMS = [(-1) ** k / math.factorial(2 * k + 1) for k in range(1, 10)]  # r^3 .. r^19
COS_TERMS = [(-1) ** k / math.factorial(2 * k) for k in range(2, 10)]  # r^4 .. r^18
SIN_LIMIT = 2.0 ** 20 * math.pi / 2


def _in_double(m: MathBuilder, name: str, *args: Any) -> Any:
    """A float32 function evaluated with the float64 one, rounded once at the end."""
    wide = MathBuilder(m.b, m.lib, "float64")
    value = wide.call(name, *[m.b.fpext(a, iu.F64) for a in args])
    return m.b.fptrunc(value, iu.F32)


def erf(m: MathBuilder, x: Any) -> Any:
    if m.dtype == "float32":
        return _in_double(m, "erf", x)
    a = m.fabs(x)
    z = m.mul(a, a)
    near = m.mul(a, m.poly(z, ERF_TAYLOR))
    far = m.sub(m.c(1.0), m.mul(_exp_minus_square(m, a), _erfcx(m, a)))
    result = m.sel(m.lt(a, m.c(1.0)), near, far)
    result = m.sel(m.ge(a, m.c(6.0)), m.c(1.0), result)
    return m.sel(m.isnan(x), x, m.copysign(result, x))


def _exp_minus_square(m: MathBuilder, a: Any) -> Any:
    """``exp(-a*a)`` with the rounding error of ``a*a`` folded back in (fma residual)."""
    hi = m.mul(a, a)
    lo = m.fma(a, a, m.neg(hi))
    e = m.call("exp", m.neg(hi))
    return m.sub(e, m.mul(e, lo))


def _erfcx(m: MathBuilder, a: Any) -> Any:
    """Clenshaw's recurrence on the interval's coefficients, chosen lane by lane."""
    intervals = list(ERFCX_CHEBYSHEV.items())
    length = max(len(c) for _, c in intervals)
    picks = [m.ge(a, m.c(lo)) for (lo, _), _ in intervals[1:]]

    def choose(values: list[float]) -> Any:
        chosen = m.c(values[0])
        for pick, value in zip(picks, values[1:]):
            chosen = m.sel(pick, m.c(value), chosen)
        return chosen

    lo = choose([bounds[0] for bounds, _ in intervals])
    hi = choose([bounds[1] for bounds, _ in intervals])
    u = m.div(m.sub(m.sub(m.mul(m.c(2.0), a), lo), hi), m.sub(hi, lo))
    u = m.intr("maxnum", m.intr("minnum", u, m.c(1.0)), m.c(-1.0))
    two_u = m.mul(m.c(2.0), u)
    b1, b2 = m.c(0.0), m.c(0.0)
    for k in range(length - 1, 0, -1):
        coefficient = choose([c[k] if k < len(c) else 0.0 for _, c in intervals])
        b1, b2 = m.add(m.fma(two_u, b1, m.neg(b2)), coefficient), b1
    return m.add(m.fma(u, b1, m.neg(b2)), choose([c[0] for _, c in intervals]))


def _sincos(m: MathBuilder, x: Any, cosine: bool) -> Any:
    if m.dtype == "float32":
        return _in_double(m, "cos" if cosine else "sin", x)
    n = m.rint(m.mul(x, m.c(TWO_OVER_PI)))
    r = m.fma(n, m.c(-PIO2[0]), x)
    r = m.fma(n, m.c(-PIO2[1]), r)
    r = m.fma(n, m.c(-PIO2[2]), r)
    z = m.mul(r, r)
    sin_r = m.fma(m.mul(z, r), m.poly(z, SIN_TERMS), r)
    half = m.mul(m.c(0.5), z)
    w = m.sub(m.c(1.0), half)
    cos_r = m.add(w, m.add(m.sub(m.sub(m.c(1.0), w), half), m.mul(m.mul(z, z),
                                                                  m.poly(z, COS_TERMS))))
    bounded = m.intr("minnum", m.intr("maxnum", n, m.c(-4.0e6)), m.c(4.0e6))
    quadrant = m.b.and_(m.b.fptosi(bounded, iu.I64), ir.Constant(iu.I64, 3))
    if cosine:
        quadrant = m.b.add(quadrant, ir.Constant(iu.I64, 1))
    odd = m.b.trunc(quadrant, iu.I1)
    negative = m.b.icmp_unsigned("!=", m.b.and_(quadrant, ir.Constant(iu.I64, 2)),
                                 ir.Constant(iu.I64, 0))
    value = m.sel(odd, cos_r, sin_r)
    value = m.sel(negative, m.neg(value), value)
    if not cosine:  # sin(-0.0) is -0.0; the reduction gives +0.0
        value = m.sel(m.eq(x, m.c(0.0)), x, value)
    return _large_argument(m, x, value, "cos" if cosine else "sin")


def _large_argument(m: MathBuilder, x: Any, value: Any, c_name: str) -> Any:
    """Beyond the reduction's exact range (and for inf/NaN) call the C library."""
    b = m.b
    before = b.block
    big = b.fcmp_unordered("uge", m.fabs(x), m.c(SIN_LIMIT))
    with b.if_then(big, likely=False):
        exact = b.call(iu.declare(b.module, c_name, iu.F64, [iu.F64]), [x])
        exact_block = b.block
    merged = b.phi(iu.F64)
    merged.add_incoming(value, before)
    merged.add_incoming(exact, exact_block)
    return merged


def sin(m: MathBuilder, x: Any) -> Any:
    return _sincos(m, x, cosine=False)


def cos(m: MathBuilder, x: Any) -> Any:
    return _sincos(m, x, cosine=True)


def pow(m: MathBuilder, x: Any, y: Any) -> Any:
    """float32 ``x**y`` as ``exp(y log|x|)`` in float64 with C99's special cases; float64
    calls the C library (a float64 pow needs more than double precision inside)."""
    if m.dtype == "float64":
        return m.b.call(iu.declare(m.b.module, "pow", iu.F64, [iu.F64, iu.F64]), [x, y])
    w = MathBuilder(m.b, m.lib, "float64")
    xd, yd = m.b.fpext(x, iu.F64), m.b.fpext(y, iu.F64)
    magnitude = w.call("exp", w.mul(yd, w.call("log", w.fabs(xd))))
    is_int = w.eq(w.intr("floor", yd), yd)
    half = w.mul(yd, w.c(0.5))
    odd = w.and_(is_int, m.b.fcmp_unordered("une", w.intr("floor", half), half))
    negative_base = m.b.icmp_signed("<", w.as_int(xd), ir.Constant(iu.I64, 0))
    result = w.sel(w.and_(negative_base, odd), w.neg(magnitude), magnitude)
    finite_negative = w.and_(w.lt(xd, w.c(0.0)), w.gt(xd, w.c(-math.inf)))
    nan_case = w.and_(finite_negative, m.b.not_(is_int))
    result = w.sel(w.and_(nan_case, w.eq(w.fabs(yd), w.c(math.inf))), magnitude, result)
    result = w.sel(w.and_(nan_case, m.b.not_(w.eq(w.fabs(yd), w.c(math.inf)))),
                   w.c(math.nan), result)
    unit_base = w.and_(w.eq(w.fabs(xd), w.c(1.0)), w.eq(w.fabs(yd), w.c(math.inf)))
    result = w.sel(unit_base, w.c(1.0), result)
    result = w.sel(w.or_(w.eq(yd, w.c(0.0)), w.eq(xd, w.c(1.0))), w.c(1.0), result)
    return m.b.fptrunc(result, iu.F32)


for _name, _fn in (("erf", erf), ("sin", sin), ("cos", cos), ("pow", pow)):
    POLYNOMIALS[_name] = _fn
