"""Symbolic dimensions: shape arguments, shape vectors and integer arithmetic on dimensions.

A dimension is a Python int when known statically, else a 0-d int64 Variable; these helpers
build as little graph as possible and keep static lengths wherever they can be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Constant, Variable
from symgraph.ops import elemwise
from symgraph.ops.basic import TensorConstant, as_tensor_variable, constant

Dim = Any  # a Python int, or a 0-d int64 Variable


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def int_scalar_input(value: Any, what: str, op: Any) -> Any:
    """``value`` as a 0-d int64 Variable; ``TypeError`` naming ``what`` if it is not an int."""
    var = as_tensor_variable(value)
    if var.ndim != 0 or not dt.is_integer(var.dtype):
        raise TypeError(f"{op}: {what} ({var}) must be a 0-d integer, got {var.type}")
    if isinstance(var, Constant) and var.dtype != "int64":
        return constant(int(var.data), dtype="int64")
    return elemwise.cast(var, "int64")


def int_vector_input(value: Any, what: str, op: Any) -> Any:
    """``value`` as a 1-d int64 Variable; ``TypeError`` naming ``what`` if it is not one."""
    var = as_tensor_variable(value)
    if var.ndim != 1 or not dt.is_integer(var.dtype):
        raise TypeError(f"{op}: {what} ({var}) must be a 1-d integer vector, got {var.type}")
    if isinstance(var, Constant) and var.dtype != "int64":
        return constant(np.asarray(var.data, dtype="int64"))
    return elemwise.cast(var, "int64")


def static_int(var: Any) -> int | None:
    return int(var.data) if isinstance(var, Constant) else None


def is_integer_cast(var: Any) -> bool:
    node = var.owner
    return (node is not None and isinstance(node.op, elemwise.Elemwise)
            and node.op.scalar_op.kind == "cast"
            and dt.is_integer(var.dtype) and dt.is_integer(node.inputs[0].dtype))


def scalar_entry(var: Any, build: bool = True) -> Dim | None:
    """A 0-d integer Variable as an int when it is a constant, else as int64 (or None)."""
    base = var
    while is_integer_cast(base):
        base = base.owner.inputs[0]
    if isinstance(base, Constant):
        return int(base.data)
    return elemwise.cast(var, "int64") if build else None


def vector_entries(vec: Any, build: bool = True,
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
    from symgraph.ops import shape as shape_ops  # shape builds on this module

    if vec.type.shape[0] is not None:
        length = vec.type.shape[0]
    if length is None:
        raise ValueError(f"the length of the shape vector {vec} is not known statically")
    if vec.type.shape[0] is None:
        return split_entries(vec, length) if build else [None] * length
    if isinstance(vec, Constant):
        return [int(v) for v in np.asarray(vec.data)]
    node = vec.owner
    if node is not None and isinstance(node.op, shape_ops.Shape):
        x = node.inputs[0]
        return [shape_ops.shape_i(x, i) if build else x.type.shape[i] for i in range(length)]
    if node is not None and isinstance(node.op, shape_ops.Join) and node.op.axis == 0:
        return [e for part in node.inputs for e in vector_entries(part, build)]
    if node is not None and isinstance(node.op, elemwise.DimShuffle) and \
            node.op.new_order == ("x",):
        return [scalar_entry(node.inputs[0], build)]
    if is_integer_cast(vec):
        entries = vector_entries(vec.owner.inputs[0], build)
        return [e if e is None or is_int(e) else elemwise.cast(e, "int64") for e in entries]
    return split_entries(vec, length) if build else [None] * length


def split_entries(vec: Any, length: int) -> list[Dim]:
    from symgraph.ops import shape as shape_ops  # shape builds on this module

    if length == 0:
        return []
    sizes = constant(np.ones(length, dtype="int64"))
    parts = shape_ops.Split(length, 0).make_node(vec, sizes).outputs
    return [elemwise.cast(elemwise.dimshuffle(p, ()), "int64") for p in parts]


def shape_arg(shape: Any, what: str) -> list[Dim]:
    """Normalise a user's shape: an int, a sequence of ints and int scalars, or a vector."""
    if is_int(shape):
        return [int(shape)]
    if isinstance(shape, np.ndarray):
        shape = shape.tolist() if shape.ndim else [shape.item()]
    if isinstance(shape, Variable):
        var = as_tensor_variable(shape)
        if var.ndim == 1 and dt.is_integer(var.dtype):
            if var.type.shape[0] is None:
                raise ValueError(f"{what}: the length of {var} is not known statically")
            return vector_entries(var)
        shape = [var]
    if not isinstance(shape, (list, tuple)):
        raise TypeError(f"{what} must be an int, a sequence of ints or an int vector, "
                        f"got {shape!r}")
    entries: list[Dim] = []
    for i, item in enumerate(shape):
        if is_int(item):
            entries.append(int(item))
            continue
        var = as_tensor_variable(item) if isinstance(item, Variable) else None
        if var is None or var.ndim != 0 or not dt.is_integer(var.dtype):
            raise TypeError(f"{what}[{i}] must be an int or a 0-d integer Variable, got {item!r}")
        entries.append(scalar_entry(var))
    return entries


