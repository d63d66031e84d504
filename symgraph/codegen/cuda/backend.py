"""The "cuda" backend: place the graph on the GPU (``placement``), compile the kernels of every
node with a CUDA rule as one module, and run a Schedule whose thunks launch them on one stream.

Nodes without a CUDA rule run their ``perform`` on the host, with transfers around them; the
profile says which. Kernels report bad indices through a device flag that is read once per
call (when the outputs come back anyway), so no launch waits for the host.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from symgraph.codegen.cuda import placement, registry
from symgraph.codegen.cuda.array import DeviceArray
from symgraph.codegen.cuda.source import ERROR_MESSAGES
from symgraph.codegen.linker import (Schedule, SchedulePool, Thunk, perform_thunk,
                                     reraise_node_error)
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant


class CudaContext:
    """What thunks share: the device and the error flag with its registry of codes."""

    def __init__(self, device: Any, backend: Any = None) -> None:
        self.device = device
        self.backend = backend
        self._flag: DeviceArray | None = None
        self.errors: dict[int, tuple[Apply, type, str]] = {}
        self._codes: dict[tuple[Apply, Any], int] = {}

    @property
    def flag(self) -> DeviceArray:
        if self._flag is None:
            self._flag = self.device.empty((1,), "int32")
            self.device.zero(self._flag.ptr, 4)
        return self._flag

    def error_code(self, node: Apply, kind: int | tuple[type, str]) -> int:
        """A code a kernel writes into the flag to report ``kind`` at ``node``: one of
        ``ERROR_MESSAGES``, or a rule's ``(exception class, message)``."""
        if (node, kind) in self._codes:
            return self._codes[(node, kind)]
        code = (len(self.errors) + 1) * 16 + (kind if isinstance(kind, int) else 0)
        self._codes[(node, kind)] = code
        cls, message = ERROR_MESSAGES[kind] if isinstance(kind, int) else kind
        self.errors[code] = (node, cls, message)
        return code

    def check(self) -> None:
        """Raise the error a kernel reported since the last check (names the node)."""
        if not self.errors or self._flag is None:
            return
        code = int(self._flag.get()[0])
        if code == 0:
            return
        self.device.zero(self._flag.ptr, 4)
        node, cls, message = self.errors.get(code, (None, RuntimeError, f"error code {code}"))
        err = cls(message)
        if node is None:
            raise err
        reraise_node_error(node, [], err)


class CudaSchedule(Schedule):
    """A Schedule over a placed graph; ``boundary='device'`` for a loop body on the GPU."""

    def __init__(self, fgraph: FunctionGraph, backend: CudaBackend, profile: Any,
                 boundary: str = placement.HOST) -> None:
        self.ctx = backend.context()
        self.boundary = boundary
        self.notes: dict[Apply, str] = {}
        keep = frozenset(fgraph.update_mapping.keys()) & \
            frozenset(_device_shared_outputs(fgraph))
        self.placed = placement.place(fgraph, registry.lower, boundary, keep)
        kernels = [k for lowering in self.placed.values() for k in lowering.kernels]
        if kernels:
            self.ctx.device.prepare(kernels)
        super().__init__(fgraph, perform_thunk, profile=profile, backend=backend)
        if profile is not None:
            profile.node_notes.update(self.notes)

    def _make(self, node: Apply, make_thunk: Any, backend: Any) -> Thunk:
        inputs = [self.cells[i] for i in node.inputs]
        outputs = [self.cells[o] for o in node.outputs]
        if isinstance(node.op, placement.GpuFromHost):
            self.notes[node] = "transfer host->device"
            return _upload_thunk(self.ctx, node, inputs, outputs)
        if isinstance(node.op, placement.HostFromGpu):
            self.notes[node] = "transfer device->host"
            return _download_thunk(node, inputs, outputs)
        lowering = self.placed.get(node)
        if lowering is not None:
            self.notes[node] = lowering.note or "cuda"
            return _guarded(node, lowering.build(self.ctx, node, inputs, outputs), inputs)
        if getattr(node.op, "make_thunk", None) is not None:
            self.notes[node] = "host loop (inner graph linked for cuda)"
            return node.op.make_thunk(node, inputs, outputs, backend)
        self.notes[node] = "perform on the host (no CUDA rule)"
        return perform_thunk(node, inputs, outputs)

    def _timed(self, node: Apply, thunk: Thunk) -> Thunk:
        """Profiled runs wait for each node's kernels, so times are the GPU's own."""
        record, device = self.profile.record_node, self.ctx.device

        def timed() -> None:
            start = time.perf_counter()
            thunk()
            device.synchronize()
            record(node, time.perf_counter() - start)

        return timed

    def run(self, input_values: Any) -> list[Any]:
        results = super().run(input_values)
        if self.boundary == placement.HOST:
            self.ctx.check()
        return results


def _guarded(node: Apply, thunk: Thunk, inputs: list[list[Any]]) -> Thunk:
    def run() -> None:
        try:
            thunk()
        except Exception as err:
            if getattr(err, "node", None) is not None:
                raise
            reraise_node_error(node, [cell[0] for cell in inputs], err)

    return run


def _upload_thunk(ctx: CudaContext, node: Apply, inputs: list[list[Any]],
                  outputs: list[list[Any]]) -> Thunk:
    source = node.inputs[0]
    dtype = source.type.dtype  # type: ignore[attr-defined]
    if isinstance(source, Constant):
        cached = ctx.device.to_device(np.asarray(source.data, dtype=dtype))

        def constant() -> None:
            outputs[0][0] = cached

        return constant

    def upload() -> None:
        value = inputs[0][0]
        outputs[0][0] = value if isinstance(value, DeviceArray) else \
            ctx.device.to_device(np.asarray(value, dtype=dtype))

    return upload


def _download_thunk(node: Apply, inputs: list[list[Any]], outputs: list[list[Any]]) -> Thunk:
    def download() -> None:
        value = inputs[0][0]
        outputs[0][0] = value.get() if isinstance(value, DeviceArray) else value

    return download


def _device_shared_outputs(fgraph: FunctionGraph) -> list[int]:
    """Outputs updating a shared variable whose value lives on the GPU (they stay there)."""
    mapping = fgraph.update_mapping
    return [out for out, inp in mapping.items()
            if getattr(fgraph.inputs[inp], "on_device", False)]


class CudaBackend:
    """Links a FunctionGraph into a ``CudaSchedule`` on ``device`` (default: GPU 0; a
    ``HostDevice`` runs everything on the CPU emulator)."""

    name = "cuda"

    def __init__(self, device: Any = None) -> None:
        self._device = device
        self._context: CudaContext | None = None

    @property
    def device(self) -> Any:
        if self._device is None:
            from symgraph.codegen.cuda import driver

            usable, reason = driver.probe()
            if not usable:
                raise RuntimeError(f"mode 'cuda' is not available: {reason}")
            self._device = driver.get_device(0)
        return self._device

    def context(self) -> CudaContext:
        if self._context is None:
            self._context = CudaContext(self.device, self)
        return self._context

    def link(self, fgraph: FunctionGraph, profile: Any = None,
             boundary: str = placement.HOST) -> SchedulePool:
        """Schedules of device thunks, one per concurrent call."""
        return SchedulePool(lambda: CudaSchedule(fgraph, self, profile, boundary))
