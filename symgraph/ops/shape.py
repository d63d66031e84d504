"""Shape ops: ``Shape``, ``Shape_i``, reshaping, joining, splitting and array construction.

Semantics follow NumPy where it has the function and Theano where it does not (``flatten``,
``alloc``, ``split``); as everywhere in symgraph, only dimensions of static length 1 broadcast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.ops import elemwise, reduce
from symgraph.ops.basic import TensorConstant, as_tensor_variable, constant
from symgraph.type import TensorType

__all__ = [
    "alloc", "arange", "broadcast_to", "concatenate", "diag", "expand_dims", "eye", "flatten",
    "full", "ones", "repeat", "reshape", "shape", "shape_i", "specify_shape", "split",
    "squeeze", "stack", "tile", "transpose", "zeros",
]

Dim = Any  # a Python int, or a 0-d int64 Variable


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
# Helpers: shape arguments, shape vectors and arithmetic on dimensions
# ---------------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_scalar_input(value: Any, what: str, op: Any) -> Any:
    """``value`` as a 0-d int64 Variable; ``TypeError`` naming ``what`` if it is not an int."""
    var = as_tensor_variable(value)
    if var.ndim != 0 or not dt.is_integer(var.dtype):
        raise TypeError(f"{op}: {what} ({var}) must be a 0-d integer, got {var.type}")
    if isinstance(var, Constant) and var.dtype != "int64":
        return constant(int(var.data), dtype="int64")
    return elemwise.cast(var, "int64")


def _int_vector_input(value: Any, what: str, op: Any) -> Any:
    """``value`` as a 1-d int64 Variable; ``TypeError`` naming ``what`` if it is not one."""
    var = as_tensor_variable(value)
    if var.ndim != 1 or not dt.is_integer(var.dtype):
        raise TypeError(f"{op}: {what} ({var}) must be a 1-d integer vector, got {var.type}")
    if isinstance(var, Constant) and var.dtype != "int64":
        return constant(np.asarray(var.data, dtype="int64"))
    return elemwise.cast(var, "int64")


def _static_int(var: Any) -> int | None:
    return int(var.data) if isinstance(var, Constant) else None


def _is_integer_cast(var: Any) -> bool:
    node = var.owner
    return (node is not None and isinstance(node.op, elemwise.Elemwise)
            and node.op.scalar_op.name.startswith("cast{")
            and dt.is_integer(var.dtype) and dt.is_integer(node.inputs[0].dtype))


def _scalar_entry(var: Any, build: bool = True) -> Dim | None:
    """A 0-d integer Variable as an int when it is a constant, else as int64 (or None)."""
    base = var
    while _is_integer_cast(base):
        base = base.owner.inputs[0]
    if isinstance(base, Constant):
        return int(base.data)
    return elemwise.cast(var, "int64") if build else None


def _vector_entries(vec: Any, build: bool = True,
                    length: int | None = None) -> list[Dim | None]:
    """The entries of a 1-d integer vector, as ints where known.

    Vectors made by ``shape(x)``, ``stack``/``concatenate`` of scalars and constants are read
    through, so ``reshape(y, x.shape)`` keeps the static shape of ``x``. With ``build=False``
    unknown entries are None and no node is built (for use inside ``make_node``). ``length``
    is the length an op checks at run time, for a vector whose static length is unknown.

    Raises
    ------
    ValueError
        If the length of ``vec`` is known neither statically nor from ``length``.
    """
    if vec.type.shape[0] is not None:
        length = vec.type.shape[0]
    if length is None:
        raise ValueError(f"the length of the shape vector {vec} is not known statically")
    if vec.type.shape[0] is None:
        return _split_entries(vec, length) if build else [None] * length
    if isinstance(vec, Constant):
        return [int(v) for v in np.asarray(vec.data)]
    node = vec.owner
    if node is not None and isinstance(node.op, Shape):
        x = node.inputs[0]
        return [shape_i(x, i) if build else x.type.shape[i] for i in range(length)]
    if node is not None and isinstance(node.op, Join) and node.op.axis == 0:
        return [e for part in node.inputs for e in _vector_entries(part, build)]
    if node is not None and isinstance(node.op, elemwise.DimShuffle) and \
            node.op.new_order == ("x",):
        return [_scalar_entry(node.inputs[0], build)]
    if _is_integer_cast(vec):
        entries = _vector_entries(vec.owner.inputs[0], build)
        return [e if e is None or _is_int(e) else elemwise.cast(e, "int64") for e in entries]
    return _split_entries(vec, length) if build else [None] * length


def _split_entries(vec: Any, length: int) -> list[Dim]:
    if length == 0:
        return []
    parts = Split(length, 0).make_node(vec, constant(np.ones(length, dtype="int64"))).outputs
    return [elemwise.cast(elemwise.dimshuffle(p, ()), "int64") for p in parts]


def _shape_arg(shape: Any, what: str) -> list[Dim]:
    """Normalise a user's shape: an int, a sequence of ints and int scalars, or a vector."""
    if _is_int(shape):
        return [int(shape)]
    if isinstance(shape, np.ndarray):
        shape = shape.tolist() if shape.ndim else [shape.item()]
    if isinstance(shape, Variable):
        var = as_tensor_variable(shape)
        if var.ndim == 1 and dt.is_integer(var.dtype):
            if var.type.shape[0] is None:
                raise ValueError(f"{what}: the length of {var} is not known statically")
            return _vector_entries(var)
        shape = [var]
    if not isinstance(shape, (list, tuple)):
        raise TypeError(f"{what} must be an int, a sequence of ints or an int vector, "
                        f"got {shape!r}")
    entries: list[Dim] = []
    for i, item in enumerate(shape):
        if _is_int(item):
            entries.append(int(item))
            continue
        var = as_tensor_variable(item) if isinstance(item, Variable) else None
        if var is None or var.ndim != 0 or not dt.is_integer(var.dtype):
            raise TypeError(f"{what}[{i}] must be an int or a 0-d integer Variable, got {item!r}")
        entries.append(_scalar_entry(var))
    return entries


