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
    for var in [v for v in fgraph.variables if isinstance(v, Constant)]:
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
        key = (node.op, tuple(id(v) for v in node.inputs))
        twin = seen_nodes.get(key)
        if twin is None or node.op.destroy_map:
            seen_nodes[key] = node
            continue
        fgraph.replace_all(zip(node.outputs, twin.outputs), reason="merge")
        changes += 1
    return changes


merge = GraphRewrite("merge", merge_graph)
