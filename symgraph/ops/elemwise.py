"""Elementwise ops: the scalar-op table, the ``Elemwise`` op that maps a row over arrays,
``DimShuffle``, and the public elementwise functions (``add``, ``exp``, ``switch``, ...), which
are generated from the table with their docstrings (``elemwise_doc``); the rows' kernel rules
are in ``emit_rules``.

Broadcasting follows Theano: a dimension broadcasts only when its static shape is 1; lower-rank
inputs are padded on the left with broadcastable dimensions. Python scalars are weak (NEP 50).
"""

from __future__ import annotations

import builtins
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops import elemwise_doc
from symgraph.ops import emit_rules as er
from symgraph.ops.basic import TensorConstant, as_tensor_variable, constant
from symgraph.type import TensorType, broadcast_static_shapes

GradRule = Callable[[list[Any], Any, Any], list[Any]]

# Threading weight of a row that calls a math function (exp, sin, ...): about as long as this
# many arithmetic instructions per element.
MATH_COST = 8
KINDS = ("compute", "cast", "fill", "identity")


@dataclass(frozen=True)
class DtypeRule:
    """How a row's output dtype follows from its inputs' common (promoted) dtype, and which
    dtype its scalar code computes in (see ``compute_dtypes``)."""

    name: str
    output: Callable[[str], str]
    computes_in_output: bool
    doc: str = ""

    def __call__(self, dtype: str) -> str:
        return self.output(dtype)


same = DtypeRule("same", lambda d: "int8" if d == "bool" else d, True,
                 "the inputs' dtype; bool computes in int8 (Theano's rule)")
same_dtype = DtypeRule("same_dtype", lambda d: d, False,
                       "the inputs' dtype, bool included")
to_float = DtypeRule("to_float", dt.upgrade_to_float, True,
                     "floats keep their dtype; bool, int8, int16, uint8 and uint16 give "
                     "float32, wider integers float64")
to_bool = DtypeRule("to_bool", lambda d: "bool", False, "bool")


