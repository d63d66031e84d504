"""Shape ops: ``Shape``, ``Shape_i``, reshaping, dimension shuffles, joining and splitting.

Semantics follow NumPy where it has the function and Theano where it does not (``flatten``,
``split``); as everywhere in symgraph, only dimensions of static length 1 broadcast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops import dimensions, elemwise
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType

__all__ = [
    "concatenate", "expand_dims", "flatten", "reshape", "shape", "shape_i", "specify_shape",
    "split", "squeeze", "stack", "transpose",
]


class Shape(Op):
    """The shape of a tensor as an int64 vector (``x.shape``)."""

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,)).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = np.asarray(np.shape(inputs[0]), dtype="int64")

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [(node.inputs[0].ndim,)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any], output_grads: Sequence[Any]):
        return [None]


class Shape_i(Op):  # noqa: N801 - Theano's name
    """Length of dimension ``i`` of a tensor, as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = int(i)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise TypeError(f"{self}: input {x} has only {x.ndim} dimensions")
        return Apply(self, [x], [TensorType("int64", ()).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = np.asarray(np.shape(inputs[0])[self.i], dtype="int64")

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [()]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any], output_grads: Sequence[Any]):
        return [None]


def shape(x: Any) -> Any:
    """Symbolic shape of ``x``: an int64 vector of length ``x.ndim``."""
    return Shape()(x)


def shape_i(x: Any, i: int) -> Any:
    """Symbolic length of dimension ``i`` of ``x``; a Python int when statically known."""
    x = as_tensor_variable(x)
    static = x.type.shape[i]
    if static is not None:
        return static
    return Shape_i(i)(x)


# ---------------------------------------------------------------------------------------------
# Reshape
# ---------------------------------------------------------------------------------------------

