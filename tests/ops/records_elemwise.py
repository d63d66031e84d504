"""Records for the elementwise table, ``cast`` and ``DimShuffle``.

References are written independently of the op implementations: SciPy for special functions,
textbook formulas elsewhere.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp

from symgraph.ops import elemwise as ew
from tests.records import B, F, Given, I, OpRecord

U = F(3, 4)                      # generic floats in [-1, 1)
POS = F(3, 4, lo=0.2, hi=2.0)    # positive
UNIT = F(3, 4, lo=-0.9, hi=0.9)  # inside (-1, 1)


def _unary(name, ref, spec=U, grad=True, **kw):
    return OpRecord(name, getattr(ew, name), [spec], ref, grad=grad, **kw)


def _binary(name, ref, a=U, b=U, grad=True, **kw):
    return OpRecord(name, getattr(ew, name), [a, b], ref, grad=grad, **kw)


RECORDS = [
    OpRecord("add", lambda x, y, z: x + y + z, [U, U, U], lambda x, y, z: x + y + z),
    OpRecord("add_broadcast", lambda x, y: x + y, [F(3, 4), F(1, 4, static=(1, None))],
             lambda x, y: x + y),
    OpRecord("add_rank_pad", lambda x, y: x + y, [F(2, 3, 4), F(4)], lambda x, y: x + y),
    _binary("sub", lambda x, y: x - y),
    OpRecord("mul", lambda x, y, z: ew.mul(x, y, z), [U, U, U], lambda x, y, z: x * y * z),
    _binary("true_divide", lambda x, y: x / y, b=POS),
    OpRecord("true_divide_int", lambda x, y: x / y, [I(5, lo=-9, hi=9), I(5, lo=1, hi=4)],
             lambda x, y: (x.astype("float64") / y), grad=False),
    _binary("int_div", lambda x, y: np.floor(x / y), a=F(3, 4, lo=-5, hi=5),
            b=F(3, 4, lo=0.5, hi=2, away_from=()), grad=False),
    OpRecord("int_div_int", lambda x, y: x // y, [I(6, lo=-9, hi=9), I(6, lo=1, hi=4)],
             lambda x, y: np.floor(x / y).astype("int64"), grad=False),
    _binary("mod", lambda x, y: x - y * np.floor(x / y), a=F(3, 4, lo=0.1, hi=0.9),
            b=F(3, 4, lo=1.1, hi=2.0)),
    _binary("pow", lambda x, y: np.exp(y * np.log(x)), a=POS),
    _unary("neg", lambda x: 0 - x),
    _unary("abs", lambda x: np.where(x < 0, -x, x), F(3, 4, away_from=(0,))),
    _unary("sign", lambda x: (x > 0).astype(float) - (x < 0), grad=False),
    _unary("sqr", lambda x: x * x),
    _unary("reciprocal", lambda x: 1 / x, POS),
    _binary("maximum", lambda x, y: np.where(x > y, x, y)),
    _binary("minimum", lambda x, y: np.where(x < y, x, y)),
    OpRecord("clip", lambda x: ew.clip(x, -0.5, 0.5), [F(3, 4, away_from=(-0.5, 0.5))],
             lambda x: np.where(x < -0.5, -0.5, np.where(x > 0.5, 0.5, x))),
    OpRecord("clip_symbolic_bounds", ew.clip, [U, F(3, 4, lo=-1, hi=-0.5),
                                               F(3, 4, lo=0.5, hi=1)],
             lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi)),
    _unary("exp", lambda x: np.e ** x),
    _unary("exp2", lambda x: 2.0 ** x),
    _unary("expm1", lambda x: sp.expm1(x)),
    _unary("log", lambda x: np.log(x), POS),
    _unary("log2", lambda x: np.log(x) / np.log(2), POS),
    _unary("log10", lambda x: np.log(x) / np.log(10), POS),
    _unary("log1p", lambda x: sp.log1p(x), F(3, 4, lo=-0.5, hi=2)),
    _unary("sqrt", lambda x: x ** 0.5, POS),
    _unary("cbrt", lambda x: np.sign(x) * np.abs(x) ** (1 / 3), F(3, 4, lo=-2, hi=2,
                                                                    away_from=(0,))),
    _unary("sin", lambda x: np.imag(np.exp(1j * x))),
    _unary("cos", lambda x: np.real(np.exp(1j * x))),
    _unary("tan", lambda x: np.sin(x) / np.cos(x)),
    _unary("arcsin", np.arcsin, UNIT),
    _unary("arccos", np.arccos, UNIT),
    _unary("arctan", np.arctan),
    _binary("arctan2", lambda y, x: np.angle(x + 1j * y), b=F(3, 4, lo=0.2, hi=1.0)),
    _unary("sinh", lambda x: (np.exp(x) - np.exp(-x)) / 2),
    _unary("cosh", lambda x: (np.exp(x) + np.exp(-x)) / 2),
    _unary("tanh", lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1)),
    _unary("arcsinh", lambda x: np.log(x + np.sqrt(x * x + 1))),
    _unary("arccosh", lambda x: np.log(x + np.sqrt(x * x - 1)), F(3, 4, lo=1.2, hi=3)),
    _unary("arctanh", lambda x: 0.5 * np.log((1 + x) / (1 - x)), UNIT),
    _unary("erf", sp.erf),
    _unary("erfc", sp.erfc),
    OpRecord("erf_0d", ew.erf, [F()], sp.erf),
    OpRecord("erfc_0d", ew.erfc, [F()], sp.erfc),
    _unary("sigmoid", sp.expit, F(3, 4, lo=-5, hi=5)),
    OpRecord("sigmoid_extreme", ew.sigmoid, [F(4, lo=-800, hi=800)], sp.expit, grad=False),
    _unary("softplus", lambda x: np.log(1 + np.exp(x)), F(3, 4, lo=-5, hi=5)),
    _unary("relu", lambda x: x * (x > 0), F(3, 4, away_from=(0,))),
    _unary("floor", lambda x: x - np.mod(x, 1), F(3, 4, lo=-3, hi=3)),
    _unary("ceil", lambda x: -np.floor(-x), F(3, 4, lo=-3, hi=3)),
    OpRecord("round", ew.round, [F(6, lo=-3, hi=3)], np.rint),
    OpRecord("round_half_even", ew.round, [Given([0.5, 1.5, 2.5, -0.5])],
             lambda x: np.array([0.0, 2.0, 2.0, -0.0]), grad=False),
    _unary("trunc", lambda x: np.sign(x) * np.floor(np.abs(x)), F(3, 4, lo=-3, hi=3)),
    _binary("eq", lambda x, y: x == y, a=I(3, 4), b=I(3, 4), grad=False),
    _binary("neq", lambda x, y: x != y, a=I(3, 4), b=I(3, 4), grad=False),
    _binary("lt", lambda x, y: x < y, grad=False),
    _binary("le", lambda x, y: x <= y, a=I(3, 4), b=I(3, 4), grad=False),
    _binary("gt", lambda x, y: x > y, grad=False),
    _binary("ge", lambda x, y: x >= y, a=I(3, 4), b=I(3, 4), grad=False),
    OpRecord("isnan", ew.isnan, [Given([0.0, np.nan, np.inf, -1.0])], lambda x: x != x,
             grad=False),
    OpRecord("isinf", ew.isinf, [Given([0.0, np.nan, np.inf, -np.inf])],
             lambda x: np.abs(x) == np.inf, grad=False),
    _binary("and_", lambda x, y: x & y, a=B(3, 4), b=B(3, 4), grad=False),
    _binary("or_", lambda x, y: x | y, a=I(3, 4, hi=16), b=I(3, 4, hi=16), grad=False),
    _binary("xor", lambda x, y: x != y, a=B(3, 4), b=B(3, 4), grad=False),
    _unary("invert", lambda x: ~x, I(3, 4, lo=-8, hi=8), grad=False),
    OpRecord("invert_bool", ew.invert, [B(5)], lambda x: x == False, grad=False),  # noqa: E712
    OpRecord("switch", ew.switch, [B(3, 4), U, U], lambda c, a, b: a * c + b * (1 - c),
             grad_inputs=(1, 2)),
    OpRecord("switch_broadcast_cond", ew.switch, [B(1, 4, static=(1, None)), U, U],
             lambda c, a, b: np.where(np.broadcast_to(c, a.shape), a, b), grad_inputs=(1, 2)),
    OpRecord("second", ew.second, [U, F(1, 4, static=(1, None))],
             lambda a, b: np.tile(b, (3, 1)), grad_inputs=(1,)),
    _unary("identity", lambda x: x + 0),
    OpRecord("cast_float32", lambda x: x.astype("float32"), [U], lambda x: np.float32(x),
             rtol=0.0, atol=0.0, why_tolerance="a cast is exact"),
    OpRecord("cast_to_int", lambda x: ew.cast(x, "int32"), [F(5, lo=-9, hi=9)],
             lambda x: np.trunc(x).astype("int32"), grad=False),
    OpRecord("cast_float16_storage", lambda x: ew.cast(x, "float16") * 2,
             [F(5)], lambda x: (np.float16(x).astype("float32") * 2).astype("float16"),
             grad=False),
    OpRecord("exp_of_int8", ew.exp, [I(5, lo=-3, hi=3, dtype="int8")],
             lambda x: np.exp(x.astype("float32")), grad=False),
    OpRecord("float32_times_python_float", lambda x: x * 2.5, [F(4, dtype="float32")],
             lambda x: x * np.float32(2.5), grad=False),
    OpRecord("bool_add_is_logical_or", lambda x, y, z: ew.add(x, y, z), [B(8), B(8), B(8)],
             lambda x, y, z: x | y | z, grad=False),
    OpRecord("bool_mul_is_logical_and", lambda x, y, z: ew.mul(x, y, z), [B(8), B(8), B(8)],
             lambda x, y, z: x & y & z, grad=False),
    OpRecord("bool_minus_int8", lambda x, y: x - y, [B(6), I(6, lo=-4, hi=4, dtype="int8")],
             lambda x, y: x.astype("int8") - y, grad=False),
    OpRecord("dimshuffle_transpose_expand", lambda x: x.dimshuffle(1, "x", 0), [F(3, 4)],
             lambda x: x.T[:, None, :]),
    OpRecord("dimshuffle_drop", lambda x: x.dimshuffle(0, 2), [F(3, 1, 4, static=(None, 1,
                                                                                    None))],
             lambda x: x[:, 0, :]),
]
