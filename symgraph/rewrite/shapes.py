"""Shape reasoning for rewrites: every variable's symbolic shape from the ops' ``infer_shape``,
and rules that answer ``x.shape`` without computing ``x``, merge sums of sums and collapse
reshapes of reshapes.

Shapes are inferred once per variable, in topological order, so the cost is linear in the size
of the graph; an op whose ``infer_shape`` fails falls back to measuring its output.
"""

from __future__ import annotations

from typing import Any

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import call_infer_shape
from symgraph.ops import elemwise as ew
from symgraph.ops import construct, reduce, shape as shape_ops
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.rewrite.engine import NodeRewrite, node_rewrite
from symgraph.type import TensorType


class ShapeFeature:
    """Attached to a FunctionGraph: ``shape_of(var)`` gives a tuple of dimensions.

    A dimension is a Python int or a 0-d int64 Variable built from the graph's inputs' shapes;
    ``measured`` records the dimensions that had to fall back to the variable itself.
    """

    def __init__(self) -> None:
        self.shapes: dict[Variable, tuple[Any, ...]] = {}
        self.measured: set[Variable] = set()

    def shape_of(self, fgraph: FunctionGraph, var: Variable) -> tuple[Any, ...]:
        if var in self.shapes:
            return self.shapes[var]
        pending = [n for n in _unknown_nodes(var, self.shapes)]
        for node in pending:
            self._infer(fgraph, node)
        if var not in self.shapes:
            self.shapes[var] = self._root_shape(var)
        return self.shapes[var]

    def _root_shape(self, var: Variable) -> tuple[Any, ...]:
        vtype = var.type
        if not isinstance(vtype, TensorType):
            return ()
        if isinstance(var, Constant):
            return tuple(int(d) for d in var.data.shape)
        return tuple(s if s is not None else shape_ops.Shape_i(d)(var)
                     for d, s in enumerate(vtype.shape))

    def _infer(self, fgraph: FunctionGraph, node: Apply) -> None:
        input_shapes = [self.shapes.get(i) or self._root_shape(i) for i in node.inputs]
        for inp, shape in zip(node.inputs, input_shapes):
            self.shapes.setdefault(inp, shape)
        try:
            if not hasattr(node.op, "infer_shape"):
                raise NotImplementedError
            shapes = call_infer_shape(node.op, fgraph, node, input_shapes)
        except Exception:  # no usable rule: measure the output itself
            shapes = None
        for k, out in enumerate(node.outputs):
            if not isinstance(out.type, TensorType):
                continue
            if shapes is None:
                self.shapes[out] = self._root_shape(out)
                self.measured.add(out)
                continue
            dims = tuple(_static_or(d, s) for d, s in zip(shapes[k], out.type.shape))
            self.shapes[out] = dims


def _static_or(dim: Any, static: int | None) -> Any:
    if static is not None:
        return static
    if isinstance(dim, Constant):
        return int(dim.data)
    return dim


def _unknown_nodes(var: Variable, known: dict[Variable, Any]) -> list[Apply]:
    from symgraph.graph import toposort

    # The dict itself blocks the walk (a copy of its keys per query made shape inference
    # quadratic in the number of variables already known).
    return [n for n in toposort([var], blockers=known) if n.outputs[0] not in known]


def shape_feature(fgraph: FunctionGraph) -> ShapeFeature:
    for feature in fgraph.features:
        if isinstance(feature, ShapeFeature):
            return feature
    feature = ShapeFeature()
    fgraph.attach_feature(feature)
    return feature


def _as_int64_scalar(dim: Any) -> Variable:
    var = as_tensor_variable(dim) if not isinstance(dim, int) else constant(dim, dtype="int64")
    return var if var.dtype == "int64" else ew.cast(var, "int64")


def _depends_on(dims: tuple[Any, ...], var: Variable) -> bool:
    from symgraph.graph import ancestors

    variables = [d for d in dims if isinstance(d, Variable)]
    return bool(variables) and var in set(ancestors(variables))


