"""The JSON model the viewer page is drawn from: the graph after each rewrite phase (replayed
from the user's graph), the rules that fired, each node's lineage, and the compiled graph.

Node ids are stable across phases: a node a phase leaves alone keeps its id, so the page can
show what each phase changed.
"""

from __future__ import annotations

import linecache
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable, toposort, user_op
from symgraph.ops.basic import SharedVariable
from symgraph.printing.text import op_label, short_type, value_text
from symgraph.rewrite.engine import RewriteLog, run_pipeline

class History:
    """FunctionGraph feature: for every node a rewrite made, the rules that led to it (the
    rules that made the nodes it replaced, then its own), and the user lines of every node
    it stands for (those it replaced, and those that went with them: a fused node comes from
    all the expressions it fused)."""

    def __init__(self) -> None:
        self.rules: dict[Apply, list[str]] = {}
        self.sources: dict[Apply, set[tuple[str, int]]] = {}
        self._batch: set[Apply] = set()  # the nodes the current replacement brought in
        self._made: Apply | None = None  # the node the last replacement put in
        self._changed = False

    def origins(self, node: Apply) -> set[tuple[str, int]]:
        found = self.sources.get(node)
        return found if found is not None else ({node.trace} if node.trace else set())

    def on_import(self, fgraph: FunctionGraph, node: Apply, reason: str | None) -> None:
        if self._changed:
            self._batch, self._changed = set(), False
        if reason is not None and node not in self.rules:
            self.rules[node] = [reason]
            self._batch.add(node)

    def on_change_input(self, fgraph: FunctionGraph, node: Any, index: int, old: Variable,
                        new: Variable, reason: str | None) -> None:
        self._changed = True
        made = new.owner
        if made is None or old.owner is None or made not in self._batch:
            self._made = None
            return
        before = self.rules.get(old.owner, [])
        self.rules[made] = before + [r for r in self.rules.get(made, []) if r not in before]
        self.sources[made] = self.origins(made) | self.origins(old.owner)
        self._made = made

    def on_prune(self, fgraph: FunctionGraph, node: Apply, reason: str | None) -> None:
        if self._made is not None and reason is not None:
            self.sources[self._made] = self.origins(self._made) | self.origins(node)


class Ids:
    """Stable string ids for the graph's objects (held, so that ``id`` is never reused)."""

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}
        self._held: list[Any] = []

    def __call__(self, obj: Any, prefix: str) -> str:
        key = id(obj)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = f"{prefix}{len(self._ids)}"
            self._held.append(obj)
        return found

    def alias(self, obj: Any, same_as: Any) -> None:
        """Give ``obj`` the id of ``same_as`` (the compiled twin of a replayed node)."""
        if id(same_as) in self._ids and id(obj) not in self._ids:
            self._ids[id(obj)] = self._ids[id(same_as)]
            self._held.append(obj)


def type_label(vtype: Any, shape: Sequence[int] | None = None) -> str:
    """``'(?, 256) float32'``: the static shape (``?`` where unknown) and the dtype."""
    return short_type(vtype, shape)


def format_value(value: Any) -> str:
    """A constant's value without float noise: ``0.1`` for ``0.09999999999999998``."""
    return value_text(np.asarray(value))


def source_line(trace: tuple[str, int] | None) -> dict[str, Any] | None:
    if not trace:
        return None
    filename, lineno = trace
    return {"file": filename, "short": os.path.basename(filename), "line": lineno,
            "code": linecache.getline(filename, lineno).strip()}


def op_family(op: Any) -> str:
    """What kind of op: its class name (``Elemwise``, ``Composite``, ``Gemm``, ...)."""
    return type(op).__name__


