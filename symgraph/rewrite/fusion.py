"""Elementwise fusion: maximal groups of Elemwise nodes become one ``Composite`` node.

A group grows from a node towards its producers. Every member computes on the same output
shape (no member is broadcast inside the group, so nothing is recomputed). A member whose value
is also needed outside the group becomes an extra output of the Composite; that is allowed only
when no input of the group is computed after it, which rules out cycles.
"""

from __future__ import annotations

from itertools import pairwise

from symgraph.fgraph import OUTPUT, FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.ops import elemwise as ew
from symgraph.ops.composite import Composite, ScalarProgram, is_rank_padding
from symgraph.ops.fused_reduce import FusedCAReduce
from symgraph.ops.reduce import CAReduce
from symgraph.rewrite.engine import GraphRewrite

# The most inputs a fused group (one kernel) takes: LLVM's time on a kernel grows faster than
# its operand count, while kernels of a bounded width are shared (specialize splits wider
# sums and products to this width too).
MAX_KERNEL_INPUTS = 32


def _is_fusable(node: Apply) -> bool:
    return isinstance(node.op, ew.Elemwise) and not node.op.inplace_pattern


def _grow(fgraph: FunctionGraph, root: Apply, taken: set[Apply],
          allow_shared: bool) -> set[Apply]:
    shape = root.outputs[0].type.shape
    group = {root}
    produced = set(root.outputs)
    external = {v for v in root.inputs if not _is_padded_scalar(v)}  # the group's inputs
    frontier = [root]
    while frontier:
        node = frontier.pop()
        for inp in node.inputs:
            producer = inp.owner
            if producer is None or producer in group or producer in taken:
                continue
            if not _is_fusable(producer) or not _same_shape(fgraph, producer, shape, group):
                continue
            if not allow_shared:
                clients = fgraph.clients.get(inp, [])
                if not all(c != OUTPUT and c in group for c, _ in clients):
                    continue
            grown = external.difference(producer.outputs)
            grown.update(v for v in producer.inputs
                         if v not in produced and not _is_padded_scalar(v))
            if len(grown) > MAX_KERNEL_INPUTS:
                continue  # the group stays one kernel of bounded width
            group.add(producer)
            produced.update(producer.outputs)
            external = grown
            frontier.append(producer)
    return group


def _same_shape(fgraph: FunctionGraph, producer: Apply, shape: tuple, group: set[Apply]) -> bool:
    """``producer`` computes on the group's output shape: statically, or where its static
    shape leaves a length unknown that the group knows (``(?, ?)`` in a group of ``(?, 128)``:
    a loop body's sequence row beside its state) and its value is read only inside the group,
    so it never becomes an output of the wrong shape. A length not declared broadcastable
    never broadcasts (Theano's rule, checked at run time), so it is the group's length."""
    own = producer.outputs[0].type.shape
    if own == shape:
        return True
    if len(own) != len(shape) or any(o is not None and o != s for o, s in zip(own, shape)):
        return False
    return all(c != OUTPUT and c in group
               for out in producer.outputs for c, _ in fgraph.clients.get(out, []))


def _group_order(fgraph: FunctionGraph, group: set[Apply],
                 position: dict[Apply, int]) -> list[Apply]:
    """The group's nodes in the graph's current topological order.

    When the group is a chain (each node, by the start-of-pass order, reads the one before it)
    every topological order lists it the same way, so the graph need not be sorted again after
    each fusion (that made fusion quadratic in the number of groups). Other groups are read
    off a fresh sort.
    """
    if len(group) == 1:
        return list(group)
    if all(node in position for node in group):
        nodes = sorted(group, key=position.__getitem__)
        if all(any(inp.owner is before for inp in after.inputs)
               for before, after in pairwise(nodes)):
            return nodes
    return [node for node in fgraph.toposort() if node in group]


def _boundary(fgraph: FunctionGraph, group: set[Apply], position: dict[Apply, int]
              ) -> tuple[list[Variable], list[Variable]]:
    """External inputs (in order of first use) and outputs needed outside the group."""
    inputs: list[Variable] = []
    seen: set[Variable] = set()
    produced = {o for node in group for o in node.outputs}
    outputs: list[Variable] = []
    for node in _group_order(fgraph, group, position):
        for inp in node.inputs:
            if inp not in produced and inp not in seen and not _is_padded_scalar(inp):
                inputs.append(inp)
                seen.add(inp)
        out = node.outputs[0]
        if any(c == OUTPUT or c not in group for c, _ in fgraph.clients.get(out, [])):
            outputs.append(out)
    return inputs, outputs


def _is_padded_scalar(var: Variable) -> bool:
    """A single-element constant, possibly rank-padded: baked into the program instead."""
    node = var.owner
    if node is not None and is_rank_padding(node):
        var = node.inputs[0]
    return isinstance(var, Constant) and var.data.size == 1


def _acyclic(group: set[Apply], inputs: list[Variable], outputs: list[Variable],
             position: dict[Apply, int]) -> bool:
    earliest_output = min(position[o.owner] for o in outputs)  # type: ignore[index]
    return all(i.owner is None or position.get(i.owner, -1) < earliest_output for i in inputs)


def fuse_elemwise(fgraph: FunctionGraph) -> int:
    """Replace each maximal fusable group of two or more Elemwise nodes by a Composite."""
    order = fgraph.toposort()
    position = {node: k for k, node in enumerate(order)}
    taken: set[Apply] = set()
    changes = 0
    for root in reversed(order):
        if root in taken or not _is_fusable(root) or root not in fgraph.apply_nodes:
            continue
        group = _grow(fgraph, root, taken, allow_shared=True)
        inputs, outputs = _boundary(fgraph, group, position)
        if not _acyclic(group, inputs, outputs, position):
            group = _grow(fgraph, root, taken, allow_shared=False)
            inputs, outputs = _boundary(fgraph, group, position)
        taken |= group
        if len(group) < 2 or not inputs:
            continue  # a group of constants only has no shape to loop over (left to folding)
        program = ScalarProgram.from_graph(inputs, outputs)
        node = Composite(program).make_node(*inputs)
        fgraph.replace_all(zip(outputs, node.outputs), reason="fuse_elemwise")
        changes += 1
    return changes


__all__ = ["fusion", "fuse", "fuse_elemwise", "fuse_into_reductions"]


def fuse_into_reductions(fgraph: FunctionGraph) -> int:
    """A reduction whose input is computed by an elementwise node used nowhere else reads
    the elementwise program directly (``FusedCAReduce``): the intermediate is never stored."""
    changes = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not isinstance(node.op, CAReduce):
            continue
        (value,) = node.inputs
        producer = value.owner
        if producer is None or len(fgraph.clients.get(value, ())) != 1:
            continue
        if isinstance(producer.op, Composite) and len(producer.outputs) == 1:
            program = producer.op.program
        elif _is_fusable(producer):
            program = ScalarProgram.from_graph(producer.inputs, producer.outputs)
        else:
            continue
        new = FusedCAReduce(program, node.op).make_node(*producer.inputs).outputs[0]
        if new.type != node.outputs[0].type:
            continue
        fgraph.replace(node.outputs[0], new, reason="fuse_into_reductions")
        changes += 1
    return changes


def fuse(fgraph: FunctionGraph) -> int:
    return fuse_elemwise(fgraph) + fuse_into_reductions(fgraph)


fusion = GraphRewrite("fusion", fuse)
