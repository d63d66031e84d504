"""The contract between ``sg.function`` (layer 5) and the backends: what a backend's ``link``
returns (``Linked``), how the function asks it for a compiled entry point (``CallSpec``), and
what that entry point is (``NativeEntry``).

``function()`` builds one ``CallSpec`` per function and passes it to
``Linked.native_entry``; a backend that compiles whole functions ("llvm") returns a
``NativeEntry``, the others None, and their ``run`` serves every call. An entry point answers a
call with the outputs, or with one of the two signals below, compared by identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from symgraph.codegen import Signal
from symgraph.fgraph import FunctionGraph

# The entry point cannot finish this call as it stands (an argument to convert, a check that
# fails, an error to report): the caller converts the arguments or runs the reference
# schedule, which raises the usual error.
FALLBACK = Signal("FALLBACK")
# The entry point's frame is in use by another call (another thread, or a recursive call): the
# caller runs the call in a spare frame (``NativeEntry.run``).
BUSY = Signal("BUSY")


@dataclass(frozen=True)
class CallSpec:
    """How a compiled function is called.

    ``fgraph.inputs`` are ``n_args`` explicit arguments, then the shared variables whose values
    are read from ``containers``; ``fgraph.outputs`` are ``n_outputs`` results, then the new
    values the call stores into ``update_containers``.

    Attributes
    ----------
    single : bool
        Return the one result itself rather than a list.
    trust_input : bool
        The arguments are arrays of the declared types already: skip their checks.
    profile : bool
        Time every node (``NativeEntry.collect`` hands the times over).
    name : str or None
        The function's name (``function(..., name=)``), for the entry point and its errors.
    graph_identity : str or None
        Names ``fgraph`` exactly, in every process (``function_cache.store``), when the
        whole-function cache holds it: a backend may keep its compiled entry point under this
        name (with the rest of the spec) and load it in a later process instead of compiling.
        None: the graph is not cached, nothing is kept.
    """

    n_args: int
    containers: tuple[Any, ...]
    n_outputs: int
    update_containers: tuple[Any, ...]
    single: bool
    trust_input: bool = False
    profile: bool = False
    name: str | None = None
    graph_identity: str | None = None

    def all_containers(self) -> list[Any]:
        """The shared variables' containers, then the update targets'."""
        return list(self.containers) + list(self.update_containers)

    def container_pattern(self) -> tuple[int, ...]:
        """For each of ``all_containers()``, the position of its first occurrence: which
        are the same object (a compiled entry point depends on it, not on the values)."""
        first: dict[int, int] = {}
        return tuple(first.setdefault(id(c), k) for k, c in enumerate(self.all_containers()))


class NativeEntry(Protocol):
    """A compiled entry point for a whole function."""

    def call(self, *args: Any) -> Any:
        """The results of the call, or ``FALLBACK`` or ``BUSY`` (the fast path: arguments as
        the caller gave them)."""

    def run(self, values: Sequence[Any]) -> Any:
        """The results for converted argument values (in a spare frame if the first one is
        busy), or ``FALLBACK``."""

    def collect(self, profile: Any) -> None:
        """Add the node times of the calls so far to ``profile``."""

    def reraise(self, err: BaseException) -> NoReturn:
        """Raise ``err``, an error from ``call``, naming the node and the user's line."""


class Linked(Protocol):
    """What a backend's ``link(fgraph, profile)`` returns."""

    fgraph: FunctionGraph
    # Whether ``native_entry`` may return an entry point (a tiered function then compiles it
    # on a background thread).
    compiles_natively: bool

    def run(self, values: Sequence[Any]) -> list[Any]:
        """Outputs from values for every input of ``fgraph`` (shared variables included)."""

    def run_reference(self, values: Sequence[Any]) -> list[Any]:
        """The same through every node's ``perform``: the path that reports errors."""

    def native_entry(self, spec: CallSpec) -> NativeEntry | None:
        """A compiled entry point for calls as ``spec`` describes, or None."""

    def cached_entry(self, spec: CallSpec) -> NativeEntry | None:
        """The entry point ``native_entry`` would return, when it can be had without
        compiling anything (kept on disk by an earlier process, under
        ``spec.graph_identity``); else None, at once."""


class WithoutNativeEntry:
    """Base of the ``Linked`` objects whose ``run`` serves every call and is their reference
    path too (the "py" and "cuda" schedules, DebugMode's node-by-node check)."""

    compiles_natively = False

    def run(self, values: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def run_reference(self, values: Sequence[Any]) -> list[Any]:
        return self.run(values)

    def native_entry(self, spec: CallSpec) -> None:
        return None

    def cached_entry(self, spec: CallSpec) -> None:
        return None