def _to_vector(entries: Sequence[Dim]) -> Any:
    """An int64 vector Variable holding ``entries`` (a constant when they are all ints)."""
    if all(_is_int(e) for e in entries):
        return constant(np.asarray([int(e) for e in entries], dtype="int64").reshape(-1))
    return stack([constant(int(e), dtype="int64") if _is_int(e) else e for e in entries])


def _fold(function: Any, identity: int, items: Sequence[Dim], combine: Any) -> Dim:
    known, symbolic = identity, []
    for item in items:
        if _is_int(item):
            known = combine(known, int(item))
        else:
            symbolic.append(item)
    if not symbolic:
        return known
    out = symbolic[0] if len(symbolic) == 1 else function(*symbolic)
    return out if known == identity else function(out, known)


def _mul(*items: Dim) -> Dim:
    return _fold(elemwise.mul, 1, items, lambda a, b: a * b)


def _add(*items: Dim) -> Dim:
    return _fold(elemwise.add, 0, items, lambda a, b: a + b)


def _sub(a: Dim, b: Dim) -> Dim:
    return a - b if _is_int(a) and _is_int(b) else elemwise.sub(a, b)


def _axis(axis: Any, ndim: int, what: str = "axis") -> int:
    """A non-negative axis of an ``ndim``-d tensor; negative axes count from the end."""
    if isinstance(axis, Variable):
        if not isinstance(axis, Constant) or np.ndim(axis.data) != 0:
            raise TypeError(f"{what} must be known when the graph is built, got {axis}")
        axis = axis.data.item()
    if not _is_int(axis):
        raise TypeError(f"{what} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} {axis} is out of range for a {ndim}-d tensor")
    return int(axis) % ndim


def _axes(axis: Any, ndim: int) -> list[int]:
    axes = [_axis(a, ndim) for a in (axis if isinstance(axis, (list, tuple)) else (axis,))]
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis}")
    return axes


