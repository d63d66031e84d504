"""The graph IR: ``Variable``, ``Constant``, ``Apply`` and traversal helpers.

Every walk here is iterative, so graphs of any depth work without touching the recursion limit.
"""

from __future__ import annotations

import contextlib
import gc
import linecache
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from symgraph.type import Type

if TYPE_CHECKING:
    from symgraph.op import Op

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The package's files, the interpreter's frozen modules, and the gradient expressions of the
# elementwise table (compiled from text, see ops/elemwise.py): never the user's code.
_IGNORED_PREFIXES = (_PACKAGE_DIR, "<frozen ", "<gradient ")
# The demo is a user program that ships with the package: its lines are the user's.
_USER_DIR = os.path.join(_PACKAGE_DIR, "demo") + os.sep


class Tag(dict):
    """Free-form annotations on a Variable or Apply (``tag.trace``, test values, ...)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


# Tag entries that are caches, left out of pickles.
TRANSIENT_TAGS = frozenset({"eval_cache"})


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
    _tag: Tag | None = None  # made on first use: most variables never get a tag

    def __init__(self, type: Type, owner: "Apply | None" = None, index: int | None = None,
                 name: str | None = None) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name

    @property
    def tag(self) -> Tag:
        """Free-form annotations (``tag.test_value``, caches, ...)."""
        tag = self._tag
        if tag is None:
            tag = self._tag = Tag()
        return tag

    @tag.setter
    def tag(self, value: Tag) -> None:
        self._tag = value

    def __getstate__(self) -> dict[str, Any]:
        # Caches in the tag (compiled functions of ``eval``) are not part of the graph.
        state = self.__dict__.copy()
        tag = state.get("_tag")
        if tag and not TRANSIENT_TAGS.isdisjoint(tag):
            state["_tag"] = Tag({k: v for k, v in tag.items() if k not in TRANSIENT_TAGS})
        return state

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

    # Hash and equality are identity: object's own (C) versions, since variables are the keys of
    # every dict and set the rewrites use.


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

    _tag: Tag | None = None  # made on first use, from ``_trace``

    def __init__(self, op: "Op", inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.op = op
        self.inputs: list[Variable] = list(inputs)
        self.outputs: list[Variable] = list(outputs)
        self._trace = user_trace(2) if _BUILDING.records_trace else None
        for i, inp in enumerate(self.inputs):
            if not isinstance(inp, Variable):
                raise TypeError(f"{op}: input {i} is a {type(inp).__name__}, not a Variable")
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise ValueError(f"{op}: output {i} already belongs to another Apply")
            out.owner = self
            out.index = i

    @property
    def tag(self) -> Tag:
        """Annotations; ``tag.trace`` is where the node was built."""
        tag = self._tag
        if tag is None:
            tag = self._tag = Tag(trace=self._trace)
        return tag

    @tag.setter
    def tag(self, value: Tag) -> None:
        self._tag = value

    def copy_tag_from(self, other: "Apply") -> None:
        """Take ``other``'s annotations (its trace included), as ``tag.update`` would."""
        if other._tag is None:
            if self._tag is None:
                self._trace = other._trace
            else:
                self._tag["trace"] = other._trace
        else:
            self.tag.update(other._tag)

    @property
    def trace(self) -> tuple[str, int] | None:
        """``tag.trace`` without making a tag."""
        return self._trace if self._tag is None else self._tag.get("trace")

    def _set_trace(self, trace: tuple[str, int] | None) -> None:
        if self._tag is None:
            self._trace = trace
        else:
            self._tag["trace"] = trace

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
        node._set_trace(self.trace)
        written = user_op(self)
        if written is not self.op:
            node.tag["user_op"] = written
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


class _Building(threading.local):
    records_trace = True  # per thread: compiling in one thread must not blind another


_BUILDING = _Building()


@contextlib.contextmanager
def rewriting() -> Iterator[None]:
    """New Apply nodes record no user line of their own while this is active (in this thread).

    The rewrite engine runs under it: the stack at that point leads to ``sg.function``, not to
    the expression, so ``FunctionGraph.replace`` gives each new node the line (and op, see
    ``user_op``) of the node it replaces instead (``take_origin``).
    """
    before = _BUILDING.records_trace
    _BUILDING.records_trace = False
    try:
        yield
    finally:
        _BUILDING.records_trace = before


def user_op(node: Apply) -> Any:
    """The op the user wrote for ``node``: ``node.op`` unless a rewrite made the node, in which
    case the op of the node it replaced (``tag.user_op``), e.g. ``Dot`` for a ``Gemm``."""
    tag = node._tag
    return node.op if tag is None else tag.get("user_op", node.op)


def take_origin(nodes: Iterable[Apply], replaced: Apply) -> None:
    """Give ``nodes``, made by a rewrite of ``replaced``, its user line and the op the user
    wrote (PyTensor's ``copy_stack_trace``), so errors lead back to the user's code. Nodes that
    have a line of their own (copies of the user's nodes) keep it."""
    written = user_op(replaced)
    for node in nodes:
        if node.trace is None:
            node._set_trace(replaced.trace)
            node.tag["user_op"] = written


def pass_origin(outputs: Iterable[Variable], origin: Apply) -> None:
    """``take_origin`` for the nodes a rewrite made to compute ``outputs`` from ``origin`` (a
    loop body's node moved out of the loop): those without a line of their own."""
    stack: list[Apply | None] = [v.owner for v in outputs if v.owner is not None]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or node.trace is not None:
            continue
        seen.add(id(node))
        take_origin([node], origin)
        stack.extend(i.owner for i in node.inputs)


