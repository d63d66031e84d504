"""CUDA rules of the core ops: elementwise programs, reductions, views (dimshuffle, reshape,
basic indexing), shape queries, ``Alloc``, ``Join`` and ``IncSubtensor``; and ``Lowering``, the
shape every CUDA rule returns (codegen/cuda/registry.py lists the rules of every module).

A rule turns a node into a ``Lowering`` (or None: the node then runs its ``perform`` on the
host, with transfers around it). ``Lowering.build(ctx, node, input_cells, output_cells)`` makes
the thunk; ``host_inputs`` are the inputs it reads on the host (scalars for views and launches).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph.codegen.cuda import elementwise as ew
from symgraph.codegen.cuda import launch
from symgraph.codegen.cuda import reduction as rd
from symgraph.codegen.scalar_common import program_of, tensors_only
from symgraph.graph import Apply
from symgraph.ops import composite, construct, elemwise, fused_reduce, reduce, shape, subtensor
from symgraph.ops.composite import ScalarProgram

Thunk = Callable[[], None]
Build = Callable[[Any, Apply, list[list[Any]], list[list[Any]]], Thunk]


@dataclass
class Lowering:
    build: Build
    host_inputs: frozenset[int] = frozenset()
    any_side: bool = False
    kernels: tuple[Any, ...] = ()
    note: str = ""


# A rule: the node's lowering, or None (the node then runs its perform on the host).
Rule = Callable[[Apply], Lowering | None]


def simple(function: Callable[[Any, Apply, list[Any]], list[Any]],
           host_inputs: Sequence[int] = (), **kwargs: Any) -> Lowering:
    """A lowering from ``function(ctx, node, input values) -> output values``."""

    def build(ctx: Any, node: Apply, ins: list[list[Any]], outs: list[list[Any]]) -> Thunk:
        def thunk() -> None:
            values = function(ctx, node, [cell[0] for cell in ins])
            for cell, value in zip(outs, values):
                cell[0] = value

        return thunk

    return Lowering(build, frozenset(host_inputs), **kwargs)


# -- elementwise --------------------------------------------------------------------------------
def lower_elementwise(node: Apply) -> Lowering | None:
    program = program_of(node)
    ranks = {v.type.ndim for v in node.inputs + node.outputs}
    if program is None or not tensors_only(node) or len(ranks) > 1:
        return None
    out_dtypes = tuple(o.type.dtype for o in node.outputs)
    rank = node.outputs[0].type.ndim
    kernels = tuple(ew.elementwise_kernel(ew.ElementwiseSpec(program, out_dtypes, nd))
                    for nd in sorted({1, max(rank, 1)}))
    errors = kernels[0].errors

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        elemwise.check_runtime_broadcast(node, values)
        out_shape = np.broadcast_shapes(*[v.shape for v in values]) if values else ()
        outputs = [ctx.device.empty(out_shape, d) for d in out_dtypes]
        views = [v.broadcast_to(out_shape) for v in values]
        report = (ctx.flag, [ctx.error_code(node, e) for e in errors]) if errors else None
        launch.elementwise(ctx.device, program, views, outputs, report)
        return outputs

    return simple(run, kernels=kernels)


# -- reductions ---------------------------------------------------------------------------------
def lower_reduction(node: Apply) -> Lowering | None:
    if not tensors_only(node):
        return None
    op = node.op
    if isinstance(op, fused_reduce.FusedCAReduce):
        if len({v.type.ndim for v in node.inputs}) > 1:
            return None
        program, kind, axes, identity = op.program, op.reduction.kind, op.reduction.axis, \
            op.reduction.identity
    elif isinstance(op, reduce.CAReduce):
        program = rd.identity_program(node.inputs[0].type.dtype)
        kind, axes, identity = op.kind, op.axis, op.identity
    else:
        program = rd.identity_program(node.inputs[0].type.dtype)
        kind = "argmax" if isinstance(op, reduce.Argmax) else "argmin"
        axes, identity = op.axis, None
    out_dtype = node.outputs[0].type.dtype
    (value_dtype,) = program.output_dtypes()
    ndim = node.inputs[0].type.ndim
    kept, red = ndim - len(axes), len(axes)
    spec = rd.ReduceSpec(program, kind, rd.accumulator_dtype(kind, value_dtype, out_dtype),
                         out_dtype, max(kept, 1), max(red, 1))
    kernels = rd.reduce_kernels(spec)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        if isinstance(op, fused_reduce.FusedCAReduce):
            elemwise.check_runtime_broadcast(node, values)  # as its perform checks
        full = np.broadcast_shapes(*[v.shape for v in values])
        out = ctx.device.empty([n for d, n in enumerate(full) if d not in axes], out_dtype)
        if any(full[a] == 0 for a in axes):
            if identity is None:
                raise ValueError(f"{op}: cannot reduce an input of shape {full} over an empty "
                                 f"axis: {kind} has no identity")
            launch.fill(ctx.device, out, identity)
            return [out]
        views = [v.broadcast_to(full) for v in values]
        launch.reduce(ctx.device, program, kind, views, axes, out)
        return [out]

    return simple(run, kernels=kernels)


# -- views and shapes ---------------------------------------------------------------------------
def lower_dimshuffle(node: Apply) -> Lowering:
    op = node.op

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        (x,) = values
        for axis in op.dropped:
            if x.shape[axis] != 1:
                raise ValueError(f"{op}: dimension {axis} of an input of shape {x.shape} "
                                 f"has length {x.shape[axis]}, not 1, and cannot be dropped")
        return [x.dimshuffle(op.kept, op.new_order)]

    return simple(run)


def lower_reshape(node: Apply) -> Lowering:
    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        x, target_value = values
        target = [int(s) for s in np.asarray(target_value).reshape(-1)]
        if len(target) != node.op.ndim:
            raise ValueError(f"shape {tuple(target)} has {len(target)} entries, expected "
                             f"{node.op.ndim}")
        if target.count(-1) > 1 or any(s < -1 for s in target):
            raise ValueError(f"invalid shape {tuple(target)}: one entry may be -1, the others "
                             f">= 0")
        if -1 in target:
            rest = math.prod(s for s in target if s != -1)
            if rest == 0 or x.size % rest:
                raise ValueError(f"cannot reshape an array of shape {x.shape} (size {x.size}) "
                                 f"into shape {tuple(target)}")
            target[target.index(-1)] = x.size // rest
        if math.prod(target) != x.size:
            raise ValueError(f"cannot reshape an array of shape {x.shape} (size {x.size}) into "
                             f"shape {tuple(target)}")
        return [ctx.device.contiguous(x).reshape(target)]

    return simple(run, host_inputs=(1,))


def lower_subtensor(node: Apply) -> Lowering:
    op = node.op
    n = len(node.inputs)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        x, indices = values[0], values[1:]
        return [x.index_view(subtensor._numpy_index(op.idx_list, indices))]

    return simple(run, host_inputs=range(1, n))


def lower_specify_shape(node: Apply) -> Lowering:
    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        storage: list[list[Any]] = [[None]]
        node.op.perform(node, values, storage)  # reads only x.shape and x.ndim
        return [storage[0][0]]

    return simple(run, host_inputs=range(1, len(node.inputs)))


def lower_shape(node: Apply) -> Lowering:
    op = node.op

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        dims = np.shape(values[0])
        if isinstance(op, shape.Shape):
            return [np.asarray(dims, dtype="int64")]
        return [np.asarray(dims[op.i], dtype="int64")]

    return simple(run, any_side=True)


# -- construction and assembly ------------------------------------------------------------------
def lower_alloc(node: Apply) -> Lowering | None:
    if not tensors_only(node):
        return None
    out_dtype = node.outputs[0].type.dtype

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        value, dims = values[0], [int(d) for d in values[1:]]
        lead = len(dims) - value.ndim
        mismatch = [d for d in range(value.ndim) if node.inputs[0].type.shape[d] != 1
                    and value.shape[d] != dims[lead + d]]
        if any(s < 0 for s in dims) or mismatch:
            raise ValueError(f"cannot allocate shape {tuple(dims)} from a value of shape "
                             f"{value.shape}; only dimensions of static length 1 broadcast")
        out = ctx.device.empty(dims, out_dtype)
        launch.copy_into(ctx.device, value, out)
        return [out]

    return simple(run, host_inputs=range(1, len(node.inputs)))


def lower_join(node: Apply) -> Lowering | None:
    if not tensors_only(node):
        return None
    op = node.op
    out_dtype = node.outputs[0].type.dtype

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        axis = op.axis
        shapes = [v.shape for v in values]
        rest = {tuple(s[:axis] + s[axis + 1:]) for s in shapes}
        if len(rest) > 1:
            raise ValueError(f"{op}: the shapes {shapes} differ outside axis {axis}")
        total = sum(s[axis] for s in shapes)
        out_shape = list(shapes[0])
        out_shape[axis] = total
        out = ctx.device.empty(out_shape, out_dtype)
        start = 0
        for value in values:
            index = (slice(None),) * axis + (slice(start, start + value.shape[axis]),)
            launch.copy_into(ctx.device, value, out.index_view(index))
            start += value.shape[axis]
        return [out]

    return simple(run)


def lower_inc_subtensor(node: Apply) -> Lowering | None:
    if not tensors_only(node):
        return None
    op = node.op
    dtype = node.outputs[0].type.dtype
    add = ScalarProgram((dtype, dtype), ((elemwise.TABLE["add"], (0, 1), dtype),), (2,))

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        x, y, indices = values[0], values[1], values[2:]
        index = subtensor._numpy_index(op.idx_list, indices)
        out = x.copy()
        region = out.index_view(index)
        subtensor._check_runtime_fit(op, node.inputs[1], y.shape, region.shape)
        if op.set_instead_of_inc:
            launch.copy_into(ctx.device, y, region)
        else:
            launch.elementwise(ctx.device, add, [region, y.broadcast_to(region.shape)],
                               [region])
        return [out]

    return simple(run, host_inputs=range(2, len(node.inputs)))


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    elemwise.Elemwise: lower_elementwise,
    composite.Composite: lower_elementwise,
    reduce.CAReduce: lower_reduction,
    fused_reduce.FusedCAReduce: lower_reduction,
    reduce.Argmax: lower_reduction,
    reduce.Argmin: lower_reduction,
    elemwise.DimShuffle: lower_dimshuffle,
    shape.Reshape: lower_reshape,
    subtensor.Subtensor: lower_subtensor,
    shape.SpecifyShape: lower_specify_shape,
    shape.Shape: lower_shape,
    shape.Shape_i: lower_shape,
    construct.Alloc: lower_alloc,
    shape.Join: lower_join,
    subtensor.IncSubtensor: lower_inc_subtensor,
}
