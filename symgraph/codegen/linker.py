"""Linker: turns a FunctionGraph into thunks over a storage map and runs them.

Each variable has one storage cell (a one-element list). A thunk reads its inputs' cells and
fills its outputs' cells. Graphs with lazy ops (``ifelse``) run demand-driven, so only the
branch taken is computed; other graphs run in topological order. Cells belong to one call at a
time: ``SchedulePool`` gives each concurrent call a Schedule of its own.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from symgraph.codegen.contract import WithoutNativeEntry
from symgraph.codegen.nanguard import guard_thunk
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable, format_trace, user_op

Thunk = Callable[[], None]
ThunkMaker = Callable[[Apply, list[list[Any]], list[list[Any]]], Thunk]


def describe_node(node: Apply, inputs: Sequence[Any] | None = None) -> str:
    """Multi-line description of a node for error messages: op, inputs, shapes, user line.

    For a node the rewrites made, ``built at`` is the line that wrote the op it was made from
    (``node_title`` names that op).
    """
    names = ", ".join(str(v) for v in node.inputs)
    lines = [f"  node: {node.op}({names})"]
    if inputs is not None:
        shapes = [np.shape(v) if v is not None else None for v in inputs]
        dtypes = [getattr(v, "dtype", type(v).__name__) for v in inputs]
        lines.append(f"  input shapes: {shapes}")
        lines.append(f"  input dtypes: {[str(d) for d in dtypes]}")
    lines.append(f"  built at: {format_trace(node.trace)}")
    return "\n".join(lines)


def node_title(node: Apply) -> str:
    """``Dot (compiled as Gemm{no_inplace})`` for a node the rewrites made from the user's op,
    else the node's op."""
    written = user_op(node)
    return str(node.op) if written == node.op else f"{written} (compiled as {node.op})"


def describe_allocation(err: MemoryError) -> str:
    """What could not be allocated: the shape, dtype and size in bytes when ``err`` says (as
    NumPy's error and ``AllocationError`` do), else the error's own message."""
    shape, dtype = getattr(err, "shape", None), getattr(err, "dtype", None)
    if shape is None or dtype is None:
        return f"out of memory ({err})" if str(err) else "out of memory"
    shape, dtype = tuple(int(d) for d in shape), np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    return (f"cannot allocate an array of shape {shape} and dtype {dtype}: {nbytes} bytes "
            f"({_binary_size(nbytes)})")


def _binary_size(nbytes: int) -> str:
    size, unit = float(nbytes), "bytes"
    for next_unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"):
        if size < 1024:
            break
        size, unit = size / 1024, next_unit
    return f"{size:.3g} {unit}"


def reraise_node_error(node: Apply, inputs: Sequence[Any], err: BaseException) -> None:
    """Re-raise ``err`` (same class where possible) with the node, shapes and user line.

    Out-of-memory errors become ``MemoryError`` (NumPy's subclass cannot be made from a
    message) saying the shape, dtype and bytes requested.
    """
    title = node_title(node)
    new: BaseException = RuntimeError(f"{title} failed: {err}\n{describe_node(node, inputs)}")
    if isinstance(err, MemoryError):
        new = MemoryError(f"{title} failed: {describe_allocation(err)}\n"
                          f"{describe_node(node, inputs)}")
    else:
        message = f"{title} failed: {err}\n{describe_node(node, inputs)}"
        # The error's own class, or the nearest base whose constructor takes just a message
        # (a ValueError subclass with its own constructor becomes ValueError).
        for cls in type(err).__mro__:
            if not issubclass(cls, Exception) or (cls is not type(err) and cls is Exception):
                continue
            if issubclass(cls, ValueError) and cls.__init__ is not ValueError.__init__:
                continue
            try:
                new = cls(message)
            except Exception:  # noqa: BLE001 - an exotic constructor: try the next base
                continue
            break
    new.node = node  # type: ignore[attr-defined]
    raise new from err


def perform_thunk(node: Apply, input_cells: list[list[Any]],
                  output_cells: list[list[Any]]) -> Thunk:
    """A thunk calling ``node.op.perform``; errors name the node and its user line."""
    perform = node.op.perform

    def thunk() -> None:
        inputs = [cell[0] for cell in input_cells]
        try:
            perform(node, inputs, output_cells)
        except Exception as err:
            reraise_node_error(node, inputs, err)

    return thunk


