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
from dataclasses import dataclass, field
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
    tree: _Tree = field(init=False, repr=False, compare=False)
    needs: frozenset[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.lhs.owner is None:
            raise ValueError(f"a pattern must be rooted at an op, not at {self.lhs}")
        tree = _compiled(self.lhs)
        object.__setattr__(self, "tree", tree)
        # The ops that must compute some of the root's inputs.
        object.__setattr__(self, "needs", frozenset(
            _root_key(t) for t in tree.operands if t.row is not None or t.op is not None))

    def __str__(self) -> str:
        if self.doc:
            return self.doc
        rhs = show(self.rhs) if isinstance(self.rhs, Variable) else "..."
        return f"{show(self.lhs)} -> {rhs}"


def rule(name: str, *patterns: Pattern, doc: str = "") -> NodeRewrite:
    """A named rule trying ``patterns`` in order on each node their root op may compute."""
    by_root: dict[Any, list[Pattern]] = {}
    for pattern in patterns:
        by_root.setdefault(_root_key(pattern.tree), []).append(pattern)

    def transform(fgraph: FunctionGraph, node: Apply) -> dict[Variable, Variable] | None:
        candidates = by_root.get(_op_key(node.op), ())
        computed: set[Any] | None = None  # what the node's inputs are computed by
        for pattern in candidates:
            if pattern.needs:  # a quick test before any matching
                if computed is None:
                    computed = {i.owner.op.scalar_op.name if isinstance(i.owner.op, ew.Elemwise)
                                else type(i.owner.op) for i in node.inputs if i.owner}
                if not pattern.needs <= computed:
                    continue
            found = rewrite_with(pattern, node)
            if found is not None:
                return found
        return None

    lines = "\n".join(f"    {p}" for p in patterns)
    transform.__doc__ = f"{doc}\n\n{lines}" if doc else lines
    transform.__name__ = name
    return NodeRewrite(name, transform, tuple(by_root))


def _root_key(tree: _Tree) -> Any:
    """What a rule tracks for a pattern: its root's row name, or its root op's class."""
    return tree.row or type(tree.op)


def _op_key(op: Any) -> Any:
    return op.scalar_op.name if isinstance(op, ew.Elemwise) else type(op)


def rewrite_with(pattern: Pattern, node: Apply) -> dict[Variable, Variable] | None:
    """``{old: new}`` when ``pattern`` matches the output of ``node`` it is rooted at."""
    tree = pattern.tree
    if tree.index >= len(node.outputs):
        return None
    root = node.outputs[tree.index]
    if not _could_match(tree, root):  # cheap: most nodes fail here, before any binding
        return None
    for bindings, dropped in _match(tree, root, ({}, ())):
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

@dataclass(frozen=True)
class _Tree:
    """A pattern graph as the tree matching walks: a variable (``name``), a number
    (``number``), or an op (``row`` for an Elemwise row, else ``op``) over ``operands``."""

    name: str | None = None
    number: Any = None
    row: str | None = None
    op: Any = None
    index: int = 0
    operands: tuple[_Tree, ...] = ()
    unordered: bool = False  # add/mul: operands in any order, variables last
    twins: bool = False  # the operands are one variable repeated (x - x, x * x)
    repeats: bool = False  # some variable is more than one of the operands (x * x * y)


def _compiled(var: Variable) -> _Tree:
    if isinstance(var, PatternVariable):
        return _Tree(name=var.name)
    if isinstance(var, Constant):
        return _Tree(number=_number(var))
    if var.owner is None:
        raise ValueError(f"a pattern may hold pattern variables, numbers and ops, not {var}")
    op, row = var.owner.op, _row(var.owner.op)
    operands = tuple(_compiled(i) for i in var.owner.inputs)
    unordered = row in COMMUTATIVE_ROWS
    if unordered:
        operands = tuple(sorted(operands, key=lambda t: t.name is not None))
    twins = len(operands) > 1 and all(t.name is not None and t.name == operands[0].name
                                      for t in operands)
    names = [t.name for t in operands if t.name is not None]
    return _Tree(row=row, op=None if row else op, index=var.index or 0, operands=operands,
                 unordered=unordered, twins=twins, repeats=len(set(names)) < len(names))


def _could_match(tree: _Tree, var: Variable) -> bool:
    """The ops and numbers of ``tree`` are where ``var`` has them (variables not checked)."""
    if not _same_at_root(tree, var):
        return False
    if tree.name is not None or (tree.row is None and tree.op is None):
        return True
    inputs, operands = var.owner.inputs, tree.operands  # type: ignore[union-attr]
    if tree.twins:
        return len(inputs) == len(operands) and \
            all(same_variable(inputs[0], v) for v in inputs[1:])
    if not tree.unordered:
        return all(_could_match(t, v) for t, v in zip(operands, inputs))
    if tree.repeats and not _has_two_alike(inputs):
        return False
    # Each op and number somewhere among the inputs.
    return all(t.name is not None or any(_could_match(t, v) for v in inputs)
               for t in operands)


def _has_two_alike(inputs: Sequence[Variable]) -> bool:
    """Two of ``inputs`` are computed by the same kind of op (or both by none): what two
    occurrences of one pattern variable need, tested without walking the graphs."""
    seen = set()
    for v in inputs:
        key = None if v.owner is None else _op_key(v.owner.op)
        if key in seen:
            return True
        seen.add(key)
    return False


def _same_at_root(tree: _Tree, var: Variable) -> bool:
    """``var`` is the number ``tree`` is, or computed by its op with a fitting arity."""
    if tree.name is not None:
        return True
    if tree.row is None and tree.op is None:
        return scalar_value(var) == tree.number
    node = var.owner
    if node is None or var.index != tree.index:
        return False
    op = node.op
    if tree.row is not None:
        if not isinstance(op, ew.Elemwise) or op.scalar_op.name != tree.row:
            return False
    elif op != tree.op:
        return False
    n, k = len(node.inputs), len(tree.operands)
    if not tree.unordered:
        return n == k
    return n == k or n > k and tree.operands[-1].name is not None


# (bindings by name, the graph variables that the pattern's numbers matched)
State = tuple[dict[str, Any], tuple[Variable, ...]]


def match(pattern: Variable, var: Variable) -> Iterator[State]:
    """Every way ``pattern`` matches ``var``: the bindings and the variables numbers matched."""
    tree = _compiled(pattern)
    return _match(tree, var, ({}, ())) if _could_match(tree, var) else iter(())


def _match(tree: _Tree, var: Variable, state: State) -> Iterator[State]:
    if tree.name is not None:
        bound = state[0].get(tree.name)
        if bound is None:
            yield {**state[0], tree.name: var}, state[1]
        elif not isinstance(bound, _Rest) and same_variable(bound, var):
            yield state
        return
    if not _same_at_root(tree, var):
        return
    if tree.row is None and tree.op is None:
        yield state[0], (*state[1], var)
        return
    node = var.owner
    if node is None:  # _same_at_root saw an owner: for the type checker
        return
    if tree.unordered:
        yield from _match_unordered(node.op, tree.operands, list(node.inputs), state)
    else:
        yield from _match_in_order(tree.operands, node.inputs, state)


def _match_in_order(trees: Sequence[_Tree], variables: Sequence[Variable],
                    state: State) -> Iterator[State]:
    if not trees:
        yield state
        return
    for found in _match(trees[0], variables[0], state):
        yield from _match_in_order(trees[1:], variables[1:], found)


def _match_unordered(op: Any, trees: Sequence[_Tree], operands: list[Variable],
                     state: State) -> Iterator[State]:
    """Operands in any order; the last pattern operand, if a free variable, takes the rest."""
    if len(operands) < len(trees):
        return
    if not trees:
        if not operands:
            yield state
        return
    first, others = trees[0], trees[1:]
    if not others and len(operands) > 1:
        if first.name is not None and first.name not in state[0]:
            yield {**state[0], first.name: _Rest(op, tuple(operands))}, state[1]
        return
    for i, operand in enumerate(operands):
        for found in _match(first, operand, state):
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
    if a is b:
        return True
    x, y = a.owner, b.owner
    if x is None or y is None:
        if x is not y:
            return False
    elif x.op != y.op:
        return False  # the common answer, without walking the graphs
    return equal_computations([a], [b])


def _row(op: Any) -> str | None:
    return op.scalar_op.name if isinstance(op, ew.Elemwise) else None


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
        elif not (isinstance(op, ew.Elemwise) and op.scalar_op.kind == "fill"):
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
