"""Array construction: ``alloc``, ``zeros``, ``ones``, ``full``, ``broadcast_to``, ``tile``,
``arange``, ``eye``, ``diag`` and ``repeat`` (NumPy semantics; Theano's for ``alloc``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.ops import dimensions, elemwise, reduce
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import TensorConstant, as_tensor_variable, constant
from symgraph.ops.dimensions import Dim
from symgraph.type import TensorType

__all__ = [
    "alloc", "arange", "broadcast_to", "diag", "eye", "full", "ones", "repeat", "tile", "zeros",
]


# ---------------------------------------------------------------------------------------------
# Allocation of run-time sizes
# ---------------------------------------------------------------------------------------------

class AllocationError(MemoryError):
    """An array too large to allocate. Like NumPy's own out-of-memory error it carries the
    requested ``shape`` and ``dtype``, from which error messages give the size in bytes."""

    def __init__(self, shape: Sequence[int], dtype: Any) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        super().__init__(f"cannot allocate an array of shape {self.shape} and dtype "
                         f"{self.dtype}")


def check_allocation(shape: Sequence[int], dtype: Any) -> None:
    """Raise ``AllocationError`` for a size NumPy cannot even represent: it raises
    ``ValueError`` ("array is too big") there, and ``MemoryError`` for merely huge sizes."""
    if math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize > np.iinfo(np.intp).max:
        raise AllocationError(shape, dtype)


# ---------------------------------------------------------------------------------------------
# Alloc and friends
# ---------------------------------------------------------------------------------------------

class Alloc(Op):
    """A new tensor of shape ``shape`` filled by broadcasting ``value`` (Theano's ``alloc``).

    Inputs are ``value`` and one 0-d int64 input per output dimension. ``value`` is aligned to
    the trailing dimensions; its dimensions of static length 1 broadcast, the others must
    match the shape.
    """

    __props__ = ()

    def make_node(self, value: Any, *shape: Any) -> Apply:
        value = as_tensor_variable(value)
        dims = [dimensions.int_scalar_input(s, f"shape[{i}]", self) for i, s in enumerate(shape)]
        if value.ndim > len(dims):
            raise TypeError(f"{self}: value ({value}) has {value.ndim} dimensions, more than "
                            f"the {len(dims)} of the shape")
        lead = len(dims) - value.ndim
        static: list[int | None] = []
        for i, d in enumerate(dims):
            want = dimensions.static_int(d)
            have = value.type.shape[i - lead] if i >= lead else 1
            if want is not None and (want < 0 or have not in (None, 1, want)):
                raise ValueError(f"{self}: cannot broadcast value of static shape "
                                 f"{value.type.shape} to shape entry {i} = {want}")
            static.append(want if want is not None else (have if have != 1 else None))
        return Apply(self, [value, *dims], [TensorType(value.dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        value, *dims = inputs
        target = tuple(int(d) for d in dims)
        lead = len(target) - value.ndim
        mismatch = [d for d in range(value.ndim) if node.inputs[0].type.shape[d] != 1
                    and value.shape[d] != target[lead + d]]
        if any(s < 0 for s in target) or mismatch:
            raise ValueError(f"cannot allocate shape {target} from a value of shape "
                             f"{value.shape}; only dimensions of static length 1 broadcast")
        check_allocation(target, node.outputs[0].dtype)
        out = np.empty(target, dtype=node.outputs[0].dtype)
        out[...] = value
        output_storage[0][0] = out

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(s if s is not None else d
                      for s, d in zip(node.outputs[0].type.shape, node.inputs[1:]))]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        value, out, g = inputs[0], outputs[0], output_grads[0]
        nones = [None] * (len(inputs) - 1)
        if not dt.is_float(value.dtype):
            return [None, *nones]
        lead = out.ndim - value.ndim
        if lead:
            g = reduce.sum(g, axis=tuple(range(lead)))
        axes = tuple(d for d, s in enumerate(value.type.shape)
                     if s == 1 and out.type.shape[lead + d] != 1)
        if axes:
            g = reduce.sum(g, axis=axes, keepdims=True)
        return [elemwise.cast(g, value.dtype), *nones]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0], *inputs[1:])]


def alloc(value: Any, *shape: Any) -> Any:
    """A tensor of shape ``shape`` filled with ``value`` broadcast to it (Theano).

    Parameters
    ----------
    value : tensor of rank <= len(shape), any dtype (kept)
        Aligned to the trailing dimensions; only its dimensions of static length 1 broadcast.
    *shape : ints or 0-d int Variables, or a single sequence or int vector (``x.shape``)

    Raises
    ------
    TypeError
        For non-integer shape entries, or a value of higher rank than the shape.
    ValueError
        For negative lengths, or lengths that do not fit the value (statically or at run time).

    Notes
    -----
    The gradient sums the output gradient back to the value's shape.
    """
    if len(shape) == 1 and not dimensions.is_int(shape[0]) and not (
            isinstance(shape[0], Variable) and shape[0].ndim == 0):
        shape = shape[0]
    return Alloc()(value, *dimensions.shape_arg(shape, "alloc: shape"))


def _filled(shape: Any, value: Any, dtype: Any, what: str) -> Any:
    return Alloc()(constant(value, dtype=dt.canonical(dtype or "floatX")),
                   *dimensions.shape_arg(shape, f"{what}: shape"))


def zeros(shape: Any, dtype: Any = None) -> Any:
    """A tensor of zeros of ``shape`` (int, sequence or int vector); dtype None is floatX."""
    return _filled(shape, 0, dtype, "zeros")


def ones(shape: Any, dtype: Any = None) -> Any:
    """A tensor of ones of ``shape`` (int, sequence or int vector); dtype None is floatX."""
    return _filled(shape, 1, dtype, "ones")


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    """A tensor of ``shape`` filled with ``fill_value`` (``numpy.full``).

    ``dtype=None`` means ``config.floatX`` for a Python or NumPy fill value and the variable's
    own dtype for a symbolic one. A non-scalar fill value broadcasts as in ``alloc``.
    """
    if isinstance(fill_value, Variable):
        value = as_tensor_variable(fill_value)
        return alloc(value if dtype is None else elemwise.cast(value, dtype), shape)
    return _filled(shape, fill_value, dtype, "full")


def broadcast_to(x: Any, shape: Any) -> Any:
    """``x`` broadcast to ``shape`` (``numpy.broadcast_to``), as a new tensor.

    Only dimensions of ``x`` of static length 1 broadcast (Theano's rule).

    Raises
    ------
    ValueError
        If ``shape`` has fewer entries than ``x`` has dimensions, or does not fit ``x``.
    """
    x = as_tensor_variable(x)
    entries = dimensions.shape_arg(shape, "broadcast_to: shape")
    if len(entries) < x.ndim:
        raise ValueError(f"broadcast_to: cannot broadcast a {x.ndim}-d tensor to "
                         f"{len(entries)} dimensions")
    return Alloc()(x, *entries)


def tile(x: Any, reps: Any) -> Any:
    """``x`` repeated ``reps[i]`` times along each axis ``i`` (``numpy.tile``).

    ``reps`` is an int, a sequence of ints or 0-d int Variables, or an int vector of static
    length. When ``x`` has fewer dimensions than ``reps`` it is padded with leading length-1
    dimensions, and ``reps`` with leading 1s in the opposite case.

    Raises
    ------
    ValueError
        For negative repetitions (statically or at run time).
    """
    x = as_tensor_variable(x)
    reps = dimensions.shape_arg(reps, "tile: reps")
    ndim = max(len(reps), x.ndim)
    reps = [1] * (ndim - len(reps)) + reps
    x = elemwise.dimshuffle(x, ("x",) * (ndim - x.ndim) + tuple(range(x.ndim)))
    dims = [shape_ops.shape_i(x, i) for i in range(ndim)]
    # Each axis i becomes the pair (reps[i], dims[i]); collapsing the pairs in C order lays the
    # copies one after the other.
    spread = elemwise.dimshuffle(x, tuple(p for i in range(ndim) for p in ("x", i)))
    big = Alloc()(spread, *[v for i in range(ndim) for v in (reps[i], dims[i])])
    return shape_ops.reshape(big, [dimensions.mul_dims(r, d) for r, d in zip(reps, dims)])


# ---------------------------------------------------------------------------------------------
# Ranges, identity matrices and diagonals
# ---------------------------------------------------------------------------------------------

class ARange(Op):
    """``numpy.arange(start, stop, step)`` in ``dtype``; the three inputs are 0-d numbers.

    The length is ``max(0, ceil((stop - start) / step))`` computed in float64, as NumPy does.
    """

    __props__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = dt.canonical(dtype)

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in (start, stop, step)]
        for name, v in zip(("start", "stop", "step"), inputs):
            if v.ndim != 0 or v.dtype == "bool":
                raise TypeError(f"{self}: {name} ({v}) must be a 0-d number, got {v.type}")
        values = [v.data.item() if isinstance(v, Constant) else None for v in inputs]
        length = None
        if None not in values:
            if values[2] == 0:
                raise ValueError(f"{self}: step must not be 0")
            length = max(0, math.ceil((values[1] - values[0]) / values[2]))
        return Apply(self, inputs, [TensorType(self.dtype, (length,)).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        start, stop, step = (v.item() for v in inputs)
        if step == 0:
            raise ValueError("arange: step must not be 0")
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        static = node.outputs[0].type.shape[0]
        if static is not None:
            return [(static,)]
        start, stop, step = (elemwise.cast(v, "float64") for v in node.inputs)
        length = elemwise.cast(elemwise.ceil((stop - start) / step), "int64")
        return [(elemwise.maximum(length, 0),)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(self.dtype):
            return [None, None, None]
        gz = output_grads[0]
        index = ARange(gz.dtype)(0, shape_ops.shape_i(outputs[0], 0), 1)
        grads = [reduce.sum(gz), elemwise.zeros_like(inputs[1]), reduce.sum(gz * index)]
        return [g if dt.is_float(v.dtype) else None for g, v in zip(grads, inputs)]


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Any:
    """Evenly spaced values in ``[start, stop)`` (``numpy.arange``); bounds may be symbolic.

    With ``stop=None`` the range is ``[0, start)``. The default dtype follows NumPy for
    integers (int64, the inputs' promoted dtype when wider) and keeps the inputs' float dtype
    (``config.floatX`` for Python floats).

    Raises
    ------
    TypeError
        For non-scalar or boolean bounds.
    ValueError
        For a step of 0 (statically or at run time).

    Notes
    -----
    The gradient with respect to float ``start`` is ``sum(gz)``, to ``step``
    ``sum(gz * arange(n))``; the length is piecewise constant, so ``stop`` gets zero.
    """
    if stop is None:
        start, stop = 0, start
    bounds = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        weak = [isinstance(v, TensorConstant) and v.weak for v in bounds]
        strong = [v.dtype for v, w in zip(bounds, weak) if not w]
        values = [v.data.item() for v, w in zip(bounds, weak) if w]
        if strong:
            dtype = dt.upcast(*strong, *values)
        else:
            dtype = "floatX" if any(isinstance(v, float) for v in values) else "int64"
        if not dt.is_float(dt.canonical(dtype)):
            dtype = dt.upcast(dtype, "int64")
    return ARange(dtype)(*bounds)


class Eye(Op):
    """An ``(n, m)`` matrix of ``dtype`` with ones on diagonal ``k`` (``numpy.eye``)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = dt.canonical(dtype)

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        inputs = [dimensions.int_scalar_input(v, name, self) for v, name in zip((n, m, k), "nmk")]
        static = [dimensions.static_int(v) for v in inputs[:2]]
        if any(s is not None and s < 0 for s in static):
            raise ValueError(f"{self}: negative dimensions {static}")
        return Apply(self, inputs, [TensorType(self.dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        n, m, k = (int(v) for v in inputs)
        if n >= 0 and m >= 0:
            check_allocation((n, m), self.dtype)
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(s if s is not None else v
                      for s, v in zip(node.outputs[0].type.shape, node.inputs[:2]))]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        return [None, None, None]


def eye(n: Any, m: Any = None, k: Any = 0, dtype: Any = None) -> Any:
    """An ``(n, m)`` matrix with ones on the ``k``-th diagonal and zeros elsewhere.

    As ``numpy.eye``: ``m`` defaults to ``n``; ``k > 0`` is above the main diagonal. ``n``,
    ``m`` and ``k`` may be 0-d int Variables; dtype None is ``config.floatX``.

    Raises
    ------
    TypeError
        For non-integer arguments.
    ValueError
        For negative sizes (statically or at run time).
    """
    return Eye(dtype or "floatX")(n, n if m is None else m, k)


def _diag_length(rows: Dim, cols: Dim, k: int) -> Dim:
    """Length of diagonal ``k`` of a ``(rows, cols)`` matrix."""
    rows, cols = dimensions.add_dims(rows, min(k, 0)), dimensions.sub_dims(cols, max(k, 0))
    if dimensions.is_int(rows) and dimensions.is_int(cols):
        return max(0, min(rows, cols))
    return elemwise.maximum(elemwise.minimum(rows, cols), 0)


class _DiagOp(Op):
    """What ``AllocDiag`` and ``ExtractDiag`` share: an int ``offset``, and linearity (so the
    tangent is the op applied to the tangent)."""

    abstract = True

    __props__ = ("offset",)

    def __init__(self, offset: int = 0) -> None:
        self.offset = int(offset)

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


class AllocDiag(_DiagOp):
    """The square matrix with vector ``v`` on diagonal ``offset`` (``numpy.diag`` of a vector)."""

    abstract = False

    def make_node(self, v: Any) -> Apply:
        v = as_tensor_variable(v)
        if v.ndim != 1:
            raise TypeError(f"{self}: input v ({v}) must be a vector, got {v.type}")
        length = v.type.shape[0]
        side = None if length is None else length + abs(self.offset)
        return Apply(self, [v], [TensorType(v.dtype, (side, side)).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = np.diag(inputs[0], self.offset)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        side = dimensions.add_dims(input_shapes[0][0], abs(self.offset))
        return [(side, side)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [ExtractDiag(self.offset)(output_grads[0])]


class ExtractDiag(_DiagOp):
    """Diagonal ``offset`` of a matrix, as a new vector (``numpy.diag`` of a matrix)."""

    abstract = False

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 2:
            raise TypeError(f"{self}: input x ({x}) must be a matrix, got {x.type}")
        rows, cols = x.type.shape
        length = None if rows is None or cols is None else _diag_length(rows, cols, self.offset)
        return Apply(self, [x], [TensorType(x.dtype, (length,)).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = np.diagonal(inputs[0], self.offset).copy()

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        static = node.outputs[0].type.shape[0]
        return [(static if static is not None else
                 _diag_length(*input_shapes[0], self.offset),)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x, gz = inputs[0], output_grads[0]
        if not dt.is_float(x.dtype):
            return [None]
        # Pad the gradient to the length of the axis that indexes the diagonal, then lay it
        # along the diagonal with an identity mask; padded entries fall outside the matrix.
        k, rows, cols = self.offset, shape_ops.shape_i(x, 0), shape_ops.shape_i(x, 1)
        along = rows if k >= 0 else cols
        missing = dimensions.sub_dims(along, shape_ops.shape_i(gz, 0))
        padded = shape_ops.concatenate([gz, zeros([missing], gz.dtype)])
        mask = eye(rows, cols, k, dtype=gz.dtype)
        return [mask * elemwise.dimshuffle(padded, (0, "x") if k >= 0 else ("x", 0))]


def diag(v: Any, k: int = 0) -> Any:
    """``numpy.diag``: a vector gives the square matrix with it on diagonal ``k``; a matrix
    gives its ``k``-th diagonal as a vector.

    Raises
    ------
    TypeError
        If ``v`` is neither 1-d nor 2-d.

    Notes
    -----
    The two directions are each other's gradient.
    """
    v = as_tensor_variable(v)
    if v.ndim == 1:
        return AllocDiag(k)(v)
    if v.ndim == 2:
        return ExtractDiag(k)(v)
    raise TypeError(f"diag: input v ({v}) must be 1-d or 2-d, got {v.ndim}-d")


# ---------------------------------------------------------------------------------------------
# Repeat
# ---------------------------------------------------------------------------------------------

class Repeat(Op):
    """Each element of ``x`` repeated along ``axis`` (``numpy.repeat``).

    ``repeats`` is a 0-d int (the same count for all) or an int vector with one count per
    element of the axis.
    """

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = int(axis)

    def make_node(self, x: Any, repeats: Any) -> Apply:
        x, repeats = as_tensor_variable(x), as_tensor_variable(repeats)
        if repeats.ndim > 1 or not dt.is_integer(repeats.dtype):
            raise TypeError(f"{self}: repeats ({repeats}) must be a 0-d or 1-d integer, got "
                            f"{repeats.type}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of range for {x.ndim}-d {x}")
        n = x.type.shape[self.axis]
        if repeats.ndim == 0:
            counts = [dimensions.static_int(repeats)]
            length = None if n is None or counts[0] is None else n * counts[0]
        else:
            size = repeats.type.shape[0]
            if None not in (n, size) and n != size:
                raise ValueError(f"{self}: {size} repeats for an axis of length {n}")
            counts = dimensions.vector_entries(repeats, build=False) if size is not None else [None]
            length = None if None in counts else sum(counts)
        if any(c is not None and c < 0 for c in counts):
            raise ValueError(f"{self}: negative repeats {counts}")
        static = tuple(length if d == self.axis else s for d, s in enumerate(x.type.shape))
        return Apply(self, [x, repeats], [TensorType(x.dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, repeats = inputs
        if repeats.ndim == 1 and len(repeats) != x.shape[self.axis]:
            raise ValueError(f"{len(repeats)} repeats for an axis of length "
                             f"{x.shape[self.axis]}")
        if repeats.size and repeats.min() >= 0:  # NumPy names negative counts itself
            # In float64 for vectors: the int64 sum could wrap, and a bound needs no exactness.
            length = int(repeats) * x.shape[self.axis] if repeats.ndim == 0 else \
                int(np.sum(repeats, dtype=np.float64))
            check_allocation(x.shape[:self.axis] + (length,) + x.shape[self.axis + 1:], x.dtype)
        output_storage[0][0] = np.repeat(x, repeats, axis=self.axis)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        out = list(input_shapes[0])
        repeats = node.inputs[1]
        static = node.outputs[0].type.shape[self.axis]
        if static is not None:
            out[self.axis] = static
        elif repeats.ndim == 0:
            out[self.axis] = dimensions.mul_dims(out[self.axis], dimensions.scalar_entry(repeats))
        else:
            out[self.axis] = elemwise.cast(reduce.sum(repeats), "int64")
        return [tuple(out)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x, repeats = inputs
        if not dt.is_float(x.dtype):
            return [None, None]
        gz, axis = output_grads[0], self.axis
        n = shape_ops.shape_i(x, axis)
        if repeats.ndim == 0:
            # The copies of element j are consecutive: split the axis into (n, repeats).
            dims = [shape_ops.shape_i(x, d) for d in range(x.ndim)]
            split_shape = dims[:axis] + [n, dimensions.scalar_entry(repeats)] + dims[axis + 1:]
            return [reduce.sum(shape_ops.reshape(gz, split_shape), axis=axis + 1), None]
        # owner[j, t] is 1 when output position t is a copy of element j.
        owner = Repeat(1)(eye(n, dtype=gz.dtype), repeats)
        rest = x.ndim - axis - 1
        gz_wide = shape_ops.expand_dims(gz, axis)
        owner_wide = elemwise.dimshuffle(owner, ("x",) * axis + (0, 1) + ("x",) * rest)
        return [reduce.sum(gz_wide * owner_wide, axis=axis + 1), None]


def repeat(x: Any, repeats: Any, axis: Any = None) -> Any:
    """Repeat each element of ``x`` ``repeats`` times along ``axis`` (``numpy.repeat``).

    Parameters
    ----------
    x : tensor
        With ``axis=None`` it is flattened first.
    repeats : int, 0-d int Variable, or int vector (one count per element of the axis)
    axis : int or None, negative allowed

    Raises
    ------
    TypeError
        For non-integer repeats.
    ValueError
        For negative repeats or a count vector of the wrong length (statically or at run
        time), or an axis out of range.

    Notes
    -----
    The gradient sums the output gradient over each element's copies.
    """
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = shape_ops.flatten(x), 0
    else:
        axis = dimensions.axis_index(axis, x.ndim, "repeat: axis")
    repeats = as_tensor_variable(repeats)
    if repeats.ndim == 1 and repeats.type.shape[0] == 1:
        repeats = elemwise.dimshuffle(repeats, ())
    return Repeat(axis)(x, repeats)