@dataclass(frozen=True, eq=False)
class ScalarOp:
    """One row of the elementwise table: everything about a scalar op, in one place.

    Attributes
    ----------
    name : str
        Unique name; rows compare and hash by it. The public function has this name.
    nin : int
        Number of inputs; ``-1`` for variadic (``add``, ``mul``).
    impl : callable
        The NumPy function computing the row on arrays (the reference).
    output_dtype : DtypeRule
        Output dtype from the common (promoted) input dtype, and the dtype the row computes
        in; a plain function ``dtype -> dtype`` is taken as a rule computing in the inputs'
        dtype.
    grad : str, callable or None
        The gradient: an expression per input in terms of the inputs (named by ``args``),
        the output ``out`` and the output's gradient ``g``, over the public functions
        (``"g * cos(x)"``; several inputs: ``"g, -g"``; ``None`` where no gradient flows);
        or ``grad(inputs, output, g) -> [gradient per input]`` whose docstring's first
        line describes it; ``None`` for rows of integers and bools.
    emit : callable or None
        The kernel rule ``emit(e, *xs)`` against the backend-neutral ``Emitter``, used by
        the LLVM and CUDA code generators alike (symgraph.ops.emit_rules).
    doc, args, domain, reference : str
        The definition, the parameter names (default ``x`` or ``x, y``), the inputs where it
        is defined and what happens elsewhere, and the function it matches: the generated
        docstring is written from them.
    kind : str
        ``"cast"``, ``"fill"`` (``second``: ``y`` broadcast to ``x``'s shape),
        ``"identity"`` (a copy), else ``"compute"``: what rewrites may assume.
    cost : int
        Work per element beyond simple arithmetic (``MATH_COST`` for a math function): it
        weights the decision to run a kernel on several threads.
    positive : bool
        The output is > 0 wherever it is defined (so ``x / x`` is 1).
    perform_only : str
        Why no backend compiles the row (it then runs ``perform``, and says so); empty for
        every row of the table.
    input_kinds : str
        NumPy dtype kinds accepted (``'biuf'``); others raise ``TypeError``.
    promoted_kinds : str
        NumPy dtype kinds the promoted (common) input dtype may have; others raise
        ``TypeError``. ``sub`` excludes bool, as NumPy does: ``bool - int8`` is accepted,
        ``bool - bool`` is not.
    skip_promotion : int
        How many leading inputs keep their own dtype (``switch``'s condition).
    params : tuple
        Values the row is built from (a cast's target dtype, a constant's value).
    """

    name: str
    nin: int
    impl: Callable[..., Any]
    output_dtype: Callable[[str], str]
    grad: str | GradRule | None = None
    emit: Callable[..., Any] | None = None
    doc: str = ""
    args: tuple[str, ...] = ()
    domain: str = ""
    reference: str = ""
    kind: str = "compute"
    cost: int = 0
    positive: bool = False
    perform_only: str = ""
    input_kinds: str = "biuf"
    promoted_kinds: str = "biuf"
    skip_promotion: int = 0
    params: tuple[Any, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.output_dtype, DtypeRule):
            rule = self.output_dtype
            object.__setattr__(self, "output_dtype",
                               DtypeRule(getattr(rule, "__name__", "custom"), rule, False))
        if not self.args:
            count = 2 if self.nin < 0 else self.nin
            object.__setattr__(self, "args", ("x", "y", "z")[:count] if count <= 3 else
                               tuple(f"x{i}" for i in range(count)))
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.nin < 0 and isinstance(self.grad, str):
            raise ValueError(f"{self.name}: a variadic row's gradient must be a function")
        if not self.reference and isinstance(self.impl, np.ufunc):
            object.__setattr__(self, "reference", f"numpy.{self.impl.__name__}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScalarOp) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("ScalarOp", self.name))

    def __str__(self) -> str:
        return self.name

    def gradient(self, inputs: Sequence[Any], output: Any, output_grad: Any) -> list[Any]:
        """The gradient rule applied: one expression (or None) per input."""
        if isinstance(self.grad, str):
            names = dict(zip(self.args, inputs), out=output, g=output_grad)
            value = eval(_gradient_code(self.grad), _GRADIENT_NAMESPACE, names)
            return list(value) if isinstance(value, tuple) else [value]
        assert self.grad is not None
        return self.grad(list(inputs), output, output_grad)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Rows hold lambdas and closures: a pickle names the row, and loading looks it up (or
        # remakes a parametrised one) here, so no function is pickled by value.
        return (scalar_op_named, (self.name, self.params))


# Rows that users defined with ``sg.scalar_op`` (symgraph.ops.custom), by name: unpickling finds
# them here, and the function cache leaves graphs holding them out.
USER_ROWS: dict[str, "ScalarOp"] = {}

# Makers of parametrised rows by name prefix (``cast{float32}`` -> "cast"); modules that make
# such rows register here (composite.py: "constant"), so that pickled rows can be remade.
SCALAR_OP_FACTORIES: dict[str, Callable[..., "ScalarOp"]] = {}


def scalar_op_named(name: str, params: tuple[Any, ...] = ()) -> "ScalarOp":
    """The table row called ``name``, or the parametrised row it names (what unpickling a
    ``ScalarOp`` calls).

    Raises
    ------
    ValueError
        For a name that is neither a row (of the table or defined by ``sg.scalar_op`` in this
        process) nor made by a registered factory.
    """
    if name in TABLE:
        return TABLE[name]
    if name in USER_ROWS:
        return USER_ROWS[name]
    factory = SCALAR_OP_FACTORIES.get(name.partition("{")[0])
    if factory is None:
        raise ValueError(f"no elementwise scalar op is called {name!r}")
    return factory(*params)


@functools.cache
def _gradient_code(text: str) -> Any:
    # Written in the table, like PyTorch's derivatives.yaml: compiled once, on first use.
    return compile(text, f"<gradient {text}>", "eval")


def compute_dtypes(row: ScalarOp, arg_dtypes: Sequence[str],
                   out_dtype: str) -> tuple[str, list[str]]:
    """``(compute dtype, dtype each argument is converted to)`` of one application of
    ``row``: the one rule the NumPy reference and both code generators follow.

    Rows whose dtype rule computes in the output's dtype (arithmetic, float functions) do so
    in its compute dtype (float16 in float32); the others (comparisons, selections, casts,
    bitwise logic) in their inputs' common dtype, float16 likewise widened to float32, and
    leading inputs exempt from promotion (``switch``'s condition) in their own.
    """
    if row.output_dtype.computes_in_output:  # type: ignore[attr-defined]
        compute = dt.compute_dtype(out_dtype)
        return compute, [compute] * len(arg_dtypes)
    skip = row.skip_promotion
    common = dt.compute_dtype(arg_dtypes[-1] if arg_dtypes else out_dtype)
    wanted = [dt.compute_dtype(d) if i < skip else common for i, d in enumerate(arg_dtypes)]
    return common, wanted


# -- helpers of the gradient rules -------------------------------------------------------------
def zeros_like_grad(x: Any) -> Any:
    return elemwise_op("second")(x, constant(0.0, dtype=x.dtype) if dt.is_float(x.dtype)
                                 else 0.0)


def _zero_grads(inputs: list[Any], output: Any, g: Any) -> list[Any]:
    """0: the function is piecewise constant."""
    return [zeros_like_grad(x) if dt.is_float(x.dtype) else None for x in inputs]


def _add_grads(inputs: list[Any], output: Any, g: Any) -> list[Any]:
    """``g`` for every input."""
    return [g for _ in inputs]


def _mul_grads(inputs: list[Any], output: Any, g: Any) -> list[Any]:
    """``g`` times the product of the other inputs, for each input."""
    mul = elemwise_op("mul")
    return [mul(g, *[y for j, y in enumerate(inputs) if j != i]) for i in range(len(inputs))]


# -- NumPy functions the table computes with ---------------------------------------------------
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


def _clip(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, lo), hi)


def _second(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)).copy()


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.zeros((), dtype=x.dtype))


LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
ANY_REAL = "every real number; NaN gives NaN"
UNIT_INTERVAL = "-1 <= x <= 1 (NaN outside)"

# The table. Gradients are expressions over the public functions (see ``ScalarOp.grad``).
SCALAR_OPS: tuple[ScalarOp, ...] = (
    # arithmetic
    ScalarOp("add", -1, lambda *xs: functools.reduce(np.add, xs), same_dtype, _add_grads,
             er.fold("add"), "sum ``x + y + ...`` (logical or of bools)",
             reference="numpy.add"),
    ScalarOp("sub", 2, np.subtract, same, "g, -g", lambda e, x, y: e.sub(x, y),
             "difference ``x - y``", promoted_kinds="iuf"),
    ScalarOp("mul", -1, lambda *xs: functools.reduce(np.multiply, xs), same_dtype, _mul_grads,
             er.fold("mul"), "product ``x * y * ...`` (logical and of bools)",
             reference="numpy.multiply"),
    ScalarOp("true_divide", 2, np.true_divide, to_float, "g / y, -g * x / sqr(y)",
             lambda e, x, y: e.div(x, y), "quotient ``x / y`` (a float)",
             domain="y != 0; x / 0 is +-inf, 0 / 0 NaN (IEEE)"),
    ScalarOp("int_div", 2, np.floor_divide, same, _zero_grads, er.floor_divide,
             "floor quotient ``floor(x / y)`` (Python's ``//``)",
             domain="y != 0; integers give 0 for y == 0, as NumPy"),
    ScalarOp("mod", 2, np.mod, same, "g, -g * int_div(x, y)", er.remainder,
             "remainder ``x - y * floor(x / y)``, with the sign of y (Python's ``%``)",
             domain="y != 0; integers give 0 for y == 0, as NumPy"),
    ScalarOp("pow", 2, np.power, same, "g * y * x ** (y - 1), g * out * log(x)", er.power,
             "power ``x ** y``", cost=MATH_COST,
             domain="floats: x >= 0 unless y is whole (NaN otherwise); integers: y >= 0, a "
                    "negative exponent raises ValueError, as NumPy"),
    ScalarOp("neg", 1, np.negative, same, "-g", lambda e, x: e.neg(x), "negation ``-x``",
             domain=ANY_REAL),
    ScalarOp("abs", 1, np.abs, same, "g * sign(x)", er.absolute, "absolute value ``|x|``",
             domain=ANY_REAL, reference="numpy.absolute"),
    ScalarOp("sign", 1, np.sign, same, _zero_grads, er.sign, "sign: -1, 0 or 1",
             domain=ANY_REAL),
    ScalarOp("sqr", 1, np.square, same, "g * 2.0 * x", lambda e, x: e.mul(x, x),
             "square ``x * x``", domain=ANY_REAL),
    ScalarOp("reciprocal", 1, lambda x: 1.0 / x, to_float, "-g * sqr(out)",
             lambda e, x: e.div(e.constant(1), x), "reciprocal ``1 / x``",
             domain="x != 0; 1 / 0 is inf", reference="numpy.reciprocal"),
    ScalarOp("maximum", 2, np.maximum, same_dtype, "g * eq(out, x), g * eq(out, y)",
             er.maximum, "larger of x and y; at ties both inputs get the gradient (Theano)",
             domain="every pair; a NaN input gives NaN"),
    ScalarOp("minimum", 2, np.minimum, same_dtype, "g * eq(out, x), g * eq(out, y)",
             er.minimum, "smaller of x and y; at ties both inputs get the gradient (Theano)",
             domain="every pair; a NaN input gives NaN"),
    ScalarOp("clip", 3, _clip, same_dtype,
             "g * and_(ge(x, a_min), le(x, a_max)), g * lt(x, a_min), g * gt(x, a_max)",
             er.clip, "``min(max(x, a_min), a_max)``; at a bound x gets the gradient (Theano)",
             args=("x", "a_min", "a_max"), domain="every input; a NaN input gives NaN",
             reference="numpy.clip"),
    # exponentials and logarithms
    ScalarOp("exp", 1, np.exp, to_float, "g * out", er.call("exp"), "exponential ``e ** x``",
             cost=MATH_COST, positive=True, domain=ANY_REAL + "; overflows to inf"),
    ScalarOp("exp2", 1, np.exp2, to_float, "g * out * LN2", er.call("exp2"), "``2 ** x``",
             cost=MATH_COST, positive=True, domain=ANY_REAL + "; overflows to inf"),
    ScalarOp("expm1", 1, np.expm1, to_float, "g * (out + 1.0)", er.call("expm1"),
             "``e ** x - 1``, accurate near 0", cost=MATH_COST, domain=ANY_REAL),
    ScalarOp("log", 1, np.log, to_float, "g / x", er.call("log"), "natural logarithm",
             cost=MATH_COST, domain="x >= 0; log(0) is -inf, negative x give NaN"),
    ScalarOp("log2", 1, np.log2, to_float, "g / (x * LN2)", er.call("log2"), "base-2 logarithm",
             cost=MATH_COST, domain="x >= 0; log2(0) is -inf, negative x give NaN"),
    ScalarOp("log10", 1, np.log10, to_float, "g / (x * LN10)", er.call("log10"),
             "base-10 logarithm", cost=MATH_COST,
             domain="x >= 0; log10(0) is -inf, negative x give NaN"),
    ScalarOp("log1p", 1, np.log1p, to_float, "g / (x + 1.0)", er.call("log1p"),
             "``log(1 + x)``, accurate near 0", cost=MATH_COST,
             domain="x >= -1; log1p(-1) is -inf, smaller x give NaN"),
    ScalarOp("sqrt", 1, np.sqrt, to_float, "g * 0.5 / out", er.call("sqrt"), "square root",
             domain="x >= 0 (NaN below)"),
    ScalarOp("cbrt", 1, np.cbrt, to_float, "g / (3.0 * sqr(out))", er.call("cbrt"),
             "cube root", cost=MATH_COST, domain=ANY_REAL + "; the gradient is inf at 0"),
    # trigonometric and hyperbolic
    ScalarOp("sin", 1, np.sin, to_float, "g * cos(x)", er.call("sin"), "sine",
             cost=MATH_COST, domain="finite x; +-inf give NaN"),
    ScalarOp("cos", 1, np.cos, to_float, "-g * sin(x)", er.call("cos"), "cosine",
             cost=MATH_COST, domain="finite x; +-inf give NaN"),
    ScalarOp("tan", 1, np.tan, to_float, "g * (sqr(out) + 1.0)", er.call("tan"), "tangent",
             cost=MATH_COST, domain="finite x; +-inf give NaN"),
    ScalarOp("arcsin", 1, np.arcsin, to_float, "g / sqrt(1.0 - sqr(x))", er.call("arcsin"),
             "inverse sine", cost=MATH_COST, domain=UNIT_INTERVAL),
    ScalarOp("arccos", 1, np.arccos, to_float, "-g / sqrt(1.0 - sqr(x))", er.call("arccos"),
             "inverse cosine", cost=MATH_COST, domain=UNIT_INTERVAL),
    ScalarOp("arctan", 1, np.arctan, to_float, "g / (sqr(x) + 1.0)", er.call("arctan"),
             "inverse tangent", cost=MATH_COST, domain=ANY_REAL),
    ScalarOp("arctan2", 2, np.arctan2, to_float,
             "g * x / (sqr(y) + sqr(x)), -g * y / (sqr(y) + sqr(x))", er.call("arctan2"),
             "angle of the point (x, y) from the positive x axis, in [-pi, pi]",
             args=("y", "x"), cost=MATH_COST, domain="every pair; arctan2(0, 0) is 0"),
    ScalarOp("sinh", 1, np.sinh, to_float, "g * cosh(x)", er.call("sinh"), "hyperbolic sine",
             cost=MATH_COST, domain=ANY_REAL + "; overflows to +-inf"),
    ScalarOp("cosh", 1, np.cosh, to_float, "g * sinh(x)", er.call("cosh"),
             "hyperbolic cosine", cost=MATH_COST, positive=True,
             domain=ANY_REAL + "; overflows to inf"),
    ScalarOp("tanh", 1, np.tanh, to_float, "g * (1.0 - sqr(out))", er.call("tanh"),
             "hyperbolic tangent", cost=MATH_COST, domain=ANY_REAL),
    ScalarOp("arcsinh", 1, np.arcsinh, to_float, "g / sqrt(sqr(x) + 1.0)", er.call("arcsinh"),
             "inverse hyperbolic sine", cost=MATH_COST, domain=ANY_REAL),
    ScalarOp("arccosh", 1, np.arccosh, to_float, "g / sqrt(sqr(x) - 1.0)", er.call("arccosh"),
             "inverse hyperbolic cosine", cost=MATH_COST, domain="x >= 1 (NaN below)"),
    ScalarOp("arctanh", 1, np.arctanh, to_float, "g / (1.0 - sqr(x))", er.call("arctanh"),
             "inverse hyperbolic tangent", cost=MATH_COST,
             domain="-1 <= x <= 1; +-1 give +-inf, NaN outside"),
    # special functions
    ScalarOp("erf", 1, _erf, to_float, "g * TWO_OVER_SQRT_PI * exp(-sqr(x))", er.call("erf"),
             "error function ``2 / sqrt(pi) * integral of exp(-t**2) from 0 to x``",
             cost=MATH_COST, domain=ANY_REAL,
             reference="scipy.special.erf; Abramowitz and Stegun, Handbook of Mathematical "
                       "Functions (1964), 7.1.1"),
    ScalarOp("erfc", 1, _erfc, to_float, "-g * TWO_OVER_SQRT_PI * exp(-sqr(x))",
             er.call("erfc"), "complementary error function ``1 - erf(x)``, accurate for "
             "large x", cost=MATH_COST, domain=ANY_REAL, reference="scipy.special.erfc"),
    ScalarOp("sigmoid", 1, _sigmoid, to_float, "g * out * (1.0 - out)", er.call("sigmoid"),
             "logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow",
             cost=MATH_COST, positive=True,
             domain=ANY_REAL + "; rounds to 0 below about -745 (float64)",
             reference="scipy.special.expit"),
    ScalarOp("softplus", 1, _softplus, to_float, "g * sigmoid(x)", er.call("softplus"),
             "softplus ``log(1 + exp(x))``, computed without overflow",
             cost=MATH_COST, positive=True, domain=ANY_REAL,
             reference="numpy.logaddexp(0, x); Dugas et al., Incorporating second-order "
                       "functional knowledge for better option pricing, NIPS 2001"),
    ScalarOp("relu", 1, _relu, same, "g * gt(x, 0)", er.relu,
             "rectifier ``max(x, 0)``; the gradient at 0 is 0", domain=ANY_REAL),
    # rounding
    ScalarOp("floor", 1, np.floor, same, _zero_grads, er.rounding("floor"),
             "floor: the largest whole number <= x", domain=ANY_REAL),
    ScalarOp("ceil", 1, np.ceil, same, _zero_grads, er.rounding("ceil"),
             "ceiling: the smallest whole number >= x", domain=ANY_REAL),
    ScalarOp("round", 1, np.round, same, _zero_grads, er.rounding("rint"),
             "rounding to the nearest whole number, half to even (NumPy)", domain=ANY_REAL,
             reference="numpy.round"),
    ScalarOp("trunc", 1, np.trunc, same, _zero_grads, er.rounding("trunc"),
             "truncation towards zero", domain=ANY_REAL),
    # comparisons and predicates
    ScalarOp("eq", 2, np.equal, to_bool, _zero_grads, er.compare("=="), "comparison ``x == y``",
             domain="every pair; NaN is unequal to everything"),
    ScalarOp("neq", 2, np.not_equal, to_bool, _zero_grads, er.compare("!="),
             "comparison ``x != y``", domain="every pair; NaN is unequal to everything"),
    ScalarOp("lt", 2, np.less, to_bool, _zero_grads, er.compare("<"), "comparison ``x < y``",
             domain="every pair; false where an input is NaN"),
    ScalarOp("le", 2, np.less_equal, to_bool, _zero_grads, er.compare("<="),
             "comparison ``x <= y``", domain="every pair; false where an input is NaN"),
    ScalarOp("gt", 2, np.greater, to_bool, _zero_grads, er.compare(">"),
             "comparison ``x > y``", domain="every pair; false where an input is NaN"),
    ScalarOp("ge", 2, np.greater_equal, to_bool, _zero_grads, er.compare(">="),
             "comparison ``x >= y``", domain="every pair; false where an input is NaN"),
    ScalarOp("isnan", 1, np.isnan, to_bool, _zero_grads, er.isnan, "test: x is NaN"),
    ScalarOp("isinf", 1, np.isinf, to_bool, _zero_grads, er.isinf, "test: x is +inf or -inf"),
    # logic and bits (bool and integers only)
    ScalarOp("and_", 2, np.bitwise_and, same_dtype, None, lambda e, x, y: e.and_(x, y),
             "bitwise and (logical and of bools)", input_kinds="biu"),
    ScalarOp("or_", 2, np.bitwise_or, same_dtype, None, lambda e, x, y: e.or_(x, y),
             "bitwise or (logical or of bools)", input_kinds="biu"),
    ScalarOp("xor", 2, np.bitwise_xor, same_dtype, None, lambda e, x, y: e.xor(x, y),
             "bitwise exclusive or (logical xor of bools)", input_kinds="biu"),
    ScalarOp("invert", 1, np.invert, same_dtype, None, lambda e, x: e.invert(x),
             "bitwise not (logical not of bools)", input_kinds="biu"),
    # selection and plumbing
    ScalarOp("switch", 3, np.where, same_dtype,
             "None, switch(cond, g, zeros_like(g)), switch(cond, zeros_like(g), g)",
             lambda e, c, x, y: e.select(c, x, y),
             "selection: x where cond is true, else y (NumPy's ``where``)",
             args=("cond", "x", "y"), skip_promotion=1, reference="numpy.where"),
    ScalarOp("second", 2, _second, same_dtype, "None, g", lambda e, x, y: y,
             "fill: y broadcast to the shape of x (Theano's ``fill``)", kind="fill",
             skip_promotion=1),
    ScalarOp("identity", 1, lambda x: np.array(x, copy=True), same_dtype, "g",
             lambda e, x: x, "copy of x", kind="identity"),
)

