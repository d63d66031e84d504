"""The HTML graph viewer behind ``sg.printing.html``: one self-contained, offline page with the
graph after each rewrite phase, each node's user line, lineage and generated code."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from symgraph.viewer.code import node_code, source
from symgraph.viewer.model import History, Ids, compiled_phase, replay, type_label

__all__ = ["build_model", "html", "source"]

VENDOR = ("cytoscape.min.js", "cytoscape-dagre.min.js")
LICENCES = ("LICENSE.cytoscape", "LICENSE.cytoscape-dagre", "LICENSE.dagre")


def _as_function(obj: Any) -> Any:
    """A compiled function for ``obj``: itself, or one computing the variables ``obj``."""
    if hasattr(obj, "fgraph") and hasattr(obj, "mode"):
        return obj
    from symgraph.function import function
    from symgraph.graph import Constant, Variable, graph_inputs
    from symgraph.ops.basic import SharedVariable

    outputs = [obj] if isinstance(obj, Variable) else \
        list(obj) if isinstance(obj, (list, tuple)) else [obj]
    if not outputs or not all(isinstance(v, Variable) for v in outputs):
        raise TypeError(f"html: expected a compiled function, a Variable or a list of "
                        f"Variables, got {type(obj).__name__}")
    inputs = [v for v in graph_inputs(outputs)
              if not isinstance(v, (Constant, SharedVariable))]
    return function(inputs, outputs, on_unused_input="ignore")


def runtime_shapes(function: Any, args: Sequence[Any]) -> dict[Any, list[tuple[int, ...]]]:
    """The shape of every node's outputs when ``function``'s graph runs on ``args`` (once, on
    the reference schedule, on copies of the inputs and shared values)."""
    from symgraph.codegen import get_backend
    from symgraph.codegen.linker import Schedule

    shapes: dict[Any, list[tuple[int, ...]]] = {}

    def record(node: Any, thunk: Any, inputs: list[list[Any]], outputs: list[list[Any]]) -> Any:
        def run() -> None:
            thunk()
            shapes[node] = [tuple(np.shape(cell[0])) for cell in outputs]

        return run

    values = function._filter(function._bind(list(args), {}))
    values += [c.value for c in function._shared_containers]
    values = [np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values]
    Schedule(function.fgraph, backend=get_backend("py"), wrap=record).run(values)
    return shapes


def _profile_notes(function: Any, native: Any,
                   shapes: dict[Any, list[tuple[int, ...]]]) -> dict[Any, dict[str, Any]]:
    notes: dict[Any, dict[str, Any]] = {}
    stats = function.profile
    for node in function.fgraph.apply_nodes:
        entry: dict[str, Any] = {}
        if node in shapes:
            entry["runtime_shapes"] = [type_label(o.type, shape)
                                       for o, shape in zip(node.outputs, shapes[node])]
        if native is not None:
            step = native.step_of(node)
            if step is not None:
                entry["note"] = step.note
        if stats is not None and stats.node_calls.get(node):
            entry["time"] = stats.node_time[node]
            entry["calls"] = stats.node_calls[node]
        if entry:
            notes[node] = entry
    return notes


def build_model(obj: Any, example: Sequence[Any] | None = None) -> dict[str, Any]:
    """The JSON-ready model the page draws: ``title``, ``subtitle``, ``phases`` (each with
    ``name``, ``fired`` rules, ``nodes``, ``edges``, ``changed`` node ids and, for graphs
    of up to ``model.FIRINGS_UP_TO`` nodes, ``firings``: the same after each rule firing),
    ``code`` (per node id of the compiled graph) and ``entry_code`` (the whole function's
    LLVM IR).

    Parameters
    ----------
    obj : Function, Variable or list of Variable
        Variables are compiled (default mode) with their free variables as inputs.
    example : sequence, optional
        Input values: the graph runs once on them (on the reference schedule, leaving the
        shared variables as they are) and each node of the compiled graph gets its
        ``runtime_shapes``.
    """
    function = _as_function(obj)
    shapes = runtime_shapes(function, example) if example is not None else {}
    if getattr(function, "_recipe", None) is not None:
        phases, replayed, ids, history = replay(function)
    else:  # not made by sg.function: no user graph to replay, only the compiled one
        phases, replayed, ids, history = [], function.fgraph, Ids(), History()
    native = function._native if function.mode.backend == "llvm" else None
    before = {n["id"] for n in phases[-1]["nodes"]} if phases else set()
    final = compiled_phase(function, replayed, ids, history,
                           _profile_notes(function, native, shapes), before)
    phases.append(final)
    code = {ids(node, "n"): node_code(function, node, native)
            for node in function.fgraph.apply_nodes}
    entry = {"kind": "LLVM IR of the whole function (entry point)", "text": native.ir_text} \
        if native is not None and native.ir_text else None
    name = function.name or "function"
    subtitle = (f"backend {function.mode.backend}; {len(function.fgraph.apply_nodes)} nodes "
                f"compiled; step through the rewrite phases with the slider")
    return {"title": name, "subtitle": subtitle, "phases": phases, "code": code,
            "entry_code": entry}


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def compact(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` with each distinct node description and code text stored once: phases list
    positions in ``node_table``, code entries positions in ``text_table`` (most nodes are the
    same from one phase to the next, and many kernels are shared)."""
    node_table: list[Any] = []
    node_index: dict[str, int] = {}

    def intern(table: list[Any], index: dict[str, int], item: Any) -> int:
        key = json.dumps(item, sort_keys=True)
        found = index.get(key)
        if found is None:
            found = index[key] = len(table)
            table.append(item)
        return found

    def pack(picture: dict[str, Any]) -> dict[str, Any]:
        packed = {**picture, "nodes": [intern(node_table, node_index, n)
                                       for n in picture["nodes"]]}
        if "firings" in picture:
            packed["firings"] = [pack(step) for step in picture["firings"]]
        return packed

    phases = [pack(phase) for phase in model["phases"]]
    text_table: list[Any] = []
    text_index: dict[str, int] = {}
    code = {nid: {"kind": c["kind"], "text": intern(text_table, text_index, c["text"])}
            for nid, c in model["code"].items()}
    return {**model, "phases": phases, "code": code, "node_table": node_table,
            "text_table": text_table}


