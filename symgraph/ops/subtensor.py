"""Indexing: basic slicing, integer and boolean advanced indexing, set/inc_subtensor, take.

Semantics are NumPy's (``x[index]``); ``set_subtensor``/``inc_subtensor`` keep Theano's API.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.ops import blas, elemwise, reduce, shape
from symgraph.ops.basic import TensorConstant, as_tensor_variable, constant
from symgraph.type import TensorType

__all__ = ["AdvancedIncSubtensor", "AdvancedSubtensor", "IncSubtensor", "Subtensor", "getitem",
           "inc_subtensor", "set_subtensor", "take"]


class IndexTypeError(TypeError, IndexError):
    """An index of the wrong kind: a ``TypeError`` (symgraph) that is also NumPy's
    ``IndexError``."""


# ---------------------------------------------------------------------------------------------
# The static description of an index
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Input:
    """Placeholder in an index list for a symbolic input of the op.

    ``kind`` is ``'scalar'`` (an integer 0-d tensor), ``'array'`` (an integer array) or
    ``'mask'`` (a boolean array consuming ``ndim`` dimensions of the indexed tensor).
    """

    kind: str
    ndim: int = 0

    def __str__(self) -> str:
        return {"scalar": "i", "array": "[int]"}.get(self.kind, f"[bool{self.ndim}d]")


SCALAR = Input("scalar")
ARRAY = Input("array")


@dataclass(frozen=True)
class Slice:
    """A slice whose start, stop and step are ``None``, Python ints or ``SCALAR``."""

    start: int | Input | None = None
    stop: int | Input | None = None
    step: int | Input | None = None

    def parts(self) -> tuple[Any, Any, Any]:
        return (self.start, self.stop, self.step)

    def __str__(self) -> str:
        text = ":".join("" if p is None else str(p) for p in self.parts())
        return text[:-1] if text.endswith(":") and self.step is None else text


# An index list entry: int, SCALAR, ARRAY, Input('mask', k), Slice, None (newaxis) or Ellipsis.
Entry = Any


def _normalize_entry(entry: Entry, advanced_ok: bool) -> Entry:
    if entry is None or entry is Ellipsis or entry == SCALAR:
        return entry
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_)):
        return int(entry)
    if isinstance(entry, Slice):
        if any(isinstance(p, Input) and p != SCALAR for p in entry.parts()):
            raise ValueError(f"slice bounds must be ints, None or SCALAR, got {entry!r}")
        parts = [p if p is None or p == SCALAR else int(p) for p in entry.parts()]
        if parts[2] == 0:
            raise ValueError("slice step cannot be zero")
        return Slice(*parts)
    if isinstance(entry, Input) and entry.kind in ("array", "mask") and advanced_ok:
        return entry
    raise ValueError(f"invalid index list entry {entry!r}")


def _placeholders(idx_list: Sequence[Entry]) -> list[Input]:
    """The placeholders of an index list, in the order of the op's index inputs."""
    found: list[Input] = []
    for entry in idx_list:
        parts = entry.parts() if isinstance(entry, Slice) else (entry,)
        found.extend(p for p in parts if isinstance(p, Input))
    return found


def _consumed_dims(idx_list: Sequence[Entry]) -> int:
    count = 0
    for entry in idx_list:
        if entry is None or entry is Ellipsis:
            continue
        count += entry.ndim if isinstance(entry, Input) and entry.kind == "mask" else 1
    return count


def _is_advanced(entry: Entry) -> bool:
    return isinstance(entry, Input) and entry.kind in ("array", "mask")


def _format(idx_list: Sequence[Entry]) -> str:
    names = {None: "newaxis", Ellipsis: "..."}
    return ", ".join(names[e] if e is None or e is Ellipsis else str(e) for e in idx_list)


# ---------------------------------------------------------------------------------------------
# Dimension arithmetic on Python ints, symbolic scalars or UNKNOWN (static inference)
# ---------------------------------------------------------------------------------------------

