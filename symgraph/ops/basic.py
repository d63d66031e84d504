"""Tensor variables, constants and shared variables, and the functions that make them.

``TensorVariable`` carries the NumPy-like operators (``x + y``, ``x[i]``, ``x.sum()``); each one
builds a graph node through the op modules.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.config import config
from symgraph.graph import Apply, Constant, Variable
from symgraph.type import TensorType, Type


# function.py (L5) registers its evaluator here, so this layer never imports upwards.
EVALUATE: Any = None


class TensorOperators:
    """NumPy-style operators and methods shared by every tensor Variable."""

    type: TensorType

    # -- attributes -----------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self) -> "TensorVariable":
        return shape.shape(self)

    @property
    def size(self) -> "TensorVariable":
        return reduce.prod(shape.shape(self))

    @property
    def T(self) -> "TensorVariable":
        return shape.transpose(self)

    # -- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: Any) -> Any: return elemwise.add(self, other)
    def __radd__(self, other: Any) -> Any: return elemwise.add(other, self)
    def __sub__(self, other: Any) -> Any: return elemwise.sub(self, other)
    def __rsub__(self, other: Any) -> Any: return elemwise.sub(other, self)
    def __mul__(self, other: Any) -> Any: return elemwise.mul(self, other)
    def __rmul__(self, other: Any) -> Any: return elemwise.mul(other, self)
    def __truediv__(self, other: Any) -> Any: return elemwise.true_divide(self, other)
    def __rtruediv__(self, other: Any) -> Any: return elemwise.true_divide(other, self)
    def __floordiv__(self, other: Any) -> Any: return elemwise.int_div(self, other)
    def __rfloordiv__(self, other: Any) -> Any: return elemwise.int_div(other, self)
    def __mod__(self, other: Any) -> Any: return elemwise.mod(self, other)
    def __rmod__(self, other: Any) -> Any: return elemwise.mod(other, self)
    def __pow__(self, other: Any) -> Any: return elemwise.pow(self, other)
    def __rpow__(self, other: Any) -> Any: return elemwise.pow(other, self)
    def __neg__(self) -> Any: return elemwise.neg(self)
    def __pos__(self) -> Any: return self
    def __abs__(self) -> Any: return elemwise.abs(self)
    def __invert__(self) -> Any: return elemwise.invert(self)
    def __and__(self, other: Any) -> Any: return elemwise.and_(self, other)
    def __rand__(self, other: Any) -> Any: return elemwise.and_(other, self)
    def __or__(self, other: Any) -> Any: return elemwise.or_(self, other)
    def __ror__(self, other: Any) -> Any: return elemwise.or_(other, self)
    def __xor__(self, other: Any) -> Any: return elemwise.xor(self, other)
    def __rxor__(self, other: Any) -> Any: return elemwise.xor(other, self)
    def __lt__(self, other: Any) -> Any: return elemwise.lt(self, other)
    def __le__(self, other: Any) -> Any: return elemwise.le(self, other)
    def __gt__(self, other: Any) -> Any: return elemwise.gt(self, other)
    def __ge__(self, other: Any) -> Any: return elemwise.ge(self, other)
    def __matmul__(self, other: Any) -> Any: return blas.matmul(self, other)
    def __rmatmul__(self, other: Any) -> Any: return blas.matmul(other, self)

    # Equality stays identity (variables are dict keys); sg.eq builds the elementwise test.
    # (object's own hash: defining __lt__ & co. here must not lose it.)
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        # Theano's rule: every variable is truthy (``if not W:`` tests that one was given),
        # except a comparison's result, so that ``a < b < c`` (``(a < b) and (b < c)``) raises
        # instead of silently building ``b < c``.
        owner = self.owner  # type: ignore[attr-defined]
        if owner is not None and getattr(getattr(owner.op, "scalar_op", None), "name",
                                         None) in _COMPARISONS:
            raise TypeError(
                f"the result of a comparison ({self}) has no truth value: Python runs "
                f"`a < b < c` as `(a < b) and (b < c)`; use sg.and_ on the comparisons, or "
                f"sg.ifelse / sg.switch to branch on one"
            )
        return True

    def __len__(self) -> int:
        if self.ndim and self.type.shape[0] is not None:
            return int(self.type.shape[0])
        raise TypeError("len() of a symbolic variable of unknown length; use x.shape[0]")

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: Any) -> Any:
        return subtensor.getitem(self, index)

    # -- methods --------------------------------------------------------------------------
    def abs(self) -> Any: return elemwise.abs(self)
    def exp(self) -> Any: return elemwise.exp(self)
    def log(self) -> Any: return elemwise.log(self)
    def sqrt(self) -> Any: return elemwise.sqrt(self)
    def round(self) -> Any: return elemwise.round(self)

    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
        return reduce.sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
        return reduce.mean(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def prod(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
        return reduce.prod(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce.min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce.argmin(self, axis=axis, keepdims=keepdims)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return reduce.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return reduce.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce.all(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce.any(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis: int | None = None) -> Any:
        return reduce.cumsum(self, axis=axis)

    def cumprod(self, axis: int | None = None) -> Any:
        return reduce.cumprod(self, axis=axis)

    def reshape(self, *new_shape: Any, ndim: int | None = None) -> Any:
        if len(new_shape) == 1 and not isinstance(new_shape[0], (int, np.integer)):
            new_shape = new_shape[0]
        return shape.reshape(self, new_shape, ndim=ndim)

    def dimshuffle(self, *pattern: Any) -> Any:
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return elemwise.dimshuffle(self, pattern)

    def flatten(self, ndim: int = 1) -> Any:
        return shape.flatten(self, ndim)

    def ravel(self) -> Any:
        return shape.flatten(self, 1)

    def transpose(self, *axes: Any) -> Any:
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return shape.transpose(self, axes or None)

    def squeeze(self, axis: Any = None) -> Any:
        return shape.squeeze(self, axis)

    def astype(self, dtype: Any) -> Any:
        return elemwise.cast(self, dtype)

    def dot(self, other: Any) -> Any:
        return blas.dot(self, other)

    def clip(self, a_min: Any, a_max: Any) -> Any:
        return elemwise.clip(self, a_min, a_max)

    def take(self, indices: Any, axis: int | None = None) -> Any:
        return subtensor.take(self, indices, axis=axis)

    def repeat(self, repeats: Any, axis: int | None = None) -> Any:
        return construct.repeat(self, repeats, axis=axis)

    def copy(self, name: str | None = None) -> Any:
        out = elemwise.identity(self)
        out.name = name
        return out

    def eval(self, inputs_to_values: dict[Any, Any] | None = None, **kwargs: Any) -> Any:
        """Compile (once, cached on the variable) and evaluate this variable.

        ``inputs_to_values`` maps input Variables (or their names) to values.
        """
        if EVALUATE is None:
            raise RuntimeError("import symgraph to use Variable.eval")
        return EVALUATE(self, inputs_to_values or {}, **kwargs)


_COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "neq"})


class TensorVariable(TensorOperators, Variable):
    """A symbolic n-dimensional array (the output of an op, or a graph input)."""


class TensorConstant(TensorOperators, Constant):
    """A constant array. ``weak`` marks one made from a Python scalar (NEP 50 promotion)."""

    def __init__(self, type: Type, data: Any, name: str | None = None,
                 weak: bool = False) -> None:
        super().__init__(type, data, name)
        self.weak = weak

    def clone(self, name: str | None = None) -> "TensorConstant":
        return TensorConstant(self.type, self.data, self.name if name is None else name,
                              self.weak)

    @property
    def value(self) -> np.ndarray:
        return self.data


TensorType.variable_class = TensorVariable
TensorType.constant_class = TensorConstant


class Container:
    """The storage cell of a shared variable, shared by all its clones."""

    __slots__ = ("value", "type", "name")

    def __init__(self, type: Type, value: Any, name: str | None) -> None:
        self.type = type
        self.value = value
        self.name = name


class SharedVariable(Variable):
    """A variable whose value persists between function calls (weights, RNG states).

    ``default_update``, when set, is the expression ``function()`` assigns to it after each
    call unless the call's ``updates`` say otherwise.
    """

    def __init__(self, type: Type, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None, container: Container | None = None,
                 borrow: bool = False) -> None:
        super().__init__(type, None, None, name)
        if container is None:
            container = Container(type, None, name)
            self.container = container
            self.set_value(value, borrow=borrow, allow_downcast=bool(allow_downcast))
        else:
            self.container = container
        self.default_update: Variable | None = None

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current value; a copy unless ``borrow``."""
        value = self.container.value
        return value if borrow else copy.deepcopy(value)

    def set_value(self, value: Any, borrow: bool = False, allow_downcast: bool = False) -> None:
        """Set the value; it is checked against the type (``TypeError`` on a mismatch)."""
        label = f"shared variable {self.name!r}" if self.name else "shared variable"
        value = self.type.filter(value, name=label, allow_downcast=allow_downcast)
        if not borrow:
            value = copy.deepcopy(value)
        self.container.value = value

    @property
    def value(self) -> Any:
        return self.container.value

    def clone(self, name: str | None = None) -> "SharedVariable":
        twin = type(self)(self.type, None, name=self.name if name is None else name,
                          container=self.container)
        twin.default_update = self.default_update
        if self._tag:
            twin.tag.update(self._tag)
        return twin

    def __str__(self) -> str:
        return self.name or f"<shared {self.type}>"