def render(model: dict[str, Any]) -> str:
    """The page's HTML for ``model`` (see ``build_model``)."""
    vendor = "\n".join(_read(f"vendor/{name}") for name in VENDOR)
    licences = "\n".join(_read(f"vendor/{name}") for name in LICENCES)
    data = json.dumps(compact(model), separators=(",", ":")).replace("</", "<\\/")
    page = _read("page.html")
    parts = {"__TITLE__": model["title"].replace("<", "&lt;"),
             "__VENDOR__": "/*\n" + licences.replace("*/", "* /") + "*/\n" + vendor,
             "__MODEL__": data, "__PAGE__": _read("page.js")}
    for key, value in parts.items():
        page = page.replace(key, value, 1) if key != "__TITLE__" else page.replace(key, value)
    return page


def html(obj: Any, path: str | os.PathLike[str], example: Sequence[Any] | None = None) -> str:
    """Write an interactive, self-contained HTML page of a graph to ``path``.

    The page works offline (its JavaScript, cytoscape.js with the dagre layout, is in the
    file). It draws the graph top-down; each node shows the op you wrote and what it became,
    and its output types as ``(?, 256) float32``. Clicking a node shows your line of code,
    its shapes, the rules that made it, its time (if the function was compiled with
    ``profile=True`` and called) and its generated code (LLVM IR of its kernel). A slider
    steps through the rewrite phases, marking what each changed and naming the rules that
    fired. Composite (fused) and Scan nodes expand to their inner graphs. Search finds
    nodes by op or name.

    Parameters
    ----------
    obj : Function, Variable or list of Variable
        A compiled function, or variables (compiled in the default mode, their free
        variables as inputs).
    path : str or path-like
        Where to write the page.
    example : sequence, optional
        Values of the inputs: the graph runs once on them (on the reference schedule, on
        copies, so shared variables keep their values) and the compiled graph's nodes show
        their runtime shapes, ``(32, 128) float64``, next to the static ones.

    Returns
    -------
    str
        ``path``, as a string.

    Raises
    ------
    TypeError
        If ``obj`` is neither a compiled function nor variables.
    """
    text = render(build_model(obj, example))
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    return os.fspath(path)
