"""The "llvm" backend: compiled kernels for elementwise and reduction nodes, BLAS for matrix
products, and each other op's ``perform``; the profile notes which nodes fell back.
"""

from __future__ import annotations

from typing import Any

from symgraph.codegen.linker import Schedule, Thunk, perform_thunk
from symgraph.codegen.llvm import blas, lowering
from symgraph.codegen.llvm.emitter import EmitError
from symgraph.codegen.llvm.jit import engine
from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir
from symgraph.codegen.llvm.runtime import ElementwiseThunk, KernelCall, ReduceThunk
from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply

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


class LLVMBackend:
    """Links a FunctionGraph into an ``LLVMSchedule``."""

    name = "llvm"

    def link(self, fgraph: FunctionGraph, profile: Any = None) -> LLVMSchedule:
        return LLVMSchedule(fgraph, self, profile)

    def supports(self, node: Apply) -> bool:
        return True