def composite_inner(op: Any) -> dict[str, Any] | None:
    """The scalar program of a Composite as a small graph (inputs ``in0..``, one node per
    step), or the inner graph of a Scan."""
    program = getattr(op, "program", None)
    if program is not None and hasattr(program, "steps"):
        nodes = [{"id": f"i{k}", "label": f"in{k}", "kind": "input",
                  "type": program.input_dtypes[k]} for k in range(program.n_inputs)]
        edges = []
        for k, (row, args, dtype) in enumerate(program.steps):
            slot = program.n_inputs + k
            label = format_value(row.params[0]) if row.nin == 0 and getattr(
                row, "params", None) else row.name
            kind = "constant" if row.nin == 0 else "apply"
            nodes.append({"id": f"i{slot}", "label": label, "kind": kind, "type": dtype,
                          "output": slot in program.outputs})
            edges += [[f"i{a}", f"i{slot}"] for a in args]
        return {"nodes": nodes, "edges": edges}
    inner = getattr(op, "inner", None)
    if inner is not None and hasattr(inner, "nodes"):
        ids = Ids()
        nodes = [{"id": ids(v, "i"), "label": v.name or f"in{k}", "kind": "input",
                  "type": type_label(v.type)} for k, v in enumerate(inner.inputs)]
        edges = []
        for node in inner.nodes():
            nid = ids(node, "i")
            nodes.append({"id": nid, "label": op_label(node.op), "kind": "apply",
                          "type": ", ".join(type_label(o.type) for o in node.outputs),
                          "output": any(o in inner.outputs for o in node.outputs)})
            for var in node.inputs:
                if var.owner is not None:
                    edges.append([ids(var.owner, "i"), nid])
                elif not isinstance(var, Constant):
                    edges.append([ids(var, "i"), nid])
        return {"nodes": nodes, "edges": edges}
    return None


class Snapshot:
    """The page's picture of one FunctionGraph: nodes and edges, in JSON-ready dicts."""

    def __init__(self, fgraph: FunctionGraph, ids: Ids, history: History,
                 roles: dict[int, str], notes: dict[Any, Any] | None = None) -> None:
        self.fgraph = fgraph
        self.ids = ids
        self.history = history
        self.roles = roles  # output index -> "output" / "update of W1"
        self.notes = notes or {}
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[list[str]] = []
        self._constants: set[str] = set()

    def build(self) -> dict[str, Any]:
        fgraph = self.fgraph
        for k, var in enumerate(fgraph.inputs):
            shared = isinstance(var, SharedVariable)
            # A shared variable's value has a shape, even where its type leaves it open.
            value = var.get_value(borrow=True) if shared else None
            shape = getattr(value, "shape", None)
            self.nodes.append({"id": self.ids(var, "v"), "kind": "shared" if shared else "input",
                               "label": var.name or f"input {k}",
                               "outputs": [{"name": var.name,
                                            "type": type_label(var.type, shape)}]})
        # Not fgraph.toposort(): a picture may be taken half-way through a rewrite, and the
        # graph's cached order is the rewrite's business.
        for node in toposort(list(fgraph.outputs), blockers=fgraph.inputs):
            self._add_apply(node)
        for k, var in enumerate(fgraph.outputs):
            out_id = f"out{k}"
            role = self.roles.get(k, "output")
            self.nodes.append({"id": out_id, "kind": "update" if role != "output" else "output",
                               "label": role if role != "output" else (var.name or f"output {k}"),
                               "outputs": [{"name": var.name, "type": type_label(var.type)}]})
            self.edges.append([self._source(var), out_id])
        return {"nodes": self.nodes, "edges": self.edges}

    def _source(self, var: Variable, reader: str = "") -> str:
        if var.owner is not None:
            return self.ids(var.owner, "n")
        if isinstance(var, Constant):
            cid = self.ids(var, "c")
            if np.size(var.data) <= 1 and reader:
                cid += "@" + reader  # one small node per use: no long edges across the page
            if cid not in self._constants:
                self._constants.add(cid)
                self.nodes.append({"id": cid, "kind": "constant",
                                   "label": format_value(var.data),
                                   "outputs": [{"name": None, "type": type_label(var.type)}]})
            return cid
        return self.ids(var, "v")

    def _add_apply(self, node: Apply) -> None:
        nid = self.ids(node, "n")
        written = user_op(node)
        note = self.notes.get(node)
        entry = {
            "id": nid, "kind": "apply", "label": op_label(node.op), "op": op_label(node.op),
            "user_op": op_label(written), "family": op_family(written),
            "outputs": [{"name": o.name, "type": type_label(o.type)} for o in node.outputs],
            "inputs": [type_label(i.type) for i in node.inputs],
            "line": source_line(node.trace),
            "from_lines": [source_line(t) for t in sorted(self.history.origins(node))
                           if t != node.trace],
            "rules": list(self.history.rules.get(node, [])),
        }
        if note:
            entry.update(note)
        inner = composite_inner(node.op)
        if inner is not None:
            entry["inner"] = inner
        self.nodes.append(entry)
        for var in node.inputs:
            self.edges.append([self._source(var, nid), nid])


