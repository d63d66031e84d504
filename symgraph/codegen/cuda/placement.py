"""The placement rewrite: decide which nodes run on the GPU and insert the host<->device
transfers (``GpuFromHost``, ``HostFromGpu``) where a value changes sides.

Nodes with a CUDA rule run on the device; scalar shape arithmetic stays on the host (it feeds
views and launches, which read it there). Transfers appear only at the function's boundary and
around nodes that run on the host, so a graph the backend covers moves its inputs in and its
outputs out, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgraph.fgraph import OUTPUT, FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.type import TensorType

HOST, DEVICE = "host", "device"


class GpuFromHost(Op):
    """Copy a host array to the device (the reference ``perform`` is the identity)."""

    __props__ = ()

    def make_node(self, x: Variable) -> Apply:
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Any, output_storage: Any) -> None:
        output_storage[0][0] = np.asarray(inputs[0])


class HostFromGpu(Op):
    """Copy a device array back to the host (the reference ``perform`` is the identity)."""

    __props__ = ()

    def make_node(self, x: Variable) -> Apply:
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Any, output_storage: Any) -> None:
        output_storage[0][0] = np.asarray(inputs[0])


def _is_scalar_arithmetic(node: Apply, where: dict[Variable, str]) -> bool:
    """0-d computations on host values (shape arithmetic): cheaper where they already are."""
    tensors = [v for v in node.inputs + node.outputs if isinstance(v.type, TensorType)]
    return bool(tensors) and all(v.type.ndim == 0 for v in tensors) and all(
        where.get(v, HOST) == HOST for v in node.inputs)


def place(fgraph: FunctionGraph, lower: Callable[[Apply], Any], boundary: str = HOST,
          device_outputs: frozenset[int] = frozenset()) -> dict[Apply, Any]:
    """Rewrite ``fgraph`` in place; returns the lowering of every node placed on the device.

    ``lower(node)`` gives a rule's lowering (with ``host_inputs``, ``any_side``) or None.
    A lowering with ``any_side`` reads its inputs wherever they are (shape queries) and gives
    host outputs.
    ``boundary`` is where the graph's inputs live and its outputs must end (``device`` for
    the inner graph of a loop running on the GPU); outputs listed in ``device_outputs`` stay
    on the device (updates of shared variables that live there).
    """
    # Inputs that may hold device arrays (GPU shared variables) still get a GpuFromHost:
    # it passes a device array through without a copy, and uploads anything else.
    where: dict[Variable, str] = {v: boundary for v in fgraph.inputs}
    placed: dict[Apply, Any] = {}
    moved: dict[tuple[Variable, str], Variable] = {}
    for node in list(fgraph.toposort()):
        lowering = None if _is_scalar_arithmetic(node, where) else lower(node)
        on_device = lowering is not None
        if lowering is not None:
            placed[node] = lowering
        host_inputs = lowering.host_inputs if lowering is not None else set()
        for i, var in enumerate(list(node.inputs)):
            if not isinstance(var.type, TensorType) or getattr(lowering, "any_side", False):
                continue
            want = DEVICE if on_device and i not in host_inputs else HOST
            have = _side(var, where)
            if have not in (want, "constant") or have == "constant" and want == DEVICE:
                fgraph.change_node_input(node, i, _moved(fgraph, var, want, moved, where),
                                         reason="cuda_placement")
        side = DEVICE if on_device and not getattr(lowering, "any_side", False) else HOST
        for out in node.outputs:
            where[out] = side if isinstance(out.type, TensorType) else HOST
    for position, var in enumerate(list(fgraph.outputs)):
        want = DEVICE if position in device_outputs else boundary
        have = _side(var, where)
        misplaced = isinstance(var.type, TensorType) and have not in (want, "constant")
        if misplaced or (have == "constant" and want == DEVICE):
            _set_output(fgraph, position, _moved(fgraph, var, want, moved, where))
    return placed


def _side(var: Variable, where: dict[Variable, str]) -> str:
    if isinstance(var, Constant):
        return "constant"
    return where.get(var, HOST)


def _moved(fgraph: FunctionGraph, var: Variable, want: str,
           moved: dict[tuple[Variable, str], Variable], where: dict[Variable, str]) -> Variable:
    """One transfer per variable and direction, shared by all the nodes that need it."""
    key = (var, want)
    if key not in moved:
        op = GpuFromHost() if want == DEVICE else HostFromGpu()
        out = op.make_node(var).outputs[0]
        moved[key] = out
        where[out] = want
    return moved[key]


def _set_output(fgraph: FunctionGraph, position: int, new: Variable) -> None:
    """Replace output ``position`` only (other clients of the old variable keep it)."""
    old = fgraph.outputs[position]
    fgraph._import_variable(new, "cuda_placement")  # type: ignore[attr-defined]
    fgraph.outputs[position] = new
    fgraph.clients[old].remove((OUTPUT, position))
    fgraph.clients[new].append((OUTPUT, position))
    fgraph._order = None  # type: ignore[attr-defined]