@node_rewrite(shape_ops.Shape, shape_ops.Shape_i)
def shape_from_infer_shape(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x.shape`` (or one dimension of it) from the ops' ``infer_shape``, not from ``x``."""
    (x,) = node.inputs
    if x.owner is None:
        return None
    feature = shape_feature(fgraph)
    dims = feature.shape_of(fgraph, x)
    if x in feature.measured:
        return None
    if isinstance(node.op, shape_ops.Shape_i):
        dims = (dims[node.op.i],)
    if _depends_on(dims, x):
        return None
    if isinstance(node.op, shape_ops.Shape_i):
        return [_as_int64_scalar(dims[0])]
    if all(isinstance(d, int) for d in dims):
        return [constant([int(d) for d in dims], dtype="int64")] if dims else None
    return [shape_ops.stack([_as_int64_scalar(d) for d in dims])]


@node_rewrite(reduce.CAReduce)
def sum_of_sum(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x.sum(a).sum(b)`` -> one sum over both sets of axes (also prod of prod, max of max)."""
    (inner_var,) = node.inputs
    inner = inner_var.owner
    if inner is None or not isinstance(inner.op, reduce.CAReduce):
        return None
    outer_op, inner_op = node.op, inner.op
    if outer_op.scalar_op != inner_op.scalar_op or len(fgraph.clients[inner_var]) != 1:
        return None
    if inner_var.dtype != node.outputs[0].dtype:
        return None
    kept = [a for a in range(inner.inputs[0].ndim) if a not in inner_op.axis]
    axes = tuple(sorted(set(inner_op.axis) | {kept[a] for a in outer_op.axis}))
    new = reduce.CAReduce(outer_op.scalar_op, axes, outer_op.dtype)(inner.inputs[0])
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite(shape_ops.Reshape)
def reshape_of_reshape(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x.reshape(a).reshape(b)`` -> ``x.reshape(b)``; a reshape to the same shape -> ``x``."""
    x, target = node.inputs
    out = node.outputs[0]
    if x.owner is not None and isinstance(x.owner.op, shape_ops.Reshape):
        new = node.op(x.owner.inputs[0], target)
        return [new] if new.type == out.type else None
    if x.type == out.type and None not in x.type.shape:
        return [x]
    return None


@node_rewrite("second")
def fill_without_computing(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``second(x, v)`` (``ones_like(x)``...) where only x's shape is used -> ``alloc(v, shape)``,
    so x is not computed when nothing else needs it."""
    x, value = node.inputs
    if x.owner is None or len(fgraph.clients.get(x, ())) != 1:
        return None
    feature = shape_feature(fgraph)
    dims = feature.shape_of(fgraph, x)
    if x in feature.measured or _depends_on(dims, x):
        return None
    new = construct.alloc(value, *[_as_int64_scalar(d) if not isinstance(d, int) else d
                                   for d in dims])
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite(ew.Elemwise)
def useless_fill(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``f(second(x, v), y, ...)`` -> ``f(v, y, ...)`` when another operand ``y`` has x's shape
    (symbolically): the fill only gave v that shape, which y gives the result anyway, and the
    kernel no longer reads x (the gradient of a mean is ``second(x, g / n)``)."""
    if node.op.inplace_pattern or node.op.scalar_op.name == "second":
        return None
    inputs = list(node.inputs)
    fills = [i for i, v in enumerate(inputs) if ew.is_elemwise(v, "second")]
    if not fills:
        return None
    feature = shape_feature(fgraph)
    changed = False
    for i in fills:
        x, value = inputs[i].owner.inputs  # type: ignore[union-attr]
        if value.dtype != inputs[i].dtype or value.ndim != x.ndim:
            continue
        wanted = feature.shape_of(fgraph, x)
        if any(j != i and other.type.shape == x.type.shape and
               feature.shape_of(fgraph, other) == wanted for j, other in enumerate(inputs)):
            inputs[i] = value
            changed = True
    if not changed:
        return None
    new = node.op(*inputs)
    return [new] if new.type == node.outputs[0].type else None


RULES: tuple[NodeRewrite, ...] = (shape_from_infer_shape, sum_of_sum, reshape_of_reshape,
                                  fill_without_computing, useless_fill)
