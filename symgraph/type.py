"""Types of graph variables: ``TensorType(dtype, shape)`` and the generic ``Type`` base.

A static shape entry is an ``int`` when known (``1`` marks a broadcastable dimension) and
``None`` when only known at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from symgraph import dtype as dt


class Type:
    """Base of all variable types. Subclasses define equality, ``filter`` and ``make_variable``."""

    # The class ``make_variable`` instantiates. A Type sits in layer 0, below the variable
    # classes: graph.py gives ``Variable`` here, symgraph.ops.basic gives ``TensorVariable`` (with
    # the tensor operators) to TensorType.
    variable_class: ClassVar[type | None] = None

    def filter(self, value: Any, name: str = "value", allow_downcast: bool = False) -> Any:
        """Return ``value`` converted to this type, or raise ``TypeError`` naming ``name``."""
        raise NotImplementedError

    def is_compatible(self, other: "Type") -> bool:
        """True when a variable of ``other`` may stand where one of ``self`` is expected."""
        return self == other

    def make_variable(self, name: str | None = None) -> Any:
        cls = self.variable_class
        if cls is None:
            raise TypeError(f"{type(self).__name__} has no variable class registered")
        return cls(self, name=name)

    def __call__(self, name: str | None = None) -> Any:
        return self.make_variable(name)


class TensorType(Type):
    """The type of an n-dimensional array: a dtype and a static shape.

    Parameters
    ----------
    dtype : str or numpy dtype
        One of bool, int8–int64, uint8–uint64, float16, float32, float64; ``None`` or
        ``'floatX'`` means ``config.floatX``.
    shape : sequence of (int or None)
        Static shape: ``None`` for a dimension known only at run time, ``1`` for a
        broadcastable one. Its length is the rank.
    broadcastable : sequence of bool, optional
        Theano's form of ``shape`` (``TensorType(dtype, broadcastable=(True, False))``):
        ``True`` for a static 1, ``False`` for unknown. Replaces ``shape`` when given.

    Raises
    ------
    TypeError
        For an unsupported dtype or a negative static dimension.
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: Any, shape: Sequence[int | None] = (),
                 broadcastable: Sequence[bool] | None = None) -> None:
        self.dtype = dt.canonical("floatX" if dtype is None else dtype)
        if broadcastable is not None:  # Theano's keyword: True is a static 1
            shape = tuple(1 if b else None for b in broadcastable)
        static = tuple(shape)
        for s in static:
            # Fast path: a tuple of plain ints and Nones is already normalised.
            if s is not None and (s.__class__ is not int or s < 0):
                static = _normalise_shape(static, shape)
                break
        self.shape: tuple[int | None, ...] = static

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    def clone(self, dtype: Any = None, shape: Sequence[int | None] | None = None) -> "TensorType":
        return TensorType(self.dtype if dtype is None else dtype,
                          self.shape if shape is None else shape)

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other.dtype == self.dtype  # type: ignore[attr-defined]
                and other.shape == self.shape)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.dtype, self.shape))

    def __repr__(self) -> str:
        shape = ", ".join("?" if s is None else str(s) for s in self.shape)
        if self.ndim == 1:
            shape += ","
        return f"TensorType({self.dtype}, ({shape}))"

    def is_compatible(self, other: Type) -> bool:
        if not isinstance(other, TensorType):
            return False
        if other.dtype != self.dtype:
            return False
        if other.shape == self.shape:
            return True
        if other.ndim != self.ndim:
            return False
        return all(a is None or b is None or a == b for a, b in zip(self.shape, other.shape))

    def filter(self, value: Any, name: str = "value", allow_downcast: bool = False) -> np.ndarray:
        """Convert ``value`` to an ndarray of this type.

        Arrays of another dtype are accepted when NumPy casts them safely (e.g. int32 to
        float64), Python scalars, lists, tuples and ranges when they fit the kind (an int list
        for a float input), arrays of other libraries (``__dlpack__`` or ``__array__``: JAX,
        PyTorch, CuPy's host arrays) by the same rules as ndarrays; anything that would lose
        information raises unless ``allow_downcast``.

        Raises
        ------
        TypeError
            Naming ``name``, for a wrong dtype, rank or static shape.
        """
        array = self._coerce_dtype(value, name, allow_downcast)
        if array.ndim != self.ndim:
            raise TypeError(
                f"{name}: expected a {self.ndim}-d array ({self}), got a {array.ndim}-d "
                f"array of shape {array.shape}"
            )
        for axis, (want, got) in enumerate(zip(self.shape, array.shape)):
            if want is not None and want != got:
                raise TypeError(
                    f"{name}: expected static shape {self.shape}, got shape {array.shape} "
                    f"(dimension {axis} must be {want})"
                )
        return array

    def _coerce_dtype(self, value: Any, name: str, allow_downcast: bool) -> np.ndarray:
        if isinstance(value, np.ndarray) and value.dtype == self.dtype:
            return value
        if isinstance(value, (np.ndarray, np.generic)):
            source = value.dtype
            if allow_downcast or np.can_cast(source, self.dtype, casting="safe"):
                return np.asarray(value, dtype=self.dtype)
            raise TypeError(
                f"{name}: expected dtype {self.dtype}, got {source.name}; this cast could lose "
                f"information: cast it with .astype({self.dtype!r}) or pass "
                f"allow_input_downcast=True"
            )
        if isinstance(value, (bool, int, float, list, tuple, range)):
            try:
                raw = np.asarray(value)
            except ValueError as err:
                raise TypeError(f"{name}: cannot convert {value!r} to an array: {err}") from err
            kinds_ok = (raw.dtype.kind == "b" or (raw.dtype.kind in "iu" and
                        np.dtype(self.dtype).kind in "iuf") or
                        (raw.dtype.kind == "f" and np.dtype(self.dtype).kind == "f"))
            if raw.dtype.kind in "iu" and np.dtype(self.dtype).kind in "iu" and raw.size:
                info = np.iinfo(self.dtype)
                kinds_ok = kinds_ok and info.min <= raw.min() and raw.max() <= info.max
            if kinds_ok or allow_downcast:
                return np.asarray(raw, dtype=self.dtype)
            raise TypeError(f"{name}: expected dtype {self.dtype}, got {value!r}")
        array = _from_array_like(value, name)
        if array is not None:
            return self._coerce_dtype(array, name, allow_downcast)
        raise TypeError(
            f"{name}: expected an array of dtype {self.dtype}, got {type(value).__name__}"
        )

    def value_zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)


