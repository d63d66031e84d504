"""Merge (common-subexpression elimination): equal constants and equal Apply nodes become one."""

from __future__ import annotations

from typing import Any

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Constant
from symgraph.rewrite.engine import GraphRewrite


def merge_graph(fgraph: FunctionGraph) -> int:
    """Replace duplicate constants, then duplicate nodes (same op, same inputs), in one pass.

    Walking in topological order makes it complete: once a node's inputs are canonical, an
    equal node later in the order has exactly the same inputs.
    """
    changes = 0
    seen_constants: dict[Any, Constant] = {}
    for var in _constants_in_graph_order(fgraph):
        if var not in fgraph.variables:
            continue
        key = var.signature()
        if key in seen_constants:
            fgraph.replace(var, seen_constants[key], reason="merge")
            changes += 1
        else:
            seen_constants[key] = var
    seen_nodes: dict[Any, Any] = {}
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes:
            continue
        key = (node.op, tuple(map(id, node.inputs)))
        twin = seen_nodes.get(key)
        if twin is None or node.op.destroy_map:
            seen_nodes[key] = node
            continue
        fgraph.replace_all(zip(node.outputs, twin.outputs), reason="merge")
        changes += 1
    return changes


def _constants_in_graph_order(fgraph: FunctionGraph) -> list[Constant]:
    """Constants in the order the graph uses them: the survivor of each group of equal
    constants, and so the rewritten graph and its kernels' cache keys, is the same in every
    run (a set's order is not)."""
    ordered: dict[Constant, None] = {}
    for node in fgraph.toposort():
        for var in node.inputs:
            if isinstance(var, Constant):
                ordered[var] = None
    for var in fgraph.outputs:
        if isinstance(var, Constant):
            ordered[var] = None
    return list(ordered)


merge = GraphRewrite("merge", merge_graph)