def _promote(tensors: Sequence[Any]) -> list[Any]:
    """Cast ``tensors`` to their common dtype; Python scalars are weak (NEP 50)."""
    weak = [isinstance(t, TensorConstant) and t.weak for t in tensors]
    strong = [t.dtype for t, w in zip(tensors, weak) if not w]
    common = dt.upcast(*strong, *[t.data.item() for t, w in zip(tensors, weak) if w]) \
        if strong else dt.upcast(*[t.dtype for t in tensors])
    return [constant(t.data, dtype=common) if isinstance(t, Constant) and t.dtype != common
            else elemwise.cast(t, common) for t in tensors]


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
        shp = _int_vector_input(shp, "shape", self)
        length = shp.type.shape[0]
        if length not in (None, self.ndim):
            raise TypeError(f"{self}: the shape vector has length {length}, expected {self.ndim}")
        entries = _vector_entries(shp, build=False, length=self.ndim)
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
        entries = _vector_entries(node.inputs[1], length=self.ndim)
        size = _mul(*input_shapes[0])
        has_minus_one = -1 in entries
        out = []
        for i, (known, entry) in enumerate(zip(static, entries)):
            if known is not None:
                out.append(known)
            elif entry == -1:
                rest = _mul(*[e for j, e in enumerate(entries) if j != i])
                out.append(size // rest if _is_int(size) and _is_int(rest)
                           else elemwise.int_div(size, rest))
            elif has_minus_one or _is_int(entry):
                out.append(entry)
            else:
                # A symbolic entry may be -1 at run time: the product of all entries is then
                # minus the product of the others.
                missing = elemwise.int_div(size, elemwise.neg(_mul(*entries)))
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
    entries = _shape_arg(newshape, "reshape: newshape")
    if ndim is not None and ndim != len(entries):
        raise TypeError(f"reshape: newshape has {len(entries)} entries but ndim is {ndim}")
    return Reshape(len(entries))(x, _to_vector(entries))


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
    return reshape(x, lead + [_mul(*[shape_i(x, i) for i in range(ndim - 1, x.ndim)])])


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
    order = tuple(_axis(a, x.ndim) for a in axes)
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
        drop = _axes(axis, x.ndim)
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
    positions = _axes(axis, x.ndim + n_new)
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
                out[d] = _add(*[s[d] for s in input_shapes]) if d == self.axis \
                    else input_shapes[0][d]
        return [tuple(out)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        sizes = _to_vector([shape_i(t, self.axis) for t in inputs])
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
    tensors = _promote([as_tensor_variable(t) for t in tensors])
    axis = _axis(axis, max(tensors[0].ndim, 1), "concatenate: axis")
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
    tensors = _promote([as_tensor_variable(t) for t in tensors])
    ndim = tensors[0].ndim
    for i, t in enumerate(tensors):
        if t.ndim != ndim:
            raise TypeError(f"stack: input {i} ({t}) is {t.ndim}-d, input 0 is {ndim}-d")
    axis = _axis(axis, ndim + 1, "stack: axis")
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
        splits = _int_vector_input(splits, "splits_size", self)
        if x.ndim == 0:
            raise TypeError(f"{self}: input x ({x}) must have at least 1 dimension")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of range for {x.ndim}-d {x}")
        length = splits.type.shape[0]
        if length not in (None, self.n_splits):
            raise ValueError(f"{self}: splits_size has {length} entries, n_splits is "
                             f"{self.n_splits}")
        entries = _vector_entries(splits, build=False, length=self.n_splits)
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
        entries = _vector_entries(node.inputs[1], length=self.n_splits)
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
    axis = _axis(axis, max(x.ndim, 1), "split: axis")
    if isinstance(splits_size, Variable) and splits_size.ndim == 1:
        sizes = splits_size
    else:
        entries = _shape_arg(splits_size, "split: splits_size")
        if len(entries) != n_splits:
            raise ValueError(f"split: {len(entries)} split sizes for n_splits={n_splits}")
        sizes = _to_vector(entries)
    return list(Split(n_splits, axis).make_node(x, sizes).outputs)


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
        dims = [_int_scalar_input(s, f"shape[{i}]", self) for i, s in enumerate(shape)]
        if value.ndim > len(dims):
            raise TypeError(f"{self}: value ({value}) has {value.ndim} dimensions, more than "
                            f"the {len(dims)} of the shape")
        lead = len(dims) - value.ndim
        static: list[int | None] = []
        for i, d in enumerate(dims):
            want = _static_int(d)
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
    if len(shape) == 1 and not _is_int(shape[0]) and not (
            isinstance(shape[0], Variable) and shape[0].ndim == 0):
        shape = shape[0]
    return Alloc()(value, *_shape_arg(shape, "alloc: shape"))


def _filled(shape: Any, value: Any, dtype: Any, what: str) -> Any:
    return Alloc()(constant(value, dtype=dt.canonical(dtype or "floatX")),
                   *_shape_arg(shape, f"{what}: shape"))


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
    entries = _shape_arg(shape, "broadcast_to: shape")
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
    reps = _shape_arg(reps, "tile: reps")
    ndim = max(len(reps), x.ndim)
    reps = [1] * (ndim - len(reps)) + reps
    x = elemwise.dimshuffle(x, ("x",) * (ndim - x.ndim) + tuple(range(x.ndim)))
    dims = [shape_i(x, i) for i in range(ndim)]
    # Each axis i becomes the pair (reps[i], dims[i]); collapsing the pairs in C order lays the
    # copies one after the other.
    spread = elemwise.dimshuffle(x, tuple(p for i in range(ndim) for p in ("x", i)))
    big = Alloc()(spread, *[v for i in range(ndim) for v in (reps[i], dims[i])])
    return reshape(big, [_mul(r, d) for r, d in zip(reps, dims)])


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
        dims = tuple(_int_scalar_input(d, f"shape entry {i}", self) for i, d in enumerate(dims))
        static = list(x.type.shape)
        for axis, d in zip(self._axes(), dims):
            want = _static_int(d)
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
        entries = [None if s is None else _shape_arg([s], "specify_shape: shape")[0]
                   for s in shape]
    else:
        entries = _shape_arg(shape, "specify_shape: shape")
    if len(entries) != x.ndim:
        raise TypeError(f"specify_shape: input x ({x}) has {x.ndim} dimensions, shape "
                        f"{tuple(entries)} has {len(entries)}")
    given = [e is not None for e in entries]
    return SpecifyShape(given)(x, *[e for e in entries if e is not None])


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
        index = ARange(gz.dtype)(0, shape_i(outputs[0], 0), 1)
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
        inputs = [_int_scalar_input(v, name, self) for v, name in zip((n, m, k), "nmk")]
        static = [_static_int(v) for v in inputs[:2]]
        if any(s is not None and s < 0 for s in static):
            raise ValueError(f"{self}: negative dimensions {static}")
        return Apply(self, inputs, [TensorType(self.dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        n, m, k = (int(v) for v in inputs)
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
    rows, cols = _add(rows, min(k, 0)), _sub(cols, max(k, 0))
    if _is_int(rows) and _is_int(cols):
        return max(0, min(rows, cols))
    return elemwise.maximum(elemwise.minimum(rows, cols), 0)


class AllocDiag(Op):
    """The square matrix with vector ``v`` on diagonal ``offset`` (``numpy.diag`` of a vector)."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0) -> None:
        self.offset = int(offset)

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
        side = _add(input_shapes[0][0], abs(self.offset))
        return [(side, side)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [ExtractDiag(self.offset)(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


class ExtractDiag(Op):
    """Diagonal ``offset`` of a matrix, as a new vector (``numpy.diag`` of a matrix)."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0) -> None:
        self.offset = int(offset)

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
        k, rows, cols = self.offset, shape_i(x, 0), shape_i(x, 1)
        along = rows if k >= 0 else cols
        padded = concatenate([gz, zeros([_sub(along, shape_i(gz, 0))], gz.dtype)])
        mask = eye(rows, cols, k, dtype=gz.dtype)
        return [mask * elemwise.dimshuffle(padded, (0, "x") if k >= 0 else ("x", 0))]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


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
            counts = [_static_int(repeats)]
            length = None if n is None or counts[0] is None else n * counts[0]
        else:
            size = repeats.type.shape[0]
            if None not in (n, size) and n != size:
                raise ValueError(f"{self}: {size} repeats for an axis of length {n}")
            counts = _vector_entries(repeats, build=False) if size is not None else [None]
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
        output_storage[0][0] = np.repeat(x, repeats, axis=self.axis)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        out = list(input_shapes[0])
        repeats = node.inputs[1]
        static = node.outputs[0].type.shape[self.axis]
        if static is not None:
            out[self.axis] = static
        elif repeats.ndim == 0:
            out[self.axis] = _mul(out[self.axis], _scalar_entry(repeats))
        else:
            out[self.axis] = elemwise.cast(reduce.sum(repeats), "int64")
        return [tuple(out)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        x, repeats = inputs
        if not dt.is_float(x.dtype):
            return [None, None]
        gz, axis = output_grads[0], self.axis
        n = shape_i(x, axis)
        if repeats.ndim == 0:
            # The copies of element j are consecutive: split the axis into (n, repeats).
            dims = [shape_i(x, d) for d in range(x.ndim)]
            split_shape = dims[:axis] + [n, _scalar_entry(repeats)] + dims[axis + 1:]
            return [reduce.sum(reshape(gz, split_shape), axis=axis + 1), None]
        # owner[j, t] is 1 when output position t is a copy of element j.
        owner = Repeat(1)(eye(n, dtype=gz.dtype), repeats)
        rest = x.ndim - axis - 1
        gz_wide = expand_dims(gz, axis)
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
        x, axis = flatten(x), 0
    else:
        axis = _axis(axis, x.ndim, "repeat: axis")
    repeats = as_tensor_variable(repeats)
    if repeats.ndim == 1 and repeats.type.shape[0] == 1:
        repeats = elemwise.dimshuffle(repeats, ())
    return Repeat(axis)(x, repeats)