class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def _lift(py: Callable[..., Any], sym: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if all(isinstance(a, int) for a in args):
            return py(*args)
        return sym(*args)

    return apply


_add = _lift(operator.add, lambda a, b: elemwise.add(a, b))
_sub = _lift(operator.sub, lambda a, b: elemwise.sub(a, b))
_floordiv = _lift(operator.floordiv, lambda a, b: elemwise.int_div(a, b))
_max = _lift(max, lambda a, b: elemwise.maximum(a, b))
_min = _lift(min, lambda a, b: elemwise.minimum(a, b))
_lt = _lift(operator.lt, lambda a, b: elemwise.lt(a, b))


def _where(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(cond, bool):
        return a if cond else b
    if a is b:
        return a
    if cond is UNKNOWN or a is UNKNOWN or b is UNKNOWN:
        return a if isinstance(a, int) and isinstance(b, int) and a == b else UNKNOWN
    return elemwise.switch(cond, a, b)


def _wrap_clip(v: Any, n: Any, lo: Any, hi: Any) -> Any:
    """A slice bound as Python resolves it: negative counts from the end, then clipped."""
    wrapped = _where(_lt(v, 0), _add(v, n), v)
    return _min(_max(wrapped, lo), hi)


def _slice_length(n: Any, start: Any, stop: Any, step: Any) -> Any:
    """``len(range(*slice(start, stop, step).indices(n)))`` for ints, symbols or UNKNOWN."""
    if step is None:
        step = 1
    if start is None and stop is None and step == 1:
        return n
    if isinstance(step, int):
        return _signed_slice_length(n, start, stop, step, step > 0)
    if step is UNKNOWN:
        return UNKNOWN
    return _where(_lt(0, step), _signed_slice_length(n, start, stop, step, True),
                  _signed_slice_length(n, start, stop, step, False))


def _signed_slice_length(n: Any, start: Any, stop: Any, step: Any, positive: bool) -> Any:
    if positive:
        begin = 0 if start is None else _wrap_clip(start, n, 0, n)
        end = n if stop is None else _wrap_clip(stop, n, 0, n)
        return _max(_floordiv(_add(_sub(end, begin), _sub(step, 1)), step), 0)
    # Going down, -1 stands for "before the first element".
    top = _sub(n, 1)
    begin = top if start is None else _wrap_clip(start, n, -1, top)
    end = -1 if stop is None else _wrap_clip(stop, n, -1, top)
    down = _sub(0, step)
    return _max(_floordiv(_add(_sub(begin, end), _sub(down, 1)), down), 0)


def _broadcast_dim(a: Any, b: Any) -> Any:
    """NumPy broadcasting of two index-array dimensions (index arrays follow NumPy, not the
    static-1 rule: they are data)."""
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    if isinstance(a, int) and isinstance(b, int):
        if a != b:
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together "
                             f"(lengths {a} and {b})")
        return a
    if isinstance(a, int) or isinstance(b, int):
        return a if isinstance(a, int) else b
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    return elemwise.switch(elemwise.eq(a, 1), b, a)


def _broadcast_shapes(shapes: Sequence[Sequence[Any]]) -> list[Any]:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    result = []
    for dims in zip(*padded):
        dim = dims[0]
        for other in dims[1:]:
            dim = _broadcast_dim(dim, other)
        result.append(dim)
    return result


def indexed_shape(idx_list: Sequence[Entry], x_shape: Sequence[Any],
                  infos: Sequence[Any]) -> list[Any]:
    """Shape of ``x[index]`` as NumPy defines it.

    ``x_shape`` holds dimensions (ints, symbolic scalars or UNKNOWN); ``infos`` holds, per
    placeholder of ``idx_list``: the value of a ``SCALAR``, the shape of an ``ARRAY``, the
    number of True entries of a mask. Integers count as advanced indices when an array or mask
    is present; the broadcast advanced dimensions replace the first advanced index, or go first
    when advanced indices are not adjacent (NumPy's rule).
    """
    values: Iterator[Any] = iter(infos)
    has_advanced = any(_is_advanced(e) for e in idx_list)
    n_ellipsis = len(x_shape) - _consumed_dims(idx_list)
    out: list[Any] = []
    advanced: list[tuple[int, tuple[Any, ...]]] = []
    insert_at, axis = 0, 0
    for position, entry in enumerate(idx_list):
        if entry is None:
            out.append(1)
        elif entry is Ellipsis:
            out.extend(x_shape[axis:axis + n_ellipsis])
            axis += n_ellipsis
        elif isinstance(entry, Slice):
            parts = [next(values) if p == SCALAR else p for p in entry.parts()]
            out.append(_slice_length(x_shape[axis], *parts))
            axis += 1
        else:
            if entry == SCALAR:
                next(values)
            if not has_advanced:
                axis += 1
                continue
            if not advanced:
                insert_at = len(out)
            index_shape: tuple[Any, ...] = ()
            if entry == ARRAY:
                index_shape = tuple(next(values))
            elif isinstance(entry, Input) and entry.kind == "mask":
                index_shape = (next(values),)
            advanced.append((position, index_shape))
            axis += entry.ndim if isinstance(entry, Input) and entry.kind == "mask" else 1
    out.extend(x_shape[axis:])
    if advanced:
        positions = [p for p, _ in advanced]
        if positions[-1] - positions[0] + 1 != len(positions):
            insert_at = 0
        out[insert_at:insert_at] = _broadcast_shapes([s for _, s in advanced])
    return out


def _index_infos(placeholders: Sequence[Input], inputs: Sequence[Any],
                 input_shapes: Sequence[Sequence[Any]] | None = None) -> list[Any]:
    """``indexed_shape``'s infos from the index inputs: static (UNKNOWN where not known)
    without ``input_shapes``, symbolic with them."""
    infos: list[Any] = []
    for k, (ph, var) in enumerate(zip(placeholders, inputs)):
        if ph.kind == "array" and input_shapes is not None:
            infos.append(tuple(input_shapes[k]))
        elif ph.kind == "array":
            infos.append(tuple(UNKNOWN if s is None else s for s in var.type.shape))
        elif isinstance(var, Constant):
            data = np.asarray(var.data)
            infos.append(int(np.count_nonzero(data)) if ph.kind == "mask" else int(data))
        elif input_shapes is None:
            infos.append(UNKNOWN)
        else:
            infos.append(reduce.sum(var, dtype="int64") if ph.kind == "mask" else
                         elemwise.cast(var, "int64"))
    return infos


def _runtime_infos(placeholders: Sequence[Input], values: Sequence[Any]) -> list[Any]:
    return [np.shape(v) if ph.kind == "array" else
            int(np.count_nonzero(v)) if ph.kind == "mask" else int(v)
            for ph, v in zip(placeholders, values)]


def _static_shape(dims: Sequence[Any]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) else None for d in dims)


