"""The "llvm" backend: one lowering, the rules of the native entry point.

``link`` returns a ``LinkedGraph``. ``native_entry`` compiles the whole function into one native
CPython entry point (symgraph.codegen.llvm.native): each node runs through the first rule of
``rules.NativeRules`` that matches it (kernels, BLAS, views, native loops, ...), or through its op's
``perform`` called back from native code, which the profile notes. Graphs the entry point cannot
take (lazy ``ifelse``, non-tensor arguments) and calls it hands back (to report an error) run the
plain reference schedule of ``perform`` thunks. Every path is safe to call from many threads.
An entry point built for a graph the whole-function cache holds is kept on disk
(``entry_cache``), and later processes load it instead of building it (``cached_entry``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np

from symgraph.codegen import Signal, warn_fallback
from symgraph.codegen.contract import FALLBACK, CallSpec
from symgraph.codegen.linker import Schedule, SchedulePool, perform_thunk
from symgraph.codegen.llvm import entry_cache
from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.type import TensorType

def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_UNBUILT = Signal("UNBUILT")


class LinkedGraph:
    """A linked FunctionGraph (``contract.Linked``): native entry points on request, and the
    reference schedule for what they cannot run."""

    compiles_natively = True

    def __init__(self, fgraph: FunctionGraph, backend: LLVMBackend, profile: Any,
                 nan_guard: bool = False) -> None:
        self.fgraph = fgraph
        self.nan_guard = nan_guard
        self.backend = backend
        self.profile = profile
        self._reference: SchedulePool | None = None
        self._body: Any = _UNBUILT
        self._lock = threading.Lock()
        self._not_kept: set[str] = set()  # entry keys not found, or not usable, on disk

    def run_reference(self, values: Any) -> list[Any]:
        """Run every node's ``perform`` (errors name the node and the user's line)."""
        if self._reference is None:
            with self._lock:
                if self._reference is None:
                    self._reference = SchedulePool(lambda: Schedule(
                        self.fgraph, perform_thunk, profile=self.profile, backend=self.backend,
                        nan_guard=self.nan_guard))
        return self._reference.run(values)

    def run(self, values: Any) -> list[Any]:
        """Outputs from values for every input (a loop body's step): through a native entry
        point taking all inputs, built on first use, else the reference schedule."""
        body = self._body
        if body is _UNBUILT:
            with self._lock:
                if self._body is _UNBUILT:
                    self._body = self.native_entry(CallSpec(
                        n_args=len(self.fgraph.inputs), containers=(),
                        n_outputs=len(self.fgraph.outputs), update_containers=(),
                        single=False, name="loop body"))
            body = self._body
        if body is not None:
            args = [v if type(v) is np.ndarray or not isinstance(var.type, TensorType)
                    else np.asarray(v, dtype=var.type.dtype)
                    for var, v in zip(self.fgraph.inputs, values)]
            result = body.run(args)
            if result is not FALLBACK:
                return result
        return self.run_reference(values)

    def _import_backend(self) -> None:
        # llvmlite and the code generator load here, on first use (on the background
        # thread of a tiered function), never at link time.
        import_start = time.perf_counter()
        from symgraph.codegen.llvm.jit import engine

        engine().settings.set_threads(config.num_threads or _cpu_count())
        if self.profile is not None:
            self.profile.record_phase("import backend (llvmlite, JIT)",
                                      time.perf_counter() - import_start)

    def cached_entry(self, spec: CallSpec) -> Any:
        """The entry point an earlier build kept on disk for this graph and ``spec``
        (``entry_cache``), loaded with no planning, IR or LLVM; None when there is none.
        Imports llvmlite only when there is one."""
        if self.nan_guard:
            return None  # guarded entry points are built in each process, never kept
        key = entry_cache.entry_key(spec)
        if key is None or key in self._not_kept:
            return None
        data = entry_cache.find(key)
        if data is None:
            self._not_kept.add(key)
            return None
        self._import_backend()
        from symgraph.codegen.llvm import rules

        start = time.perf_counter()
        built = entry_cache.restore(data, self.fgraph, spec, self.backend,
                                    lambda: rules.NativeRules(self.backend))
        if built is None:
            self._not_kept.add(key)
        elif self.profile is not None:
            self.profile.node_notes.update(built.builder_notes)
            seconds = time.perf_counter() - start
            self.profile.record_phase("load (entry point and code from the disk)", seconds)
            self.profile.compile_time += seconds
        return built

    def native_entry(self, spec: CallSpec) -> Any:
        """The compiled entry point (``native.NativeFunction``) for calls as ``spec`` says, or
        None where this graph or this interpreter cannot have one (the reference schedule then
        serves every call). Taken from the disk when an earlier build kept it there
        (``cached_entry``); else built, and kept when ``spec`` names the graph."""
        cached = self.cached_entry(spec)
        if cached is not None:
            return cached
        self._import_backend()
        from symgraph.codegen.llvm import capi, native, rules
        from symgraph.codegen.llvm.jit import engine

        if isinstance(capi.api(), Exception):
            return None
        lazy = next((n for n in self.fgraph.apply_nodes if getattr(n.op, "lazy", False)), None)
        if lazy is not None:
            warn_fallback("llvm", lazy, "is lazy, so the whole function runs on the reference "
                                        "schedule (every node's NumPy perform)")
            return None
        if not all(isinstance(v.type, TensorType) for v in self.fgraph.inputs[:spec.n_args]):
            return None
        stats = engine().stats
        start, llvm_start, load_start = time.perf_counter(), stats.seconds, stats.load_seconds
        try:
            built = native.build_native(self.fgraph, spec, rules.NativeRules(self.backend),
                                        nan_guard=self.nan_guard)
        except capi.LayoutError:
            return None
        if self.profile is not None:
            self.profile.node_notes.update(built.builder_notes)
            total, llvm_seconds = time.perf_counter() - start, stats.seconds - llvm_start
            load_seconds = stats.load_seconds - load_start
            self.profile.record_phase("codegen (plan, IR)", total - llvm_seconds)
            self.profile.record_phase("llvm (compile, disk cache)", llvm_seconds - load_seconds)
            self.profile.record_phase("load (link into the process)", load_seconds)
            self.profile.compile_time += total
        if spec.graph_identity is not None and not self.nan_guard:
            store_start = time.perf_counter()
            entry_cache.store(built, spec)
            if self.profile is not None:
                self.profile.record_phase("store (entry point description)",
                                          time.perf_counter() - store_start)
        return built


class LLVMBackend:
    """Links a FunctionGraph into a ``LinkedGraph``."""

    name = "llvm"

    def link(self, fgraph: FunctionGraph, profile: Any = None,
             nan_guard: bool = False) -> LinkedGraph:
        return LinkedGraph(fgraph, self, profile, nan_guard)
