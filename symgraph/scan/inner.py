"""The frozen inner graph of a loop: inputs and outputs, hashed by structure.

Two inner graphs computing the same thing from the same kinds of inputs are equal, so equal
loops merge and a code generator can reuse what it compiled for one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable, ancestors, toposort
from symgraph.rewrite.shapes import ShapeFeature
from symgraph.type import TensorType


class InnerGraph:
    """An immutable graph from ``inputs`` (ownerless placeholders) to ``outputs``.

    Parameters
    ----------
    inputs : sequence of Variable
        Distinct ownerless, non-constant variables.
    outputs : sequence of Variable
        Computed from ``inputs`` and constants only; an output may be an input or a constant,
        and the same variable may appear several times.

    Raises
    ------
    ValueError
        For an input that has an owner, is a constant or is repeated, or for an output that
        depends on a variable that is neither an input nor a constant.

    Notes
    -----
    Equality and hash come from a structural signature (ops, constants' values, input types and
    the wiring), never from variable identity or names. Nodes are shared with whoever built
    them: the graph is never edited, ``fgraph()`` hands out copies for rewriting or linking.
    """

    __slots__ = ("_hash", "_signature", "inputs", "outputs")

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.inputs: tuple[Variable, ...] = tuple(inputs)
        self.outputs: tuple[Variable, ...] = tuple(outputs)
        seen: set[Variable] = set()
        for k, var in enumerate(self.inputs):
            if var.owner is not None or isinstance(var, Constant):
                raise ValueError(f"inner input {k} ({var}) must be an ownerless placeholder")
            if var in seen:
                raise ValueError(f"inner input {k} ({var}) is listed twice")
            seen.add(var)
        self._signature = graph_signature(self.inputs, self.outputs)
        self._hash = hash(self._signature)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return isinstance(other, InnerGraph) and self._hash == other._hash and \
            self._signature == other._signature

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return f"InnerGraph({len(self.inputs)} inputs, {len(self.nodes())} nodes)"

    __repr__ = __str__

    def nodes(self) -> list[Apply]:
        """The Apply nodes, in dependency order."""
        return toposort(self.outputs, blockers=self.inputs)

    def fgraph(self) -> FunctionGraph:
        """A private copy as a FunctionGraph (for rewriting or linking)."""
        return FunctionGraph(list(self.inputs), list(self.outputs), clone=True)

    def variables(self) -> set[Variable]:
        """Every non-constant variable of the graph (inputs included)."""
        return {v for v in ancestors(self.outputs, blockers=self.inputs)
                if not isinstance(v, Constant)}


def graph_signature(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> tuple[Any, ...]:
    """A hashable description of the graph that ignores variable identity and names."""
    slot: dict[Variable, tuple[Any, ...]] = {v: ("in", k) for k, v in enumerate(inputs)}
    steps: list[tuple[Any, ...]] = []

    def key(var: Variable, user: str) -> tuple[Any, ...]:
        if var in slot:
            return slot[var]
        if isinstance(var, Constant):
            return ("const", var.signature())
        raise ValueError(f"{user} uses {var} ({var.type}), which is neither an inner input nor "
                         f"a constant; pass it to the loop (as a non-sequence) instead")

    for node in toposort(outputs, blockers=inputs):
        args = tuple(key(v, str(node.op)) for v in node.inputs)
        steps.append((node.op, args, tuple(o.type for o in node.outputs)))
        for k, out in enumerate(node.outputs):
            slot[out] = ("node", len(steps) - 1, k)
    return (tuple(v.type for v in inputs), tuple(steps),
            tuple(key(o, "an inner output") for o in outputs))


def inner_output_shapes(inner: InnerGraph,
                        input_shapes: Sequence[Sequence[Any] | None]) -> list[tuple | None]:
    """Symbolic shapes of the inner outputs in terms of the given inner input shapes.

    ``input_shapes[k]`` is a tuple of dimensions (ints or 0-d int64 variables of the *outer*
    graph) for inner input ``k``, or None. An output whose shape depends on inner values (not
    only on input shapes) gets None.
    """
    feature = ShapeFeature()
    for var, shape in zip(inner.inputs, input_shapes):
        if shape is not None:
            feature.shapes[var] = tuple(shape)
    private = inner.variables()
    result: list[tuple | None] = []
    for out in inner.outputs:
        if not isinstance(out.type, TensorType):
            result.append(None)
            continue
        try:
            dims = feature.shape_of(None, out)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - an op's shape rule failed: the caller measures
            result.append(None)
            continue
        symbolic = [d for d in dims if isinstance(d, Variable)]
        if out in feature.measured or (symbolic and private & set(ancestors(symbolic))):
            result.append(None)
        else:
            result.append(tuple(dims))
    return result
