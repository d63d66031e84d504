"""Collective ops across the processes of a communicator (MPI): allreduce, broadcast,
allgather, and the reductions their gradients need (reduce to a root, reduce-scatter).

The ops hold a communicator value (``symgraph.distributed`` supplies one over mpi4py; this
layer never imports MPI) and run their ``perform`` on every backend: the work is the
communication, which a perform callback from compiled code starts as fast as native code would.

Gradients follow the data-parallel convention: the quantity differentiated is the sum over
ranks of each rank's cost, so the gradient of an allreduce-sum is an allreduce-sum of the
output gradients, that of a broadcast is a sum to the root, that of an allgather a
reduce-scatter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType

REDUCTIONS = ("sum", "mean", "max", "min")


class Communicator(Protocol):
    """What a collective op asks of its communicator. Implementations are hashable values
    (ops compare by them) that pickle by name; every method is collective: every rank calls
    it, in the same order, with arrays of the same shape and dtype (``root``: the same)."""

    def rank(self) -> int: ...
    def size(self) -> int: ...
    def allreduce(self, x: np.ndarray, op: str) -> np.ndarray: ...
    def broadcast(self, x: np.ndarray, root: int) -> np.ndarray: ...
    def reduce(self, x: np.ndarray, root: int) -> np.ndarray: ...
    def allgather(self, x: np.ndarray) -> np.ndarray: ...
    def reduce_scatter(self, x: np.ndarray) -> np.ndarray: ...


class Collective(Op):
    """Base of the collective ops: ``perform`` on every backend (the communication is the
    work; no fallback warning), never constant-folded (every rank must take part in every
    call)."""

    abstract = True
    perform_on_every_backend = True

    def do_constant_folding(self, node: Apply) -> bool:
        return False

    def _input(self, x: Any) -> Any:
        x = as_tensor_variable(x)
        if x.dtype == "bool" or not (dt.is_float(x.dtype) or dt.is_integer(x.dtype)):
            raise TypeError(f"{self}: input x ({x}) has dtype {x.dtype}; collectives take "
                            f"integer and float tensors")
        return x


class Allreduce(Collective):
    """Every rank gets the elementwise ``op`` ("sum", "mean", "max", "min") of ``x`` over
    the ranks."""

    __props__ = ("op", "comm")
    abstract = False

    def __init__(self, op: str, comm: Communicator) -> None:
        if op not in REDUCTIONS:
            raise ValueError(f"allreduce: op must be one of {REDUCTIONS}, got {op!r}")
        self.op = op
        self.comm = comm

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        if self.op == "mean" and not dt.is_float(x.dtype):
            raise TypeError(f"{self}: input x ({x}) has dtype {x.dtype}; a mean needs floats")
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self.comm.allreduce(np.asarray(inputs[0]), self.op)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (z,), (g,) = inputs, outputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        if self.op in ("sum", "mean"):
            return [Allreduce(self.op, self.comm)(g)]
        # max / min: every rank whose value equals the result gets the summed gradient.
        return [Allreduce("sum", self.comm)(g) * elemwise.eq(x, z)]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if eval_points[0] is None:
            return [None]
        if self.op in ("sum", "mean"):
            return [self(eval_points[0])]
        # max / min: the tangent of the rank(s) holding the extreme value.
        (x,) = inputs
        z = self(x)
        hit = elemwise.eq(x, z)
        return [Allreduce("sum", self.comm)(eval_points[0] * hit)
                / Allreduce("sum", self.comm)(elemwise.cast(hit, x.dtype))]


class Broadcast(Collective):
    """Every rank gets rank ``root``'s ``x`` (the others' values are ignored; their shapes
    and dtypes must match the root's)."""

    __props__ = ("root", "comm")
    abstract = False

    def __init__(self, root: int, comm: Communicator) -> None:
        self.root = _check_root(root, comm, "broadcast")
        self.comm = comm

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self.comm.broadcast(np.asarray(inputs[0]), self.root)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [SumToRoot(self.root, self.comm)(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


class SumToRoot(Collective):
    """Rank ``root`` gets the sum of ``x`` over the ranks, the others zeros (MPI_Reduce);
    the gradient of ``Broadcast``."""

    __props__ = ("root", "comm")
    abstract = False

    def __init__(self, root: int, comm: Communicator) -> None:
        self.root = _check_root(root, comm, "sum_to_root")
        self.comm = comm

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self.comm.reduce(np.asarray(inputs[0]), self.root)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [Broadcast(self.root, self.comm)(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


class Allgather(Collective):
    """The ranks' ``x`` joined along ``axis`` in rank order, on every rank; every rank's
    ``x`` has the same shape."""

    __props__ = ("axis", "comm")
    abstract = False

    def __init__(self, axis: int, comm: Communicator) -> None:
        self.axis = int(axis)
        self.comm = comm

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        axis = _check_axis(self, x, self.axis)
        shape = list(x.type.shape)
        if shape[axis] is not None:
            shape[axis] *= self.comm.size()
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        stacked = self.comm.allgather(x)  # (size, *x.shape)
        axis = self.axis % x.ndim
        output_storage[0][0] = np.concatenate(list(stacked), axis=axis)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        shape = list(input_shapes[0])
        axis = self.axis % len(shape)
        shape[axis] = shape[axis] * self.comm.size()
        return [tuple(shape)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [ReduceScatter(self.axis, self.comm)(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


class ReduceScatter(Collective):
    """``x`` summed over the ranks, then cut along ``axis`` into ``size`` equal blocks: rank
    ``r`` gets block ``r``. The gradient of ``Allgather``."""

    __props__ = ("axis", "comm")
    abstract = False

    def __init__(self, axis: int, comm: Communicator) -> None:
        self.axis = int(axis)
        self.comm = comm

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        axis = _check_axis(self, x, self.axis)
        shape = list(x.type.shape)
        size = self.comm.size()
        if shape[axis] is not None:
            if shape[axis] % size:
                raise ValueError(f"{self}: input x ({x}) has length {shape[axis]} on axis "
                                 f"{axis}, not a multiple of the {size} ranks")
            shape[axis] //= size
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        axis, size = self.axis % x.ndim, self.comm.size()
        if x.shape[axis] % size:
            raise ValueError(f"reduce_scatter: length {x.shape[axis]} on axis {axis} is not a "
                             f"multiple of the {size} ranks")
        blocks = np.stack(np.split(x, size, axis=axis))  # (size, *block shape)
        output_storage[0][0] = self.comm.reduce_scatter(blocks)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        shape = list(input_shapes[0])
        axis = self.axis % len(shape)
        shape[axis] = shape[axis] // self.comm.size()
        return [tuple(shape)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [Allgather(self.axis, self.comm)(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


def _check_root(root: int, comm: Communicator, name: str) -> int:
    if not isinstance(root, (int, np.integer)) or not 0 <= root < comm.size():
        raise ValueError(f"{name}: root must be a rank in [0, {comm.size()}), got {root!r}")
    return int(root)


def _check_axis(op: Op, x: Any, axis: int) -> int:
    if x.ndim == 0:
        raise TypeError(f"{op}: input x ({x}) is a scalar; it needs an axis to join along")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for input x ({x}) with "
                         f"{x.ndim} dimensions")
    return axis % x.ndim
