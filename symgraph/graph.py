"""The graph IR: ``Variable``, ``Constant``, ``Apply`` and traversal helpers.

Every walk here is iterative, so graphs of any depth work without touching the recursion limit.
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from symgraph.type import Type

if TYPE_CHECKING:
    from symgraph.op import Op

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_IGNORED_PREFIXES = (_PACKAGE_DIR, "<frozen ")


class Tag(dict):
    """Free-form annotations on a Variable or Apply (``tag.trace``, test values, ...)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class Variable:
    """A symbolic value: the output of an Apply, a graph input, or a Constant.

    Attributes
    ----------
    type : Type
        What values it can hold (``TensorType`` for arrays).
    owner : Apply or None
        The Apply that computes it; ``None`` for graph inputs and constants.
    index : int or None
        Its position among ``owner.outputs``.
    name : str or None
        A label for printing and error messages.
    """

    __array_priority__ = 1000  # NumPy defers `ndarray op Variable` to our operators

    def __init__(self, type: Type, owner: "Apply | None" = None, index: int | None = None,
                 name: str | None = None) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = Tag()

    def clone(self, name: str | None = None) -> "Variable":
        """A new, ownerless Variable of the same type and name."""
        return type(self)(self.type, name=self.name if name is None else name)

    def get_parents(self) -> list["Apply"]:
        return [self.owner] if self.owner is not None else []

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> Any:
        return self is other


class Constant(Variable):
    """A Variable with a fixed value known when the graph is built.

    Constants hash and compare by type and value, so equal constants merge.
    """

    def __init__(self, type: Type, data: Any, name: str | None = None) -> None:
        super().__init__(type, None, None, name)
        self.data = data
        if isinstance(data, np.ndarray):
            data.setflags(write=False)

    def signature(self) -> tuple[Any, ...]:
        data = self.data
        if isinstance(data, np.ndarray):
            return (self.type, data.dtype.str, data.shape, data.tobytes())
        return (self.type, repr(data))

    def equals(self, other: object) -> bool:
        return isinstance(other, Constant) and self.signature() == other.signature()

    def clone(self, name: str | None = None) -> "Constant":
        return type(self)(self.type, self.data, name=self.name if name is None else name)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        data = self.data
        if isinstance(data, np.ndarray) and data.size > 8:
            return f"Constant{{{data.dtype}, shape={data.shape}}}"
        text = np.array2string(np.asarray(data), separator=", ") if isinstance(
            data, np.ndarray) else repr(data)
        return text


