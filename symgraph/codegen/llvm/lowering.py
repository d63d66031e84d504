"""From graph nodes to kernel specifications: which nodes become LLVM kernels, and how an
elementwise producer is fused into the reduction that consumes it.
"""

from __future__ import annotations

from typing import Any

from symgraph import dtype as dt
from symgraph.codegen.scalar_common import program_of, tensors_only
from symgraph.codegen.llvm.kernels import KernelSpec, ReduceSpec
from symgraph.fgraph import OUTPUT, FunctionGraph
from symgraph.graph import Apply
from symgraph.ops import fused_reduce, reduce
from symgraph.ops.composite import ScalarProgram


def _broadcast(node_inputs: list[Any]) -> tuple[tuple[bool, ...], ...]:
    return tuple(tuple(s == 1 for s in v.type.shape) for v in node_inputs)


def _same_rank(node: Apply) -> bool:
    """Elementwise nodes built by make_node have inputs of the iteration space's rank; a node
    built some other way runs through perform."""
    ranks = {v.type.ndim for v in node.inputs}
    if not isinstance(node.op, fused_reduce.FusedCAReduce):
        ranks.add(node.outputs[0].type.ndim)
    return len(ranks) <= 1


def elementwise_spec(node: Apply, inplace_ok: bool) -> KernelSpec | None:
    program = program_of(node)
    if program is None or not tensors_only(node) or not _same_rank(node):
        return None
    inplace = bool(getattr(node.op, "inplace_pattern", ())) and inplace_ok
    return KernelSpec(program, node.outputs[0].type.ndim, _broadcast(node.inputs),
                      tuple(o.type.dtype for o in node.outputs), inplace=inplace)


def reduce_kind(node: Apply) -> tuple[str, str] | None:
    """``(kind, accumulator dtype)`` for a CAReduce/Argmax/Argmin node, else None."""
    op = node.op
    if isinstance(op, fused_reduce.FusedCAReduce):
        op = op.reduction
    if isinstance(op, reduce.CAReduce):
        out_dtype = node.outputs[0].type.dtype
        if out_dtype == "float16":
            return None  # perform accumulates float16 in float64
        return op.kind, reduce.accumulator_dtype(op.kind, out_dtype)
    if isinstance(op, reduce.Argmax):
        return "argmax", dt.compute_dtype(node.inputs[0].type.dtype)
    if isinstance(op, reduce.Argmin):
        return "argmin", dt.compute_dtype(node.inputs[0].type.dtype)
    return None


def fusable_producer(fgraph: FunctionGraph, node: Apply) -> Apply | None:
    """The single-output elementwise node feeding reduction ``node`` and nothing else."""
    if isinstance(node.op, fused_reduce.FusedCAReduce):
        return None
    var = node.inputs[0]
    producer = var.owner
    if producer is None or program_of(producer) is None or len(producer.outputs) != 1 or \
            not tensors_only(producer) or not _same_rank(producer):
        return None
    if getattr(producer.op, "inplace_pattern", ()):
        return None
    clients = fgraph.clients.get(var, [])
    if len(clients) != 1 or clients[0][0] == OUTPUT or clients[0][0] is not node:
        return None
    return producer


def reduce_spec(node: Apply, producer: Apply | None) -> KernelSpec | None:
    """The kernel of a reduction, with ``producer``'s program as its pre-op when given."""
    found = reduce_kind(node)
    if found is None or not tensors_only(node):
        return None
    kind, acc_dtype = found
    op = node.op
    if isinstance(op, fused_reduce.FusedCAReduce):
        if not _same_rank(node):
            return None
        ndim = node.inputs[0].type.ndim
        return KernelSpec(op.program, ndim, _broadcast(node.inputs),
                          (node.outputs[0].type.dtype,),
                          reduce=ReduceSpec(kind, tuple(op.reduction.axis), acc_dtype))
    axes = tuple(op.axis)
    x = node.inputs[0]
    if producer is not None:
        program = program_of(producer)
        inputs = list(producer.inputs)
    else:
        program = ScalarProgram((x.type.dtype,), (), (0,))
        inputs = [x]
    assert program is not None
    out_dtype = node.outputs[0].type.dtype
    return KernelSpec(program, x.type.ndim, _broadcast(inputs), (out_dtype,),
                      reduce=ReduceSpec(kind, axes, acc_dtype))



def transposed_spec(spec: KernelSpec) -> KernelSpec | None:
    """``spec``, a 2-d reduction, with its two dimensions swapped: the kernel to call on
    column-major operands, whose loops then follow memory (NumPy reorders its loops the same
    way; in the logical order every element of a reduced row is a cache miss). None where
    the order is part of the result: argmax/argmin's flat index, and the sign of a zero
    max/min over both dimensions (the last zero in C order)."""
    red = spec.reduce
    if spec.ndim != 2 or red is None or red.kind in ("argmax", "argmin"):
        return None
    if len(red.axes) == 2 and red.kind in ("maximum", "minimum"):
        return None
    if not any(pattern == (False, False) for pattern in spec.broadcast):
        return None
    return KernelSpec(spec.program, 2, tuple(pattern[::-1] for pattern in spec.broadcast),
                      spec.out_dtypes, reduce=ReduceSpec(red.kind,
                                                         tuple(sorted(1 - a for a in red.axes)),
                                                         red.dtype))
