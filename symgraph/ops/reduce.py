"""Reductions (sum, prod, max, min, all, any, argmax, argmin, mean, var, std, logsumexp) and
cumulative ops (cumsum, cumprod), with NumPy semantics and Theano's gradient conventions."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops import elemwise, shape
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.type import TensorType

__all__ = ["all", "any", "argmax", "argmin", "cumprod", "cumsum", "logsumexp", "max", "mean",
           "min", "prod", "std", "sum", "var"]


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Sorted, non-negative reduction axes; ``None`` means all.

    Raises
    ------
    TypeError
        For a symbolic or non-integer axis.
    ValueError
        For an axis out of range or repeated.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Variable):
        raise TypeError(f"axis must be a Python int or a tuple of ints, not the variable {axis}")
    if isinstance(axis, (list, tuple, np.ndarray)):
        axes = tuple(axis)
    else:
        axes = (axis,)
    result = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"axis must be a Python int or a tuple of ints, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d tensor")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(result))


# ---------------------------------------------------------------------------------------------
# CAReduce
# ---------------------------------------------------------------------------------------------

# Reduction kind -> (identity, NumPy reduction). ``None``: no identity, empty input is an error.
# The kinds are names of rows of the elementwise table, so a code generator combines with the
# row's ``emit`` and starts from the identity.
REDUCTIONS: dict[str, tuple[Any, Any]] = {
    "add": (0, np.sum),
    "mul": (1, np.prod),
    "maximum": (None, np.max),
    "minimum": (None, np.min),
    "and_": (True, np.all),
    "or_": (False, np.any),
}


def accumulate_dtype(dtype: str) -> str:
    """dtype NumPy gives a sum or product of ``dtype``: small integers widen to 64 bits."""
    if dtype in ("bool", "int8", "int16", "int32"):
        return "int64"
    if dtype in ("uint8", "uint16", "uint32"):
        return "uint64"
    return dtype


def accumulator_dtype(kind: str, out_dtype: str) -> str:
    """dtype a reduction of ``kind`` with result ``out_dtype`` accumulates in: float64 for
    float16 and float32 sums and products, rounded to ``out_dtype`` once at the end.

    NumPy sums float32 pairwise only along the innermost axis in memory (along another one it
    adds in order: the error of 1e6 rows of 0.1 summed over axis 0 is 1e-3) and multiplies in
    order everywhere; float64 accumulators keep the error near one rounding of the result.
    """
    if kind in ("add", "mul") and out_dtype in ("float16", "float32"):
        return "float64"
    return dt.compute_dtype(out_dtype)


class CAReduce(Op):
    """A commutative-associative reduction over ``axis``, dropping those axes.

    Parameters
    ----------
    scalar_op : {'add', 'mul', 'maximum', 'minimum', 'and_', 'or_'} or ScalarOp
        The elementwise-table row that combines two values (a name or the row itself); the
        op stores the row, so a code generator combines with its ``emit`` starting from
        ``identity``. ``kind`` is the row's name.
    axis : sequence of int
        The reduced axes, non-negative; stored sorted.
    dtype : str or None
        Output (and accumulation) dtype of ``add``/``mul``; ``None`` is NumPy's rule (bool and
        integers narrower than 64 bits accumulate in int64/uint64, others keep their dtype).
        ``maximum``/``minimum`` keep the input dtype; ``and_``/``or_`` take and give bool.

    Notes
    -----
    Reducing over an empty axis gives the identity (0 for add, 1 for mul, True for and_,
    False for or_); ``maximum``/``minimum`` have none and raise ``ValueError`` at run time,
    as NumPy does. Gradients: ``add`` broadcasts the output gradient back; ``mul`` is exact
    at zeros (see ``prod``); ``maximum``/``minimum`` give the gradient to every element equal
    to the result (at ties all of them, Theano's convention); ``and_``/``or_`` have none.
    """

    __props__ = ("scalar_op", "axis", "dtype")

    def __init__(self, scalar_op: Any, axis: Sequence[int], dtype: str | None = None):
        kind = getattr(scalar_op, "name", scalar_op)
        if kind not in REDUCTIONS:
            raise ValueError(f"CAReduce: unknown reduction {kind!r}; expected one of "
                             f"{sorted(REDUCTIONS)}")
        axes = tuple(sorted(int(a) for a in axis))
        if len(set(axes)) != len(axes) or builtins.any(a < 0 for a in axes):
            raise ValueError(f"CAReduce: axes must be distinct and non-negative, got {axis}")
        if dtype is not None and kind not in ("add", "mul"):
            raise ValueError(f"CAReduce: {kind} does not take a dtype")
        self.kind: str = kind
        self.scalar_op = elemwise.TABLE[kind]
        self.axis = axes
        self.dtype = None if dtype is None else dt.canonical(dtype)

    def __str__(self) -> str:
        return f"CAReduce{{{self.kind}, axis={self.axis}}}"

    @property
    def identity(self) -> Any:
        """The value of a reduction over nothing, or ``None`` when there is none."""
        return REDUCTIONS[self.kind][0]

    def output_dtype(self, input_dtype: str) -> str:
        if self.kind in ("add", "mul"):
            return self.dtype or accumulate_dtype(input_dtype)
        return input_dtype

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis and self.axis[-1] >= x.ndim:
            raise TypeError(f"{self}: input {x} has {x.ndim} dimensions; cannot reduce axis "
                            f"{self.axis[-1]}")
        if self.kind in ("and_", "or_") and x.dtype != "bool":
            raise TypeError(f"{self}: input {x} has dtype {x.dtype}; logical reductions take "
                            f"bool (use sg.all / sg.any, which compare with 0)")
        out_dtype = self.output_dtype(x.dtype)
        static = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(out_dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        out_dtype = node.outputs[0].type.dtype  # type: ignore[attr-defined]
        identity, reduction = REDUCTIONS[self.kind]
        if identity is None:
            if builtins.any(x.shape[a] == 0 for a in self.axis):
                raise ValueError(f"{self}: cannot reduce an input of shape {x.shape} over an "
                                 f"empty axis: {self.kind} has no identity")
            result = reduction(x, axis=self.axis)
        elif self.kind in ("add", "mul"):
            result = reduction(x, axis=self.axis, dtype=accumulator_dtype(self.kind, out_dtype))
        else:
            result = reduction(x, axis=self.axis)
        output_storage[0][0] = np.asarray(result, dtype=out_dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        if dt.is_discrete(z.dtype):
            return [elemwise.zeros_like_grad(x)]
        gz_kept = _keep_dims(gz, x.ndim, self.axis)
        if self.kind == "add":
            return [elemwise.second(x, gz_kept)]
        if self.kind == "mul":
            return [gz_kept * _prod_partials(x, self.axis)]
        # maximum / minimum: every element equal to the result gets the gradient.
        return [gz_kept * elemwise.eq(x, _keep_dims(z, x.ndim, self.axis))]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if eval_points[0] is None:
            return [None]
        if self.kind == "add":
            return [self(elemwise.cast(eval_points[0], inputs[0].dtype))]
        raise NotImplementedError  # the generic L_op-based forward mode applies


def _prod_partials(x: Any, axes: tuple[int, ...]) -> Any:
    """∂prod/∂x for each element: the product of the other elements of its group.

    Exact at zeros without dividing by them: with no zero in the group it is prod / x; with
    exactly one zero, the zero element gets the product of the non-zeros and the others 0;
    with two or more zeros, every partial is 0.
    """
    is_zero = elemwise.eq(x, 0)
    zero_count = sum(is_zero, axis=axes, keepdims=True)
    x_safe = elemwise.switch(is_zero, 1, x)
    nonzero_prod = prod(x_safe, axis=axes, keepdims=True)
    at_zero = elemwise.switch(elemwise.eq(zero_count, 1), nonzero_prod, 0)
    elsewhere = elemwise.switch(elemwise.eq(zero_count, 0), nonzero_prod / x_safe, 0)
    return elemwise.switch(is_zero, at_zero, elsewhere)


def _keep_dims(out: Any, ndim: int, axes: tuple[int, ...]) -> Any:
    """Reinsert the reduced ``axes`` of ``out`` as broadcastable dimensions."""
    pattern: list[int | str] = []
    kept = iter(range(out.ndim))
    for i in range(ndim):
        pattern.append("x" if i in axes else next(kept))
    return elemwise.dimshuffle(out, pattern)


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool, dtype: str | None = None) -> Any:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    if dtype is not None and dtype == accumulate_dtype(x.dtype):
        dtype = None  # the default: equal ops merge
    out = CAReduce(kind, axes, dtype)(x)
    return _keep_dims(out, x.ndim, axes) if keepdims else out


def sum(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:  # noqa: A001
    """Sum of the elements over ``axis``, as ``numpy.sum``.

    Parameters
    ----------
    x : (...) tensor of any dtype
    axis : None, int or tuple of int
        Axes to reduce (negative ones count from the end); ``None`` reduces all of them.
    keepdims : bool
        Keep the reduced axes as broadcastable dimensions of length 1.
    dtype : dtype, optional
        Accumulation and output dtype. By default bool and integers narrower than 64 bits
        accumulate in int64 (uint64 for unsigned ones), as NumPy does; floats keep theirs.

    Returns
    -------
    tensor of ``x``'s shape without (or with length 1 on) the reduced axes.

    Raises
    ------
    TypeError
        For a symbolic or non-integer axis.
    ValueError
        For an axis out of range or repeated.

    Notes
    -----
    A sum over an empty axis is 0. float16 and float32 sums accumulate in float64
    (``accumulator_dtype``; compiled kernels add float32 partials of a few terms into it), so
    that a long axis loses no accuracy in any layout. The gradient broadcasts the output
    gradient back over the reduced axes (zero when ``dtype`` is an integer one: the result is
    then piecewise constant).
    """
    return _reduce("add", x, axis, keepdims, None if dtype is None else dt.canonical(dtype))


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
    """Product of the elements over ``axis``, as ``numpy.prod``.

    Parameters and dtypes are those of ``sum``; a product over an empty axis is 1.

    Raises
    ------
    TypeError, ValueError
        As ``sum``.

    Notes
    -----
    float16 and float32 products accumulate in float64, as sums do. The gradient of each
    element is the product of the other elements of its group, computed
    exactly even at zeros (no division by zero): ``prod / x`` where the group has no zero; where
    it has exactly one, the zero gets the product of the non-zeros and the others 0; where it
    has several, every element gets 0. (Theano's ``prod`` divides, which is wrong at zeros.)
    That gradient graph is itself differentiable; its own derivative is exact away from zeros.
    """
    return _reduce("mul", x, axis, keepdims, None if dtype is None else dt.canonical(dtype))


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Largest element over ``axis``, as ``numpy.max`` (``amax``); NaN propagates.

    Parameters
    ----------
    x : (...) tensor of any dtype
    axis, keepdims
        As in ``sum``.

    Returns
    -------
    tensor of ``x``'s dtype.

    Raises
    ------
    TypeError, ValueError
        As ``sum``; also ``ValueError`` at run time when a reduced axis is empty (there is no
        identity).

    Notes
    -----
    The gradient goes to every element equal to the maximum, ``gz * eq(x, max)``: at ties each
    maximal element receives the full gradient (Theano's convention, not a subgradient).
    """
    return _reduce("maximum", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Smallest element over ``axis``, as ``numpy.min`` (``amin``); NaN propagates.

    Same parameters, errors and gradient convention (at ties every minimal element gets the
    full gradient) as ``max``.
    """
    return _reduce("minimum", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether every element over ``axis`` is non-zero, as ``numpy.all``; a bool tensor.

    Non-bool inputs are compared with 0 first (NaN counts as true). Over an empty axis the
    result is True. No gradient flows through it.
    """
    return _reduce("and_", _as_bool(x), axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether some element over ``axis`` is non-zero, as ``numpy.any``; a bool tensor.

    Non-bool inputs are compared with 0 first (NaN counts as true). Over an empty axis the
    result is False. No gradient flows through it.
    """
    return _reduce("or_", _as_bool(x), axis, keepdims)


def _as_bool(x: Any) -> Any:
    x = as_tensor_variable(x)
    return x if x.dtype == "bool" else elemwise.neq(x, 0)


# ---------------------------------------------------------------------------------------------
# Argmax / Argmin
# ---------------------------------------------------------------------------------------------

class ArgReduce(Op):
    """Index of the extreme element over ``axis`` (base of ``Argmax`` and ``Argmin``).

    ``axis`` is a sorted tuple of axes. Several axes are moved last (in order) and flattened,
    as Theano does, so the index counts in C order over those axes; all axes give the index
    into the flattened array (NumPy's ``axis=None``). The output is int64.
    """

    abstract = True
    __props__ = ("axis",)
    numpy_function: Any = None

    def __init__(self, axis: Sequence[int]) -> None:
        axes = tuple(sorted(int(a) for a in axis))
        if len(set(axes)) != len(axes) or builtins.any(a < 0 for a in axes):
            raise ValueError(f"{type(self).__name__}: axes must be distinct and non-negative, "
                             f"got {axis}")
        self.axis = axes

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis and self.axis[-1] >= x.ndim:
            raise TypeError(f"{self}: input {x} has {x.ndim} dimensions; cannot reduce axis "
                            f"{self.axis[-1]}")
        static = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType("int64", static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        kept = [i for i in range(x.ndim) if i not in self.axis]
        size = math.prod(x.shape[a] for a in self.axis)
        if size == 0:
            raise ValueError(f"{self}: an input of shape {x.shape} has no element over axes "
                             f"{self.axis}")
        moved = x.transpose(kept + list(self.axis))
        flat = moved.reshape(tuple(x.shape[i] for i in kept) + (size,))
        output_storage[0][0] = np.asarray(type(self).numpy_function(flat, axis=-1),
                                          dtype="int64")

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        # An index is piecewise constant in x: zero gradient, as Elemwise gives discrete outputs.
        x = inputs[0]
        return [elemwise.zeros_like_grad(x) if dt.is_float(x.dtype) else None]


class Argmax(ArgReduce):
    """Index of the largest element over ``axis`` (the first one at ties or NaN)."""

    abstract = False
    numpy_function = staticmethod(np.argmax)


class Argmin(ArgReduce):
    """Index of the smallest element over ``axis`` (the first one at ties or NaN)."""

    abstract = False
    numpy_function = staticmethod(np.argmin)


def _arg_reduce(cls: type[ArgReduce], x: Any, axis: Any, keepdims: bool) -> Any:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = cls(axes)(x)
    return _keep_dims(out, x.ndim, axes) if keepdims else out


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Index of the largest element over ``axis``, as ``numpy.argmax``.

    Parameters
    ----------
    x : (...) tensor of any dtype
    axis : None, int or tuple of int
        ``None``: the index into the flattened array. A tuple (Theano's extension) moves those
        axes last and flattens them, giving the C-order index over them.
    keepdims : bool
        Keep the reduced axes as dimensions of length 1.

    Returns
    -------
    int64 tensor of ``x``'s shape without (or with length 1 on) the reduced axes. At ties the
    first index wins; a NaN counts as the largest (NumPy).

    Raises
    ------
    TypeError
        For a symbolic axis.
    ValueError
        For an axis out of range or repeated; at run time when the reduced axes are empty.
    """
    return _arg_reduce(Argmax, x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Index of the smallest element over ``axis``, as ``numpy.argmin``.

    Same parameters, result and errors as ``argmax`` (a NaN counts as the smallest).
    """
    return _arg_reduce(Argmin, x, axis, keepdims)


# ---------------------------------------------------------------------------------------------
# Compositions: mean, var, std, logsumexp
# ---------------------------------------------------------------------------------------------

def _count(x: Any, axes: tuple[int, ...]) -> Any:
    """Number of elements reduced over ``axes``: a Python int when the shape says so."""
    lengths = [shape.shape_i(x, a) for a in axes]
    static = math.prod(n for n in lengths if isinstance(n, int))
    symbolic = [n for n in lengths if not isinstance(n, int)]
    if not symbolic:
        return static
    count = symbolic[0] if len(symbolic) == 1 else elemwise.mul(*symbolic)
    return count if static == 1 else count * static


def _divide(total: Any, count: Any, dtype: str) -> Any:
    """``total / count`` in float ``dtype`` (a symbolic int64 count would promote float32)."""
    if isinstance(count, (int, float)):
        return total / constant(count, dtype=dtype)
    return total / elemwise.cast(count, dtype)


def _float_dtype(dtype: str) -> str:
    """NumPy's result dtype for mean/var of ``dtype``: integers and bool give float64."""
    return dtype if dt.is_float(dtype) else "float64"


def mean(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
    """Arithmetic mean over ``axis``, as ``numpy.mean``.

    Parameters
    ----------
    x : (...) tensor of any dtype
    axis, keepdims
        As in ``sum``.
    dtype : dtype, optional
        Result dtype; by default float64 for bool and integer inputs, else ``x``'s dtype.
        float16 is converted to float32 (as NumPy does), whose sum accumulates in float64.

    Returns
    -------
    tensor of ``dtype``.

    Raises
    ------
    TypeError, ValueError
        As ``sum``.

    Notes
    -----
    ``sum(x) / n`` with ``n`` the number of reduced elements; over an empty axis the result is
    NaN, as in NumPy.
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out_dtype = _float_dtype(x.dtype) if dtype is None else dt.canonical(dtype)
    work = "float32" if out_dtype == "float16" else _float_dtype(out_dtype)
    total = sum(elemwise.cast(x, work), axis=axes, keepdims=keepdims)
    return elemwise.cast(_divide(total, _count(x, axes), work), out_dtype)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over ``axis``, as ``numpy.var``: ``sum((x - mean(x))**2) / (n - ddof)``.

    Parameters
    ----------
    x : (...) tensor of any dtype
    axis, keepdims
        As in ``sum``.
    ddof : int
        Delta degrees of freedom: 1 gives the unbiased estimate.

    Returns
    -------
    tensor of ``x``'s dtype (float64 for bool and integer inputs); float16 is computed in
    float32.

    Raises
    ------
    TypeError, ValueError
        As ``sum``.

    Notes
    -----
    Two passes (mean, then squared deviations), which is stable. ``n - ddof <= 0`` gives inf or
    NaN, as in NumPy.
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out_dtype = _float_dtype(x.dtype)
    work = "float32" if out_dtype == "float16" else out_dtype
    x = elemwise.cast(x, work)
    deviation = x - mean(x, axis=axes, keepdims=True)
    count = _count(x, axes)
    count = count - ddof if isinstance(count, int) else elemwise.sub(count, int(ddof))
    result = _divide(sum(elemwise.sqr(deviation), axis=axes, keepdims=keepdims), count, work)
    return elemwise.cast(result, out_dtype)


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over ``axis``, ``sqrt(var(x, axis, keepdims, ddof))``, as ``numpy.std``.

    Same parameters, dtypes and errors as ``var``. The gradient is infinite where the standard
    deviation is 0 (constant data), as that of ``sqrt`` at 0.
    """
    return elemwise.sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow (as SciPy's ``logsumexp``).

    Parameters
    ----------
    x : (...) tensor
        Bool and integer inputs are converted to float64.
    axis, keepdims
        As in ``sum``.

    Returns
    -------
    float tensor of ``x``'s shape without (or with length 1 on) the reduced axes.

    Raises
    ------
    TypeError, ValueError
        As ``sum``; also ``ValueError`` at run time when a reduced axis is empty.

    Notes
    -----
    Computed as ``m + log(sum(exp(x - m)))`` with ``m`` the maximum (replaced by 0 where it is
    infinite, so an all ``-inf`` group gives ``-inf`` and a ``+inf`` gives ``+inf``). ``m`` is
    held constant for differentiation: the result does not depend on it mathematically, so the
    gradient is exactly ``softmax(x)`` along the axes.
    """
    from symgraph.grad import disconnected_grad  # grad.py imports this module

    x = as_tensor_variable(x)
    if not dt.is_float(x.dtype):
        x = elemwise.cast(x, "float64")
    axes = normalize_axis(axis, x.ndim)
    shift = max(x, axis=axes, keepdims=True)
    shift = disconnected_grad(elemwise.switch(elemwise.isinf(shift), 0, shift))
    total = sum(elemwise.exp(x - shift), axis=axes, keepdims=keepdims)
    if not keepdims:
        shift = elemwise.dimshuffle(shift, [i for i in range(x.ndim) if i not in axes])
    return elemwise.log(total) + shift


# ---------------------------------------------------------------------------------------------
# Cumulative sums and products
# ---------------------------------------------------------------------------------------------

class CumOp(Op):
    """Running sum or product along one axis (``numpy.cumsum`` / ``numpy.cumprod``).

    Parameters
    ----------
    axis : int
        The non-negative axis to accumulate along.
    mode : {'add', 'mul'}
    reverse : bool
        Accumulate from the end of the axis towards its start (as ``jax.lax.cumsum``); the
        gradient of a forward cumulative sum is a reversed one.

    The output has the input's shape; its dtype follows ``sum``/``prod`` (bool and small
    integers accumulate in int64/uint64).
    """

    __props__ = ("axis", "mode", "reverse")

    def __init__(self, axis: int, mode: str = "add", reverse: bool = False) -> None:
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        if int(axis) < 0:
            raise ValueError(f"CumOp: axis must be non-negative, got {axis}")
        self.axis = int(axis)
        self.mode = mode
        self.reverse = bool(reverse)

    def __str__(self) -> str:
        name = "cumsum" if self.mode == "add" else "cumprod"
        return f"CumOp{{{name}, axis={self.axis}{', reverse' if self.reverse else ''}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis >= x.ndim:
            raise TypeError(f"{self}: input {x} has {x.ndim} dimensions; cannot accumulate "
                            f"along axis {self.axis}")
        out_type = TensorType(accumulate_dtype(x.dtype), x.type.shape)
        return Apply(self, [x], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        out_dtype = node.outputs[0].type.dtype  # type: ignore[attr-defined]
        accumulate = np.cumsum if self.mode == "add" else np.cumprod
        if self.reverse:
            x = np.flip(x, self.axis)
        result = accumulate(x, axis=self.axis, dtype=dt.compute_dtype(out_dtype))
        if self.reverse:
            result = np.flip(result, self.axis)
        output_storage[0][0] = np.ascontiguousarray(result, dtype=out_dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        backwards = CumOp(self.axis, "add", not self.reverse)
        if self.mode == "add":
            return [backwards(gz)]
        # z_i = prod_{j <= i} x_j, so dz_i/dx_j = z_i / x_j for i >= j (x_j != 0).
        return [backwards(gz * z) / x]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if eval_points[0] is None:
            return [None]
        if self.mode == "add":
            return [self(elemwise.cast(eval_points[0], inputs[0].dtype))]
        raise NotImplementedError  # the generic L_op-based forward mode applies


def _cumulative(mode: str, x: Any, axis: Any) -> Any:
    x = as_tensor_variable(x)
    if axis is None:
        if x.ndim != 1:
            x = shape.flatten(x, 1)
        return CumOp(0, mode)(x)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"axis must be None or an int, got {axis!r}")
    (axis,) = normalize_axis(axis, x.ndim)
    return CumOp(axis, mode)(x)


def cumsum(x: Any, axis: int | None = None) -> Any:
    """Cumulative sum along ``axis``, as ``numpy.cumsum``.

    Parameters
    ----------
    x : (...) tensor of any dtype
    axis : int or None
        ``None`` accumulates over the flattened array (a 1-d result).

    Returns
    -------
    tensor of ``x``'s shape (1-d for ``axis=None``); bool and integers narrower than 64 bits
    accumulate in int64/uint64, as NumPy does.

    Raises
    ------
    TypeError
        For a non-integer axis.
    ValueError
        For an axis out of range.

    Notes
    -----
    The gradient is the reversed cumulative sum of the output gradient.
    """
    return _cumulative("add", x, axis)


def cumprod(x: Any, axis: int | None = None) -> Any:
    """Cumulative product along ``axis``, as ``numpy.cumprod``.

    Same parameters, dtypes and errors as ``cumsum``.

    Notes
    -----
    The gradient is ``revcumsum(gz * z) / x`` (``z`` the output), as in Theano: it is exact
    where ``x`` has no zero, and NaN or infinite at the zeros of ``x``.
    """
    return _cumulative("mul", x, axis)