class TensorSharedVariable(TensorOperators, SharedVariable):
    """A shared n-dimensional array."""


# Devices register how to make a shared variable that lives on them (symgraph.cuda registers
# "cuda"), so this layer never imports a backend.
SHARED_TARGETS: dict[str, Any] = {}


def shared(value: Any, name: str | None = None, borrow: bool = False, strict: bool = False,
           allow_downcast: bool | None = None, shape: Sequence[int | None] | None = None,
           target: str | None = None, broadcastable: Sequence[bool] | None = None) -> Any:
    """Make a shared variable holding ``value``.

    Parameters
    ----------
    value : array_like or numpy.random.Generator
        Python floats take ``config.floatX``; arrays keep their dtype.
    name : str, optional
    borrow : bool
        Keep a reference to ``value`` instead of copying it.
    shape : sequence of (int or None), optional
        Static shape; by default every dimension is unknown, so ``set_value`` may change it.
    target : {None, 'cpu', 'cuda'}
        Where the value lives; ``'cuda'`` keeps it in GPU memory (``sg.cuda.shared``).
    broadcastable : sequence of bool, optional
        Theano's form of ``shape``: ``True`` for a dimension of length 1 that broadcasts
        (static shape 1), ``False`` for any other.

    Raises
    ------
    ValueError
        For an unknown ``target``; ``RuntimeError`` for ``'cuda'`` when no GPU is usable.
    TypeError
        If ``value`` cannot become an array of a supported dtype; if both ``shape`` and
        ``broadcastable`` are given.
    """
    if broadcastable is not None:
        if shape is not None:
            raise TypeError("shared(): give shape or broadcastable, not both")
        shape = tuple(1 if b else None for b in broadcastable)
    if target not in (None, "cpu"):
        if target not in SHARED_TARGETS:
            raise ValueError(f"shared(): unknown target {target!r}; known: "
                             f"{['cpu'] + sorted(SHARED_TARGETS)}")
        return SHARED_TARGETS[target](value, name=name, borrow=borrow, strict=strict,
                                      allow_downcast=allow_downcast, shape=shape)
    if isinstance(value, np.random.Generator):
        from symgraph.ops.random import random_generator_shared

        return random_generator_shared(value, name=name, borrow=borrow)
    if isinstance(value, float):
        array = np.asarray(value, dtype=config.floatX)
    else:
        array = np.asarray(value)
    dtype = dt.canonical(array.dtype)
    static = tuple(shape) if shape is not None else (None,) * array.ndim
    return TensorSharedVariable(TensorType(dtype, static), array, name=name, strict=strict,
                                allow_downcast=allow_downcast, borrow=borrow)