def _as_dim(d: Any) -> Any:
    if isinstance(d, int):
        return d
    return elemwise.cast(d, "int64") if d.dtype != "int64" else d


def _numpy_index(idx_list: Sequence[Entry], values: Sequence[Any]) -> tuple[Any, ...]:
    """The NumPy index tuple for ``idx_list`` filled with the index inputs' values."""
    it = iter(values)

    def fill(part: Any) -> Any:
        if isinstance(part, Input):
            value = next(it)
            return int(value) if part.kind == "scalar" else value
        return part

    return tuple(slice(*[fill(p) for p in e.parts()]) if isinstance(e, Slice) else fill(e)
                 for e in idx_list)


# ---------------------------------------------------------------------------------------------
# Ops
# ---------------------------------------------------------------------------------------------

class _IndexOp(Op):
    """Shared checks of the four indexing ops; ``idx_list`` is the static index structure."""

    abstract = True
    advanced = False
    __props__: tuple[str, ...] = ("idx_list",)

    def __init__(self, idx_list: Sequence[Entry]) -> None:
        self.idx_list = tuple(_normalize_entry(e, self.advanced) for e in idx_list)
        if sum(e is Ellipsis for e in self.idx_list) > 1:
            raise ValueError("an index can only have a single ellipsis ('...')")
        if self.advanced and not any(_is_advanced(e) for e in self.idx_list):
            raise ValueError(f"{type(self).__name__} needs an integer array or boolean mask "
                             f"index; use the basic op for {self.idx_list}")
        self.placeholders = _placeholders(self.idx_list)

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{_format(self.idx_list)}}}"

    def _check_x(self, x: Any) -> Any:
        x = as_tensor_variable(x)
        needed = _consumed_dims(self.idx_list)
        if needed > x.ndim:
            raise TypeError(f"{self}: input x ({x}) has {x.ndim} dimensions, the index needs "
                            f"{needed}")
        return x

    def _check_indices(self, indices: Sequence[Any], first: int) -> list[Any]:
        if len(indices) != len(self.placeholders):
            raise TypeError(f"{self}: expected {len(self.placeholders)} index inputs, got "
                            f"{len(indices)}")
        checked = []
        for k, (ph, raw) in enumerate(zip(self.placeholders, indices)):
            var = as_tensor_variable(raw)
            where = f"{self}: index input {k} (input {first + k}, {var})"
            if ph.kind == "mask":
                if var.dtype != "bool" or var.ndim != ph.ndim:
                    raise TypeError(f"{where} must be a {ph.ndim}-d bool mask, got {var.type}")
            elif not dt.is_integer(var.dtype):
                raise TypeError(f"{where} must have an integer dtype, got {var.dtype}")
            elif ph.kind == "scalar" and var.ndim != 0:
                raise TypeError(f"{where} must be a 0-d integer, got a {var.ndim}-d tensor")
            checked.append(var)
        return checked

    def _static_indexed_shape(self, x: Any, indices: Sequence[Any]) -> tuple[int | None, ...]:
        x_shape = [UNKNOWN if s is None else s for s in x.type.shape]
        infos = _index_infos(self.placeholders, indices)
        return _static_shape(indexed_shape(self.idx_list, x_shape, infos))

    def _symbolic_indexed_shape(self, node: Apply, input_shapes: Sequence[Any],
                                first: int) -> tuple[Any, ...]:
        # Shape features may hand over NumPy integers: make them Python ints for the folding.
        shapes = [[int(d) if isinstance(d, np.integer) else d for d in s] for s in input_shapes]
        infos = _index_infos(self.placeholders, node.inputs[first:], shapes[first:])
        dims = indexed_shape(self.idx_list, shapes[0], infos)
        return tuple(_as_dim(d) for d in dims)


