"""Tensor variables, constants and shared variables, and the functions that make them.

``TensorVariable`` carries the NumPy-like operators (``x + y``, ``x[i]``, ``x.sum()``) of
symgraph.ops.operators.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.config import config
from symgraph.graph import Apply, Constant, Variable
from symgraph.ops.operators import TensorOperators
from symgraph.type import TensorType, Type


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


# The class of the variables ``TensorType.make_variable`` makes: TensorType (layer 0) cannot
# name a class defined above it, so the class is declared there and given here.
TensorType.variable_class = TensorVariable


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


def shared(value: Any, name: str | None = None, borrow: bool = False, strict: bool = False,
           allow_downcast: bool | None = None,
           shape: Sequence[int | None] | None = None) -> Any:
    """A shared variable whose value lives in host memory: ``sg.shared`` (symgraph.devices,
    which documents the arguments and takes Theano's ``broadcastable``) for ``target=None``."""
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
                from symgraph.ops import elemwise
                return elemwise.dimshuffle(x, ("x",) * (ndim - x.ndim) + tuple(range(x.ndim)))
            raise TypeError(f"{x} has {x.ndim} dimensions, expected {ndim}")  # type: ignore
        if dtype is not None and x.dtype != dt.canonical(dtype):  # type: ignore[attr-defined]
            from symgraph.ops import elemwise
            return elemwise.cast(x, dtype)
        return x
    if isinstance(x, (list, tuple)) and any(_contains_variable(item) for item in x):
        from symgraph.ops import shape
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


# Theano's constructors: a dtype prefix (none: the dtype argument, default floatX; b int8,
# w int16, i int32, l int64, f float32, d float64) and a rank; the plural forms make several.
_DTYPES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
           "d": "float64", "": None}
_RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4, "tensor5": 5}


def _make_constructor(name: str, rank: int, fixed_dtype: str | None) -> Any:
    def constructor(name: str | None = None, dtype: Any = None,
                    shape: Sequence[int | None] | None = None) -> TensorVariable:
        chosen = fixed_dtype if fixed_dtype is not None else dtype
        static = (None,) * rank if shape is None else tuple(shape)
        if len(static) != rank:
            raise TypeError(f"{constructor.__name__}() has {rank} dimensions; shape {shape} "
                            f"has {len(static)}")
        return TensorType(chosen, static).make_variable(name)

    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = (f"A symbolic {rank}-d input of dtype "
                           f"{fixed_dtype or 'dtype (default config.floatX)'}.")
    return constructor


def _make_plural(name: str, single: Any) -> Any:
    def plural(*names: str, dtype: Any = None) -> list[TensorVariable]:
        parts = [n for text in names for n in text.replace(",", " ").split() if n]
        if not parts:
            raise ValueError("give at least one name, e.g. ('x', 'y') or 'x y' or 'x,y'")
        return [single(n, dtype=dtype) for n in parts]

    plural.__name__ = plural.__qualname__ = name
    plural.__doc__ = ("Several inputs at once: ``x, y = f('x', 'y')`` (Theano's form) or "
                      "``f('x y')`` / ``f('x,y')``.")
    return plural


def _family(prefix: str) -> tuple[Any, ...]:
    """The six constructors of ``prefix`` (scalar to tensor5), then their six plurals."""
    singles = [_make_constructor(prefix + kind, rank, _DTYPES[prefix])
               for kind, rank in _RANKS.items()]
    plurals = [_make_plural(prefix + (kind[:-1] + "ces" if kind == "matrix" else kind + "s"),
                            single) for kind, single in zip(_RANKS, singles)]
    return (*singles, *plurals)


_FAMILIES = {prefix: _family(prefix) for prefix in _DTYPES}
(scalar, vector, matrix, tensor3, tensor4, tensor5,
 scalars, vectors, matrices, tensor3s, tensor4s, tensor5s) = _FAMILIES[""]
(bscalar, bvector, bmatrix, btensor3, btensor4, btensor5,
 bscalars, bvectors, bmatrices, btensor3s, btensor4s, btensor5s) = _FAMILIES["b"]
(wscalar, wvector, wmatrix, wtensor3, wtensor4, wtensor5,
 wscalars, wvectors, wmatrices, wtensor3s, wtensor4s, wtensor5s) = _FAMILIES["w"]
(iscalar, ivector, imatrix, itensor3, itensor4, itensor5,
 iscalars, ivectors, imatrices, itensor3s, itensor4s, itensor5s) = _FAMILIES["i"]
(lscalar, lvector, lmatrix, ltensor3, ltensor4, ltensor5,
 lscalars, lvectors, lmatrices, ltensor3s, ltensor4s, ltensor5s) = _FAMILIES["l"]
(fscalar, fvector, fmatrix, ftensor3, ftensor4, ftensor5,
 fscalars, fvectors, fmatrices, ftensor3s, ftensor4s, ftensor5s) = _FAMILIES["f"]
(dscalar, dvector, dmatrix, dtensor3, dtensor4, dtensor5,
 dscalars, dvectors, dmatrices, dtensor3s, dtensor4s, dtensor5s) = _FAMILIES["d"]

CONSTRUCTORS: dict[str, Any] = {f.__name__: f for family in _FAMILIES.values() for f in family}
