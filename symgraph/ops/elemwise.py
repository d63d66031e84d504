"""Elementwise ops: the scalar-op table, the ``Elemwise`` op that maps a row over arrays,
``DimShuffle``, and the public elementwise functions (``add``, ``exp``, ``switch``, ...).

Broadcasting follows Theano: a dimension broadcasts only when its static shape is 1; lower-rank
inputs are padded on the left with broadcastable dimensions. Python scalars are weak (NEP 50).
"""

from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops import reduce
from symgraph.ops.basic import TensorConstant, as_tensor_variable, constant
from symgraph.type import TensorType, broadcast_static_shapes

__all__ = [
    "abs", "add", "and_", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "cast", "ceil",
    "clip", "cos", "cosh", "dimshuffle", "divide", "eq", "equal", "erf", "erfc", "exp", "exp2",
    "expm1", "fill", "floor", "floor_divide", "full_like", "ge", "greater", "greater_equal",
    "gt", "identity", "int_div", "invert", "isinf", "isnan", "le", "less", "less_equal", "log",
    "log1p", "log2", "log10", "logical_not", "lt", "maximum", "minimum", "mod", "mul", "neg",
    "neq", "not_equal", "ones_like", "or_", "pow", "reciprocal", "relu", "round", "second",
    "sigmoid", "sign", "sin", "sinh", "softplus", "sqr", "sqrt", "square", "sub", "switch",
    "tan", "tanh", "true_divide", "trunc", "where", "xor", "zeros_like",
]

GradRule = Callable[[list[Any], Any, Any], list[Any]]


@dataclass(frozen=True, eq=False)
class ScalarOp:
    """One row of the elementwise table.

    Attributes
    ----------
    name : str
        Unique name; rows compare and hash by it.
    nin : int
        Number of inputs; ``-1`` for variadic (``add``, ``mul``).
    impl : callable
        The NumPy function computing the row on arrays.
    output_dtype : callable
        Output dtype from the common (promoted) input dtype.
    grad : callable or None
        ``grad(inputs, output, gz) -> [gradient per input]`` as tensor expressions of the
        broadcast output shape; ``None`` entries mean no gradient flows to that input.
    emit : callable or None
        The kernel rule ``emit(e, *xs)`` against the backend-neutral ``Emitter``.
    input_kinds : str
        NumPy dtype kinds accepted (``'biuf'``); others raise ``TypeError``.
    promoted_kinds : str
        NumPy dtype kinds the promoted (common) input dtype may have; others raise
        ``TypeError``. ``sub`` excludes bool, as NumPy does: ``bool - int8`` is accepted,
        ``bool - bool`` is not.
    skip_promotion : int
        How many leading inputs keep their own dtype (``switch``'s condition).
    """

    name: str
    nin: int
    impl: Callable[..., Any]
    output_dtype: Callable[[str], str]
    grad: GradRule | None = None
    emit: Callable[..., Any] | None = None
    input_kinds: str = "biuf"
    promoted_kinds: str = "biuf"
    skip_promotion: int = 0
    commutative: bool = False
    associative: bool = False
    doc: str = ""
    params: tuple[Any, ...] = field(default=())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScalarOp) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("ScalarOp", self.name))

    def __str__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Rows hold lambdas and closures: a pickle names the row, and loading looks it up (or
        # remakes a parametrised one) here, so no function is pickled by value.
        return (scalar_op_named, (self.name, self.params))


# Makers of parametrised rows by name prefix (``cast{float32}`` -> "cast"); modules that make
# such rows register here (composite.py: "constant"), so that pickled rows can be remade.
SCALAR_OP_FACTORIES: dict[str, Callable[..., "ScalarOp"]] = {}


def scalar_op_named(name: str, params: tuple[Any, ...] = ()) -> "ScalarOp":
    """The table row called ``name``, or the parametrised row it names (what unpickling a
    ``ScalarOp`` calls).

    Raises
    ------
    ValueError
        For a name that is neither a row nor made by a registered factory.
    """
    if name in TABLE:
        return TABLE[name]
    factory = SCALAR_OP_FACTORIES.get(name.partition("{")[0])
    if factory is None:
        raise ValueError(f"no elementwise scalar op is called {name!r}")
    return factory(*params)


# -- dtype rules -------------------------------------------------------------------------------
def same(dtype: str) -> str:
    """Output dtype equals the input's; bool arithmetic is done in int8 (Theano's rule)."""
    return "int8" if dtype == "bool" else dtype


def same_or_bool(dtype: str) -> str:
    """Output dtype equals the input's, bool included (NumPy: ``bool + bool`` is a logical or,
    ``bool * bool`` a logical and)."""
    return dtype


def to_float(dtype: str) -> str:
    return dt.upgrade_to_float(dtype)


def to_bool(dtype: str) -> str:
    return "bool"


# -- helpers used by the gradient rules -------------------------------------------------------
def zeros_like_grad(x: Any) -> Any:
    return second(x, constant(0.0, dtype=x.dtype) if dt.is_float(x.dtype) else 0.0)


def _zero_grads(inputs: list[Any], output: Any, gz: Any) -> list[Any]:
    return [zeros_like_grad(x) if dt.is_float(x.dtype) else None for x in inputs]


def _float16_safe(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any) -> Any:
        return function(*[a.astype(np.float32) if a.dtype == np.float16 else a for a in args])

    return wrapper


def _erf(x: np.ndarray) -> np.ndarray:
    # A frompyfunc ufunc gives a Python float, not an array, for a 0-d input.
    return np.asarray(_ERF_UFUNC(x), dtype=np.float64)


def _erfc(x: np.ndarray) -> np.ndarray:
    return np.asarray(_ERFC_UFUNC(x), dtype=np.float64)


_ERF_UFUNC = np.frompyfunc(math.erf, 1, 1)
_ERFC_UFUNC = np.frompyfunc(math.erfc, 1, 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Stable for large |x|: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.round(x)


def _int_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.floor_divide(x, y)


def _switch(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(c, a, b)


def _clip(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, lo), hi)


def _second(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)).copy()


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.zeros((), dtype=x.dtype))


LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _row(name: str, nin: int, impl: Callable[..., Any], output_dtype: Callable[[str], str],
         grad: GradRule | None, doc: str, **kwargs: Any) -> ScalarOp:
    return ScalarOp(name, nin, impl, output_dtype, grad, doc=doc, **kwargs)



# -- kernel rules -----------------------------------------------------------------------------
# Each row's ``emit(e, *xs)`` is written once against the backend-neutral ``Emitter``
# (symgraph.op): ``e.dtype`` is the dtype the rule computes in, so branching on it happens at
# code generation time. The rules reproduce NumPy's results, NaN and signed-zero rules included.

def _is_signed(e: Any) -> bool:
    return np.dtype(e.dtype).kind == "i"


def _e_fold(method: str) -> Callable[..., Any]:
    def rule(e: Any, *xs: Any) -> Any:
        return functools.reduce(getattr(e, method), xs)

    return rule


def _e_float_divmod(e: Any, x: Any, y: Any) -> tuple[Any, Any]:
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


def _e_int_divmod(e: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Python's floor division and modulo of integers; NumPy's 0 for a zero divisor and
    wrapping for ``MIN // -1``."""
    zero, one = e.constant(0), e.constant(1)
    by_zero = e.compare("==", y, zero)
    if not _is_signed(e):
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


def _e_divmod(e: Any, x: Any, y: Any) -> tuple[Any, Any]:
    return _e_float_divmod(e, x, y) if dt.is_float(e.dtype) else _e_int_divmod(e, x, y)


def _e_pow(e: Any, x: Any, y: Any) -> Any:
    if not dt.is_float(e.dtype):
        raise NotImplementedError("integer pow runs through perform (it raises on negative "
                                  "exponents)")
    return e.call("pow", x, y)


def _e_abs(e: Any, x: Any) -> Any:
    if dt.is_float(e.dtype):
        return e.call("fabs", x)
    if _is_signed(e):
        return e.select(e.compare("<", x, e.constant(0)), e.neg(x), x)
    return x


def _e_sign(e: Any, x: Any) -> Any:
    zero = e.constant(0)
    positive = e.select(e.compare(">", x, zero), e.constant(1), zero)
    if not dt.is_float(e.dtype) and not _is_signed(e):
        return positive
    negative = e.select(e.compare("<", x, zero), e.constant(-1), positive)
    if dt.is_float(e.dtype):  # NaN stays NaN; -0.0 gives 0.0, as NumPy
        return e.select(e.compare("!=", x, x), x, negative)
    return negative


def _e_extreme(predicate: str) -> Callable[..., Any]:
    """NumPy's maximum/minimum: NaN propagates; at ties (``-0.0`` vs ``0.0``) the second."""

    def rule(e: Any, x: Any, y: Any) -> Any:
        wins = e.compare(predicate, x, y)
        if dt.is_float(e.dtype):
            wins = e.or_(wins, e.compare("!=", x, x))
        return e.select(wins, x, y)

    return rule


_e_maximum = _e_extreme(">")
_e_minimum = _e_extreme("<")


def _e_call(name: str) -> Callable[..., Any]:
    def rule(e: Any, *xs: Any) -> Any:
        return e.call(name, *xs)

    return rule


def _e_rounding(name: str) -> Callable[..., Any]:
    def rule(e: Any, x: Any) -> Any:
        return e.call(name, x) if dt.is_float(e.dtype) else x

    return rule


def _e_compare(predicate: str) -> Callable[..., Any]:
    def rule(e: Any, x: Any, y: Any) -> Any:
        return e.compare(predicate, x, y)

    return rule


def _e_isnan(e: Any, x: Any) -> Any:
    return e.compare("!=", x, x) if dt.is_float(e.dtype) else e.constant(False, "bool")


def _e_isinf(e: Any, x: Any) -> Any:
    if not dt.is_float(e.dtype):
        return e.constant(False, "bool")
    return e.compare("==", e.call("fabs", x), e.constant(math.inf))


def _e_relu(e: Any, x: Any) -> Any:
    return _e_maximum(e, x, e.constant(0))


# The table. Each gradient is written with tensor operators: x, y are the (rank-aligned) inputs,
# z the output and g the output gradient.
SCALAR_OPS: tuple[ScalarOp, ...] = (
    # arithmetic
    _row("add", -1, lambda *xs: functools.reduce(np.add, xs), same_or_bool,
         lambda xs, z, g: [g for _ in xs], "x + y + ... (logical or of bools)",
         commutative=True, associative=True,
         emit=_e_fold("add")),
    _row("sub", 2, np.subtract, same, lambda xs, z, g: [g, -g], "x - y", promoted_kinds="iuf",
         emit=lambda e, x, y: e.sub(x, y)),
    _row("mul", -1, lambda *xs: functools.reduce(np.multiply, xs), same_or_bool,
         lambda xs, z, g: [mul(g, *[y for j, y in enumerate(xs) if j != i])
                           for i in range(len(xs))],
         "x * y * ... (logical and of bools)", commutative=True, associative=True,
         emit=_e_fold("mul")),
    _row("true_divide", 2, np.true_divide, to_float,
         lambda xs, z, g: [g / xs[1], -g * xs[0] / sqr(xs[1])], "x / y (float result)",
         emit=lambda e, x, y: e.div(x, y)),
    _row("int_div", 2, _int_div, same, _zero_grads, "floor(x / y) (Python's //)",
         emit=lambda e, x, y: _e_divmod(e, x, y)[0]),
    _row("mod", 2, np.mod, same,
         lambda xs, z, g: [g, -g * int_div(xs[0], xs[1])], "x - y * floor(x / y)",
         emit=lambda e, x, y: _e_divmod(e, x, y)[1]),
    _row("pow", 2, np.power, same,
         lambda xs, z, g: [g * xs[1] * xs[0] ** (xs[1] - 1), g * z * log(xs[0])], "x ** y",
         emit=_e_pow),
    _row("neg", 1, np.negative, same, lambda xs, z, g: [-g], "-x",
         emit=lambda e, x: e.neg(x)),
    _row("abs", 1, np.abs, same, lambda xs, z, g: [g * sign(xs[0])], "|x|",
         emit=_e_abs),
    _row("sign", 1, np.sign, same, _zero_grads, "-1, 0 or 1",
         emit=_e_sign),
    _row("sqr", 1, np.square, same, lambda xs, z, g: [g * 2.0 * xs[0]], "x * x",
         emit=lambda e, x: e.mul(x, x)),
    _row("reciprocal", 1, lambda x: 1.0 / x, to_float, lambda xs, z, g: [-g * sqr(z)], "1 / x",
         emit=lambda e, x: e.div(e.constant(1), x)),
    _row("maximum", 2, np.maximum, same_or_bool,
         lambda xs, z, g: [g * eq(z, xs[0]), g * eq(z, xs[1])],
         "larger of x and y; at ties both inputs get the gradient (Theano)", commutative=True,
         emit=_e_maximum),
    _row("minimum", 2, np.minimum, same_or_bool,
         lambda xs, z, g: [g * eq(z, xs[0]), g * eq(z, xs[1])],
         "smaller of x and y; at ties both inputs get the gradient (Theano)", commutative=True,
         emit=_e_minimum),
    _row("clip", 3, _clip, same_or_bool,
         lambda xs, z, g: [g * and_(ge(xs[0], xs[1]), le(xs[0], xs[2])),
                           g * lt(xs[0], xs[1]), g * gt(xs[0], xs[2])],
         "min(max(x, lo), hi); at a bound x gets the gradient (Theano)",
         emit=lambda e, x, lo, hi: _e_minimum(e, _e_maximum(e, x, lo), hi)),
    # exponentials and logarithms
    _row("exp", 1, np.exp, to_float, lambda xs, z, g: [g * z], "e ** x",
         emit=_e_call("exp")),
    _row("exp2", 1, np.exp2, to_float, lambda xs, z, g: [g * z * LN2], "2 ** x",
         emit=_e_call("exp2")),
    _row("expm1", 1, np.expm1, to_float, lambda xs, z, g: [g * (z + 1.0)], "e ** x - 1",
         emit=_e_call("expm1")),
    _row("log", 1, np.log, to_float, lambda xs, z, g: [g / xs[0]], "natural logarithm",
         emit=_e_call("log")),
    _row("log2", 1, np.log2, to_float, lambda xs, z, g: [g / (xs[0] * LN2)], "base-2 log",
         emit=_e_call("log2")),
    _row("log10", 1, np.log10, to_float, lambda xs, z, g: [g / (xs[0] * LN10)], "base-10 log",
         emit=_e_call("log10")),
    _row("log1p", 1, np.log1p, to_float, lambda xs, z, g: [g / (xs[0] + 1.0)], "log(1 + x)",
         emit=_e_call("log1p")),
    _row("sqrt", 1, np.sqrt, to_float, lambda xs, z, g: [g * 0.5 / z], "square root",
         emit=_e_call("sqrt")),
    # trigonometric and hyperbolic
    _row("sin", 1, np.sin, to_float, lambda xs, z, g: [g * cos(xs[0])], "sine",
         emit=_e_call("sin")),
    _row("cos", 1, np.cos, to_float, lambda xs, z, g: [-g * sin(xs[0])], "cosine",
         emit=_e_call("cos")),
    _row("tan", 1, np.tan, to_float, lambda xs, z, g: [g * (sqr(z) + 1.0)], "tangent",
         emit=_e_call("tan")),
    _row("arcsin", 1, np.arcsin, to_float,
         lambda xs, z, g: [g / sqrt(1.0 - sqr(xs[0]))], "inverse sine",
         emit=_e_call("arcsin")),
    _row("arccos", 1, np.arccos, to_float,
         lambda xs, z, g: [-g / sqrt(1.0 - sqr(xs[0]))], "inverse cosine",
         emit=_e_call("arccos")),
    _row("arctan", 1, np.arctan, to_float,
         lambda xs, z, g: [g / (sqr(xs[0]) + 1.0)], "inverse tangent",
         emit=_e_call("arctan")),
    _row("arctan2", 2, np.arctan2, to_float,
         lambda xs, z, g: [g * xs[1] / (sqr(xs[0]) + sqr(xs[1])),
                           -g * xs[0] / (sqr(xs[0]) + sqr(xs[1]))],
         "angle of the point (x2, x1): arctan2(y, x)",
         emit=_e_call("arctan2")),
    _row("sinh", 1, np.sinh, to_float, lambda xs, z, g: [g * cosh(xs[0])], "hyperbolic sine",
         emit=_e_call("sinh")),
    _row("cosh", 1, np.cosh, to_float, lambda xs, z, g: [g * sinh(xs[0])], "hyperbolic cosine",
         emit=_e_call("cosh")),
    _row("tanh", 1, np.tanh, to_float, lambda xs, z, g: [g * (1.0 - sqr(z))], "hyperbolic tan",
         emit=_e_call("tanh")),
    _row("arcsinh", 1, np.arcsinh, to_float,
         lambda xs, z, g: [g / sqrt(sqr(xs[0]) + 1.0)], "inverse hyperbolic sine",
         emit=_e_call("arcsinh")),
    _row("arccosh", 1, np.arccosh, to_float,
         lambda xs, z, g: [g / sqrt(sqr(xs[0]) - 1.0)], "inverse hyperbolic cosine",
         emit=_e_call("arccosh")),
    _row("arctanh", 1, np.arctanh, to_float,
         lambda xs, z, g: [g / (1.0 - sqr(xs[0]))], "inverse hyperbolic tangent",
         emit=_e_call("arctanh")),
    # special functions
    _row("erf", 1, _erf, to_float,
         lambda xs, z, g: [g * TWO_OVER_SQRT_PI * exp(-sqr(xs[0]))], "error function",
         emit=_e_call("erf")),
    _row("erfc", 1, _erfc, to_float,
         lambda xs, z, g: [-g * TWO_OVER_SQRT_PI * exp(-sqr(xs[0]))], "1 - erf(x)",
         emit=_e_call("erfc")),
    _row("sigmoid", 1, _sigmoid, to_float, lambda xs, z, g: [g * z * (1.0 - z)],
         "1 / (1 + exp(-x)), computed without overflow",
         emit=_e_call("sigmoid")),
    _row("softplus", 1, _softplus, to_float, lambda xs, z, g: [g * sigmoid(xs[0])],
         "log(1 + exp(x)), computed without overflow (Dugas et al. 2001)",
         emit=_e_call("softplus")),
    _row("relu", 1, _relu, same, lambda xs, z, g: [g * gt(xs[0], 0)],
         "max(x, 0); the gradient at 0 is 0",
         emit=_e_relu),
    # rounding
    _row("floor", 1, np.floor, same, _zero_grads, "largest integer <= x",
         emit=_e_rounding("floor")),
    _row("ceil", 1, np.ceil, same, _zero_grads, "smallest integer >= x",
         emit=_e_rounding("ceil")),
    _row("round", 1, _round_half_even, same, _zero_grads, "round half to even (NumPy)",
         emit=_e_rounding("rint")),
    _row("trunc", 1, np.trunc, same, _zero_grads, "round towards zero",
         emit=_e_rounding("trunc")),
    # comparisons and predicates
    _row("eq", 2, np.equal, to_bool, _zero_grads, "x == y", commutative=True,
         emit=_e_compare("==")),
    _row("neq", 2, np.not_equal, to_bool, _zero_grads, "x != y", commutative=True,
         emit=_e_compare("!=")),
    _row("lt", 2, np.less, to_bool, _zero_grads, "x < y",
         emit=_e_compare("<")),
    _row("le", 2, np.less_equal, to_bool, _zero_grads, "x <= y",
         emit=_e_compare("<=")),
    _row("gt", 2, np.greater, to_bool, _zero_grads, "x > y",
         emit=_e_compare(">")),
    _row("ge", 2, np.greater_equal, to_bool, _zero_grads, "x >= y",
         emit=_e_compare(">=")),
    _row("isnan", 1, np.isnan, to_bool, _zero_grads, "x is NaN",
         emit=_e_isnan),
    _row("isinf", 1, np.isinf, to_bool, _zero_grads, "x is +-inf",
         emit=_e_isinf),
    # logic and bits (bool and integers only)
    _row("and_", 2, np.bitwise_and, same_or_bool, None, "bitwise/logical and",
         input_kinds="biu", commutative=True, associative=True,
         emit=lambda e, x, y: e.and_(x, y)),
    _row("or_", 2, np.bitwise_or, same_or_bool, None, "bitwise/logical or",
         input_kinds="biu", commutative=True, associative=True,
         emit=lambda e, x, y: e.or_(x, y)),
    _row("xor", 2, np.bitwise_xor, same_or_bool, None, "bitwise/logical xor",
         input_kinds="biu", commutative=True, associative=True,
         emit=lambda e, x, y: e.xor(x, y)),
    _row("invert", 1, np.invert, same_or_bool, None, "bitwise not (logical not for bool)",
         input_kinds="biu",
         emit=lambda e, x: e.invert(x)),
    # selection and plumbing
    _row("switch", 3, _switch, same_or_bool,
         lambda xs, z, g: [None, switch(xs[0], g, zeros_like_grad(g)),
                           switch(xs[0], zeros_like_grad(g), g)],
         "where(cond, x, y): x where cond is true, else y", skip_promotion=1,
         emit=lambda e, c, x, y: e.select(c, x, y)),
    _row("second", 2, _second, same_or_bool, lambda xs, z, g: [None, g],
         "y broadcast to the shape of x (Theano's fill)", skip_promotion=1,
         emit=lambda e, x, y: y),
    _row("identity", 1, lambda x: np.array(x, copy=True), same_or_bool,
         lambda xs, z, g: [g], "a copy of x",
         emit=lambda e, x: x),
)

TABLE: dict[str, ScalarOp] = {row.name: row for row in SCALAR_OPS}


@functools.cache
def cast_scalar_op(dtype: str) -> ScalarOp:
    """The table row casting to ``dtype`` (one row per target dtype)."""
    target = dt.canonical(dtype)

    def grad(xs: list[Any], z: Any, g: Any) -> list[Any]:
        if dt.is_float(xs[0].dtype) and dt.is_float(target):
            return [cast(g, xs[0].dtype)]
        return [None]

    return ScalarOp(f"cast{{{target}}}", 1, lambda x: x.astype(target), lambda _: target, grad,
                    emit=lambda e, x: e.cast(x, target), doc=f"conversion to {target}",
                    params=(target,))


SCALAR_OP_FACTORIES["cast"] = cast_scalar_op


# ---------------------------------------------------------------------------------------------
# The Elemwise op
# ---------------------------------------------------------------------------------------------

class Elemwise(Op):
    """Maps a scalar op over arrays, with Theano broadcasting.

    Parameters
    ----------
    scalar_op : ScalarOp
        The table row.
    inplace_pattern : tuple of (output, input) pairs
        Outputs written into an input's buffer (set by the inplace rewrite).

    Raises
    ------
    TypeError
        From ``make_node``: wrong number of inputs, or an input dtype the row does not accept.
    ValueError
        From ``make_node``: static shapes that cannot broadcast; from ``perform``: a runtime
        shape mismatch, including a size-1 dimension that was not declared broadcastable.
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op: ScalarOp, inplace_pattern: tuple[tuple[int, int], ...] = ()):
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(inplace_pattern)
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}

    def __str__(self) -> str:
        suffix = "_inplace" if self.inplace_pattern else ""
        return f"Elemwise{{{self.scalar_op.name}{suffix}}}"

    def make_node(self, *inputs: Any) -> Apply:
        row = self.scalar_op
        if row.nin >= 0 and len(inputs) != row.nin:
            raise TypeError(f"{row.name} takes {row.nin} inputs, got {len(inputs)}")
        if not inputs:
            raise TypeError(f"{row.name} needs at least one input")
        variables = _promote_inputs(row, inputs)
        variables = pad_ranks(variables)
        try:
            out_shape = broadcast_static_shapes(*[v.type.shape for v in variables])
        except ValueError as err:
            raise ValueError(f"{row.name}: {err}") from err
        common = variables[-1].type.dtype if row.skip_promotion else variables[0].type.dtype
        out_type = TensorType(row.output_dtype(common), out_shape)
        return Apply(self, variables, [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        check_runtime_broadcast(node, inputs)
        result = apply_scalar_op(self.scalar_op, node.outputs[0].dtype, inputs)
        if self.inplace_pattern:
            target = inputs[self.inplace_pattern[0][1]]
            if isinstance(target, np.ndarray) and target.shape == result.shape and \
                    target.dtype == result.dtype:
                target[...] = result
                result = target
        output_storage[0][0] = result

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [broadcast_dims(node.inputs, input_shapes, node.outputs[0].type.shape)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        return self.input_grads(inputs, outputs, output_grads)

    def input_grads(self, inputs: Sequence[Any], outputs: Sequence[Any],
                    output_grads: Sequence[Any], wanted: Sequence[int] | None = None
                    ) -> list[Any]:
        """``L_op`` for the inputs at the positions in ``wanted`` only (all when None);
        ``None`` for the others. ``grad`` asks for the gradients it uses: summing the others
        over their broadcast axes would build nodes for nothing (constants' gradients)."""
        row = self.scalar_op
        out, gz = outputs[0], output_grads[0]
        if dt.is_discrete(out.dtype) or row.grad is None:
            return [zeros_like_grad(x) if dt.is_float(x.dtype) and
                    (wanted is None or i in wanted) else None for i, x in enumerate(inputs)]
        grads = row.grad(list(inputs), out, gz)
        return [None if g is None or not dt.is_float(x.dtype) or
                (wanted is not None and i not in wanted) else _reduce_to_input(g, x)
                for i, (g, x) in enumerate(zip(grads, inputs))]


def _promote_inputs(row: ScalarOp, inputs: Sequence[Any]) -> list[Any]:
    """Convert inputs to tensor variables, casting weak constants to the promoted dtype."""
    variables = [x if isinstance(x, Variable) and isinstance(x.type, TensorType)
                 else as_tensor_variable(x) for x in inputs]
    kinds, skip = row.input_kinds, row.skip_promotion
    kind = dt.KIND
    for i, v in enumerate(variables):
        if i >= skip and kind[v.type.dtype] not in kinds:
            raise TypeError(
                f"{row.name}: input {i} ({v}) has dtype {v.dtype}; {row.name} accepts only "
                f"{_kind_names(row.input_kinds)}"
            )
    if not skip:
        # The common case, first: no Python scalar and one dtype, so nothing to promote.
        dtype = variables[0].type.dtype
        for v in variables:
            if v.type.dtype != dtype or _is_weak(v):
                break
        else:
            _check_promoted(row, dtype)
            return variables
    head, tail = variables[:skip], variables[skip:]
    if not tail:
        return variables
    strong = [v.type.dtype for v in tail if not _is_weak(v)]
    if len(strong) == len(tail):  # no Python scalar among the inputs
        common = strong[0] if len(strong) == 1 else dt.upcast(*strong)
    elif strong:
        common = dt.upcast(*strong, *[v.data.item() for v in tail if _is_weak(v)])
    else:
        common = dt.upcast(*[v.type.dtype for v in tail])
    _check_promoted(row, common)
    if len(strong) != len(tail):
        tail = [constant(v.data, dtype=common) if _is_weak(v) and v.type.dtype != common else v
                for v in tail]
    if row.name != "second" and strong and any(v.type.dtype != common for v in tail):
        tail = [cast(v, common) if v.type.dtype != common else v for v in tail]
    return head + tail if head else tail


def apply_scalar_op(row: ScalarOp, out_dtype: str, arrays: Sequence[Any]) -> np.ndarray:
    """Evaluate one table row on arrays with NumPy, producing ``out_dtype`` (the reference)."""
    if row.output_dtype in (same, to_float):
        compute = dt.compute_dtype(out_dtype)
        arrays = [np.asarray(x, dtype=compute) for x in arrays]
    with np.errstate(all="ignore"):
        result = _float16_safe(row.impl)(*arrays)
    return np.asarray(result, dtype=out_dtype)


def _check_promoted(row: ScalarOp, common: str) -> None:
    kind = dt.KIND[common]
    if kind in row.input_kinds and kind in row.promoted_kinds:
        return
    accepted = "".join(k for k in row.promoted_kinds if k in row.input_kinds)
    hint = (f"; NumPy has no boolean {row.name} either (use xor, or cast to an integer dtype)"
            if common == "bool" else "")
    raise TypeError(f"{row.name}: inputs of dtype {common} are not accepted; {row.name} "
                    f"computes in {_kind_names(accepted)} only{hint}")


def _is_weak(v: Any) -> bool:
    return isinstance(v, TensorConstant) and v.weak


def _kind_names(kinds: str) -> str:
    names = {"b": "bool", "i": "signed integers", "u": "unsigned integers", "f": "floats"}
    return ", ".join(names[k] for k in kinds)


def broadcast_dims(inputs: Sequence[Any], input_shapes: Sequence[Sequence[Any]],
                   static: Sequence[int | None]) -> tuple[Any, ...]:
    """Symbolic shape of the broadcast of rank-aligned ``inputs`` (static shape ``static``).

    A dimension is its static length when known, else the length of the first input that is
    not broadcast there (under the static-1 rule all such inputs agree at run time).
    """
    dims: list[Any] = []
    for axis, known in enumerate(static):
        if known is not None:
            dims.append(known)
            continue
        for var, shape in zip(inputs, input_shapes):
            if var.type.shape[axis] != 1:
                dims.append(shape[axis])
                break
        else:
            dims.append(1)
    return tuple(dims)


def pad_ranks(variables: Sequence[Any]) -> list[Any]:
    """Inputs padded on the left with broadcastable dimensions to the highest rank."""
    ranks = [len(v.type.shape) for v in variables]
    rank = builtins.max(ranks)
    if builtins.min(ranks) == rank:
        return list(variables)
    return [v if r == rank else dimshuffle(v, ("x",) * (rank - r) + tuple(range(r)))
            for v, r in zip(variables, ranks)]


def check_runtime_broadcast(node: Apply, inputs: Sequence[Any]) -> None:
    shapes = [np.shape(x) for x in inputs]
    rank = node.outputs[0].type.ndim
    for axis in range(rank):
        sizes = {s[axis] for v, s in zip(node.inputs, shapes) if v.type.shape[axis] != 1}
        if len(sizes) > 1:
            raise ValueError(
                f"input shapes {shapes} do not match on axis {axis}; only dimensions declared "
                f"broadcastable (static shape 1) broadcast"
            )


def _reduce_to_input(g: Any, x: Any) -> Any:
    """Sum ``g`` over the axes where ``x`` was broadcast, and cast it to ``x``'s dtype."""
    axes = tuple(i for i, (xs, gs) in enumerate(zip(x.type.shape, g.type.shape))
                 if xs == 1 and gs != 1)
    if axes:
        g = reduce.sum(g, axis=axes, keepdims=True)
    if g.dtype != x.dtype:
        g = cast(g, x.dtype)
    return g


# ---------------------------------------------------------------------------------------------
# DimShuffle
# ---------------------------------------------------------------------------------------------

class DimShuffle(Op):
    """Reorder, drop and insert dimensions: Theano's ``dimshuffle`` (a view of the input).

    ``new_order`` lists, for each output dimension, the input dimension it takes or ``'x'``
    for a new broadcastable dimension. Input dimensions left out must have length 1 (checked
    at run time when the static shape does not say so).
    """

    __props__ = ("input_ndim", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_ndim: int, new_order: Sequence[int | str]) -> None:
        self.input_ndim = int(input_ndim)
        self.new_order = tuple(o if o == "x" else int(o) for o in new_order)
        kept = [o for o in self.new_order if o != "x"]
        if len(set(kept)) != len(kept) or builtins.any(
                not 0 <= o < self.input_ndim for o in kept):
            raise ValueError(f"invalid dimshuffle pattern {new_order} for {input_ndim} dims")
        self.kept = tuple(kept)
        self.dropped = tuple(i for i in range(self.input_ndim) if i not in kept)

    def __str__(self) -> str:
        return "DimShuffle{" + ",".join(str(o) for o in self.new_order) + "}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self}: expected a {self.input_ndim}-d input, got {x.ndim}-d {x}")
        for axis in self.dropped:
            if x.type.shape[axis] not in (1, None):
                raise ValueError(f"{self}: cannot drop dimension {axis} of static length "
                                 f"{x.type.shape[axis]}")
        shape = tuple(1 if o == "x" else x.type.shape[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        for axis in self.dropped:
            if x.shape[axis] != 1:
                raise ValueError(f"{self}: dimension {axis} of an input of shape {x.shape} "
                                 f"has length {x.shape[axis]}, not 1, and cannot be dropped")
        view = x.transpose(self.kept + self.dropped).reshape(
            [x.shape[o] for o in self.kept])
        out_shape = [1 if o == "x" else x.shape[o] for o in self.new_order]
        output_storage[0][0] = view.reshape(out_shape)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        (shape,) = input_shapes
        return [tuple(1 if o == "x" else shape[o] for o in self.new_order)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (gz,) = inputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        # Position of each input dimension among the output's kept dimensions.
        kept_positions = [i for i, o in enumerate(self.new_order) if o != "x"]
        squeezed = dimshuffle(gz, tuple(kept_positions)) if len(kept_positions) != gz.ndim \
            else gz
        order: list[int | str] = []
        for axis in range(self.input_ndim):
            order.append(self.kept.index(axis) if axis in self.kept else "x")
        return [dimshuffle(squeezed, tuple(order))]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


def dimshuffle(x: Any, pattern: Sequence[int | str]) -> Any:
    """Theano's ``x.dimshuffle(*pattern)``; returns ``x`` itself for the identity pattern."""
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    ndim = len(x.type.shape)
    if pattern == tuple(range(ndim)):
        return x
    return _dimshuffle_op(ndim, pattern)(x)


@functools.lru_cache(maxsize=1024)
def _dimshuffle_op(ndim: int, pattern: tuple[int | str, ...]) -> DimShuffle:
    # Ops are values: one instance per pattern saves re-validating it on every call.
    return DimShuffle(ndim, pattern)


# ---------------------------------------------------------------------------------------------
# Public functions: one per row
# ---------------------------------------------------------------------------------------------

@functools.cache
def elemwise_op(name: str) -> Elemwise:
    return Elemwise(TABLE[name])


def _make_function(row: ScalarOp) -> Callable[..., Any]:
    op = elemwise_op(row.name)

    def function(*inputs: Any) -> Any:
        return op(*inputs)

    function.__name__ = row.name
    function.__qualname__ = row.name
    arity = "any number of" if row.nin < 0 else str(row.nin)
    function.__doc__ = (f"Elementwise {row.doc}.\n\nTakes {arity} tensors (or numbers) that "
                        f"broadcast together; returns a tensor of the broadcast shape.")
    return function


add = _make_function(TABLE["add"])
sub = _make_function(TABLE["sub"])
mul = _make_function(TABLE["mul"])
true_divide = _make_function(TABLE["true_divide"])
int_div = _make_function(TABLE["int_div"])
mod = _make_function(TABLE["mod"])
pow = _make_function(TABLE["pow"])
neg = _make_function(TABLE["neg"])
abs = _make_function(TABLE["abs"])
sign = _make_function(TABLE["sign"])
sqr = _make_function(TABLE["sqr"])
reciprocal = _make_function(TABLE["reciprocal"])
maximum = _make_function(TABLE["maximum"])
minimum = _make_function(TABLE["minimum"])
exp = _make_function(TABLE["exp"])
exp2 = _make_function(TABLE["exp2"])
expm1 = _make_function(TABLE["expm1"])
log = _make_function(TABLE["log"])
log2 = _make_function(TABLE["log2"])
log10 = _make_function(TABLE["log10"])
log1p = _make_function(TABLE["log1p"])
sqrt = _make_function(TABLE["sqrt"])
sin = _make_function(TABLE["sin"])
cos = _make_function(TABLE["cos"])
tan = _make_function(TABLE["tan"])
arcsin = _make_function(TABLE["arcsin"])
arccos = _make_function(TABLE["arccos"])
arctan = _make_function(TABLE["arctan"])
arctan2 = _make_function(TABLE["arctan2"])
sinh = _make_function(TABLE["sinh"])
cosh = _make_function(TABLE["cosh"])
tanh = _make_function(TABLE["tanh"])
arcsinh = _make_function(TABLE["arcsinh"])
arccosh = _make_function(TABLE["arccosh"])
arctanh = _make_function(TABLE["arctanh"])
erf = _make_function(TABLE["erf"])
erfc = _make_function(TABLE["erfc"])
sigmoid = _make_function(TABLE["sigmoid"])
softplus = _make_function(TABLE["softplus"])
relu = _make_function(TABLE["relu"])
floor = _make_function(TABLE["floor"])
ceil = _make_function(TABLE["ceil"])
round = _make_function(TABLE["round"])
trunc = _make_function(TABLE["trunc"])
eq = _make_function(TABLE["eq"])
neq = _make_function(TABLE["neq"])
lt = _make_function(TABLE["lt"])
le = _make_function(TABLE["le"])
gt = _make_function(TABLE["gt"])
ge = _make_function(TABLE["ge"])
isnan = _make_function(TABLE["isnan"])
isinf = _make_function(TABLE["isinf"])
and_ = _make_function(TABLE["and_"])
or_ = _make_function(TABLE["or_"])
xor = _make_function(TABLE["xor"])
invert = _make_function(TABLE["invert"])
switch = _make_function(TABLE["switch"])
second = _make_function(TABLE["second"])
identity = _make_function(TABLE["identity"])

square = sqr
where = switch
fill = second
floor_divide = int_div
divide = true_divide
equal, not_equal, less, less_equal, greater, greater_equal = eq, neq, lt, le, gt, ge
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
logical_not = invert


def clip(x: Any, a_min: Any, a_max: Any) -> Any:
    """Elementwise ``min(max(x, a_min), a_max)``; dtypes promote as in NumPy."""
    x = as_tensor_variable(x)
    return elemwise_op("clip")(x, a_min, a_max)


def cast(x: Any, dtype: Any) -> Any:
    """``x`` converted elementwise to ``dtype`` (NumPy ``astype`` semantics).

    Raises
    ------
    TypeError
        For an unsupported dtype.
    """
    x = as_tensor_variable(x)
    target = dt.canonical(dtype)
    if x.dtype == target:
        return x
    return Elemwise(cast_scalar_op(target))(x)


def zeros_like(x: Any, dtype: Any = None) -> Any:
    """A tensor of zeros with ``x``'s shape and dtype (or ``dtype``)."""
    x = as_tensor_variable(x)
    return second(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: Any = None) -> Any:
    """A tensor of ones with ``x``'s shape and dtype (or ``dtype``)."""
    x = as_tensor_variable(x)
    return second(x, constant(1, dtype=dtype or x.dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    x = as_tensor_variable(x)
    return second(x, constant(fill_value, dtype=dtype or x.dtype))


def is_elemwise(var: Variable, name: str | None = None) -> bool:
    """True when ``var`` is computed by an Elemwise (of row ``name``, if given)."""
    node = var.owner
    return node is not None and isinstance(node.op, Elemwise) and (
        name is None or node.op.scalar_op.name == name)