def user_trace(depth: int = 1) -> tuple[str, int] | None:
    """The innermost stack frame outside the symgraph package: where the user built a node.

    ``depth`` frames (the caller's by default) are skipped before looking.
    """
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    internal = _INTERNAL_FILES
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename not in internal:  # a set lookup: cheaper than matching the prefixes
            if not filename.startswith(_IGNORED_PREFIXES) or filename.startswith(_USER_DIR):
                return (filename, frame.f_lineno)
            internal.add(filename)
        frame = frame.f_back  # type: ignore[assignment]
    return None


_INTERNAL_FILES: set[str] = set()  # files of the package (and frozen modules) seen so far


def format_trace(trace: tuple[str, int] | None) -> str:
    """``'file.py:12: z = x + y'`` for a trace recorded by ``user_trace``."""
    if not trace:
        return "<unknown location>"
    filename, lineno = trace
    line = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno}" + (f": {line}" if line else "")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a graph is built or rewritten.

    Graph objects point at each other (variables at their Apply, Apply at its outputs), so
    every one of them is tracked, and the collector's full passes over a large graph being
    built cost more than building it. Garbage made meanwhile is collected afterwards. Nested
    uses are free; the collector is restarted only by the use that stopped it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    pop, push, mark, emit = stack.pop, stack.extend, seen.add, order.append
    while stack:
        var = pop()
        if var in seen:
            continue
        mark(var)
        emit(var)
        owner = var.owner
        if owner is not None and var not in blocked:
            push(reversed(owner.inputs))
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
    push, pop = stack.append, stack.pop
    for out in outputs:
        if out.owner is not None and out not in blocked:
            push((out.owner, False))
        while stack:
            node, expanded = pop()
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
            push((node, True))
            for inp in reversed(node.inputs):
                owner = inp.owner
                if owner is not None and inp not in blocked and owner not in done:
                    push((owner, False))
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
    for node in toposort(outputs, blockers=memo):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = node.clone_with_new_inputs(new_inputs, strict=strict)
        for old, new in zip(node.outputs, new_node.outputs):
            memo[old] = new
    return [memo.get(o, o) for o in outputs]


def clone(output: Any, replace: Any = None, strict: bool = True,
          share_inputs: bool = True) -> Any:
    """Theano's ``theano.clone``: ``output`` rebuilt with each key of ``replace`` replaced by
    its value.

    Parameters
    ----------
    output : Variable or list/tuple of Variable
    replace : dict or list of (Variable, Variable) pairs, optional
    strict : bool
        Require each replacement's type to be the type of what it replaces; with ``False``,
        ops rebuild their outputs' types from the new inputs.
    share_inputs : bool
        Accepted for Theano compatibility: inputs are never copied.

    Returns
    -------
    Variable or list of Variable, as ``output``.

    Raises
    ------
    TypeError
        With ``strict``, for a replacement of another type.
    """
    pairs = dict(replace.items() if isinstance(replace, Mapping) else (replace or ()))
    if strict:
        for old, new in pairs.items():
            if old.type != new.type:
                raise TypeError(f"clone: {new} has type {new.type}, {old} has {old.type}; "
                                f"pass strict=False to replace it anyway")
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    copies = clone_replace(outputs, pairs)
    return copies if isinstance(output, (list, tuple)) else copies[0]


def clone_graph(inputs: Sequence[Variable], outputs: Sequence[Variable],
                copy_inputs: bool = True, copy_orphans: bool = False,
                ) -> tuple[list[Variable], list[Variable], dict[Variable, Variable]]:
    """A copy of the graph from ``inputs`` to ``outputs``, with the old→new map.

    Ops and constants are shared unless ``copy_orphans``; Apply nodes are new.
    """
    new_inputs, new_outputs, memo, _ = clone_graph_in_order(inputs, outputs, copy_inputs,
                                                            copy_orphans)
    return new_inputs, new_outputs, memo


def clone_graph_in_order(inputs: Sequence[Variable], outputs: Sequence[Variable],
                         copy_inputs: bool = True, copy_orphans: bool = False,
                         ) -> tuple[list[Variable], list[Variable], dict[Variable, Variable],
                                    list[Apply]]:
    """``clone_graph`` that also returns the new Apply nodes in topological order (the order
    ``toposort(new_outputs, blockers=new_inputs)`` gives)."""
    memo: dict[Variable, Variable] = {}
    order: list[Apply] = []
    for inp in inputs:
        memo[inp] = inp.clone() if copy_inputs else inp
    for node in toposort(outputs, blockers=inputs):
        new_inputs = []
        for var in node.inputs:
            new = memo.get(var)
            if new is None:
                new = memo[var] = var.clone() if (copy_orphans or var.owner is not None) and \
                    not isinstance(var, Constant) else var
            new_inputs.append(new)
        new_outputs = [o.clone() for o in node.outputs]
        order.append(_copy_apply(node, new_inputs, new_outputs))
        for old, new in zip(node.outputs, new_outputs):
            memo[old] = new
    for out in outputs:
        memo.setdefault(out, out)
    return [memo[i] for i in inputs], [memo[o] for o in outputs], memo, order


def _copy_apply(node: Apply, inputs: list[Variable], outputs: list[Variable]) -> Apply:
    """``Apply(node.op, inputs, outputs)`` carrying ``node``'s tag: what a graph copy needs,
    without the checks and the stack walk (the copy keeps the original's trace)."""
    new = Apply.__new__(Apply)
    new.op = node.op
    new.inputs = inputs
    new.outputs = outputs
    new._trace = node._trace
    if node._tag is not None:
        new._tag = Tag(node._tag)
    for i, out in enumerate(outputs):
        out.owner = new
        out.index = i
    return new


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


Type.variable_class = Variable