class Schedule:
    """Storage cells and thunks for every node of a FunctionGraph.

    Parameters
    ----------
    fgraph : FunctionGraph
    make_thunk : callable
        ``make_thunk(node, input_cells, output_cells) -> thunk``; backends supply their own.
    profile : object, optional
        With ``record_node(node, seconds)``; when given, thunks are timed.
    backend : object, optional
        Passed to ``op.make_thunk(node, input_cells, output_cells, backend)`` for ops that
        define it (ops with inner graphs call ``backend.link(inner_fgraph)``).
    nan_guard : bool
        Check every node's float outputs for NaN and Inf (``FloatingPointError``).
    wrap : callable, optional
        ``wrap(node, thunk, input_cells, output_cells) -> thunk``: what runs instead of each
        node's thunk (every node's, ops with inner graphs included), e.g. to watch values.
    """

    def __init__(self, fgraph: FunctionGraph, make_thunk: ThunkMaker = perform_thunk,
                 profile: Any = None, backend: Any = None, nan_guard: bool = False,
                 wrap: Callable[..., Thunk] | None = None) -> None:
        self.fgraph = fgraph
        self.nodes = fgraph.toposort()
        self.cells: dict[Variable, list[Any]] = {}
        for var in fgraph.variables:
            self.cells[var] = [var.data if isinstance(var, Constant) else None]
        self.input_cells = [self.cells[v] for v in fgraph.inputs]
        self.output_cells = [self.cells[v] for v in fgraph.outputs]
        self.thunks = [self._make(n, make_thunk, backend) for n in self.nodes]
        for wrapper in ([guard_thunk] if nan_guard else []) + ([wrap] if wrap else []):
            self.thunks = [wrapper(n, t, [self.cells[i] for i in n.inputs],
                                   [self.cells[o] for o in n.outputs])
                           for n, t in zip(self.nodes, self.thunks)]
        self.is_lazy = any(getattr(n.op, "lazy", False) for n in self.nodes)
        keep = {id(c) for c in self.input_cells} | {id(c) for c in self.output_cells}
        self._temporaries = [c for v, c in self.cells.items()
                             if v.owner is not None and id(c) not in keep]
        self._thunk_of = dict(zip(self.nodes, self.thunks))
        self.profile = profile
        if profile is not None:
            self.thunks = [self._timed(n, t) for n, t in zip(self.nodes, self.thunks)]
            self._thunk_of = dict(zip(self.nodes, self.thunks))

    def _make(self, node: Apply, make_thunk: ThunkMaker, backend: Any) -> Thunk:
        """An op with inner graphs (scan) builds its own thunk, linking them with ``backend``."""
        inputs = [self.cells[i] for i in node.inputs]
        outputs = [self.cells[o] for o in node.outputs]
        own = getattr(node.op, "make_thunk", None)
        if own is not None and backend is not None:
            return own(node, inputs, outputs, backend)
        return make_thunk(node, inputs, outputs)

    def _timed(self, node: Apply, thunk: Thunk) -> Thunk:
        record = self.profile.record_node

        def timed() -> None:
            start = time.perf_counter()
            thunk()
            record(node, time.perf_counter() - start)

        return timed

    def run(self, input_values: Sequence[Any]) -> list[Any]:
        """Compute the outputs from ``input_values`` (already checked and converted)."""
        for cell, value in zip(self.input_cells, input_values):
            cell[0] = value
        try:
            if self.is_lazy:
                self._run_lazy()
            else:
                for thunk in self.thunks:
                    thunk()
            return [cell[0] for cell in self.output_cells]
        finally:
            for cell in self._temporaries:
                cell[0] = None

    def _run_lazy(self) -> None:
        cells = self.cells
        computed: set[Variable] = {v for v in self.fgraph.inputs}
        computed.update(v for v in self.fgraph.variables if isinstance(v, Constant))
        stack = [o.owner for o in self.fgraph.outputs if o not in computed and o.owner]
        done: set[Apply] = set()
        while stack:
            node = stack[-1]
            if node in done:
                stack.pop()
                continue
            if getattr(node.op, "lazy", False):
                known = {i: cells[v][0] for i, v in enumerate(node.inputs) if v in computed}
                wanted = node.op.needed_inputs(node, known)
                needed = [node.inputs[i] for i in wanted if node.inputs[i] not in computed]
            else:
                needed = [v for v in node.inputs if v not in computed]
            if needed:
                stack.extend(v.owner for v in needed if v.owner is not None)
                continue
            if getattr(node.op, "lazy", False):
                for v in node.inputs:
                    if v not in computed:
                        cells[v][0] = None
            self._thunk_of[node]()
            computed.update(node.outputs)
            done.add(node)
            stack.pop()


class FreeList:
    """Objects that serve one call at a time (a Schedule's cells, a native frame): ``lease()``
    takes a free one, or builds one when all are in use, and gives it back afterwards, so that
    calls from many threads never share one (list.pop and append are atomic under the GIL).

    Parameters
    ----------
    build : callable
        ``build() -> object``, called whenever every object built so far is in use.
    """

    def __init__(self, build: Callable[[], Any], *free: Any) -> None:
        self._build = build
        self._free = list(free)

    @contextlib.contextmanager
    def lease(self) -> Iterator[Any]:
        try:
            item = self._free.pop()
        except IndexError:
            item = self._build()
        try:
            yield item
        finally:
            self._free.append(item)


class SchedulePool(WithoutNativeEntry):
    """Thread-safe running of a Schedule: each call runs on a Schedule (its own cells and
    thunks) no other call is using. What the "py" and "cuda" backends link into
    (``contract.Linked``): their schedule serves every call, and is also the reference path.

    Parameters
    ----------
    build : callable
        ``build() -> Schedule``; called once now (so that linking errors surface at compile
        time) and again whenever every Schedule built so far is in use.
    """

    def __init__(self, build: Callable[[], Schedule]) -> None:
        first = build()
        self.fgraph = first.fgraph
        self._schedules = FreeList(build, first)

    def run(self, input_values: Sequence[Any]) -> list[Any]:
        """``Schedule.run`` on a Schedule no other call is using."""
        with self._schedules.lease() as schedule:
            return schedule.run(input_values)