class _GetOp(_IndexOp):
    abstract = True

    def make_node(self, x: Any, *indices: Any) -> Apply:
        x = self._check_x(x)
        indices = self._check_indices(indices, 1)
        out_type = TensorType(x.dtype, self._static_indexed_shape(x, indices))
        return Apply(self, [x, *indices], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = inputs[0]
        output_storage[0][0] = np.asarray(x[_numpy_index(self.idx_list, inputs[1:])])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [self._symbolic_indexed_shape(node, input_shapes, 1)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x, indices = inputs[0], list(inputs[1:])
        none = [None] * len(indices)
        if not dt.is_float(x.dtype):
            return [None, *none]
        inc = self.inc_op(self.idx_list, set_instead_of_inc=False)
        return [inc(elemwise.zeros_like(x), output_grads[0], *indices), *none]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]


class Subtensor(_GetOp):
    """Basic indexing ``x[index]`` (a view): ints, slices, ``None`` (newaxis), ``...``.

    ``idx_list`` holds Python ints, ``Slice`` entries, ``None``, ``Ellipsis`` and ``SCALAR``
    placeholders; each placeholder (also inside a slice) takes the next 0-d integer input.

    Raises
    ------
    TypeError
        From ``make_node``: an index input that is not a 0-d integer, a wrong number of
        index inputs, or more indexed dimensions than ``x`` has.
    IndexError
        At run time, for an integer index out of range (NumPy).
    ValueError
        At run time, for a slice step of zero.

    Notes
    -----
    The gradient scatters the output gradient into zeros of ``x``'s shape (``IncSubtensor``).
    """

    abstract = False
    view_map = {0: [0]}  # noqa: RUF012 - the Op contract's class attribute

    @property
    def inc_op(self) -> type:
        return IncSubtensor


class AdvancedSubtensor(_GetOp):
    """Advanced indexing ``x[index]`` with integer arrays and boolean masks (a copy), mixed with
    basic entries exactly as in NumPy.

    ``idx_list`` is as for ``Subtensor`` plus ``ARRAY`` and ``Input('mask', k)`` placeholders.
    The length of a dimension produced by a mask (its number of True entries) is unknown
    statically unless the mask is a constant.

    Raises
    ------
    TypeError
        From ``make_node``: an index array that is not integer, a mask that is not bool or of
        the wrong rank.
    IndexError
        From ``make_node`` when the index arrays' static shapes cannot broadcast; at run time
        for an out-of-range index, a mask whose shape does not match ``x``, or index arrays
        that do not broadcast (NumPy).

    Notes
    -----
    The gradient accumulates the output gradient at the indexed positions, duplicates
    included (``AdvancedIncSubtensor``, ``np.add.at``).
    """

    abstract = False
    advanced = True

    @property
    def inc_op(self) -> type:
        return AdvancedIncSubtensor


class _IncOp(_IndexOp):
    abstract = True
    __props__ = ("idx_list", "set_instead_of_inc", "inplace")

    def __init__(self, idx_list: Sequence[Entry], set_instead_of_inc: bool = False,
                 inplace: bool = False) -> None:
        super().__init__(idx_list)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.inplace = bool(inplace)
        # The inplace rewrite sets ``inplace`` only where no other computation reads ``x``.
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self) -> str:
        kind = "set" if self.set_instead_of_inc else "inc"
        suffix = "; inplace" if self.inplace else ""
        return f"{type(self).__name__}{{{kind}; {_format(self.idx_list)}{suffix}}}"

    def make_node(self, x: Any, y: Any, *indices: Any) -> Apply:
        x = self._check_x(x)
        indices = self._check_indices(indices, 2)
        y = _cast_like(as_tensor_variable(y), x.dtype, str(self))
        target = self._static_indexed_shape(x, indices)
        if y.ndim > len(target):
            raise TypeError(f"{self}: input y ({y}) has {y.ndim} dimensions, more than the "
                            f"{len(target)} of the indexed region")
        for axis, (want, got) in enumerate(zip(target[len(target) - y.ndim:], y.type.shape)):
            if want is not None and got not in (None, 1, want):
                raise ValueError(f"{self}: y of static shape {y.type.shape} does not fit the "
                                 f"indexed region of static shape {target} (axis {axis} of y)")
        return Apply(self, [x, y, *indices], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, y, values = inputs[0], inputs[1], inputs[2:]
        index = _numpy_index(self.idx_list, values)
        target = tuple(indexed_shape(self.idx_list, x.shape,
                                     _runtime_infos(self.placeholders, values)))
        _check_runtime_fit(self, node.inputs[1], np.shape(y), target)
        # A read-only x (a view of a constant) is copied even inplace: the result is the same.
        writable = isinstance(x, np.ndarray) and x.flags.writeable
        out = x if self.inplace and writable else np.array(x, copy=True)
        if self.set_instead_of_inc:
            out[index] = y
        else:
            self._accumulate(out, index, np.broadcast_to(y, target))
        output_storage[0][0] = out

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x, y, indices = inputs[0], inputs[1], list(inputs[2:])
        none = [None] * len(indices)
        if not dt.is_float(x.dtype):
            return [None, None, *none]
        gz = output_grads[0]
        if self.set_instead_of_inc:
            gx = type(self)(self.idx_list, True)(gz, constant(0, dtype=gz.dtype), *indices)
        else:
            gx = gz
        # Summed down to the shape y was broadcast from (make_node: y.ndim <= the region's).
        gy = blas.sum_to(self.get_op(self.idx_list)(gz, *indices), y)
        return [gx, gy, *none]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        ex, ey = eval_points[0], eval_points[1]
        if ex is None and ey is None:
            return [None]
        ex = elemwise.zeros_like(inputs[0]) if ex is None else ex
        ey = elemwise.zeros_like(inputs[1]) if ey is None else ey
        copying = type(self)(self.idx_list, self.set_instead_of_inc)  # new graphs never destroy
        return [copying(ex, ey, *inputs[2:])]


class IncSubtensor(_IncOp):
    """``x`` with ``x[index]`` set to (or incremented by) ``y``; basic indices only.

    Inputs are ``x``, ``y`` and the 0-d integer index inputs of ``idx_list`` (as in
    ``Subtensor``). ``y`` is cast to ``x``'s dtype and broadcast to the indexed region with
    Theano's rule: it is padded on the left, and only its static-1 dimensions broadcast. The
    result is a new array (``x`` is not modified), unless ``inplace`` is set: then the result
    is written into ``x``'s buffer (``destroy_map = {0: [0]}``). Only the inplace rewrite sets
    it, where the destroy handler has proved that nothing else reads ``x``.

    Raises
    ------
    TypeError
        From ``make_node``: ``y`` of higher rank than the indexed region or of a dtype that
        cannot be cast to ``x``'s without changing kind; bad index inputs.
    ValueError
        When ``y`` does not fit the indexed region (statically, or at run time).
    IndexError
        At run time, for an integer index out of range.

    Notes
    -----
    Gradients: for ``x``, the output gradient (inc) or the output gradient with the indexed
    region zeroed (set); for ``y``, the output gradient at the index, summed over the
    dimensions where ``y`` was broadcast.
    """

    abstract = False

    @staticmethod
    def get_op(idx_list: Sequence[Entry]) -> Op:
        return Subtensor(idx_list)

    @staticmethod
    def _accumulate(out: np.ndarray, index: tuple[Any, ...], y: np.ndarray) -> None:
        # Basic indices never repeat a position, so an in-place add is exact.
        out[index] += y


class AdvancedIncSubtensor(_IncOp):
    """``x`` with ``x[index]`` set to (or incremented by) ``y``, for advanced indices.

    As ``IncSubtensor`` with ``AdvancedSubtensor``'s index structure. Duplicate indices
    accumulate when incrementing (``np.add.at`` semantics); when setting, the last write wins
    (NumPy).

    Raises
    ------
    TypeError, ValueError, IndexError
        As ``IncSubtensor`` and ``AdvancedSubtensor``.

    Notes
    -----
    With ``set_instead_of_inc`` and duplicate indices, every duplicate of ``y`` receives the
    output gradient of the position it was written to (as Theano), although only the last
    write is visible in the output.
    """

    abstract = False
    advanced = True

    @staticmethod
    def get_op(idx_list: Sequence[Entry]) -> Op:
        return AdvancedSubtensor(idx_list)

    @staticmethod
    def _accumulate(out: np.ndarray, index: tuple[Any, ...], y: np.ndarray) -> None:
        np.add.at(out, index, y)


def _cast_like(y: Any, dtype: str, who: str) -> Any:
    """``y`` in ``dtype``: weak constants take it; others must not change kind (float->int)."""
    if y.dtype == dtype:
        return y
    if isinstance(y, TensorConstant) and y.weak:
        value = np.asarray(y.data)
        if dt.is_float(dtype) or np.asarray(value.astype(dtype) == value).all():
            return constant(value.astype(dtype))
    elif np.can_cast(y.dtype, dtype, casting="same_kind"):
        return elemwise.cast(y, dtype)
    raise TypeError(f"{who}: input y ({y}) of dtype {y.dtype} cannot be written into a tensor "
                    f"of dtype {dtype}; cast it explicitly with .astype({dtype!r})")


def _check_runtime_fit(op: Op, y_var: Any, y_shape: tuple[int, ...],
                       target: tuple[int, ...]) -> None:
    aligned = target[len(target) - len(y_shape):]
    for axis, (want, got, static) in enumerate(zip(aligned, y_shape, y_var.type.shape)):
        if got != want and static != 1:
            raise ValueError(
                f"{op}: y of shape {y_shape} does not fit the indexed region of shape {target} "
                f"(axis {axis} of y); only dimensions of static length 1 broadcast")


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------

def _index_error(item: Any, why: str = "") -> IndexTypeError:
    return IndexTypeError(
        f"invalid index {item!r}{why}: only integers, slices, None (newaxis), Ellipsis, "
        f"0-d integer tensors, integer arrays and boolean masks are valid indices")


def _slice_part(part: Any) -> tuple[Any, list[Any]]:
    if part is None:
        return None, []
    if isinstance(part, (int, np.integer)):
        return int(part), []
    if isinstance(part, np.ndarray) and part.ndim == 0 and part.dtype.kind in "iu":
        return int(part), []
    if isinstance(part, Variable):
        var = as_tensor_variable(part)
        if var.ndim != 0 or not dt.is_integer(var.dtype):
            raise _index_error(part, f" in a slice ({var.type})")
        if isinstance(var, Constant):
            return int(var.data), []
        return SCALAR, [var]
    raise _index_error(part, " in a slice")


def _classify_variable(var: Any) -> tuple[Entry, list[Any]]:
    var = as_tensor_variable(var)
    if var.dtype == "bool":
        return Input("mask", var.ndim), [var]
    if not dt.is_integer(var.dtype):
        raise _index_error(var, f" of dtype {var.dtype}")
    if var.ndim > 0:
        return ARRAY, [var]
    if isinstance(var, Constant):
        return int(var.data), []
    return SCALAR, [var]


def _classify(item: Any) -> tuple[Entry, list[Any]]:
    """One index item as an index-list entry and the inputs it takes."""
    if item is None or item is Ellipsis:
        return item, []
    if isinstance(item, slice):
        parts = [_slice_part(p) for p in (item.start, item.stop, item.step)]
        if parts[2][0] == 0:
            raise ValueError("slice step cannot be zero")
        return Slice(*[p for p, _ in parts]), [v for _, vs in parts for v in vs]
    if isinstance(item, (bool, np.bool_)):
        return Input("mask", 0), [constant(np.asarray(item, dtype=bool))]
    if isinstance(item, (int, np.integer)):
        return int(item), []
    if isinstance(item, Variable):
        return _classify_variable(item)
    if isinstance(item, (list, tuple)) and _holds_variable(item):
        return _classify_variable(as_tensor_variable(item))
    try:
        array = np.asarray(item)
    except ValueError as err:
        raise _index_error(item) from err
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype("int64")  # NumPy reads an empty list as an integer index
    if array.dtype.kind not in "biu":
        raise _index_error(item, f" of dtype {array.dtype}")
    return _classify_variable(constant(array))


def _holds_variable(item: Any) -> bool:
    if isinstance(item, Variable):
        return True
    return isinstance(item, (list, tuple)) and any(_holds_variable(i) for i in item)


def _parse_index(x: Any, index: Any) -> tuple[list[Entry], list[Any]]:
    items = index if isinstance(index, tuple) else (index,)
    idx_list: list[Entry] = []
    inputs: list[Any] = []
    for item in items:
        entry, variables = _classify(item)
        idx_list.append(entry)
        inputs.extend(variables)
    if sum(e is Ellipsis for e in idx_list) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    needed = _consumed_dims(idx_list)
    if needed > x.ndim:
        raise IndexError(f"too many indices for tensor: tensor is {x.ndim}-dimensional, but "
                         f"{needed} were indexed")
    return idx_list, inputs


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` with NumPy semantics (what ``TensorVariable.__getitem__`` calls).

    Parameters
    ----------
    x : tensor of any shape and dtype
    index : index item or tuple of them
        Basic items: Python ints and 0-d integer tensors, slices whose bounds and step are
        ints, ``None`` or 0-d integer tensors, ``None`` (newaxis) and ``...``. Advanced items:
        integer arrays (tensors, lists, ndarrays) and boolean masks (tensors or arrays); they
        may be mixed with basic items exactly as in NumPy, including its rule that the
        advanced dimensions go first when advanced items are separated by a basic one.

    Returns
    -------
    tensor of ``x``'s dtype: a ``Subtensor`` (basic items only) or ``AdvancedSubtensor``
    output. Its static shape is known where it follows from static shapes and constant
    indices; a boolean mask's output length is unknown unless the mask is constant.

    Raises
    ------
    IndexError
        More indexed dimensions than ``x`` has, several ellipses, or (at run time) an
        out-of-range index or mismatched mask (NumPy).
    TypeError
        An index of an invalid kind or dtype (the error is also an ``IndexError``).
    ValueError
        A constant slice step of zero (at run time for a symbolic one).

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> x = sg.matrix("x")
    >>> f = sg.function([x], x[1:, [0, 0]], mode="py")
    >>> f(np.arange(6.0).reshape(2, 3))
    array([[3., 3.]])
    """
    x = as_tensor_variable(x)
    idx_list, inputs = _parse_index(x, index)
    if any(_is_advanced(e) for e in idx_list):
        return AdvancedSubtensor(idx_list)(x, *inputs)
    return Subtensor(idx_list)(x, *inputs)


def _update(sub: Any, y: Any, set_instead_of_inc: bool, who: str) -> Any:
    node = getattr(sub, "owner", None)
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"{who}: the first argument must be an indexed tensor x[index], got "
                        f"{sub!r}")
    op_class = IncSubtensor if isinstance(node.op, Subtensor) else AdvancedIncSubtensor
    return op_class(node.op.idx_list, set_instead_of_inc)(node.inputs[0], y, *node.inputs[1:])


def set_subtensor(x: Any, y: Any) -> Any:
    """A copy of the indexed tensor with the indexed region replaced by ``y`` (Theano's API).

    Parameters
    ----------
    x : tensor
        An indexed tensor ``t[index]`` (the output of ``getitem``); its owner gives the
        tensor ``t`` and the index.
    y : tensor
        Cast to ``t``'s dtype (a float into an integer tensor is refused) and broadcast to the
        indexed shape: padded on the left, only its static-1 dimensions broadcast (Theano).

    Returns
    -------
    tensor like ``t``: ``t`` with ``t[index] = y`` (``t`` itself is not modified). With
    repeated advanced indices the last write wins (NumPy).

    Raises
    ------
    TypeError
        If ``x`` is not an indexed tensor, ``y`` has too many dimensions or a dtype of another
        kind.
    ValueError
        If ``y`` does not fit the indexed region (statically or at run time).

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> v = sg.vector("v")
    >>> sg.function([v], sg.set_subtensor(v[1:], 5.0), mode="py")(np.zeros(3))
    array([0., 5., 5.])
    """
    return _update(x, y, True, "set_subtensor")


def inc_subtensor(x: Any, y: Any, set_instead_of_inc: bool = False) -> Any:
    """A copy of the indexed tensor with ``y`` added to the indexed region (Theano's API).

    As ``set_subtensor`` (which is ``set_instead_of_inc=True``), except that ``y`` is added;
    repeated advanced indices accumulate every contribution (``np.add.at`` semantics).

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> v = sg.vector("v")
    >>> sg.function([v], sg.inc_subtensor(v[[0, 0, 2]], 1.0), mode="py")(np.zeros(3))
    array([2., 0., 1.])
    """
    who = "set_subtensor" if set_instead_of_inc else "inc_subtensor"
    return _update(x, y, set_instead_of_inc, who)


def take(a: Any, indices: Any, axis: int | None = None) -> Any:
    """Elements of ``a`` at ``indices`` along ``axis``, as ``numpy.take`` (mode ``'raise'``).

    Parameters
    ----------
    a : tensor
    indices : integer tensor or array_like of any shape
        Negative indices count from the end; booleans are read as 0/1 (NumPy).
    axis : int, optional
        ``None`` indexes the flattened ``a``.

    Returns
    -------
    tensor of ``a``'s dtype and shape ``a.shape[:axis] + indices.shape + a.shape[axis+1:]``.

    Raises
    ------
    numpy.exceptions.AxisError
        For an axis out of range (a ``ValueError`` and an ``IndexError``).
    TypeError
        For non-integer indices.
    IndexError
        At run time, for an index out of range.
    """
    a = as_tensor_variable(a)
    if isinstance(indices, (list, tuple)) and not _holds_variable(indices) and \
            np.asarray(indices).size == 0:
        indices = np.zeros(np.shape(indices), dtype="int64")
    indices = as_tensor_variable(indices)
    if indices.dtype == "bool":
        indices = elemwise.cast(indices, "int64")
    if not dt.is_integer(indices.dtype):
        raise _index_error(indices, f" of dtype {indices.dtype} for take")
    if axis is None:
        if a.ndim != 1:
            a = shape.flatten(a, 1)
        axis = 0
    if not -a.ndim <= axis < a.ndim:
        raise np.exceptions.AxisError(axis, a.ndim)
    return getitem(a, (slice(None),) * (axis % a.ndim) + (indices,))