TABLE: dict[str, ScalarOp] = {row.name: row for row in SCALAR_OPS}


@functools.cache
def cast_scalar_op(dtype: str) -> ScalarOp:
    """The table row casting to ``dtype`` (one row per target dtype)."""
    target = dt.canonical(dtype)

    def grad(xs: list[Any], z: Any, g: Any) -> list[Any]:
        """``g`` converted back to the input's dtype (float to float casts only)."""
        if dt.is_float(xs[0].dtype) and dt.is_float(target):
            return [cast(g, xs[0].dtype)]
        return [None]

    rule = DtypeRule(f"to_{target}", lambda _: target, False, target)
    return ScalarOp(f"cast{{{target}}}", 1, lambda x: x.astype(target), rule, grad,
                    lambda e, x: e.cast(x, target), f"conversion to {target}", kind="cast",
                    domain="every value; NumPy's ``astype`` rules", params=(target,))


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
        grads = row.gradient(inputs, out, gz)
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
                f"{elemwise_doc.kind_names(row.input_kinds)}"
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
    if row.kind != "fill" and strong and any(v.type.dtype != common for v in tail):
        tail = [cast(v, common) if v.type.dtype != common else v for v in tail]
    return head + tail if head else tail


def apply_scalar_op(row: ScalarOp, out_dtype: str, arrays: Sequence[Any]) -> np.ndarray:
    """Evaluate one table row on arrays with NumPy, producing ``out_dtype`` (the reference),
    in the dtypes ``compute_dtypes`` gives."""
    arrays = [np.asarray(x) for x in arrays]
    wanted = _wanted_dtypes(row, tuple(x.dtype for x in arrays), out_dtype)
    arrays = [x if x.dtype == want else x.astype(want) for x, want in zip(arrays, wanted)]
    with np.errstate(all="ignore"):
        result = row.impl(*arrays)
    return np.asarray(result, dtype=out_dtype)


