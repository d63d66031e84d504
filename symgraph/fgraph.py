"""``FunctionGraph``: a graph with fixed inputs and outputs that rewrites edit in place.

It tracks each variable's clients, keeps the set of Apply nodes up to date as rewrites replace
variables, and notifies attached features (validators, rewrite logs, destroy handlers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from symgraph.graph import (
    Apply,
    Constant,
    Variable,
    clone_graph,
    clone_graph_in_order,
    format_trace,
    gc_paused,
    take_origin,
    toposort,
)

OUTPUT = "output"  # client marker for a graph output: (OUTPUT, position)


class ClientList(list):
    """The clients of one variable: ``(node, input index)`` pairs, or ``(OUTPUT, position)``.

    Removal is O(1) (the last entry takes the removed one's place; client order carries no
    meaning), so a constant shared by thousands of nodes does not make rewriting quadratic.
    Short lists (most of them) are searched directly; an index of positions is built, and then
    kept up to date lazily, only once a list grows long.
    """

    _position: dict[tuple[Any, int], int] | None = None
    _synced = 0  # entries [0, _synced) are in _position; appends land after it

    def _index(self) -> dict[tuple[Any, int], int]:
        position = self._position
        if position is None:
            position = self._position = {}
            self._synced = 0
        for k in range(self._synced, len(self)):
            position[self[k]] = k
        self._synced = len(self)
        return position

    def remove(self, entry: tuple[Any, int]) -> None:  # type: ignore[override]
        if self._position is None and len(self) <= _SHORT:
            try:
                index = list.index(self, entry)
            except ValueError:
                raise KeyError(entry) from None
            last = list.pop(self)
            if index < len(self):
                self[index] = last
            return
        position = self._index()
        index = position.pop(entry)
        last = list.pop(self)
        if index < len(self):
            self[index] = last
            position[last] = index
        self._synced = len(self)

    def discard(self, entry: tuple[Any, int]) -> None:
        """``remove`` if present."""
        if self._position is None and len(self) <= _SHORT:
            try:
                index = list.index(self, entry)
            except ValueError:
                return
            last = list.pop(self)
            if index < len(self):
                self[index] = last
            return
        if entry in self._index():
            self.remove(entry)

    def __contains__(self, entry: object) -> bool:
        if self._position is None and len(self) <= _SHORT:
            return list.__contains__(self, entry)
        return entry in self._index()


_SHORT = 8  # client lists up to this length are searched without an index


class MissingInputError(ValueError):
    """A graph output depends on an ownerless variable that is not a declared input."""


class FunctionGraph:
    """A mutable view of the graph between ``inputs`` and ``outputs``.

    Parameters
    ----------
    inputs, outputs : sequences of Variable
    clone : bool
        Copy the graph first (default), so rewrites never touch the user's variables.
    features : iterable
        Objects with optional hooks ``on_attach(fgraph)``, ``on_import(fgraph, node, reason)``,
        ``on_prune(fgraph, node, reason)`` and
        ``on_change_input(fgraph, node, index, old, new, reason)``.
    update_mapping : dict[int, int], optional
        For a compiled function's graph: output position -> position of the input (a shared
        variable) whose next value that output is (Theano's ``update_mapping``); backends may
        keep those values where the shared variable lives.

    Raises
    ------
    MissingInputError
        When an output depends on a non-constant ownerless variable not among ``inputs``.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 clone: bool = True, features: Iterable[Any] = (),
                 update_mapping: dict[int, int] | None = None) -> None:
        self.update_mapping: dict[int, int] = dict(update_mapping or {})
        with gc_paused():
            self._build(inputs, outputs, clone)
        for feature in features:
            self.attach_feature(feature)

    def _build(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
               clone: bool) -> None:
        order = None
        if clone:
            inputs, outputs, _, order = clone_graph_in_order(inputs, outputs)
        self._reset(inputs, outputs)
        if order is not None:
            if self._import_in_order(order):
                self._order = order  # the copy's order is this graph's topological order
                return
            self._reset(inputs, outputs)  # an orphan: start over, to report it as usual
        for i, out in enumerate(self.outputs):
            self._import_variable(out, reason="init")
            self.clients[out].append((OUTPUT, i))

    def _reset(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.inputs: list[Variable] = list(inputs)
        self.outputs: list[Variable] = list(outputs)
        self.clients: dict[Variable, ClientList] = {}
        self.apply_nodes: set[Apply] = set()
        self.variables: set[Variable] = set()
        self.features: list[Any] = []
        self._order: list[Apply] | None = None
        for inp in self.inputs:
            if inp.owner is not None:
                raise ValueError(f"graph input {inp} has an owner; inputs must be ownerless")
            self._add_variable(inp)
        self._input_set = frozenset(self.inputs)

    def _import_in_order(self, order: list[Apply]) -> bool:
        """Import nodes already in topological order (a fresh copy); False at an orphan."""
        inputs = self._input_set
        for node in order:
            for inp in node.inputs:
                if inp.owner is None and inp not in inputs and not isinstance(inp, Constant):
                    return False
            self._import_node(node, "init")
        for i, out in enumerate(self.outputs):
            if out.owner is None:
                if out not in inputs and not isinstance(out, Constant):
                    return False
                self._add_variable(out)
            self.clients[out].append((OUTPUT, i))
        return True

    # -- building -------------------------------------------------------------------------
    def _add_variable(self, var: Variable) -> None:
        if var not in self.variables:
            self.variables.add(var)
            if var not in self.clients:
                self.clients[var] = ClientList()

    def _import_variable(self, var: Variable, reason: str | None) -> list[Apply]:
        """Add ``var`` and the nodes computing it; returns the nodes that were new."""
        variables = self.variables
        if var in variables:
            return []
        nodes = toposort([var], blockers=variables)
        for node in nodes:
            for inp in node.inputs:
                # Inputs are always among the variables: only an orphan gets past the first test.
                if inp.owner is None and inp not in variables and \
                        not isinstance(inp, Constant) and inp not in self._input_set:
                    raise MissingInputError(
                        f"{node.op} (built at {format_trace(node.trace)}) needs "
                        f"{inp}, which is neither an input of the function nor a constant"
                    )
            self._import_node(node, reason)
        if var.owner is None:
            if not isinstance(var, Constant) and var not in self._input_set:
                raise MissingInputError(f"output {var} is neither an input nor a constant")
            self._add_variable(var)
        return nodes

    def _import_node(self, node: Apply, reason: str | None) -> None:
        if node in self.apply_nodes:
            return
        self.apply_nodes.add(node)
        variables, clients = self.variables, self.clients
        for i, inp in enumerate(node.inputs):
            if inp not in variables:
                self._add_variable(inp)
            clients[inp].append((node, i))
        for out in node.outputs:
            if out not in variables:
                self._add_variable(out)
        self._order = None
        for feature in self.features:
            hook = getattr(feature, "on_import", None)
            if hook:
                hook(self, node, reason)

    def attach_feature(self, feature: Any) -> None:
        self.features.append(feature)
        hook = getattr(feature, "on_attach", None)
        if hook:
            hook(self)

    # -- editing --------------------------------------------------------------------------
    def replace(self, old: Variable, new: Variable, reason: str | None = None) -> None:
        """Make every client of ``old`` use ``new`` instead.

        Nodes that ``new`` brings into the graph and that a rewrite made take ``old``'s user
        line and the op the user wrote (``graph.take_origin``), so that errors in them point
        at the user's code.

        Raises
        ------
        TypeError
            If ``new``'s type cannot stand for ``old``'s (different dtype or rank, or a
            conflicting static shape).
        """
        if old is new:
            return
        if not (old.type.is_compatible(new.type) or new.type.is_compatible(old.type)):
            raise TypeError(
                f"rewrite {reason or '?'}: cannot replace {old} of type {old.type} with {new} of "
                f"type {new.type}"
            )
        if old not in self.variables:
            return
        imported = self._import_variable(new, reason)
        if imported and old.owner is not None:
            take_origin(imported, old.owner)
        for client, index in list(self.clients[old]):
            if client == OUTPUT:
                self.outputs[index] = new
                self.clients[old].remove((OUTPUT, index))
                self.clients[new].append((OUTPUT, index))
                self._notify_change(OUTPUT, index, old, new, reason)
            else:
                self.change_node_input(client, index, new, reason)

    def replace_all(self, pairs: Iterable[tuple[Variable, Variable]],
                    reason: str | None = None) -> None:
        for old, new in pairs:
            self.replace(old, new, reason)

    def change_node_input(self, node: Apply, index: int, new: Variable,
                          reason: str | None = None) -> None:
        old = node.inputs[index]
        if old is new:
            return
        take_origin(self._import_variable(new, reason), node)
        node.inputs[index] = new
        self.clients[old].remove((node, index))
        self.clients[new].append((node, index))
        if old.owner is not None or new.owner is not None:
            # Swapping one ownerless input (a constant) for another leaves the order as it is.
            self._order = None
        self._notify_change(node, index, old, new, reason)
        self._prune_if_unused(old, reason)

    def _notify_change(self, node: Any, index: int, old: Variable, new: Variable,
                       reason: str | None) -> None:
        for feature in self.features:
            hook = getattr(feature, "on_change_input", None)
            if hook:
                hook(self, node, index, old, new, reason)
        if node == OUTPUT:
            self._prune_if_unused(old, reason)

    def _prune_if_unused(self, var: Variable, reason: str | None) -> None:
        clients, variables, apply_nodes = self.clients, self.variables, self.apply_nodes
        stack = [var]
        while stack:
            var = stack.pop()
            if clients.get(var) or var in self._input_set:
                continue
            node = var.owner
            if node is None or node not in apply_nodes:
                variables.discard(var)
                clients.pop(var, None)
                continue
            if any(clients.get(o) for o in node.outputs):
                continue
            apply_nodes.discard(node)
            self._order = None
            for out in node.outputs:
                variables.discard(out)
                clients.pop(out, None)
            for feature in self.features:
                hook = getattr(feature, "on_prune", None)
                if hook:
                    hook(self, node, reason)
            for i, inp in enumerate(node.inputs):
                entries = clients.get(inp)
                if entries is not None:
                    entries.discard((node, i))
                stack.append(inp)

    # -- queries --------------------------------------------------------------------------
    def toposort(self) -> list[Apply]:
        """Apply nodes in an order where every node follows the nodes it depends on."""
        if self._order is None:
            self._order = toposort(self.outputs, blockers=self._input_set)
        return self._order

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Flat: the variables and the nodes listed in topological order, each without its
        # links, which are rebuilt from positions. Pickle's default would follow
        # owner -> inputs -> owner ..., one level of recursion per node of depth, which a
        # long chain (or its gradient) exceeds.
        numbers: dict[int, int] = {}
        variables: list[tuple[type, dict[str, Any]]] = []

        def number(var: Variable) -> int:
            found = numbers.get(id(var))
            if found is None:
                state = dict(var.__getstate__())
                state.pop("owner", None)
                state.pop("index", None)
                found = numbers[id(var)] = len(variables)
                variables.append((type(var), state))
            return found

        inputs = [number(v) for v in self.inputs]
        nodes = []
        for node in self.toposort():
            state = {k: v for k, v in node.__dict__.items() if k not in ("inputs", "outputs")}
            nodes.append((type(node), state, [number(v) for v in node.inputs],
                          [number(v) for v in node.outputs]))
        outputs = [number(v) for v in self.outputs]
        return (_unpickle_graph, (variables, nodes, inputs, outputs, list(self.features),
                                  dict(self.update_mapping)))

    def clone(self) -> tuple["FunctionGraph", dict[Variable, Variable]]:
        inputs, outputs, memo = clone_graph(self.inputs, self.outputs)
        return FunctionGraph(inputs, outputs, clone=False,
                             update_mapping=self.update_mapping), memo

    def check_integrity(self) -> None:
        """Raise ``AssertionError`` if clients, nodes and variables disagree (for tests)."""
        nodes = set(self.toposort())
        assert nodes == self.apply_nodes, "apply_nodes out of date"
        for node in nodes:
            for i, inp in enumerate(node.inputs):
                assert (node, i) in self.clients[inp], f"missing client of {inp}"
        for var, clients in self.clients.items():
            for client, i in clients:
                if client == OUTPUT:
                    assert self.outputs[i] is var
                else:
                    assert client.inputs[i] is var and client in self.apply_nodes

    def __repr__(self) -> str:
        return f"FunctionGraph({self.inputs} -> {self.outputs}, {len(self.apply_nodes)} nodes)"


def _unpickle_graph(variables: list[tuple[type, dict[str, Any]]],
                    nodes: list[tuple[type, dict[str, Any], list[int], list[int]]],
                    inputs: list[int], outputs: list[int], features: list[Any],
                    update_mapping: dict[int, int]) -> FunctionGraph:
    """Rebuild a FunctionGraph pickled by ``FunctionGraph.__reduce__``."""
    with gc_paused():
        return _rebuild_graph(variables, nodes, inputs, outputs, features, update_mapping)


def _rebuild_graph(variables: list[tuple[type, dict[str, Any]]],
                   nodes: list[tuple[type, dict[str, Any], list[int], list[int]]],
                   inputs: list[int], outputs: list[int], features: list[Any],
                   update_mapping: dict[int, int]) -> FunctionGraph:
    made = []
    for cls, state in variables:
        var = cls.__new__(cls)
        var.__dict__.update(state)
        var.owner = None
        var.index = None
        made.append(var)
    order = []
    for cls, state, node_inputs, node_outputs in nodes:
        node = cls.__new__(cls)
        node.__dict__.update(state)
        node.inputs = [made[i] for i in node_inputs]
        node.outputs = [made[i] for i in node_outputs]
        for i, out in enumerate(node.outputs):
            out.owner = node
            out.index = i
        order.append(node)
    fgraph = FunctionGraph.__new__(FunctionGraph)
    fgraph.update_mapping = update_mapping
    fgraph._reset([made[i] for i in inputs], [made[i] for i in outputs])
    if not fgraph._import_in_order(order):
        raise ValueError("a pickled FunctionGraph has a node input that is neither an input, "
                         "a constant nor computed by an earlier node")
    fgraph._order = order
    for feature in features:
        fgraph.attach_feature(feature)
    return fgraph
