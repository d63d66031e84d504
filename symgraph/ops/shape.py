"""Shape ops: ``Shape``, ``Shape_i``, reshaping, joining, splitting and array construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph.graph import Apply
from symgraph.op import Op
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType


__all__ = ["shape", "shape_i"]


class Shape(Op):
    """The shape of a tensor as an int64 vector (``x.shape``)."""

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,)).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = np.asarray(np.shape(inputs[0]), dtype="int64")

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [(node.inputs[0].ndim,)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any], output_grads: Sequence[Any]):
        return [None]


class Shape_i(Op):  # noqa: N801 - Theano's name
    """Length of dimension ``i`` of a tensor, as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = int(i)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise TypeError(f"{self}: input {x} has only {x.ndim} dimensions")
        return Apply(self, [x], [TensorType("int64", ()).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = np.asarray(np.shape(inputs[0])[self.i], dtype="int64")

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [()]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any], output_grads: Sequence[Any]):
        return [None]


def shape(x: Any) -> Any:
    """Symbolic shape of ``x``: an int64 vector of length ``x.ndim``."""
    return Shape()(x)


def shape_i(x: Any, i: int) -> Any:
    """Symbolic length of dimension ``i`` of ``x``; a Python int when statically known."""
    x = as_tensor_variable(x)
    static = x.type.shape[i]
    if static is not None:
        return static
    return Shape_i(i)(x)