@functools.lru_cache(maxsize=4096)
def _wanted_dtypes(row: ScalarOp, arg_dtypes: tuple[np.dtype, ...],
                   out_dtype: str) -> tuple[np.dtype, ...]:
    # The reference runs this per node and call: NumPy's dtype names are slow to make.
    _, wanted = compute_dtypes(row, [d.name for d in arg_dtypes], out_dtype)
    return tuple(np.dtype(w) for w in wanted)


def _check_promoted(row: ScalarOp, common: str) -> None:
    kind = dt.KIND[common]
    if kind in row.input_kinds and kind in row.promoted_kinds:
        return
    accepted = "".join(k for k in row.promoted_kinds if k in row.input_kinds)
    hint = (f"; NumPy has no boolean {row.name} either (use xor, or cast to an integer dtype)"
            if common == "bool" else "")
    raise TypeError(f"{row.name}: inputs of dtype {common} are not accepted; {row.name} "
                    f"computes in {elemwise_doc.kind_names(accepted)} only{hint}")


def _is_weak(v: Any) -> bool:
    return isinstance(v, TensorConstant) and v.weak


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
        from symgraph.ops import reduce  # reductions are built from this module's ops

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


def make_function(row: ScalarOp) -> Callable[..., Any]:
    """The public function of ``row``: its Elemwise op applied to the inputs, which may also be
    passed by the names in ``row.args``; the docstring is written from the row."""
    op = Elemwise(row)
    names = row.args

    def function(*inputs: Any, **named: Any) -> Any:
        if named:
            inputs = _bind(row.name, names, inputs, named)
        return op(*inputs)

    function.__name__ = row.name
    function.__qualname__ = row.name
    function.__doc__ = elemwise_doc.docstring(row)
    if row.nin < 0:
        params = [inspect.Parameter("xs", inspect.Parameter.VAR_POSITIONAL)]
    else:
        params = [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in names]
    function.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return function


