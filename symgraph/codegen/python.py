"""The reference backend ("py"): every node runs its op's NumPy ``perform``.

Always correct, never fast: it is the oracle other backends are compared with. It also checks
that each ``perform`` produced values of the declared dtype, rank and static shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.codegen.linker import Schedule, SchedulePool, Thunk, reraise_node_error
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply
from symgraph.type import TensorType


def checked_perform_thunk(node: Apply, input_cells: list[list[Any]],
                          output_cells: list[list[Any]]) -> Thunk:
    perform = node.op.perform
    outputs = node.outputs

    def thunk() -> None:
        inputs = [cell[0] for cell in input_cells]
        try:
            perform(node, inputs, output_cells)
        except Exception as err:
            reraise_node_error(node, inputs, err)
        for var, cell in zip(outputs, output_cells):
            check_output(node, var, cell)

    return thunk


def check_output(node: Apply, var: Any, cell: list[Any]) -> None:
    """``TypeError`` unless ``cell`` holds a value of ``var``'s type (a NumPy scalar becomes a
    0-d array): the contract of every ``perform``."""
    vtype = var.type
    if not isinstance(vtype, TensorType):
        return
    value = cell[0]
    if not isinstance(value, np.ndarray):
        if isinstance(value, np.generic):
            cell[0] = value = np.asarray(value)
        else:
            raise TypeError(f"{node.op}.perform stored a {type(value).__name__} for output "
                            f"{var.index}, expected an ndarray of {vtype}")
    if value.dtype != vtype.dtype or value.ndim != vtype.ndim:
        raise TypeError(f"{node.op}.perform produced a {value.dtype}, {value.ndim}-d array for "
                        f"output {var.index}, declared {vtype}")
    for want, got in zip(vtype.shape, value.shape):
        if want is not None and want != got:
            raise TypeError(f"{node.op}.perform produced shape {value.shape} for output "
                            f"{var.index}, declared static shape {vtype.shape}")


class PythonBackend:
    """Links a FunctionGraph into Schedules of checked ``perform`` thunks, one per concurrent
    call."""

    name = "py"

    def link(self, fgraph: FunctionGraph, profile: Any = None,
             nan_guard: bool = False) -> SchedulePool:
        return SchedulePool(lambda: Schedule(fgraph, checked_perform_thunk, profile=profile,
                                             backend=self, nan_guard=nan_guard))