def _from_array_like(value: Any, name: str) -> np.ndarray | None:
    """An ndarray of ``value`` if it is an array of another library (JAX, PyTorch, CuPy, ...):
    through DLPack when it lives in CPU memory (no copy), else through ``__array__``; None for
    a value that is neither.

    Raises
    ------
    TypeError
        Naming ``name``, when the library refuses both (a GPU array, a tensor that requires
        grad): the message says how to get a NumPy array from it.
    """
    has_dlpack, has_array = hasattr(value, "__dlpack__"), hasattr(value, "__array__")
    if not (has_dlpack or has_array):
        return None
    errors = []
    if has_dlpack:
        try:
            return np.from_dlpack(value)
        except (BufferError, TypeError, ValueError, RuntimeError) as err:
            errors.append(f"DLPack: {err}")
    if has_array:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError, RuntimeError) as err:
            errors.append(f"__array__: {err}")
        else:
            if array.dtype.kind != "O":
                return array
            errors.append("__array__ gave an array of Python objects")
    raise TypeError(f"{name}: cannot read the {type(value).__name__} as a NumPy array in CPU "
                    f"memory ({'; '.join(errors)}); convert it to a NumPy array first")


def _normalise_shape(static: tuple[Any, ...], shape: Any) -> tuple[int | None, ...]:
    norm: list[int | None] = []
    for s in static:
        if s is None:
            norm.append(None)
        elif isinstance(s, (bool, np.bool_)):
            # Theano's broadcastable flags: True means a length-1 dimension.
            norm.append(1 if s else None)
        else:
            s = int(s)
            if s < 0:
                raise TypeError(f"static shape entries must be >= 0 or None, got {shape}")
            norm.append(s)
    return tuple(norm)


def broadcast_static_shapes(*shapes: Sequence[int | None]) -> tuple[int | None, ...]:
    """Static shape of the broadcast of equal-rank static shapes.

    Raises
    ------
    ValueError
        When two known dimensions differ and neither is 1.
    """
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):  # the common case: nothing to reconcile
        return tuple(first)
    out: list[int | None] = []
    for axis, dims in enumerate(zip(*shapes)):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"shapes {list(map(tuple, shapes))} do not broadcast on axis {axis}")
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)
