"""A reduction with a fused elementwise pre-op: ``CAReduce`` applied to the output of a
``ScalarProgram``, in one pass and without materialising the elementwise result.

The fusion phase builds it from an elementwise node whose only client is a reduction; a code
generator emits one loop nest that evaluates the program and accumulates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph.graph import Apply
from symgraph.op import Op
from symgraph.ops import elemwise, reduce
from symgraph.ops.composite import ScalarProgram, program_inputs
from symgraph.type import TensorType, broadcast_static_shapes

__all__ = ["FusedCAReduce"]


class FusedCAReduce(Op):
    """``CAReduce(kind, axis, dtype)`` of the single output of ``program`` over the inputs.

    Parameters
    ----------
    program : ScalarProgram
        With exactly one output: the value reduced.
    reduction : CAReduce
        The reduction (kind, axes, accumulation dtype).

    Raises
    ------
    TypeError
        From ``make_node`` for a wrong number of inputs or dtypes; ``ValueError`` from
        ``perform`` for shapes that do not broadcast or an empty max/min.
    """

    __props__ = ("program", "reduction")

    def __init__(self, program: ScalarProgram, reduction: reduce.CAReduce) -> None:
        if len(program.outputs) != 1:
            raise ValueError("FusedCAReduce: the program must have exactly one output")
        self.program = program
        self.reduction = reduction

    def __str__(self) -> str:
        rows = ",".join(row.name for row, _, _ in self.program.steps)
        return f"FusedCAReduce{{{self.reduction.kind}, axis={self.reduction.axis}, [{rows}]}}"

    def make_node(self, *inputs: Any) -> Apply:
        variables, shape = program_inputs(self, self.program, inputs)
        (value_dtype,) = self.program.output_dtypes()
        out_dtype = self.reduction.output_dtype(value_dtype)
        static = tuple(s for i, s in enumerate(shape) if i not in self.reduction.axis)
        return Apply(self, variables, [TensorType(out_dtype, static).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        elemwise.check_runtime_broadcast(node, inputs)
        shape = np.broadcast_shapes(*[np.shape(x) for x in inputs])
        (value,) = self.program.evaluate(inputs)
        value = np.broadcast_to(value, shape)
        self.reduction.perform(node, [value], output_storage)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        static = broadcast_static_shapes(*[v.type.shape for v in node.inputs])
        shape = elemwise.broadcast_dims(node.inputs, input_shapes, static)
        return [tuple(s for i, s in enumerate(shape) if i not in self.reduction.axis)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        from symgraph.grad import Lop

        (value,) = self.program.expand(inputs)
        reduced = self.reduction(value)
        return list(Lop([reduced], list(inputs), list(output_grads),
                        disconnected_inputs="ignore"))
