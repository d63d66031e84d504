"""The static plan of a native function: one step per node (the rule that runs it), which
buffer each value lives in, and a memory plan that lets values whose lifetimes do not overlap
share arena buffers, kept (and grown when needed) from one call to the next.

Storage kinds: ``external`` (arguments, shared values, constants), ``arena`` (buffers of the
frame), ``fresh`` (an ndarray allocated for the caller on every call: outputs and updates),
``object`` (whatever ``perform`` returned; it may view its inputs, so it keeps them alive).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from symgraph.codegen.llvm import lowering
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.type import TensorType


@dataclass
class Match:
    """How a rule runs a node.

    ``aliases``: output index -> input index whose storage the output shares (a view, or an
    input the step overwrites); ``allocates``: outputs the step allocates itself (arena, or
    fresh arrays when they reach the caller); ``views``: outputs with their own storage that
    may still view an input (kept alive as long as they are); any other output is an
    ``object`` storage made by Python.
    """

    reads: Sequence[Variable]
    aliases: dict[int, int] = field(default_factory=dict)
    allocates: tuple[int, ...] = ()
    views: tuple[int, ...] = ()
    info: Any = None
    note: str = ""


class Rule(Protocol):
    """How a kind of node runs. A rule may also have ``outline_key(step)``: what its code for
    ``step`` depends on besides the types, storage kinds and frame positions of the step's
    values (and, with ``outline_kernels(step)``, the kernels it calls; with
    ``outline_constants(step)``, ints its code reads through ``code.constants``). Steps with
    equal keys then share one function of the module, called with those positions and ints;
    without it (or when it returns None) the step's code is emitted inline. Such code may
    depend on a value's static shape only through which of its dimensions are 1."""

    name: str

    def match(self, node: Apply, program: Program) -> Match | None: ...

    def emit(self, code: Any, step: Step) -> None: ...


class OutlinedByOp:
    """For rules whose code depends only on the op (and the values' types): steps with equal
    ops share their code."""

    def outline_key(self, step: Step) -> Any:
        return step.node.op


@dataclass(eq=False)
class Storage:
    kind: str
    root: Variable
    producer: int  # index of the step that makes it; -1 for external storage
    depends: list[Storage] = field(default_factory=list)
    last: int = -1  # last step reading it (len(steps) for values the caller receives)
    buffer: int | None = None  # arena buffer number
    members: list[Variable] = field(default_factory=list)  # variables viewing this buffer


@dataclass(eq=False)
class Step:
    index: int
    node: Apply
    rule: Rule
    match: Match

    @property
    def note(self) -> str:
        return self.match.note or self.rule.name


def graph_constants(fgraph: FunctionGraph) -> list[Variable]:
    """The constants ``fgraph``'s nodes read and its outputs are, in order of first use (the
    same in every process, so that the generated code is too and the disk cache finds it)."""
    found: dict[Variable, None] = {}
    for node in fgraph.toposort():
        for var in node.inputs:
            if isinstance(var, Constant):
                found.setdefault(var)
    for var in fgraph.outputs:
        if isinstance(var, Constant):
            found.setdefault(var)
    return list(found)


