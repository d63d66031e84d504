"""The destroy handler: may a node overwrite one of its input buffers?

An analysis over a FunctionGraph that follows buffers through aliases (``view_map`` and
``destroy_map``) and refuses any overwrite another computation, the caller or a later call
could observe. The inplace pass (symgraph.rewrite.inplace) asks it before each switch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from symgraph.fgraph import OUTPUT, FunctionGraph
from symgraph.graph import Apply, Constant, Variable

__all__ = ["REFUSALS", "DestroyHandler", "aliased_inputs", "check_destroyers"]

# Why a node may not destroy an input, most fundamental first (``refusal`` reports the first).
GRAPH_INPUT = "graph input"  # a function input or a shared variable: the caller's storage
CONSTANT = "constant"  # constants keep their value across calls
GRAPH_OUTPUT = "graph output"  # the caller receives this buffer
OTHER_DESTROYER = "destroyed elsewhere"  # another node already overwrites this buffer
READ_TWICE = "read through another input"  # the destroyer itself reads the buffer elsewhere
OTHER_CLIENT = "other client"  # another node reads the buffer (directly or through a view)
REFUSALS = (GRAPH_INPUT, CONSTANT, GRAPH_OUTPUT, OTHER_DESTROYER, READ_TWICE, OTHER_CLIENT)


def aliased_inputs(node: Apply, output_index: int) -> list[int]:
    """Indices of the inputs whose buffer output ``output_index`` may share (view or destroy)."""
    op = node.op
    return list(op.view_map.get(output_index, ())) + list(op.destroy_map.get(output_index, ()))


def _aliasing_outputs(node: Apply, input_index: int) -> list[int]:
    return [k for k in range(len(node.outputs)) if input_index in aliased_inputs(node, k)]


def _destroys(node: Apply, input_index: int) -> bool:
    return any(input_index in ins for ins in node.op.destroy_map.values())


@dataclass(eq=False)
class _Family:
    """Variables sharing one buffer, and who touches it (computed once, shared by members)."""

    members: set[Variable] = field(default_factory=set)
    refusals: set[str] = field(default_factory=set)  # ownerless members, graph outputs
    readers: dict[Apply, list[int]] = field(default_factory=dict)  # node -> input indices
    destroyers: set[Apply] = field(default_factory=set)  # readers that overwrite the buffer
    views: set[Apply] = field(default_factory=set)  # non-destroying alias clients


class DestroyHandler:
    """Decides whether a node may overwrite an input's buffer.

    A *buffer family* is the set of variables connected to the candidate input by alias edges
    (an output listed in its node's ``view_map`` or ``destroy_map`` shares its input's
    buffer): down through views of views, up through the variable a view was taken of or an
    overwritten input, through both branches of an ``ifelse``. A node that overwrites a
    member counts as a reader of the family (it is not followed down). Node ``N`` may
    destroy input ``v`` only when

    - no variable of the family is ownerless (a function input, a shared variable, a
      constant) or a graph output;
    - every client of every variable of the family is ``N`` reading ``v`` (exactly once) or
      a view node on the way from the family's buffer to ``v``; no other node reads the
      buffer, whatever the order in which the linker runs nodes (lazy graphs included);
    - no other node already destroys a buffer of the family, except destroyers accepted
      earlier by this handler: their destroyed input was then proved read by them alone, so
      their output is a fresh buffer that a chain of destroyers may go on overwriting.

    Families are cached, so the pass stays linear in the graph size when many nodes read
    views of one buffer.

    Parameters
    ----------
    fgraph : FunctionGraph
        The graph the nodes belong to. Every change to the graph must go through ``record``
        (after switching a node to a destroying op) or ``forget`` (after any other edit).
    """

    def __init__(self, fgraph: FunctionGraph) -> None:
        self.fgraph = fgraph
        self._owned: set[Variable] = set()
        self._families: dict[Variable, _Family] = {}

    def record(self, old: Apply, new: Apply) -> None:
        """Note that ``new`` (accepted by ``refusal``) replaced ``old`` and destroys inputs.

        ``new`` reads the same inputs as ``old``. The families of the inputs it neither
        destroys nor views (nor ``old`` viewed) keep their members: ``new`` just takes
        ``old``'s place among their readers. Dropping them instead made the pass quadratic
        when many nodes read one variable (a function input read by N nodes was walked
        again, with its N clients, after each of them was switched).
        """
        same_inputs = len(old.inputs) == len(new.inputs) and \
            all(a is b for a, b in zip(old.inputs, new.inputs))
        touched = {i for ins in [*old.op.view_map.values(), *new.op.view_map.values(),
                                 *new.op.destroy_map.values()] for i in ins}
        families = self._families
        # Outputs' families are dropped too: one may reach an input's (an ifelse viewing both).
        dropped = {id(families.get(v)) for i, v in enumerate(old.inputs) if i in touched}
        dropped |= {id(families.get(v)) for v in old.outputs}
        kept = {id(f): f for f in (families.get(v) for v in old.inputs)
                if f is not None and id(f) not in dropped} if same_inputs else {}
        self.forget(old, kept.values())
        for out_index in new.op.destroy_map:
            self._owned.add(new.outputs[out_index])
        if old is not new:
            for family in kept.values():
                if old in family.readers:
                    family.readers[new] = family.readers.pop(old)

    def forget(self, node: Apply, keep: Iterable[_Family] = ()) -> None:
        """Drop the cached families around ``node`` (its inputs' and outputs'), except
        those in ``keep``."""
        spared = {id(f) for f in keep}
        for var in [*node.inputs, *node.outputs]:
            family = self._families.get(var)
            if family is not None and id(family) not in spared:
                for member in family.members:
                    self._families.pop(member, None)

    def can_destroy(self, node: Apply, index: int) -> bool:
        return self.refusal(node, index) is None

    def refusal(self, node: Apply, index: int) -> str | None:
        """``None`` if ``node`` may overwrite ``node.inputs[index]``, else the reason (one of
        ``REFUSALS``, the most fundamental when several apply)."""
        target = node.inputs[index]
        family = self._family(target)
        found = set(family.refusals)
        others = len(family.readers) - (node in family.readers)
        if len(family.destroyers - {node}) > 0:
            found.add(OTHER_DESTROYER)
        if len(family.readers.get(node, ())) > 1:
            found.add(READ_TWICE)
        if others > len(family.destroyers - {node}):
            found.add(OTHER_CLIENT)
        if not found and not family.views <= self._alias_ancestors(target):
            found.add(OTHER_CLIENT)  # a view whose value outlives the overwrite
        for reason in REFUSALS:
            if reason in found:
                return reason
        return None

    def _family(self, start: Variable) -> _Family:
        family = self._families.get(start)
        if family is not None:
            return family
        family = _Family(members={start})
        stack = [start]
        while stack:
            var = stack.pop()
            self._families[var] = family
            for neighbour in self._visit(var, family):
                if neighbour not in family.members:
                    family.members.add(neighbour)
                    stack.append(neighbour)
        return family

    def _visit(self, var: Variable, family: _Family) -> Iterator[Variable]:
        """Record ``var``'s part in ``family``; yield the variables one alias edge away.

        The owner of an owned variable is not followed upwards: its destroyed input's
        family was proved to feed that destroyer alone.
        """
        owner = var.owner
        if owner is None:
            family.refusals.add(CONSTANT if isinstance(var, Constant) else GRAPH_INPUT)
        elif var not in self._owned:
            for i in aliased_inputs(owner, owner.outputs.index(var)):
                yield owner.inputs[i]
        for client, i in self.fgraph.clients.get(var, ()):
            if client == OUTPUT:
                family.refusals.add(GRAPH_OUTPUT)
                continue
            outs = _aliasing_outputs(client, i)
            if outs and not _destroys(client, i):
                family.views.add(client)
                yield from (client.outputs[k] for k in outs)
                continue
            family.readers.setdefault(client, []).append(i)
            if _destroys(client, i):
                family.destroyers.add(client)

    def _alias_ancestors(self, target: Variable) -> set[Apply]:
        """View nodes on the way from the family's buffer to ``target`` (they run before)."""
        seen: set[Apply] = set()
        stack = [target]
        while stack:
            var = stack.pop()
            node = var.owner
            if node is None or var in self._owned or node in seen:
                continue
            ins = aliased_inputs(node, node.outputs.index(var))
            if ins:
                seen.add(node)
                stack.extend(node.inputs[i] for i in ins)
        return seen


def check_destroyers(fgraph: FunctionGraph) -> list[tuple[Apply, int, str]]:
    """Every destroyed input of ``fgraph`` that the handler would refuse, with the reason.

    Destroyers are checked in topological order, each trusted once accepted, exactly as the
    inplace pass builds them; an empty list means every overwrite is safe. For tests and for
    graphs built with inplace ops by hand.
    """
    handler = DestroyHandler(fgraph)
    problems: list[tuple[Apply, int, str]] = []
    for node in fgraph.toposort():
        if not node.op.destroy_map:
            continue
        bad = [(i, handler.refusal(node, i)) for ins in node.op.destroy_map.values() for i in ins]
        problems.extend((node, i, reason) for i, reason in bad if reason is not None)
        if not any(reason for _, reason in bad):
            handler.record(node, node)
    return problems