class Apply:
    """One application of an Op to input Variables, producing output Variables.

    ``tag.trace`` holds ``(filename, lineno)`` of the user code that built it.
    """

    def __init__(self, op: "Op", inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.op = op
        self.inputs: list[Variable] = list(inputs)
        self.outputs: list[Variable] = list(outputs)
        self.tag = Tag()
        self.tag.trace = user_trace()
        for i, inp in enumerate(self.inputs):
            if not isinstance(inp, Variable):
                raise TypeError(f"{op}: input {i} is a {type(inp).__name__}, not a Variable")
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise ValueError(f"{op}: output {i} already belongs to another Apply")
            out.owner = self
            out.index = i

    @property
    def out(self) -> Variable:
        if len(self.outputs) != 1:
            raise AttributeError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    @property
    def nin(self) -> int:
        return len(self.inputs)

    @property
    def nout(self) -> int:
        return len(self.outputs)

    def clone_with_new_inputs(self, inputs: Sequence[Variable], strict: bool = True) -> "Apply":
        """Apply the same op to ``inputs``; with ``strict`` the output types must not change."""
        node = self.op.make_node(*inputs)
        if strict:
            for old, new in zip(self.outputs, node.outputs):
                if not old.type.is_compatible(new.type) and not new.type.is_compatible(old.type):
                    raise TypeError(f"{self.op}: cloning changed output type {old.type} to "
                                    f"{new.type}")
        for old, new in zip(self.outputs, node.outputs):
            new.name = old.name
        node.tag.trace = self.tag.get("trace")
        return node

    def default_output(self) -> Variable:
        index = getattr(self.op, "default_output", None)
        if index is None:
            if len(self.outputs) != 1:
                raise ValueError(f"{self.op} has several outputs and no default_output")
            index = 0
        return self.outputs[index]

    def __repr__(self) -> str:
        return f"Apply({self.op}, {self.inputs})"


def user_trace() -> tuple[str, int] | None:
    """The innermost stack frame outside the symgraph package: where the user built a node."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_IGNORED_PREFIXES):
            return (filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def format_trace(trace: tuple[str, int] | None) -> str:
    """``'file.py:12: z = x + y'`` for a trace recorded by ``user_trace``."""
    if not trace:
        return "<unknown location>"
    filename, lineno = trace
    line = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno}" + (f": {line}" if line else "")


# ---------------------------------------------------------------------------------------------
# Traversal
# ---------------------------------------------------------------------------------------------

def ancestors(outputs: Iterable[Variable],
              blockers: Iterable[Variable] = ()) -> list[Variable]:
    """All variables the ``outputs`` depend on (themselves included), stopping at ``blockers``."""
    blocked = blockers if isinstance(blockers, (set, frozenset, dict)) else set(blockers)
    seen: set[Variable] = set()
    order: list[Variable] = []
    stack = list(outputs)[::-1]
    while stack:
        var = stack.pop()
        if var in seen:
            continue
        seen.add(var)
        order.append(var)
        if var.owner is not None and var not in blocked:
            stack.extend(reversed(var.owner.inputs))
    return order


def graph_inputs(outputs: Iterable[Variable],
                 blockers: Iterable[Variable] = ()) -> list[Variable]:
    """The ownerless variables (and blockers) the ``outputs`` depend on, in discovery order."""
    blocked = set(blockers)
    return [v for v in ancestors(outputs, blocked) if v.owner is None or v in blocked]


def toposort(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list[Apply]:
    """The Apply nodes computing ``outputs``, each after all of its inputs' nodes."""
    blocked = blockers if isinstance(blockers, (set, frozenset, dict)) else set(blockers)
    order: list[Apply] = []
    done: set[Apply] = set()
    visiting: set[Apply] = set()
    stack: list[tuple[Apply, bool]] = []
    for out in outputs:
        if out.owner is not None and out not in blocked:
            stack.append((out.owner, False))
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                visiting.discard(node)
                done.add(node)
                order.append(node)
                continue
            if node in visiting:
                raise ValueError(f"the graph has a cycle through {node.op}")
            visiting.add(node)
            stack.append((node, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and inp not in blocked and inp.owner not in done:
                    stack.append((inp.owner, False))
    return order


def io_toposort(inputs: Iterable[Variable], outputs: Iterable[Variable]) -> list[Apply]:
    """Apply nodes between ``inputs`` and ``outputs`` in dependency order."""
    return toposort(outputs, blockers=inputs)


def clone_replace(outputs: Sequence[Variable],
                  replace: Mapping[Variable, Variable] | None = None,
                  strict: bool = False) -> list[Variable]:
    """Copies of ``outputs`` in which every key of ``replace`` is replaced by its value.

    Nodes that do not depend on a replaced variable are shared, not copied. Replacement is
    simultaneous: a replacement's own graph is not rewritten.
    """
    memo: dict[Variable, Variable] = dict(replace or {})
    if not memo:
        return list(outputs)
    for node in toposort(outputs, blockers=memo.keys()):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = node.clone_with_new_inputs(new_inputs, strict=strict)
        for old, new in zip(node.outputs, new_node.outputs):
            memo[old] = new
    return [memo.get(o, o) for o in outputs]


def clone_graph(inputs: Sequence[Variable], outputs: Sequence[Variable],
                copy_inputs: bool = True, copy_orphans: bool = False,
                ) -> tuple[list[Variable], list[Variable], dict[Variable, Variable]]:
    """A copy of the graph from ``inputs`` to ``outputs``, with the old→new map.

    Ops and constants are shared unless ``copy_orphans``; Apply nodes are new.
    """
    memo: dict[Variable, Variable] = {}
    for inp in inputs:
        memo[inp] = inp.clone() if copy_inputs else inp
    for node in toposort(outputs, blockers=inputs):
        for var in node.inputs:
            if var not in memo:
                memo[var] = var.clone() if (copy_orphans or var.owner is not None) and \
                    not isinstance(var, Constant) else var
        new_outputs = [o.clone() for o in node.outputs]
        new_node = Apply(node.op, [memo[i] for i in node.inputs], new_outputs)
        new_node.tag.update(node.tag)
        for old, new in zip(node.outputs, new_outputs):
            memo[old] = new
    for out in outputs:
        memo.setdefault(out, out)
    return [memo[i] for i in inputs], [memo[o] for o in outputs], memo


def equal_computations(xs: Sequence[Variable], ys: Sequence[Variable],
                       in_xs: Sequence[Variable] = (), in_ys: Sequence[Variable] = ()) -> bool:
    """True when ``xs`` and ``ys`` compute the same thing from corresponding inputs."""
    if len(xs) != len(ys):
        return False
    pairs: dict[Variable, Variable] = dict(zip(in_xs, in_ys))
    stack = list(zip(xs, ys))
    while stack:
        x, y = stack.pop()
        if x in pairs:
            if pairs[x] is not y:
                return False
            continue
        if isinstance(x, Constant) or isinstance(y, Constant):
            if not (isinstance(x, Constant) and x.equals(y)):
                return False
        elif x.owner is None or y.owner is None:
            if x is not y:
                return False
        else:
            if x.index != y.index or x.owner.op != y.owner.op or x.type != y.type:
                return False
            if len(x.owner.inputs) != len(y.owner.inputs):
                return False
            stack.extend(zip(x.owner.inputs, y.owner.inputs))
        pairs[x] = y
    return True


def is_constant(var: Any) -> bool:
    return isinstance(var, Constant)


Type.variable_class = Variable