def _bind(name: str, names: Sequence[str], inputs: tuple[Any, ...],
          named: dict[str, Any]) -> tuple[Any, ...]:
    values = dict(zip(names, inputs))
    for key, value in named.items():
        if key not in names or key in values:
            raise TypeError(f"{name}() got an unexpected or repeated argument {key!r}")
        values[key] = value
    missing = [n for n in names if n not in values]
    if missing:
        raise TypeError(f"{name}() is missing {', '.join(missing)}")
    return tuple(values[n] for n in names)


# One public function per row, named after it, and NumPy's or Theano's other names for some.
FUNCTIONS: dict[str, Callable[..., Any]] = {row.name: make_function(row) for row in SCALAR_OPS}
ALIASES: dict[str, str] = {
    "square": "sqr", "where": "switch", "fill": "second", "floor_divide": "int_div",
    "divide": "true_divide", "equal": "eq", "not_equal": "neq", "less": "lt", "less_equal": "le",
    "greater": "gt", "greater_equal": "ge", "bitwise_and": "and_", "bitwise_or": "or_",
    "bitwise_xor": "xor", "bitwise_not": "invert", "logical_not": "invert",
}
globals().update(FUNCTIONS)
globals().update({alias: FUNCTIONS[name] for alias, name in ALIASES.items()})