def to_vector(entries: Sequence[Dim]) -> Any:
    """An int64 vector Variable holding ``entries`` (a constant when they are all ints)."""
    from symgraph.ops import shape as shape_ops  # shape builds on this module

    if all(is_int(e) for e in entries):
        return constant(np.asarray([int(e) for e in entries], dtype="int64").reshape(-1))
    return shape_ops.stack([constant(int(e), dtype="int64") if is_int(e) else e for e in entries])


def fold_dims(function: Any, identity: int, items: Sequence[Dim], combine: Any) -> Dim:
    known, symbolic = identity, []
    for item in items:
        if is_int(item):
            known = combine(known, int(item))
        else:
            symbolic.append(item)
    if not symbolic:
        return known
    out = symbolic[0] if len(symbolic) == 1 else function(*symbolic)
    return out if known == identity else function(out, known)


def mul_dims(*items: Dim) -> Dim:
    return fold_dims(elemwise.mul, 1, items, lambda a, b: a * b)


def add_dims(*items: Dim) -> Dim:
    return fold_dims(elemwise.add, 0, items, lambda a, b: a + b)


def sub_dims(a: Dim, b: Dim) -> Dim:
    return a - b if is_int(a) and is_int(b) else elemwise.sub(a, b)


def axis_index(axis: Any, ndim: int, what: str = "axis") -> int:
    """A non-negative axis of an ``ndim``-d tensor; negative axes count from the end."""
    if isinstance(axis, Variable):
        if not isinstance(axis, Constant) or np.ndim(axis.data) != 0:
            raise TypeError(f"{what} must be known when the graph is built, got {axis}")
        axis = axis.data.item()
    if not is_int(axis):
        raise TypeError(f"{what} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} {axis} is out of range for a {ndim}-d tensor")
    return int(axis) % ndim


def axis_list(axis: Any, ndim: int) -> list[int]:
    axes = [axis_index(a, ndim) for a in (axis if isinstance(axis, (list, tuple)) else (axis,))]
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis}")
    return axes


def promote_dtypes(tensors: Sequence[Any]) -> list[Any]:
    """Cast ``tensors`` to their common dtype; Python scalars are weak (NEP 50)."""
    weak = [isinstance(t, TensorConstant) and t.weak for t in tensors]
    strong = [t.dtype for t, w in zip(tensors, weak) if not w]
    common = dt.upcast(*strong, *[t.data.item() for t, w in zip(tensors, weak) if w]) \
        if strong else dt.upcast(*[t.dtype for t in tensors])
    return [constant(t.data, dtype=common) if isinstance(t, Constant) and t.dtype != common
            else elemwise.cast(t, common) for t in tensors]

