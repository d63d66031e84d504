"""Local algebra as patterns: ``log(exp(x)) -> x`` written with the ordinary op constructors.

A ``Pattern`` is a graph built from pattern variables (``x, y = variables("x y")``) and numbers
with the usual functions (``log(1 + x)``), and its replacement (``log1p(x)``); ``rule(name,
*patterns)`` turns patterns into a ``NodeRewrite``. Matching compares ops (Elemwise ones by
row), reads numbers by value (through fills and rank padding), takes the operands of ``add``
and ``mul`` in any order (the last free variable of such a pattern takes the operands left
over, as their sum or product), binds each variable to one graph variable (the same one at
every occurrence) and checks the pattern's ``when`` predicate. The replacement is fitted to the
replaced variable's type by ``engine.fit_type``: cast to its dtype and broadcast against the
operands the pattern dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable, equal_computations, toposort
from symgraph.ops import elemwise as ew
from symgraph.ops.basic import TensorVariable
from symgraph.ops.composite import is_rank_padding
from symgraph.rewrite.engine import NodeRewrite, fit_type
from symgraph.type import TensorType

COMMUTATIVE_ROWS = frozenset({"add", "mul"})


class PatternVariable(TensorVariable):
    """A placeholder in a pattern: matches any variable, the same one at each occurrence.

    Its type (0-d float64 unless asked) only lets the op constructors build the pattern;
    matching ignores it.
    """


def variables(names: str, dtype: str = "float64") -> list[PatternVariable]:
    """Pattern variables, one per name in ``names``: ``x, y = variables("x y")``."""
    return [PatternVariable(TensorType(dtype, ()), name=name) for name in names.split()]


class Match(dict):
    """What a pattern matched: each variable's binding, by name, also as an attribute
    (``m.x``); ``m.root`` is the variable the replacement stands for."""

    root: Variable

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err


Replacement = Variable | Callable[[Match], Variable]


@dataclass(frozen=True)
class Pattern:
    """``lhs -> rhs`` where ``when(match)`` holds.

    ``rhs`` is a graph over ``lhs``'s variables (its numbers become Python scalars, which adapt
    to the dtype of the other operands) or a function of the ``Match``. ``doc`` states the
    identity when the graphs do not say it well enough.
    """

    lhs: Variable
    rhs: Replacement
    when: Callable[[Match], bool] | None = None
    doc: str = ""

    def __str__(self) -> str:
        if self.doc:
            return self.doc
        rhs = show(self.rhs) if isinstance(self.rhs, Variable) else "..."
        return f"{show(self.lhs)} -> {rhs}"


def rule(name: str, *patterns: Pattern, doc: str = "") -> NodeRewrite:
    """A named rule trying ``patterns`` in order on each node their root op may compute."""

    def transform(fgraph: FunctionGraph, node: Apply) -> dict[Variable, Variable] | None:
        for pattern in patterns:
            found = rewrite_with(pattern, node)
            if found is not None:
                return found
        return None

    lines = "\n".join(f"    {p}" for p in patterns)
    transform.__doc__ = f"{doc}\n\n{lines}" if doc else lines
    transform.__name__ = name
    tracks = tuple(dict.fromkeys(_tracked(p.lhs) for p in patterns))
    return NodeRewrite(name, transform, tracks)


def rewrite_with(pattern: Pattern, node: Apply) -> dict[Variable, Variable] | None:
    """``{old: new}`` when ``pattern`` matches the output of ``node`` it is rooted at."""
    lhs = pattern.lhs
    if lhs.owner is None or lhs.index >= len(node.outputs) or \
            not _same_op(lhs.owner.op, node.op):
        return None
    root = node.outputs[lhs.index]
    for bindings, dropped in match(lhs, root):
        found = Match({name: _materialized(v) for name, v in bindings.items()})
        found.root = root
        if pattern.when is not None and not pattern.when(found):
            continue
        new = pattern.rhs(found) if callable(pattern.rhs) else build(pattern.rhs, found)
        unused = [v for v in found.values() if v is not new]
        fitted = fit_type(new, root, [*dropped, *unused])
        if fitted is not None:
            return {root: fitted}
    return None


# -- matching -----------------------------------------------------------------------------------

# (bindings by name, the graph variables that the pattern's numbers matched)
State = tuple[dict[str, Any], tuple[Variable, ...]]


def match(pattern: Variable, var: Variable, state: State = ({}, ())) -> Iterator[State]:
    """Every way ``pattern`` matches ``var``: the bindings and the variables numbers matched."""
    if isinstance(pattern, PatternVariable):
        bound = state[0].get(pattern.name)
        if bound is None:
            yield {**state[0], pattern.name: var}, state[1]
        elif not isinstance(bound, _Rest) and same_variable(bound, var):
            yield state
        return
    if isinstance(pattern, Constant):
        if scalar_value(var) == _number(pattern):
            yield state[0], (*state[1], var)
        return
    node, wanted = var.owner, pattern.owner
    if node is None or wanted is None or var.index != pattern.index or \
            not _same_op(wanted.op, node.op):
        return
    if _row(wanted.op) in COMMUTATIVE_ROWS:
        operands = sorted(wanted.inputs, key=lambda p: isinstance(p, PatternVariable))
        yield from _match_unordered(node.op, operands, list(node.inputs), state)
    elif len(wanted.inputs) == len(node.inputs):
        yield from _match_in_order(wanted.inputs, node.inputs, state)


def _match_in_order(patterns: Sequence[Variable], variables: Sequence[Variable],
                    state: State) -> Iterator[State]:
    if not patterns:
        yield state
        return
    for found in match(patterns[0], variables[0], state):
        yield from _match_in_order(patterns[1:], variables[1:], found)


def _match_unordered(op: Any, patterns: list[Variable], operands: list[Variable],
                     state: State) -> Iterator[State]:
    """Operands in any order; the last pattern operand, if a free variable, takes the rest."""
    if len(operands) < len(patterns):
        return
    if not patterns:
        if not operands:
            yield state
        return
    first, others = patterns[0], patterns[1:]
    if not others and len(operands) > 1:
        if isinstance(first, PatternVariable) and first.name not in state[0]:
            yield {**state[0], first.name: _Rest(op, tuple(operands))}, state[1]
        return
    for i, operand in enumerate(operands):
        for found in match(first, operand, state):
            yield from _match_unordered(op, others, operands[:i] + operands[i + 1:], found)


@dataclass(frozen=True)
class _Rest:
    """The operands of an add/mul that a pattern variable takes: built only for a match."""

    op: Any
    operands: tuple[Variable, ...]


def _materialized(value: Variable | _Rest) -> Variable:
    if isinstance(value, _Rest):
        return ew.elemwise_op(value.op.scalar_op.name)(*value.operands)
    return value


def same_variable(a: Variable, b: Variable) -> bool:
    """``a`` and ``b`` compute the same thing: the same variable, equal constants, or the same
    ops applied to the same inputs (what merging would make one variable)."""
    return a is b or equal_computations([a], [b])


def _same_op(wanted: Any, op: Any) -> bool:
    """Elemwise ops match by row (an inplace variant included); other ops by equality."""
    if isinstance(wanted, ew.Elemwise):
        return isinstance(op, ew.Elemwise) and op.scalar_op == wanted.scalar_op
    return bool(op == wanted)


def _row(op: Any) -> str | None:
    return op.scalar_op.name if isinstance(op, ew.Elemwise) else None


def _tracked(lhs: Variable) -> Any:
    if lhs.owner is None:
        raise ValueError(f"a pattern must be rooted at an op, not at {lhs}")
    op = lhs.owner.op
    return _row(op) or type(op)


def _number(constant: Constant) -> Any:
    value = np.asarray(constant.data)
    return value.item() if value.size == 1 else None


# -- numbers in graphs ------------------------------------------------------------------------

def scalar_value(var: Variable) -> Any:
    """The value of a constant all of whose elements are equal, else ``None``.

    Looks through rank padding and through fills (``second(x, c)``, as ``zeros_like`` builds).
    """
    owner = var.owner
    while owner is not None:  # through is_rank_padding(owner) or is_elemwise(var, "second")
        op = owner.op
        if isinstance(op, ew.DimShuffle):
            if not is_rank_padding(owner):
                break
        elif not (isinstance(op, ew.Elemwise) and op.scalar_op.name == "second"):
            break
        var = owner.inputs[-1]
        owner = var.owner
    if not isinstance(var, Constant):
        return None
    # A constant's data never changes: its answer is kept on it (rules ask again and again).
    cached = var.__dict__.get("_scalar_value", _UNKNOWN)
    if cached is not _UNKNOWN:
        return cached
    value = _scalar_of_data(var.data)
    var.__dict__["_scalar_value"] = value
    return value


_UNKNOWN = object()


def _scalar_of_data(value: Any) -> Any:
    data = np.asarray(value)
    if data.size == 0:
        return None
    first = data.reshape(-1)[0]
    if data.size > 1 and not np.all(data == first):
        return None
    return first.item()


# -- building replacements ----------------------------------------------------------------------

def build(template: Variable, bindings: Match) -> Variable:
    """``template`` with its pattern variables replaced by their bindings, op by op."""
    made: dict[Variable, Any] = {}

    def value_of(var: Variable) -> Any:
        if isinstance(var, PatternVariable):
            return bindings[var.name]
        if isinstance(var, Constant):
            return _as_scalar(var)
        return made[var]

    if template.owner is None:
        return value_of(template)
    for node in toposort([template]):
        new = node.op.make_node(*[value_of(i) for i in node.inputs])
        made.update(zip(node.outputs, new.outputs))
    return made[template]


def _as_scalar(constant: Constant) -> Any:
    """A template's number as a Python scalar, which takes the dtype of the other operands
    (an integral one stays an int, so ``1 - x`` keeps an integer ``x`` integer)."""
    value = np.asarray(constant.data)
    if value.ndim:
        return constant
    number = value.item()
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def show(var: Any, operand: bool = False) -> str:
    """A pattern graph as text: ``log(1 + x)``; ``operand`` puts an infix form in brackets."""
    if isinstance(var, PatternVariable):
        return var.name or "?"
    if isinstance(var, Constant):
        number = _number(var)
        return repr(int(number) if isinstance(number, float) and number.is_integer() else number)
    node = var.owner
    if node is None:
        return str(var)
    name = _row(node.op) or str(node.op)
    infix = _INFIX.get(name)
    if infix is not None and len(node.inputs) >= 2:
        text = f" {infix} ".join(show(i, operand=True) for i in node.inputs)
        return f"({text})" if operand else text
    if name == "neg":
        return f"-{show(node.inputs[0], operand=True)}"
    return f"{name}({', '.join(show(i) for i in node.inputs)})"


_INFIX = {"add": "+", "sub": "-", "mul": "*", "true_divide": "/", "pow": "**"}
