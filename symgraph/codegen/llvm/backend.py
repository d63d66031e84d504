"""The "llvm" backend: compiled kernels for elementwise and reduction nodes, BLAS for matrix
products, and each other op's ``perform``; the profile notes which nodes fell back.

``link`` returns a ``LinkedGraph``: ``native_entry`` compiles the whole function into one
native entry point (symgraph.codegen.llvm.native); ``run`` is the Python-thunk schedule,
built on first use, which serves calls the entry point hands back and loop bodies.
"""

from __future__ import annotations

import time
from typing import Any

from symgraph.codegen.linker import Schedule, Thunk, perform_thunk
from symgraph.codegen.llvm import blas, lowering
from symgraph.codegen.llvm.emitter import EmitError
from symgraph.codegen.llvm.jit import engine
from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir
from symgraph.codegen.llvm.runtime import ElementwiseThunk, KernelCall, ReduceThunk
from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant
from symgraph.type import TensorType

_CALLS: dict[KernelSpec, KernelCall | EmitError] = {}


def compile_kernel(spec: KernelSpec) -> KernelCall:
    """The compiled kernel of ``spec`` (memoised; ``EmitError`` when it cannot be built)."""
    found = _CALLS.get(spec)
    if found is None:
        jit = engine()
        try:
            if not jit.has_f16c and "float16" in spec.operand_dtypes():
                raise EmitError("float16 needs the F16C instructions on this CPU")
            text, symbol = kernel_ir(spec, jit.has_gomp)
        except NotImplementedError as err:
            found = err if isinstance(err, EmitError) else EmitError(str(err))
        else:
            found = KernelCall(spec, jit.compile(text, [symbol])[symbol])
        _CALLS[spec] = found
    if isinstance(found, EmitError):
        raise found
    return found


class LLVMSchedule(Schedule):
    """A Schedule whose thunks run compiled code where a node has an LLVM rule."""

    def __init__(self, fgraph: FunctionGraph, backend: LLVMBackend, profile: Any) -> None:
        self.llvm_backend = backend
        self.fused_into: dict[Apply, Apply] = {}
        self.notes: dict[Apply, str] = {}
        self._plan_fusions(fgraph)
        super().__init__(fgraph, perform_thunk, profile=profile, backend=backend)
        if profile is not None:
            profile.node_notes.update(self.notes)

    def _plan_fusions(self, fgraph: FunctionGraph) -> None:
        for node in fgraph.toposort():
            if lowering.reduce_kind(node) is None:
                continue
            producer = lowering.fusable_producer(fgraph, node)
            spec = lowering.reduce_spec(node, producer) if producer is not None else None
            if spec is None:
                continue
            try:
                compile_kernel(spec)
            except EmitError:
                continue
            self.fused_into[producer] = node

    def _make(self, node: Apply, make_thunk: Any, backend: Any) -> Thunk:
        engine().settings.set_threads(config.num_threads or _cpu_count())
        inputs = [self.cells[i] for i in node.inputs]
        outputs = [self.cells[o] for o in node.outputs]
        if node in self.fused_into:
            self.notes[node] = f"fused into {self.fused_into[node].op}"
            return _nothing
        if getattr(node.op, "make_thunk", None) is not None:
            return super()._make(node, make_thunk, backend)
        try:
            thunk = self._compiled(node, inputs, outputs)
        except EmitError as err:
            self.notes[node] = f"perform (no LLVM rule: {err})"
            return perform_thunk(node, inputs, outputs)
        if thunk is None:
            self.notes[node] = "perform (no LLVM rule)"
            return perform_thunk(node, inputs, outputs)
        return thunk

    def _compiled(self, node: Apply, inputs: list[list[Any]],
                  outputs: list[list[Any]]) -> Thunk | None:
        if lowering.reduce_kind(node) is not None:
            producer = next((p for p, r in self.fused_into.items() if r is node), None)
            spec = lowering.reduce_spec(node, producer)
            if spec is None:
                return None
            if producer is not None:
                inputs = [self.cells[i] for i in producer.inputs]
            return ReduceThunk(node, compile_kernel(spec), inputs, outputs)
        spec = lowering.elementwise_spec(node, inplace_ok=True)
        if spec is not None:
            return ElementwiseThunk(node, compile_kernel(spec), inputs, outputs)
        return blas.make_thunk(node, inputs, outputs)


def _nothing() -> None:
    return None


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)