class Firings:
    """FunctionGraph feature: the graph after each rule firing of a phase (one firing: the
    changes one ``replace`` makes, which share their old and new variable)."""

    def __init__(self, take: Any) -> None:
        self.take = take  # () -> the picture of the graph now
        self.steps: list[dict[str, Any]] = []
        self._last: tuple[Any, ...] | None = None

    def on_change_input(self, fgraph: FunctionGraph, node: Any, index: int, old: Variable,
                        new: Variable, reason: str | None) -> None:
        key = (reason, id(old), id(new))
        picture = self.take()
        if key == self._last:
            self.steps[-1].update(picture)
        else:
            self.steps.append({"name": reason or "?", **picture})
            self._last = key


# Graphs up to this many nodes get a picture after every rule firing, not only every phase.
FIRINGS_UP_TO = 400


def output_roles(fgraph: FunctionGraph, n_outputs: int, updates: Sequence[Any]) -> dict[int, str]:
    return {n_outputs + j: f"update of {shared.name or 'shared'}"
            for j, (shared, _) in enumerate(updates)}


def replay(function: Any) -> tuple[list[dict[str, Any]], FunctionGraph, Ids, History]:
    """The function's graph before rewriting and after each phase of its mode's pipeline."""
    from symgraph.function import PIPELINE, REFERENCE_EXCLUDES, Mode

    mode = function.mode
    plain = function._recipe.compile(mode=Mode("py", rewrites=False), profile=False,
                                      tier="final")
    fgraph = plain.fgraph  # the plain function's own copy of the user's graph: ours to edit
    roles = output_roles(fgraph, function.n_outputs, function.updates)
    ids, history = Ids(), History()
    fgraph.attach_feature(history)
    phases = [_phase("your graph", fgraph, ids, history, roles, [], set())]
    excluding = set(mode.excluding)
    if mode.backend == "py":
        excluding |= REFERENCE_EXCLUDES
    if not mode.rewrites:
        excluding |= {name for name, _ in PIPELINE}
    by_rule = len(fgraph.apply_nodes) <= FIRINGS_UP_TO
    for name, rewrite in PIPELINE:
        if name in excluding:
            continue
        before = {n["id"] for n in phases[-1]["nodes"]}
        firings = Firings(lambda: Snapshot(fgraph, ids, history, roles).build())
        if by_rule:
            fgraph.attach_feature(firings)
        log = run_pipeline(fgraph, [(name, rewrite)], excluding, log=RewriteLog())
        if by_rule:
            fgraph.features.remove(firings)
        phase = _phase(name, fgraph, ids, history, roles, log.fired(), before)
        phase["firings"] = _with_changes(firings.steps, before)
        phases.append(phase)
    return phases, fgraph, ids, history


def _with_changes(steps: list[dict[str, Any]], before: set[str]) -> list[dict[str, Any]]:
    """Each step with ``changed``: the nodes new since the step before."""
    for step in steps:
        ids = {n["id"] for n in step["nodes"]}
        step["changed"] = [n["id"] for n in step["nodes"]
                           if n["kind"] == "apply" and n["id"] not in before]
        before = ids
    return steps


def _phase(name: str, fgraph: FunctionGraph, ids: Ids, history: History,
           roles: dict[int, str], fired: list[str], before: set[str],
           notes: dict[Any, Any] | None = None) -> dict[str, Any]:
    picture = Snapshot(fgraph, ids, history, roles, notes).build()
    changed = [n["id"] for n in picture["nodes"]
               if before and n["kind"] == "apply" and n["id"] not in before]
    return {"name": name, "fired": dict(Counter(fired)), "changed": changed, **picture}


def compiled_phase(function: Any, replayed: FunctionGraph, ids: Ids, history: History,
                   notes: dict[Any, Any], before: set[str]) -> dict[str, Any]:
    """The graph that runs (``function.fgraph``), its nodes given their replayed twins' ids
    and lineage where the two graphs agree node for node."""
    fgraph = function.fgraph
    ours, theirs = fgraph.toposort(), replayed.toposort()
    if len(ours) == len(theirs) and all(a.op == b.op for a, b in zip(ours, theirs)):
        for a, b in zip(ours, theirs):
            ids.alias(a, b)
            for x, y in zip(a.inputs, b.inputs):
                if isinstance(x, Constant) and isinstance(y, Constant):
                    ids.alias(x, y)
            if b in history.rules:
                history.rules[a] = history.rules[b]
            if b in history.sources:
                history.sources[a] = history.sources[b]
        for a, b in zip(fgraph.inputs, replayed.inputs):
            ids.alias(a, b)
    roles = output_roles(fgraph, function.n_outputs, function.updates)
    return _phase("compiled", fgraph, ids, history, roles, [], before, notes)
