"""``to_networkx``: a compiled function's graph (or symbolic outputs) as a networkx DiGraph, so
that its algorithms (paths, centrality, isomorphism, cycles, drawing) apply to it."""

from __future__ import annotations

from typing import Any

from symgraph.graph import Constant, Variable, graph_inputs, toposort


def to_networkx(graph: Any) -> Any:
    """The graph as a ``networkx.DiGraph`` with one node per Apply and per Variable.

    Parameters
    ----------
    graph : Function, FunctionGraph, Variable or list of Variable
        A compiled function (its rewritten graph), a FunctionGraph, or symbolic outputs (the
        graph as built).

    Returns
    -------
    networkx.DiGraph
        Edges run from each input variable to the Apply that reads it (attribute ``index``:
        the input position) and from each Apply to its outputs. Every node has ``kind``
        (``'apply'``, ``'input'``, ``'constant'``, ``'variable'`` or ``'output'``) and
        ``label``; Apply nodes have ``op`` (the op's string), variables ``type``.

    Raises
    ------
    ImportError
        When networkx is not installed (it is a dependency of symgraph).
    """
    import networkx as nx

    outputs, inputs = _outputs_and_inputs(graph)
    result = nx.DiGraph()
    output_set = set(outputs)

    def add_variable(var: Variable) -> None:
        if var in result:
            return
        kind = ("output" if var in output_set else "input" if var in inputs else
                "constant" if isinstance(var, Constant) else "variable")
        result.add_node(var, kind=kind, label=str(var), type=str(var.type))

    for node in toposort(outputs, blockers=inputs):
        result.add_node(node, kind="apply", label=str(node.op), op=str(node.op))
        for index, var in enumerate(node.inputs):
            add_variable(var)
            result.add_edge(var, node, index=index)
        for var in node.outputs:
            add_variable(var)
            result.add_edge(node, var)
    for var in outputs:
        add_variable(var)
    return result


def _outputs_and_inputs(graph: Any) -> tuple[list[Variable], set[Variable]]:
    fgraph = getattr(graph, "fgraph", None) or (graph if hasattr(graph, "clients") else None)
    if fgraph is not None:
        return list(fgraph.outputs), set(fgraph.inputs)
    outputs = list(graph) if isinstance(graph, (list, tuple)) else [graph]
    if not all(isinstance(v, Variable) for v in outputs):
        raise TypeError("to_networkx takes a Function, a FunctionGraph or Variables")
    return outputs, {v for v in graph_inputs(outputs) if not isinstance(v, Constant)}


__all__ = ["to_networkx"]
