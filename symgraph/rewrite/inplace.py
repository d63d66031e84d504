"""Inplace: let ops overwrite an input buffer when no other computation needs it.

Walks the graph in topological order and switches Elemwise, Composite and the ops with an
``inplace`` flag (inc_subtensor, gemm) to their destroying versions where the destroy handler
(symgraph.rewrite.destroy) proves the overwrite unobservable.
"""

from __future__ import annotations

from typing import Any

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops.composite import Composite
from symgraph.ops.elemwise import Elemwise
from symgraph.rewrite.destroy import DestroyHandler, check_destroyers
from symgraph.rewrite.engine import GraphRewrite
from symgraph.rewrite.merge import merge_graph
from symgraph.type import TensorType

__all__ = ["inplace", "make_inplace", "undo_unsafe_inplace"]


def _same_buffer_type(inp: Variable, out: Variable) -> bool:
    """The output fits exactly in the input's buffer: same dtype and same static shape.

    Equal static shapes mean equal runtime shapes: only static-1 dimensions broadcast.
    """
    return isinstance(inp.type, TensorType) and isinstance(out.type, TensorType) and \
        inp.type.dtype == out.type.dtype and inp.type.shape == out.type.shape


def _pattern(handler: DestroyHandler, node: Apply,
             outputs: range) -> tuple[tuple[int, int], ...]:
    """For each output, the first input it may overwrite (each input at most once)."""
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for out_index in outputs:
        out = node.outputs[out_index]
        for i, inp in enumerate(node.inputs):
            if i in used or not _same_buffer_type(inp, out):
                continue
            if handler.can_destroy(node, i):
                pairs.append((out_index, i))
                used.add(i)
                break
    return tuple(pairs)


def _elemwise_inplace(handler: DestroyHandler, node: Apply) -> Op | None:
    op = node.op
    if type(op) is not Elemwise or op.inplace_pattern:  # subclasses may not take a pattern
        return None
    pattern = _pattern(handler, node, range(1))
    return Elemwise(op.scalar_op, pattern) if pattern else None


def _composite_inplace(handler: DestroyHandler, node: Apply) -> Op | None:
    op = node.op
    if not isinstance(op, Composite) or op.inplace_pattern:
        return None
    pattern = _pattern(handler, node, range(len(node.outputs)))
    return Composite(op.program, pattern) if pattern else None


def _fits(inp: Variable, out: Variable) -> bool:
    """The output can live in the input's buffer: same dtype and rank, no broadcast axis."""
    if not (isinstance(inp.type, TensorType) and isinstance(out.type, TensorType)):
        return False
    return inp.type.dtype == out.type.dtype and inp.type.ndim == out.type.ndim and all(
        i != 1 or o == 1 for i, o in zip(inp.type.shape, out.type.shape))


def _flagged_inplace(handler: DestroyHandler, node: Apply) -> Op | None:
    """Ops with a static ``inplace`` parameter: IncSubtensor, AdvancedIncSubtensor, Gemm, Gemv,
    Ger.

    Their constructor takes their ``__props__`` as keywords; the inplace version's
    ``destroy_map`` says which input it overwrites, and its ``make_node`` must accept the
    node's inputs (Gemm refuses an accumulator broadcast to the product's shape).
    """
    op = node.op
    props = type(op).__props__
    if "inplace" not in props or op.inplace:  # type: ignore[attr-defined]
        return None
    try:
        new_op = type(op)(**{name: getattr(op, name) for name in props} | {"inplace": True})
        rebuilt = new_op.make_node(*node.inputs)
    except (TypeError, ValueError):
        return None
    if [o.type for o in rebuilt.outputs] != [o.type for o in node.outputs]:
        return None
    for out_index, inputs in new_op.destroy_map.items():
        for i in inputs:
            if not _fits(node.inputs[i], node.outputs[out_index]) or \
                    not handler.can_destroy(node, i):
                return None
    return new_op


def _switch(fgraph: FunctionGraph, node: Apply, op: Op) -> Apply:
    """Replace ``node`` by the same computation with ``op``, keeping types, names and trace."""
    new = Apply(op, list(node.inputs), [out.clone() for out in node.outputs])
    new.copy_tag_from(node)
    fgraph.replace_all(list(zip(node.outputs, new.outputs)), reason="inplace")
    return new


_RULES = {Elemwise: _elemwise_inplace, Composite: _composite_inplace}


def make_inplace(fgraph: FunctionGraph) -> int:
    """Switch every node that may safely overwrite an input to its inplace version.

    Returns the number of nodes switched. The graph is merged first: merging two equal nodes
    after one of their outputs was destroyed would make the other's clients read garbage.
    """
    merge_graph(fgraph)
    handler = DestroyHandler(fgraph)
    changes = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or node.op.destroy_map:
            continue
        rule: Any = _RULES.get(type(node.op), _flagged_inplace)
        op = rule(handler, node)
        if op is None:
            continue
        handler.record(node, _switch(fgraph, node, op))
        changes += 1
    return changes


def _copying_version(op: Op) -> Op | None:
    if type(op) is Elemwise:
        return Elemwise(op.scalar_op)
    if isinstance(op, Composite):
        return Composite(op.program)
    props = type(op).__props__
    if "inplace" not in props:
        return None
    try:
        copying = type(op)(**{name: getattr(op, name) for name in props} | {"inplace": False})
    except TypeError:
        return None
    return None if copying.destroy_map else copying


def undo_unsafe_inplace(fgraph: FunctionGraph) -> int:
    """Switch back to copying every destroyer the handler refuses; return how many.

    For graphs that arrive with destroying ops (built by hand, or rewritten outside
    ``function()`` and then extended): an overwrite that was safe in the graph it was made
    for may not be in a larger one. Destroyers of other ops are left as they are.
    """
    changes = 0
    while True:
        for node, _, _ in check_destroyers(fgraph):
            op = _copying_version(node.op)
            if op is not None:
                # One at a time: a reverted node reads its input, which changes the others.
                _switch(fgraph, node, op)
                changes += 1
                break
        else:
            return changes


inplace = GraphRewrite("inplace", make_inplace)
