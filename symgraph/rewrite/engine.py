"""The rewrite engine: named node rules applied to a fixed point, phases, and the trace.

A ``NodeRewrite`` looks at one Apply node and may return replacements for its outputs. A
``Phase`` walks a FunctionGraph applying its rules until nothing changes; it fits each
replacement to the type of the variable it replaces (``fit_type``), so rules need not. A
``GraphRewrite`` is a procedural pass over the whole graph (merge, fusion, inplace). Every
replacement goes through ``fgraph.replace`` with the rule's name as the reason, so a
``RewriteLog`` attached to the graph records which rules fired, and the new nodes take the
user's line from the nodes they replace.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Variable, gc_paused, rewriting
from symgraph.ops import elemwise as ew
from symgraph.ops.elemwise import Elemwise
from symgraph.type import TensorType

Transform = Callable[[FunctionGraph, Apply], "Sequence[Variable] | dict | None | bool"]


@dataclass
class NodeRewrite:
    """A named local rule.

    ``tracks`` limits the nodes it is tried on: op classes, op instances, or strings naming
    Elemwise scalar ops (``"log"``); empty means every node. ``transform(fgraph, node)``
    returns ``None``/``False`` when it does not apply, a list of new variables (one per
    output), or a dict ``{old_variable: new_variable}``. The phase fits each new variable to
    the old one's type (``fit_type``) and drops the answer when that fails.
    """

    name: str
    transform: Transform
    tracks: tuple[Any, ...] = ()

    def matches(self, node: Apply) -> bool:
        if not self.tracks:
            return True
        op = node.op
        for tracked in self.tracks:
            if isinstance(tracked, str):
                # Names track Elemwise rows only (reductions also carry a scalar_op).
                if _elemwise_row_name(op) == tracked:
                    return True
            elif isinstance(tracked, type):
                if isinstance(op, tracked):
                    return True
            elif op == tracked:
                return True
        return False

    def __call__(self, fgraph: FunctionGraph, node: Apply) -> Any:
        return self.transform(fgraph, node)


def fit_type(new: Variable, old: Variable, fillers: Sequence[Variable] = ()) -> Variable | None:
    """``new`` made to stand for ``old``, or ``None`` when it cannot.

    ``new`` is cast to ``old``'s dtype, then broadcast against ``fillers`` (operands the rewrite
    dropped, such as the ``1`` of ``1 + x``, possibly a fill of a larger shape) until its static
    shape is ``old``'s. A static shape that only says more than ``old``'s (a length known
    where ``old``'s is not) is accepted; one that makes an axis broadcastable is not.
    """
    want = old.type
    if new.type == want:
        return new
    if not (isinstance(new.type, TensorType) and isinstance(want, TensorType)):
        return None
    fitted: Any = new
    if new.type.dtype != want.dtype:
        fitted = ew.cast(fitted, want.dtype)
    for filler in fillers:
        if fitted.type.shape == want.shape:
            break
        fitted = ew.second(filler, fitted)
    return fitted if fitted.type == want or _refines(fitted.type, want) else None


def _refines(new: TensorType, old: TensorType) -> bool:
    return new.dtype == old.dtype and new.ndim == old.ndim and all(
        n == o or (o is None and n is not None and n != 1)
        for n, o in zip(new.shape, old.shape))


def _fitted(pairs: list[tuple[Variable, Variable]]) -> list[tuple[Variable, Variable]] | None:
    """``pairs`` with each new variable fitted to the old one's type; ``None`` when one does
    not fit, or when a replacement only rebuilds the node it replaces (no progress)."""
    fitted = []
    for old, new in pairs:
        made = fit_type(new, old)
        if made is None or _rebuilds(made, old):
            return None
        fitted.append((old, made))
    return fitted


def _rebuilds(new: Variable, old: Variable) -> bool:
    a, b = new.owner, old.owner
    return a is not None and b is not None and a.op == b.op and \
        len(a.inputs) == len(b.inputs) and all(x is y for x, y in zip(a.inputs, b.inputs))


def _elemwise_row_name(op: Any) -> str | None:
    return op.scalar_op.name if isinstance(op, Elemwise) else None


def node_rewrite(*tracks: Any, name: str | None = None) -> Callable[[Transform], NodeRewrite]:
    """Decorator: ``@node_rewrite("log")`` turns ``def log_of_exp(fgraph, node)`` into a rule."""

    def decorate(function: Transform) -> NodeRewrite:
        return NodeRewrite(name or function.__name__, function, tuple(tracks))

    return decorate


class RewriteLog:
    """FunctionGraph feature recording every replacement as ``(reason, old, new)``."""

    def __init__(self, verbose: bool = False) -> None:
        self.trace: list[tuple[str, Any, Any]] = []
        self.verbose = verbose

    def on_change_input(self, fgraph: FunctionGraph, node: Any, index: int, old: Variable,
                        new: Variable, reason: str | None) -> None:
        if self.trace and self.trace[-1][1] is old and self.trace[-1][2] is new:
            return  # one replace() touching several clients is one firing
        self.trace.append((reason or "?", old, new))
        if self.verbose:
            print(f"rewrite {reason}: {old} -> {new}", file=sys.stderr)

    def fired(self) -> list[str]:
        return [reason for reason, _, _ in self.trace]


class RuleIndex:
    """Rules grouped by what they track, so each node is offered only the rules that apply."""

    def __init__(self, rules: Sequence[NodeRewrite]) -> None:
        self.rules = list(rules)
        self._cache: dict[Any, list[NodeRewrite]] = {}
        # Per op instance (by id, checked against the op itself): most nodes share a few ops.
        self._by_op: dict[int, tuple[Any, list[NodeRewrite]]] = {}
        # Tracks by row name or op class depend only on (op class, row): cache by that key.
        self._cacheable = all(isinstance(t, (str, type)) for r in self.rules for t in r.tracks)

    def forget_ops(self) -> None:
        """Drop the per-op entries (they would keep a finished graph's ops alive)."""
        self._by_op = {}

    def rules_for(self, node: Apply) -> list[NodeRewrite]:
        op = node.op
        entry = self._by_op.get(id(op))
        if entry is not None and entry[0] is op:
            return entry[1]
        if not self._cacheable:
            return [r for r in self.rules if r.matches(node)]
        key = (type(op), _elemwise_row_name(op))
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = [r for r in self.rules if r.matches(node)]
        self._by_op[id(op)] = (op, cached)
        return cached


# Per-rule times (``Phase.timings``) are collected only while a profiled compile runs: two
# clock reads per rule call are a measurable share of rewriting otherwise.
_TIME_RULES = [False]


@dataclass
class Phase:
    """Rules applied node by node, repeatedly, until the graph stops changing."""

    name: str
    rules: tuple[NodeRewrite, ...]
    max_passes: int = 50
    timings: dict[str, float] = field(default_factory=dict)

    def __call__(self, fgraph: FunctionGraph, excluding: frozenset[str] = frozenset()) -> int:
        rules = [r for r in self.rules if r.name not in excluding]
        if not rules:
            return 0
        changes = 0
        dispatch = self._dispatch(rules)
        with rewriting():
            for _ in range(self.max_passes):
                changed = self._one_pass(fgraph, dispatch)
                changes += changed
                if not changed:
                    break
        return changes

    def _dispatch(self, rules: list[NodeRewrite]) -> RuleIndex:
        """The index for this set of rules, kept between compilations (rules are values)."""
        indexes = self.__dict__.setdefault("_indexes", {})
        key = tuple(map(id, rules))
        entry = indexes.get(key)
        if entry is None or any(a is not b for a, b in zip(entry.rules, rules)):
            entry = indexes[key] = RuleIndex(rules)
        entry.forget_ops()
        return entry

    def _one_pass(self, fgraph: FunctionGraph, dispatch: RuleIndex) -> int:
        changes = 0
        timings = self.timings if _TIME_RULES[0] else None
        apply_nodes = fgraph.apply_nodes
        rules_for = dispatch.rules_for
        queue = deque(fgraph.toposort())
        while queue:
            node = queue.popleft()
            if node not in apply_nodes:
                continue
            for rule in rules_for(node):
                if timings is None:
                    result = rule(fgraph, node)
                else:
                    start = time.perf_counter()
                    result = rule(fgraph, node)
                    timings[rule.name] = timings.get(rule.name, 0.0) + \
                        time.perf_counter() - start
                if not result:
                    continue
                pairs = _fitted(_replacement_pairs(node, result, rule.name))
                if not pairs:
                    continue
                fgraph.replace_all(pairs, reason=rule.name)
                changes += 1
                for _, new in pairs:
                    if new.owner is not None and new.owner in apply_nodes:
                        queue.append(new.owner)
                break
        return changes


def _replacement_pairs(node: Apply, result: Any, rule: str) -> list[tuple[Variable, Variable]]:
    if isinstance(result, dict):
        pairs = list(result.items())
    else:
        result = list(result)
        if len(result) != len(node.outputs):
            raise ValueError(f"rewrite {rule} returned {len(result)} variables for a node with "
                             f"{len(node.outputs)} outputs")
        pairs = [(old, new) for old, new in zip(node.outputs, result) if new is not None]
    return [(old, new) for old, new in pairs if old is not new]


@dataclass
class GraphRewrite:
    """A procedural pass over the whole graph: ``apply(fgraph) -> number of changes``."""

    name: str
    apply: Callable[[FunctionGraph], int]

    def __call__(self, fgraph: FunctionGraph, excluding: frozenset[str] = frozenset()) -> int:
        if self.name in excluding:
            return 0
        return self.apply(fgraph)


def run_pipeline(fgraph: FunctionGraph, pipeline: Sequence[tuple[str, Any]],
                 excluding: Iterable[str] = (), profile: Any = None,
                 log: RewriteLog | None = None) -> RewriteLog:
    """Run each ``(phase_name, pass)`` of ``pipeline`` in order, skipping excluded names."""
    excluded = frozenset(excluding)
    if log is None:
        log = RewriteLog(verbose=bool(config.rewrite_verbose))
    fgraph.attach_feature(log)
    timing_before = _TIME_RULES[0]
    _TIME_RULES[0] = timing_before or profile is not None
    try:
        with gc_paused(), rewriting():
            for phase_name, rewrite in pipeline:
                if phase_name in excluded:
                    continue
                start = time.perf_counter()
                rewrite(fgraph, excluded)
                if profile is not None:
                    profile.record_phase(f"rewrite:{phase_name}", time.perf_counter() - start)
    finally:
        _TIME_RULES[0] = timing_before
        fgraph.features.remove(log)
    return log