class Program:
    """Steps and storage of one graph (a function's, or a loop body's).

    Parameters
    ----------
    fgraph : FunctionGraph
    results : list of Variable
        The values that leave the program (outputs and updates, or a loop body's outputs):
        alive to the end; with ``fresh_results`` they get arrays of their own when a step
        allocates them.
    rules : callable
        ``rules(node, program) -> (Rule, Match)``, the lowering of each node.
    fresh_results : bool
        Results a step allocates get arrays for the caller (False in loop bodies).
    exact_inputs : bool
        The inputs' slots hold the objects they describe (False in loop bodies, whose inputs
        are rows of sequences and loop states).
    """

    def __init__(self, fgraph: FunctionGraph, results: Sequence[Variable], rules: Any,
                 fresh_results: bool = True, exact_inputs: bool = True) -> None:
        self.fgraph = fgraph
        self.results = list(results)
        self.exact_inputs = exact_inputs
        self.storage: dict[Variable, Storage] = {}
        self.steps: list[Step] = []
        self.fused: dict[Apply, Apply] = {}
        self._stepped: set[Apply] = set()
        for var in fgraph.inputs:
            self.storage[var] = Storage("external", var, -1, members=[var])
        self.constants = graph_constants(fgraph)
        for var in self.constants:
            self.storage[var] = Storage("external", var, -1, members=[var])
        self._plan_fusions(rules)
        for node in fgraph.toposort():
            if node in self.fused:
                continue
            rule, match = rules(node, self)
            step = Step(len(self.steps), node, rule, match)
            self.steps.append(step)
            self._add_storage(step)
            self._stepped.add(node)
        self._liveness(fresh_results)
        self.n_buffers = self._assign_buffers()

    def _plan_fusions(self, rules: Any) -> None:
        """Elementwise producers read only by a reduction become its pre-op."""
        for node in self.fgraph.toposort():
            if lowering.reduce_kind(node) is None:
                continue
            producer = lowering.fusable_producer(self.fgraph, node)
            if producer is not None and getattr(rules, "can_fuse", lambda p, n: True)(
                    producer, node):
                self.fused[producer] = node

    def producer_of(self, reduction: Apply) -> Apply | None:
        return next((p for p, r in self.fused.items() if r is reduction), None)

    def kind(self, var: Variable) -> str:
        return self.storage[var].kind

    def _add_storage(self, step: Step) -> None:
        node, match = step.node, step.match
        inputs = [self.storage[v] for v in match.reads if v in self.storage]
        for k, out in enumerate(node.outputs):
            if k in match.aliases:
                self.storage[out] = self.storage[node.inputs[match.aliases[k]]]
            elif k in match.allocates:
                self.storage[out] = Storage("arena", out, step.index)
            elif k in match.views:
                self.storage[out] = Storage("arena", out, step.index, depends=inputs)
            else:
                self.storage[out] = Storage("object", out, step.index, depends=inputs)
            self.storage[out].members.append(out)

    def is_last_reader(self, var: Variable, node: Apply) -> bool:
        """Nothing but ``node`` (about to be planned) reads ``var``'s arena buffer from now
        on, through any variable: ``node`` may overwrite it."""
        storage = self.storage.get(var)
        if storage is None or storage.kind != "arena" or storage.depends or \
                any(r in storage.members for r in self.results):
            return False
        for member in storage.members:
            for client, _ in self.fgraph.clients.get(member, []):
                if client is node:
                    continue
                if not isinstance(client, Apply):
                    return False
                reader = self.fused.get(client, client)
                if reader not in self._stepped:
                    return False
        return True

    def _liveness(self, fresh_results: bool) -> None:
        end = len(self.steps)
        for step in self.steps:
            for var in step.match.reads:
                storage = self.storage.get(var)
                if storage is not None:
                    storage.last = max(storage.last, step.index)
        allocated = {id(s) for step in self.steps for k in step.match.allocates
                     for s in [self.storage[step.node.outputs[k]]]}
        for var in self.results:
            storage = self.storage[var]
            storage.last = end
            if fresh_results and storage.kind == "arena" and id(storage) in allocated and \
                    isinstance(var.type, TensorType):
                storage.kind = "fresh"
        # A value that may view others keeps them alive: walk from the newest storage back.
        ordered = sorted({id(s): s for s in self.storage.values()}.values(),
                         key=lambda s: s.producer, reverse=True)
        for storage in ordered:
            for dep in storage.depends:
                dep.last = max(dep.last, storage.last)

    def _assign_buffers(self) -> int:
        """Greedy interval colouring: a buffer is reused once its last reader has run (the
        lowest-numbered free one). Buffers in use wait in a heap by their last step, free
        ones in a heap by number, so this is O(n log n), not O(n × buffers)."""
        arena = sorted({id(s): s for s in self.storage.values() if s.kind == "arena"}.values(),
                       key=lambda s: s.producer)
        busy: list[tuple[int, int]] = []  # (last step using it, buffer)
        free: list[int] = []
        count = 0
        for storage in arena:
            while busy and busy[0][0] < storage.producer:
                heapq.heappush(free, heapq.heappop(busy)[1])
            if free:
                storage.buffer = heapq.heappop(free)
            else:
                storage.buffer = count
                count += 1
            heapq.heappush(busy, (max(storage.last, storage.producer), storage.buffer))
        return count

    def count_steps(self) -> int:
        """Steps of this program and of the programs its steps run (loop bodies)."""
        return sum(1 + (step.match.info.count_steps() if isinstance(step.match.info, Program)
                        else 0) for step in self.steps)

    def is_exact(self, var: Variable) -> bool:
        """The slot's ``obj`` is an ndarray describing exactly this value."""
        storage = self.storage[var]
        if not self.exact_inputs and var in self.fgraph.inputs:
            return False
        return storage.root is var and storage.kind in ("external", "object", "fresh")
