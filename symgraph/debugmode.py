"""Theano's ``DebugMode``: every node of a compiled function runs on its backend and through its
NumPy ``perform``, and the first disagreement raises, naming the node and the user's line.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from symgraph.codegen import get_backend
from symgraph.codegen.contract import WithoutNativeEntry
from symgraph.codegen.linker import describe_node
from symgraph.fgraph import FunctionGraph
from symgraph.function import FROM_CONFIG, NAMED_MODES, Mode
from symgraph.graph import Apply, Constant, Variable, clone_graph

__all__ = ["BadThunkOutput", "DebugMode", "DebugModeError"]

# (rtol, atol) per dtype: the backend and the reference may round differently (summation
# order, vectorised math functions), but no further.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-2, 1e-3),
    "float32": (1e-4, 1e-6),
    "float64": (1e-7, 1e-10),
}


class DebugModeError(Exception):
    """A check of ``DebugMode`` failed."""


class BadThunkOutput(DebugModeError):
    """A node's backend code and its NumPy ``perform`` computed different values.

    Attributes
    ----------
    node : Apply
        The node (of the rewritten graph) whose two results differ.
    output : int
        Which of its outputs.
    expected, got : the reference's value and the backend's.
    """

    def __init__(self, message: str, node: Apply, output: int, expected: Any,
                 got: Any) -> None:
        super().__init__(message)
        self.node = node
        self.output = output
        self.expected = expected
        self.got = got


class DebugMode(Mode):
    """A mode that checks its backend against the reference, node by node, on every call.

    The function's graph is rewritten as for its backend; each call then runs the nodes one at
    a time: each through the backend (compiled alone, on first use) and through its op's
    ``perform``, on copies of the same input values. Outputs must agree (same dtype and shape,
    values within ``TOLERANCES``), else ``BadThunkOutput`` names the node, its inputs and the
    line of user code that built it. The reference's values flow on to the next nodes, and
    the function returns them. Slow by design: for finding a wrong kernel, not for training.

    Parameters
    ----------
    backend : str
        The backend checked; default ``'llvm'``.
    excluding, rewrites, linker, optimizer
        As for ``Mode``.
    rtol, atol : float, optional
        Tolerances for every float dtype instead of ``TOLERANCES``.

    Notes
    -----
    Both branches of an ``ifelse`` are computed (each node runs on its own), so a branch that
    fails when not taken raises here.
    """

    def __init__(self, backend: str | None = "llvm", excluding: Iterable[str] | str = (),
                 rewrites: bool = True, *, linker: str | None = None,
                 optimizer: Any = FROM_CONFIG, rtol: float | None = None,
                 atol: float | None = None) -> None:
        super().__init__(backend, excluding, rewrites, linker=linker, optimizer=optimizer)
        self.rtol = rtol
        self.atol = atol

    def link(self, fgraph: FunctionGraph, profile: Any = None) -> "DebugLinked":
        return DebugLinked(fgraph, self)

    def tolerances(self, dtype: str) -> tuple[float, float]:
        rtol, atol = TOLERANCES.get(dtype, (0.0, 0.0))
        return (rtol if self.rtol is None else self.rtol, atol if self.atol is None else self.atol)


class DebugLinked(WithoutNativeEntry):
    """A rewritten graph run node by node on the checked backend and on the reference."""

    def __init__(self, fgraph: FunctionGraph, mode: DebugMode) -> None:
        self.fgraph = fgraph
        self.mode = mode
        self.order = fgraph.toposort()
        self._linked: dict[Apply, tuple[Any, Any, list[Variable]]] = {}
        self._lock = threading.Lock()

    def _node_functions(self, node: Apply) -> tuple[Any, Any, list[Variable]]:
        """The node alone, linked by the reference and by the checked backend (memoised),
        with the variables its graph takes as inputs."""
        found = self._linked.get(node)
        if found is None:
            with self._lock:
                found = self._linked.get(node)
                if found is None:
                    roots = list(dict.fromkeys(v for v in node.inputs
                                               if not isinstance(v, Constant)))
                    pair = [_single_node_graph(roots, node) for _ in range(2)]
                    found = (get_backend("py").link(pair[0]),
                             get_backend(self.mode.backend).link(pair[1]), roots)
                    self._linked[node] = found
        return found

    def run(self, values: Sequence[Any]) -> list[Any]:
        env: dict[Variable, Any] = dict(zip(self.fgraph.inputs, values))
        for node in self.order:
            reference, checked, roots = self._node_functions(node)
            arguments = [_value(env, v) for v in roots]
            expected = reference.run([_copy(a) for a in arguments])
            got = checked.run([_copy(a) for a in arguments])
            for k, (var, want, have) in enumerate(zip(node.outputs, expected, got)):
                problem = _difference(var, want, have, self.mode)
                if problem:
                    raise BadThunkOutput(
                        f"DebugMode: the {self.mode.backend} backend and the reference "
                        f"(perform) disagree on output {k} of {node.op}: {problem}\n"
                        f"{describe_node(node, arguments)}", node, k, want, have)
            env.update(zip(node.outputs, expected))
        return [_value(env, v) for v in self.fgraph.outputs]


def _single_node_graph(roots: list[Variable], node: Apply) -> FunctionGraph:
    inputs, outputs, _ = clone_graph(roots, node.outputs)
    return FunctionGraph(inputs, outputs, clone=False)


def _value(env: dict[Variable, Any], var: Variable) -> Any:
    return var.data if isinstance(var, Constant) else env[var]


def _copy(value: Any) -> Any:
    """A private copy, so that an op writing into its input cannot change what the other run
    sees."""
    if isinstance(value, (np.ndarray, np.random.Generator)):
        return copy.deepcopy(value)
    return value


def _difference(var: Variable, expected: Any, got: Any, mode: DebugMode) -> str:
    """What differs between the two values of ``var`` ('' when they agree)."""
    if isinstance(expected, np.random.Generator):
        if not isinstance(got, np.random.Generator) or \
                expected.bit_generator.state != got.bit_generator.state:
            return "the generators' states differ"
        return ""
    if not isinstance(expected, (np.ndarray, np.generic)):
        return ""
    got_array = np.asarray(got)
    expected = np.asarray(expected)
    if got_array.dtype != expected.dtype:
        return f"dtype {got_array.dtype}, expected {expected.dtype}"
    if got_array.shape != expected.shape:
        return f"shape {got_array.shape}, expected {expected.shape}"
    if expected.dtype.kind in "fc":
        rtol, atol = mode.tolerances(expected.dtype.name)
        close = np.isclose(got_array, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = got_array == expected
    if np.all(close):
        return ""
    where = tuple(int(i) for i in np.argwhere(~np.asarray(close))[0])
    return (f"{int(np.size(close) - np.count_nonzero(close))} of {np.size(close)} values "
            f"differ, first at index {where}: {got_array[where]!r}, expected "
            f"{expected[where]!r}")


NAMED_MODES["DebugMode"] = DebugMode
NAMED_MODES["DEBUG_MODE"] = DebugMode