def constant(value: Any, name: str | None = None, ndim: int | None = None,
             dtype: Any = None) -> TensorConstant:
    """A constant tensor holding ``value``; its static shape is the value's shape.

    Python ``float``s take ``config.floatX``, ``int``s int64, unless ``dtype`` is given.

    Raises
    ------
    TypeError
        For an unsupported dtype, or if ``ndim`` does not match the value.
    """
    scalar = isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)
    weak = dtype is None and scalar
    if dtype is not None:
        array = np.asarray(value, dtype=dt.canonical(dtype))
    elif scalar:
        array = np.asarray(value, dtype=dt.python_scalar_dtype(value))
    else:
        array = np.asarray(value)
        if array.dtype.kind == "f" and not isinstance(value, (np.ndarray, np.generic)):
            array = array.astype(config.floatX)
        elif array.dtype.kind in "iu" and not isinstance(value, (np.ndarray, np.generic)):
            array = array.astype("int64")
    fresh = scalar  # np.asarray made a new array from a Python number: it is ours already
    if ndim is not None and array.ndim != ndim:
        if array.ndim < ndim and array.size == 1:
            array = array.reshape((1,) * ndim)
            fresh = False
        else:
            raise TypeError(f"constant of shape {array.shape} does not have ndim {ndim}")
    if not fresh:
        array = np.array(array, copy=True)
    return TensorConstant(TensorType(dt.canonical(array.dtype), array.shape), array, name=name,
                          weak=weak)


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None,
                       dtype: Any = None) -> Any:
    """Turn ``x`` into a tensor Variable.

    Accepts tensor Variables (returned as they are), Apply nodes (their default output), NumPy
    arrays and scalars, Python numbers, and (nested) lists or tuples, which may mix Variables
    and numbers (they are stacked).

    Raises
    ------
    TypeError
        If ``x`` is a non-tensor Variable or cannot become an array, or ``ndim`` differs.
    """
    if isinstance(x, Variable):
        if ndim is None and dtype is None and isinstance(x.type, TensorType):
            return x  # the common case, first
    elif isinstance(x, Apply):
        x = x.default_output()
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"{x} has type {x.type}, not a tensor type")
        if ndim is not None and x.ndim != ndim:  # type: ignore[attr-defined]
            if x.ndim < ndim and all(x.type.broadcastable):  # type: ignore[attr-defined]
                return elemwise.dimshuffle(x, ("x",) * (ndim - x.ndim) + tuple(range(x.ndim)))
            raise TypeError(f"{x} has {x.ndim} dimensions, expected {ndim}")  # type: ignore
        if dtype is not None and x.dtype != dt.canonical(dtype):  # type: ignore[attr-defined]
            return elemwise.cast(x, dtype)
        return x
    if isinstance(x, (list, tuple)) and any(_contains_variable(item) for item in x):
        return shape.stack([as_tensor_variable(item) for item in x])
    try:
        return constant(x, name=name, ndim=ndim, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"cannot convert {x!r} to a tensor variable: {err}") from err