if TYPE_CHECKING:
    # How type checkers see the names generated above (``ew.exp``, ``ew.where``, ...).
    def __getattr__(name: str) -> Any: ...


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
    return elemwise_op("second")(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: Any = None) -> Any:
    """A tensor of ones with ``x``'s shape and dtype (or ``dtype``)."""
    x = as_tensor_variable(x)
    return elemwise_op("second")(x, constant(1, dtype=dtype or x.dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    """A tensor of ``fill_value`` with ``x``'s shape and dtype (or ``dtype``)."""
    x = as_tensor_variable(x)
    return elemwise_op("second")(x, constant(fill_value, dtype=dtype or x.dtype))


def is_elemwise(var: Variable, name: str | None = None) -> bool:
    """True when ``var`` is computed by an Elemwise (of row ``name``, if given)."""
    node = var.owner
    return node is not None and isinstance(node.op, Elemwise) and (
        name is None or node.op.scalar_op.name == name)


# What gradient expressions in the table may use (``ScalarOp.grad``).
_GRADIENT_NAMESPACE: dict[str, Any] = {
    "__builtins__": {}, **FUNCTIONS, "zeros_like": zeros_like, "cast": cast,
    "LN2": LN2, "LN10": LN10, "TWO_OVER_SQRT_PI": TWO_OVER_SQRT_PI,
}

__all__ = sorted([*FUNCTIONS, *ALIASES, "cast", "dimshuffle", "full_like", "ones_like",
                  "zeros_like"])