class NativeRules:
    """The lowering of each node in a native entry point: the first rule that matches, else
    the ``perform`` fallback."""

    def __init__(self, backend: LLVMBackend) -> None:
        from symgraph.codegen.llvm import native_index, native_nnet, native_ops, native_scan

        self.rules = [native_scan.ScanRule(self), native_ops.KernelRule(),
                      native_ops.ReduceRule(), native_ops.DimShuffleRule(),
                      native_ops.ShapeRule(), native_index.SubtensorRule(),
                      native_index.IncSubtensorRule(), native_index.AllocRule(),
                      native_index.JoinRule(), native_index.ReshapeRule(),
                      *native_nnet.rules(), *blas.rules()]
        self.fallback = native_ops.FallbackRule(backend)

    def __call__(self, node: Apply, program: Any) -> tuple[Any, Any]:
        for rule in self.rules:
            match = rule.match(node, program)
            if match is not None:
                return rule, match
        return self.fallback, self.fallback.match(node, program)

    def can_fuse(self, producer: Apply, node: Apply) -> bool:
        spec = lowering.reduce_spec(node, producer)
        if spec is None:
            return False
        try:
            compile_kernel(spec)
        except EmitError:
            return False
        return True


class LinkedGraph:
    """A linked FunctionGraph: the Python-thunk schedule (built when first run) and, on
    request, the native entry point of the whole function."""

    def __init__(self, fgraph: FunctionGraph, backend: LLVMBackend, profile: Any) -> None:
        self.fgraph = fgraph
        self.backend = backend
        self.profile = profile
        self._schedule: LLVMSchedule | None = None
        engine().settings.set_threads(config.num_threads or _cpu_count())

    @property
    def schedule(self) -> LLVMSchedule:
        if self._schedule is None:
            self._schedule = LLVMSchedule(self.fgraph, self.backend, self.profile)
        return self._schedule

    def run(self, values: Any) -> list[Any]:
        return self.schedule.run(values)

    def native_entry(self, **options: Any) -> Any:
        """The compiled entry point (``NativeFunction``; ``options`` are the fields of
        ``native.EntrySpec``), or None where this graph or this interpreter cannot have one
        (the Python-thunk schedule then serves every call)."""
        from symgraph.codegen.llvm import capi, native

        spec = native.EntrySpec(**options)
        if isinstance(capi.api(), Exception) or any(
                getattr(n.op, "lazy", False) for n in self.fgraph.apply_nodes):
            return None
        if not all(isinstance(v.type, TensorType) for v in self.fgraph.inputs[:spec.n_args]):
            return None
        start, llvm_start = time.perf_counter(), engine().stats.seconds
        try:
            built = native.build_native(self.fgraph, spec, NativeRules(self.backend))
        except capi.LayoutError:
            return None
        if self.profile is not None:
            self.profile.node_notes.update(built.builder_notes)
            total, llvm_seconds = time.perf_counter() - start, engine().stats.seconds - llvm_start
            self.profile.record_phase("codegen (plan, IR)", total - llvm_seconds)
            self.profile.record_phase("llvm (compile, cache)", llvm_seconds)
            self.profile.compile_time += total
        return built


class LLVMBackend:
    """Links a FunctionGraph into a ``LinkedGraph``."""

    name = "llvm"

    def link(self, fgraph: FunctionGraph, profile: Any = None) -> LinkedGraph:
        return LinkedGraph(fgraph, self, profile)

    def make_scan_thunk(self, node: Apply, input_cells: list[list[Any]],
                        output_cells: list[list[Any]]) -> Any:
        """For the Python-thunk schedule: a thunk running a Scan node as one native loop (the
        node alone compiled as a function), with the Python loop as its fallback."""
        from symgraph.codegen.llvm import capi, native
        from symgraph.scan.op import Loop

        if isinstance(capi.api(), Exception):
            return None
        variable: list[int] = []  # the first position of each distinct non-constant input
        for i, v in enumerate(node.inputs):
            if not isinstance(v, Constant) and all(node.inputs[j] is not v for j in variable):
                variable.append(i)
        fgraph = FunctionGraph([node.inputs[i] for i in variable], node.outputs, clone=True)
        if not all(isinstance(v.type, TensorType) for v in fgraph.inputs):
            return None
        fallback = object()
        spec = native.EntrySpec(len(variable), [], len(node.outputs), [], False,
                                name=f"{node.op}", fallback=fallback)
        entry = native.build_native(fgraph, spec, NativeRules(self)).call
        loops: list[Any] = []

        def thunk() -> None:
            values = [cell[0] for cell in input_cells]
            results = entry(*[values[i] for i in variable])
            if results is fallback:
                if not loops:
                    loops.append(Loop(node.op, node, self.link(node.op.inner.fgraph())))
                results = loops[0].run(values)
            for cell, value in zip(output_cells, results):
                cell[0] = value

        return thunk

    def supports(self, node: Apply) -> bool:
        return True