class Reshape(Op):
    """``x`` reshaped to the int64 shape vector ``shp`` of length ``ndim`` (``numpy.reshape``).

    One entry of ``shp`` may be -1: that length is inferred from the size of ``x``. The output
    is a view of ``x`` when NumPy can make one.
    """

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int) -> None:
        self.ndim = int(ndim)

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_tensor_variable(x)
        shp = dimensions.int_vector_input(shp, "shape", self)
        length = shp.type.shape[0]
        if length not in (None, self.ndim):
            raise TypeError(f"{self}: the shape vector has length {length}, expected {self.ndim}")
        entries = dimensions.vector_entries(shp, build=False, length=self.ndim)
        static = _reshape_static(x.type.shape, entries)
        return Apply(self, [x, shp], [TensorType(x.dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, shp = inputs
        target = tuple(int(s) for s in shp)
        if len(target) != self.ndim:
            raise ValueError(f"shape {target} has {len(target)} entries, expected {self.ndim}")
        if target.count(-1) > 1 or any(s < -1 for s in target):
            raise ValueError(f"invalid shape {target}: one entry may be -1, the others >= 0")
        try:
            output_storage[0][0] = np.reshape(x, target)
        except ValueError as err:
            raise ValueError(f"cannot reshape an array of shape {np.shape(x)} (size "
                             f"{np.size(x)}) into shape {target}") from err

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        static = node.outputs[0].type.shape
        if None not in static:
            return [static]
        entries = dimensions.vector_entries(node.inputs[1], length=self.ndim)
        size = dimensions.mul_dims(*input_shapes[0])
        has_minus_one = -1 in entries
        out = []
        for i, (known, entry) in enumerate(zip(static, entries)):
            if known is not None:
                out.append(known)
            elif entry == -1:
                rest = dimensions.mul_dims(*[e for j, e in enumerate(entries) if j != i])
                out.append(size // rest if dimensions.is_int(size) and dimensions.is_int(rest)
                           else elemwise.int_div(size, rest))
            elif has_minus_one or dimensions.is_int(entry):
                out.append(entry)
            else:
                # A symbolic entry may be -1 at run time: the product of all entries is then
                # minus the product of the others.
                missing = elemwise.int_div(size, elemwise.neg(dimensions.mul_dims(*entries)))
                out.append(elemwise.switch(elemwise.eq(entry, -1), missing, entry))
        return [tuple(out)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x = inputs[0]
        if not dt.is_float(x.dtype):
            return [None, None]
        return [Reshape(x.ndim)(output_grads[0], shape(x)), None]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]


def _reshape_static(in_shape: Sequence[int | None],
                    entries: Sequence[int | None]) -> tuple[int | None, ...]:
    if any(e is not None and e < -1 for e in entries) or list(entries).count(-1) > 1:
        raise ValueError(f"invalid shape {tuple(entries)}: one entry may be -1, the others >= 0")
    out = [None if e == -1 else e for e in entries]
    size = math.prod(in_shape) if None not in in_shape else None
    if size is None or any(e is None for e in entries):
        return tuple(out)
    rest = math.prod(e for e in entries if e != -1)
    if -1 in entries:
        if rest == 0 or size % rest:
            raise ValueError(f"cannot reshape a tensor of static shape {tuple(in_shape)} into "
                             f"shape {tuple(entries)}")
        out[list(entries).index(-1)] = size // rest
    elif rest != size:
        raise ValueError(f"cannot reshape a tensor of static shape {tuple(in_shape)} (size "
                         f"{size}) into shape {tuple(entries)}")
    return tuple(out)


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> Any:
    """``x`` with its elements in C order arranged into ``newshape`` (``numpy.reshape``).

    Parameters
    ----------
    x : tensor of any shape and dtype
    newshape : int, sequence of (int or 0-d int Variable), or 1-d int Variable
        One entry may be -1, inferred from the size of ``x``. Constant entries (and entries
        of ``y.shape`` that are statically known) fix the output's static shape.
    ndim : int, optional
        The output rank, needed when ``newshape`` is a vector of unknown static length.

    Returns
    -------
    tensor of rank ``len(newshape)`` and ``x``'s dtype.

    Raises
    ------
    TypeError
        For a non-integer shape or one whose length differs from ``ndim``.
    ValueError
        When the rank cannot be determined, when static shapes show the sizes differ, and at
        run time when ``newshape`` does not fit the size of ``x``.

    Notes
    -----
    The gradient is the output gradient reshaped back to ``x.shape``.
    """
    x = as_tensor_variable(x)
    if isinstance(newshape, Variable) and newshape.ndim == 1:
        length = newshape.type.shape[0]
        if ndim is None and length is None:
            raise ValueError(f"reshape: the length of the shape {newshape} is not known "
                             f"statically; pass ndim")
        return Reshape(length if ndim is None else ndim)(x, newshape)
    entries = dimensions.shape_arg(newshape, "reshape: newshape")
    if ndim is not None and ndim != len(entries):
        raise TypeError(f"reshape: newshape has {len(entries)} entries but ndim is {ndim}")
    return Reshape(len(entries))(x, dimensions.to_vector(entries))


def flatten(x: Any, ndim: int = 1) -> Any:
    """Keep the first ``ndim - 1`` dimensions of ``x`` and collapse the rest (Theano).

    ``flatten(x, 1)`` is ``x.ravel()``; ``flatten(x, 2)`` of a ``(a, b, c)`` tensor has shape
    ``(a, b * c)``.

    Raises
    ------
    ValueError
        If ``ndim < 1`` or ``ndim > x.ndim`` (for ``ndim > 1``).
    """
    x = as_tensor_variable(x)
    if ndim < 1 or (ndim > 1 and ndim > x.ndim):
        raise ValueError(f"flatten: ndim must be in [1, {max(x.ndim, 1)}], got {ndim}")
    lead = [shape_i(x, i) for i in range(ndim - 1)]
    rest = dimensions.mul_dims(*[shape_i(x, i) for i in range(ndim - 1, x.ndim)])
    return reshape(x, lead + [rest])


# ---------------------------------------------------------------------------------------------
# Dimension shuffles
# ---------------------------------------------------------------------------------------------

def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """``x`` with its axes permuted (reversed by default), as ``numpy.transpose``.

    Raises
    ------
    ValueError
        If ``axes`` is not a permutation of ``range(x.ndim)`` (negative axes allowed).
    """
    x = as_tensor_variable(x)
    if axes is None:
        return elemwise.dimshuffle(x, tuple(reversed(range(x.ndim))))
    order = tuple(dimensions.axis_index(a, x.ndim) for a in axes)
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of "
                         f"{x.ndim} axes")
    return elemwise.dimshuffle(x, order)


def squeeze(x: Any, axis: Any = None) -> Any:
    """``x`` without the given length-1 axes (``numpy.squeeze``).

    With ``axis=None`` the dimensions dropped are those of static length 1. An explicit axis of
    unknown static length is checked at run time (``ValueError`` if its length is not 1).

    Raises
    ------
    ValueError
        For an axis out of range, repeated, or of static length other than 1.
    """
    x = as_tensor_variable(x)
    if axis is None:
        drop = [i for i, s in enumerate(x.type.shape) if s == 1]
    else:
        drop = dimensions.axis_list(axis, x.ndim)
        for a in drop:
            if x.type.shape[a] not in (1, None):
                raise ValueError(f"squeeze: axis {a} has static length {x.type.shape[a]}, "
                                 f"not 1")
    return elemwise.dimshuffle(x, tuple(i for i in range(x.ndim) if i not in drop))


def expand_dims(x: Any, axis: Any) -> Any:
    """``x`` with new length-1 (broadcastable) axes at positions ``axis`` of the result.

    As ``numpy.expand_dims``: ``axis`` is an int or a tuple; negative positions count from the
    end of the result.

    Raises
    ------
    ValueError
        For a position out of range or repeated.
    """
    x = as_tensor_variable(x)
    n_new = len(axis) if isinstance(axis, (list, tuple)) else 1
    positions = dimensions.axis_list(axis, x.ndim + n_new)
    kept = iter(range(x.ndim))
    return elemwise.dimshuffle(x, tuple("x" if i in positions else next(kept)
                                        for i in range(x.ndim + n_new)))


# ---------------------------------------------------------------------------------------------
# Join and Split
# ---------------------------------------------------------------------------------------------

class Join(Op):
    """Concatenation of tensors of equal rank along the static ``axis`` (``numpy.concatenate``).

    The output dtype is the inputs' promoted dtype. Lengths on the other axes must be equal
    (checked statically where known, at run time otherwise).
    """

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = int(axis)

    def make_node(self, *tensors: Any) -> Apply:
        if not tensors:
            raise TypeError(f"{self}: needs at least one input")
        tensors = tuple(as_tensor_variable(t) for t in tensors)
        ndim = tensors[0].ndim
        for i, t in enumerate(tensors):
            if t.ndim != ndim or ndim == 0:
                raise TypeError(f"{self}: input {i} ({t}) is {t.ndim}-d; inputs must all have "
                                f"the rank of input 0 ({ndim}), at least 1")
        if not 0 <= self.axis < ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of range for {ndim}-d inputs")
        static: list[int | None] = []
        for d in range(ndim):
            dims = [t.type.shape[d] for t in tensors]
            if d == self.axis:
                static.append(None if None in dims else sum(dims))
                continue
            known = {s for s in dims if s is not None}
            if len(known) > 1:
                raise ValueError(f"{self}: inputs have static lengths {dims} on axis {d}")
            static.append(known.pop() if known else None)
        out_type = TensorType(dt.upcast(*[t.dtype for t in tensors]), static)
        return Apply(self, tensors, [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        out = np.concatenate(inputs, axis=self.axis)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        out = list(node.outputs[0].type.shape)
        for d, known in enumerate(out):
            if known is None:
                out[d] = dimensions.add_dims(*[s[d] for s in input_shapes]) if d == self.axis \
                    else input_shapes[0][d]
        return [tuple(out)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        sizes = dimensions.to_vector([shape_i(t, self.axis) for t in inputs])
        parts = Split(len(inputs), self.axis).make_node(output_grads[0], sizes).outputs
        return [elemwise.cast(p, t.dtype) if dt.is_float(t.dtype) else None
                for p, t in zip(parts, inputs)]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if all(p is None for p in eval_points):
            return [None]
        return [self(*[elemwise.zeros_like(x) if p is None else p
                       for x, p in zip(inputs, eval_points)])]


def concatenate(tensors: Sequence[Any], axis: Any = 0) -> Any:
    """Join tensors of equal rank along an existing axis (``numpy.concatenate``).

    Parameters
    ----------
    tensors : sequence of tensors (or arrays) of equal rank >= 1
        Lengths must agree on every axis but ``axis``; dtypes promote as in NumPy.
    axis : int (negative allowed) or constant 0-d int Variable

    Raises
    ------
    TypeError
        For 0-d inputs or inputs of different ranks (naming the input).
    ValueError
        For no input, an axis out of range, or lengths that differ off ``axis`` (statically
        or at run time).

    Notes
    -----
    The gradient splits the output gradient back into the inputs' lengths.
    """
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    tensors = dimensions.promote_dtypes([as_tensor_variable(t) for t in tensors])
    axis = dimensions.axis_index(axis, max(tensors[0].ndim, 1), "concatenate: axis")
    if len(tensors) == 1 and tensors[0].ndim > 0:
        return tensors[0]
    return Join(axis)(*tensors)


def stack(tensors: Sequence[Any], axis: Any = 0) -> Any:
    """Join tensors of equal shape along a new axis (``numpy.stack``).

    ``stack([a, b])`` of two ``(n,)`` vectors is ``(2, n)``; of 0-d tensors, a vector.

    Raises
    ------
    TypeError
        For inputs of different ranks (naming the input).
    ValueError
        For no input, an axis out of range, or shapes that differ (statically or at run time).
    """
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    tensors = dimensions.promote_dtypes([as_tensor_variable(t) for t in tensors])
    ndim = tensors[0].ndim
    for i, t in enumerate(tensors):
        if t.ndim != ndim:
            raise TypeError(f"stack: input {i} ({t}) is {t.ndim}-d, input 0 is {ndim}-d")
    axis = dimensions.axis_index(axis, ndim + 1, "stack: axis")
    expanded = [expand_dims(t, axis) for t in tensors]
    return expanded[0] if len(expanded) == 1 else Join(axis)(*expanded)


class Split(Op):
    """Split ``x`` along ``axis`` into ``n_splits`` pieces of the lengths in ``splits`` (Theano).

    Outputs are views of ``x``.
    """

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits: int, axis: int) -> None:
        self.n_splits = int(n_splits)
        self.axis = int(axis)
        if self.n_splits < 1:
            raise ValueError(f"Split: n_splits must be >= 1, got {n_splits}")
        self.view_map = {i: [0] for i in range(self.n_splits)}

    def make_node(self, x: Any, splits: Any) -> Apply:
        x = as_tensor_variable(x)
        splits = dimensions.int_vector_input(splits, "splits_size", self)
        if x.ndim == 0:
            raise TypeError(f"{self}: input x ({x}) must have at least 1 dimension")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of range for {x.ndim}-d {x}")
        length = splits.type.shape[0]
        if length not in (None, self.n_splits):
            raise ValueError(f"{self}: splits_size has {length} entries, n_splits is "
                             f"{self.n_splits}")
        entries = dimensions.vector_entries(splits, build=False, length=self.n_splits)
        if any(e is not None and e < 0 for e in entries):
            raise ValueError(f"{self}: negative split size in {entries}")
        total = x.type.shape[self.axis]
        if None not in entries and total is not None and sum(entries) != total:
            raise ValueError(f"{self}: split sizes {entries} do not add up to the length "
                             f"{total} of axis {self.axis}")
        outputs = [TensorType(x.dtype, self._piece(x.type.shape, e)).make_variable()
                   for e in entries]
        return Apply(self, [x, splits], outputs)

    def _piece(self, shape: Sequence[Any], length: Any) -> tuple[Any, ...]:
        return tuple(length if d == self.axis else s for d, s in enumerate(shape))

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, splits = inputs
        if len(splits) != self.n_splits or np.any(splits < 0) or \
                int(np.sum(splits)) != x.shape[self.axis]:
            raise ValueError(f"cannot split axis {self.axis} of length {x.shape[self.axis]} into "
                             f"{self.n_splits} non-negative pieces of lengths {splits.tolist()}")
        pieces = np.split(x, np.cumsum(splits)[:-1], axis=self.axis)
        for cell, piece in zip(output_storage, pieces):
            cell[0] = piece

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        entries = dimensions.vector_entries(node.inputs[1], length=self.n_splits)
        return [self._piece(input_shapes[0], out.type.shape[self.axis] if
                            out.type.shape[self.axis] is not None else e)
                for out, e in zip(node.outputs, entries)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x = inputs[0]
        if not dt.is_float(x.dtype):
            return [None, None]
        grads = [elemwise.zeros_like(o) if g is None else g for o, g in zip(outputs, output_grads)]
        return [elemwise.cast(concatenate(grads, self.axis), x.dtype), None]


def split(x: Any, splits_size: Any, n_splits: int, axis: Any = 0) -> list[Any]:
    """Split ``x`` along ``axis`` into ``n_splits`` pieces of given lengths (Theano's ``split``).

    Parameters
    ----------
    x : tensor of rank >= 1
    splits_size : sequence of (int or 0-d int Variable), or 1-d int Variable
        The lengths of the pieces; they must add up to the length of ``axis``.
    n_splits : int
        The number of pieces (the length of ``splits_size``).
    axis : int, negative allowed

    Returns
    -------
    list of ``n_splits`` tensors of ``x``'s dtype.

    Raises
    ------
    TypeError
        For a 0-d ``x`` or non-integer ``splits_size``.
    ValueError
        When the sizes are negative or do not add up to the axis length (statically or at run
        time), or their number is not ``n_splits``.
    """
    x = as_tensor_variable(x)
    axis = dimensions.axis_index(axis, max(x.ndim, 1), "split: axis")
    if isinstance(splits_size, Variable) and splits_size.ndim == 1:
        sizes = splits_size
    else:
        entries = dimensions.shape_arg(splits_size, "split: splits_size")
        if len(entries) != n_splits:
            raise ValueError(f"split: {len(entries)} split sizes for n_splits={n_splits}")
        sizes = dimensions.to_vector(entries)
    return list(Split(n_splits, axis).make_node(x, sizes).outputs)


class SpecifyShape(Op):
    """``x`` itself, after checking at run time that its shape is as given.

    ``given[i]`` says whether axis ``i`` has a length input (the inputs after ``x``, int64,
    in axis order); constant lengths become the output's static shape.
    """

    __props__ = ("given",)
    view_map = {0: [0]}

    def __init__(self, given: Sequence[bool]) -> None:
        self.given = tuple(bool(g) for g in given)

    def make_node(self, x: Any, *dims: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != len(self.given):
            raise TypeError(f"{self}: input x ({x}) has {x.ndim} dimensions, the shape has "
                            f"{len(self.given)}")
        if len(dims) != sum(self.given):
            raise TypeError(f"{self}: expected {sum(self.given)} lengths, got {len(dims)}")
        dims = tuple(dimensions.int_scalar_input(d, f"shape entry {i}", self)
                     for i, d in enumerate(dims))
        static = list(x.type.shape)
        for axis, d in zip(self._axes(), dims):
            want = dimensions.static_int(d)
            if want is not None and (want < 0 or static[axis] not in (None, want)):
                raise ValueError(f"{self}: {x} has static shape {x.type.shape}, which cannot "
                                 f"have length {want} on axis {axis}")
            static[axis] = want if want is not None else static[axis]
        return Apply(self, [x, *dims], [TensorType(x.dtype, static).make_variable()])

    def _axes(self) -> list[int]:
        return [i for i, g in enumerate(self.given) if g]

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, *dims = inputs
        expected: list[Any] = [None] * len(self.given)
        for axis, d in zip(self._axes(), dims):
            expected[axis] = int(d)
        if x.ndim != len(expected) or any(e is not None and e != s
                                          for e, s in zip(expected, x.shape)):
            shown = ", ".join("?" if e is None else str(e) for e in expected)
            raise ValueError(f"specify_shape: expected shape ({shown}), got {x.shape}")
        output_storage[0][0] = x

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        out = list(input_shapes[0])
        for axis, d in zip(self._axes(), node.inputs[1:]):
            out[axis] = d
        return [tuple(s if s is not None else o
                      for s, o in zip(node.outputs[0].type.shape, out))]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        grad = output_grads[0] if dt.is_float(inputs[0].dtype) else None
        return [grad] + [None] * (len(inputs) - 1)

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0], *inputs[1:])]


def specify_shape(x: Any, shape: Any) -> Any:
    """``x``, with its shape asserted at run time and known statically from here on.

    ``shape`` has one entry per dimension: an int, a 0-d int Variable, or None (unchecked); or
    it is an int vector such as ``y.shape``.

    Raises
    ------
    TypeError
        If ``shape`` does not have ``x.ndim`` entries.
    ValueError
        When a constant length contradicts the static shape of ``x``, and at run time when the
        shape differs.
    """
    x = as_tensor_variable(x)
    if isinstance(shape, (list, tuple)):
        entries = [None if s is None else dimensions.shape_arg([s], "specify_shape: shape")[0]
                   for s in shape]
    else:
        entries = dimensions.shape_arg(shape, "specify_shape: shape")
    if len(entries) != x.ndim:
        raise TypeError(f"specify_shape: input x ({x}) has {x.ndim} dimensions, shape "
                        f"{tuple(entries)} has {len(entries)}")
    given = [e is not None for e in entries]
    return SpecifyShape(given)(x, *[e for e in entries if e is not None])


