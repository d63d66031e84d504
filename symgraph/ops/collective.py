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
    def start_allreduce(self, x: np.ndarray, op: str) -> int: ...
    def wait(self, ticket: int) -> np.ndarray: ...


class Collective(Op):
    """Base of the collective ops: ``perform`` on every backend (the communication is the
    work; no fallback warning), never constant-folded (every rank must take part in every
    call). A linear collective names its ``adjoint``, the collective its gradient is."""

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

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        return Apply(self, [x], [x.type.make_variable()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]

    def adjoint(self) -> Op:
        raise NotImplementedError

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        if not dt.is_float(inputs[0].dtype):
            return [None]
        return [self.adjoint()(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


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

    def adjoint(self) -> Op:
        return self  # sum and mean

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (z,), (g,) = inputs, outputs, output_grads
        if self.op in ("sum", "mean") or not dt.is_float(x.dtype):
            return super().L_op(inputs, outputs, output_grads)
        # max / min: every rank whose value equals the result gets the summed gradient.
        return [Allreduce("sum", self.comm)(g) * elemwise.eq(x, z)]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if self.op in ("sum", "mean") or eval_points[0] is None:
            return super().R_op(inputs, eval_points)
        # max / min: the mean tangent of the rank(s) holding the extreme value.
        (x,) = inputs
        hit = elemwise.eq(x, self(x))
        total = Allreduce("sum", self.comm)
        return [total(eval_points[0] * hit) / total(elemwise.cast(hit, x.dtype))]


class _Rooted(Collective):
    """A collective with a root rank."""

    __props__ = ("root", "comm")
    abstract = True

    def __init__(self, root: int, comm: Communicator) -> None:
        if not isinstance(root, (int, np.integer)) or not 0 <= root < comm.size():
            raise ValueError(f"{type(self).__name__}: root must be a rank in "
                             f"[0, {comm.size()}), got {root!r}")
        self.root = int(root)
        self.comm = comm


class Broadcast(_Rooted):
    """Every rank gets rank ``root``'s ``x`` (the others' values are ignored; their shapes
    and dtypes must match the root's)."""

    abstract = False

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self.comm.broadcast(np.asarray(inputs[0]), self.root)

    def adjoint(self) -> Op:
        return SumToRoot(self.root, self.comm)


class SumToRoot(_Rooted):
    """Rank ``root`` gets the sum of ``x`` over the ranks, the others zeros (MPI_Reduce);
    the gradient of ``Broadcast``."""

    abstract = False

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self.comm.reduce(np.asarray(inputs[0]), self.root)

    def adjoint(self) -> Op:
        return Broadcast(self.root, self.comm)


class _AlongAxis(Collective):
    """A collective that joins or cuts along ``axis``: the output's length there is the
    input's times ``factor(size)``."""

    __props__ = ("axis", "comm")
    abstract = True

    def __init__(self, axis: int, comm: Communicator) -> None:
        self.axis = int(axis)
        self.comm = comm

    def length(self, n: Any) -> Any:
        raise NotImplementedError

    def make_node(self, x: Any) -> Apply:
        x = self._input(x)
        if x.ndim == 0:
            raise TypeError(f"{self}: input x ({x}) is a scalar; it needs an axis")
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of range for input x ({x}) "
                             f"with {x.ndim} dimensions")
        shape = list(x.type.shape)
        axis = self.axis % x.ndim
        if shape[axis] is not None:
            shape[axis] = self.length(shape[axis])
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        shape = list(input_shapes[0])
        axis = self.axis % len(shape)
        shape[axis] = self.length(shape[axis])
        return [tuple(shape)]


class Allgather(_AlongAxis):
    """The ranks' ``x`` joined along ``axis`` in rank order, on every rank; every rank's
    ``x`` has the same shape."""

    abstract = False

    def length(self, n: Any) -> Any:
        return n * self.comm.size()

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        stacked = self.comm.allgather(x)  # (size, *x.shape)
        output_storage[0][0] = np.concatenate(list(stacked), axis=self.axis % x.ndim)

    def adjoint(self) -> Op:
        return ReduceScatter(self.axis, self.comm)


class ReduceScatter(_AlongAxis):
    """``x`` summed over the ranks, then cut along ``axis`` into ``size`` equal blocks: rank
    ``r`` gets block ``r``. The gradient of ``Allgather``."""

    abstract = False

    def length(self, n: Any) -> Any:
        if isinstance(n, int) and n % self.comm.size():
            raise ValueError(f"{self}: length {n} along axis {self.axis} is not a multiple "
                             f"of the {self.comm.size()} ranks")
        return n // self.comm.size()

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        axis = self.axis % x.ndim
        self.length(x.shape[axis])
        blocks = np.stack(np.split(x, self.comm.size(), axis=axis))  # (size, *block shape)
        output_storage[0][0] = self.comm.reduce_scatter(blocks)

    def adjoint(self) -> Op:
        return Allgather(self.axis, self.comm)


class AllreduceStart(Collective):
    """Starts a non-blocking allreduce of ``x`` (MPI_Iallreduce) and returns its ticket, an
    int64 scalar that ``AllreduceWait`` redeems for the result. Between the two the
    schedule may run other nodes (the rest of a backward pass) while MPI moves the data.
    ``AllreduceStart(op, comm)(x, *before)``: the nodes of ``before`` (earlier tickets) run
    before ``x`` is computed, which orders the starts."""

    __props__ = ("op", "comm")
    abstract = False

    def __init__(self, op: str, comm: Communicator) -> None:
        if op not in ("sum", "mean"):
            raise ValueError(f"allreduce_start: op must be 'sum' or 'mean', got {op!r}")
        self.op = op
        self.comm = comm

    def make_node(self, x: Any, *before: Any) -> Apply:
        x = self._input(x)
        before = tuple(as_tensor_variable(b) for b in before)
        # The schedule visits inputs in order: ``before`` first.
        return Apply(self, [*before, x], [TensorType("int64", ()).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        ticket = self.comm.start_allreduce(np.asarray(inputs[-1]), self.op)
        output_storage[0][0] = np.array(ticket, dtype=np.int64)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [()]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        raise NotImplementedError(f"{self}: differentiate the blocking allreduce instead")


class AllreduceWait(Collective):
    """The result of the allreduce that ``ticket`` started: ``AllreduceWait(comm)(ticket, x,
    *after)``, where ``x`` is the started input (it gives the shape and dtype) and ``after``
    are nodes to run before waiting (they order the schedule; their values are unused)."""

    __props__ = ("comm",)
    abstract = False

    def __init__(self, comm: Communicator) -> None:
        self.comm = comm

    def make_node(self, ticket: Any, x: Any, *after: Any) -> Apply:
        ticket, x = as_tensor_variable(ticket), self._input(x)
        if ticket.dtype != "int64" or ticket.ndim:
            raise TypeError(f"{self}: input ticket ({ticket}) must be an int64 scalar")
        after = tuple(as_tensor_variable(a) for a in after)
        return Apply(self, [ticket, x, *after], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = self.comm.wait(int(inputs[0]))

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[1])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        raise NotImplementedError(f"{self}: differentiate the blocking allreduce instead")