def _contains_variable(x: Any) -> bool:
    if isinstance(x, Variable):
        return True
    if isinstance(x, (list, tuple)):
        return any(_contains_variable(i) for i in x)
    return False


def tensor(name: str | None = None, dtype: Any = None,
           shape: Sequence[int | None] | None = None,
           broadcastable: Sequence[bool] | None = None) -> TensorVariable:
    """A symbolic tensor input of the given dtype (``None``: floatX) and static shape."""
    if shape is None:
        shape = tuple(1 if b else None for b in (broadcastable or ()))
    return TensorType(dtype, shape).make_variable(name)


_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "": None}
_RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4, "tensor5": 5}


def _make_constructor(kind: str, rank: int, fixed_dtype: str | None) -> Any:
    def constructor(name: str | None = None, dtype: Any = None,
                    shape: Sequence[int | None] | None = None) -> TensorVariable:
        chosen = fixed_dtype if fixed_dtype is not None else dtype
        static = (None,) * rank if shape is None else tuple(shape)
        if len(static) != rank:
            raise TypeError(f"{kind}() has {rank} dimensions; shape {shape} has {len(static)}")
        return TensorType(chosen, static).make_variable(name)

    constructor.__doc__ = (f"A symbolic {rank}-d input of dtype "
                           f"{fixed_dtype or 'dtype (default config.floatX)'}.")
    return constructor


def _make_plural(single: Any) -> Any:
    def plural(*names: str, dtype: Any = None) -> list[TensorVariable]:
        parts = [n for text in names for n in text.replace(",", " ").split() if n]
        if not parts:
            raise ValueError("give at least one name, e.g. ('x', 'y') or 'x y' or 'x,y'")
        return [single(n, dtype=dtype) for n in parts]

    plural.__doc__ = ("Several inputs at once: ``x, y = f('x', 'y')`` (Theano's form) or "
                      "``f('x y')`` / ``f('x,y')``.")
    return plural


CONSTRUCTORS: dict[str, Any] = {}
for _prefix, _dtype in _PREFIXES.items():
    for _kind, _rank in _RANKS.items():
        _single = _make_constructor(_kind, _rank, _dtype)
        CONSTRUCTORS[_prefix + _kind] = _single
        _plural_name = _prefix + (_kind[:-1] + "ces" if _kind == "matrix" else _kind + "s")
        CONSTRUCTORS[_plural_name] = _make_plural(_single)

globals().update(CONSTRUCTORS)

# Sibling op modules import names from this one, so they are imported last; operators above
# resolve their attributes at call time.
from symgraph.ops import blas, construct, elemwise, reduce, shape, subtensor  # noqa: E402
