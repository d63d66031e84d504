"""Data-parallel training: every rank runs the same step on its shard of each batch, the
gradients are averaged across ranks in a few large allreduces, and the parameters start equal
(broadcast from rank 0)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgraph.distributed.comm import TRAFFIC, communicator
from symgraph.function import function
from symgraph.grad import grad
from symgraph.ops import collective, onebit, shape
from symgraph.ops.basic import shared

BUCKET_BYTES = 1 << 22  # 4 MiB: few messages, each large enough to run at full bandwidth
ONE_BIT_BLOCK = 256


def shard(array: Any, comm: Any = None) -> Any:
    """This rank's part of ``array`` along its first axis: ``np.array_split`` into ``size``
    nearly equal parts, part ``rank``."""
    comm = communicator(comm)
    return np.array_split(np.asarray(array), comm.size())[comm.rank()]


def seed(base: int, per_rank: bool = False, comm: Any = None) -> int:
    """A seed for random streams: ``base`` on every rank, or ``base + rank`` when
    ``per_rank`` (dropout masks that differ between ranks' shards)."""
    return base + communicator(comm).rank() if per_rank else base


def broadcast_parameters(params: Sequence[Any], root: int = 0, comm: Any = None) -> None:
    """Give every shared variable of ``params`` rank ``root``'s value (collective)."""
    comm = communicator(comm)
    for param in params:
        param.set_value(comm.broadcast(param.get_value(borrow=True), root))


def average_gradients(grads: Sequence[Any], params: Sequence[Any], comm: Any = None,
                      bucket_bytes: int = BUCKET_BYTES,
                      compression: str | None = None, block: int = ONE_BIT_BLOCK,
                      overlap: bool = False) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The mean over ranks of each gradient, exchanged in buckets.

    The gradients are taken last first (the order backpropagation produces them), grouped by
    dtype into buckets of at most ``bucket_bytes`` (a larger gradient has its own), and each
    bucket is flattened into one vector that one allreduce averages.

    Parameters
    ----------
    grads : gradient variables, one per parameter.
    params : the shared variables ``grads`` belong to (their values give the shapes).
    compression : None or "1bit"
        "1bit": each bucket goes through ``OneBitAllreduce`` with error feedback: the
        quantisation error, kept in a shared vector per bucket, is added to the next step's
        bucket (Seide et al., 2014).
    overlap : bool
        Non-blocking allreduces (MPI_Iallreduce), started as soon as a bucket's gradients
        are computed, in bucket order, and waited for after the last one has started, so
        that the rest of the backward pass runs while the first buckets are in flight.
        Not with ``compression``.

    Returns
    -------
    (averaged, updates) : the averaged gradients in the order of ``grads``, and the updates
    of the error-feedback vectors to pass to ``function`` (empty without compression).

    Raises
    ------
    ValueError
        For an unknown ``compression``.
    """
    if compression not in (None, "1bit"):
        raise ValueError(f"average_gradients: compression must be None or '1bit', "
                         f"got {compression!r}")
    if compression and overlap:
        raise ValueError("average_gradients: overlap does not apply to compressed buckets")
    comm = communicator(comm)
    averaged: list[Any] = [None] * len(grads)
    updates: list[tuple[Any, Any]] = []
    shapes = [np.shape(p.get_value(borrow=True)) for p in params]
    buckets = _buckets(grads, shapes, bucket_bytes)
    flats = [shape.concatenate([grads[i].flatten() for i in bucket]) for bucket in buckets]
    if overlap:
        means = _overlapped_means(flats, comm)
    else:
        means = []
        for bucket, flat in zip(buckets, flats):
            if compression == "1bit":
                size = sum(_size(shapes[i]) for i in bucket)
                residual = shared(np.zeros(size, dtype=flat.dtype), name="one_bit_residual")
                corrected = flat + residual
                mean, mine = onebit.OneBitAllreduce(block, comm)(corrected)
                updates.append((residual, corrected - mine))
            else:
                mean = collective.Allreduce("mean", comm)(flat)
            means.append(mean)
    for bucket, mean in zip(buckets, means):
        offset = 0
        for i in bucket:
            n = _size(shapes[i])
            averaged[i] = mean[offset:offset + n].reshape(shapes[i])
            offset += n
    return averaged, updates


def data_parallel(inputs: Sequence[Any], cost: Any, params: Sequence[Any],
                  updates: Callable[[list[Any], list[Any]], Any], comm: Any = None,
                  bucket_bytes: int = BUCKET_BYTES, compression: str | None = None,
                  block: int = ONE_BIT_BLOCK, overlap: bool = False,
                  **function_kwargs: Any) -> Any:
    """A compiled training step that averages the gradients of ``cost`` across ranks.

    Broadcasts ``params`` from rank 0 first, so every rank starts from the same values; then
    ``updates(params, averaged_gradients)`` gives the optimiser's ``(shared, new)`` pairs. Each
    rank calls the step on its own shard of the batch; with equal shards and a ``cost`` that
    is a mean over the batch, the averaged gradient is the gradient of the whole batch.

    Parameters
    ----------
    inputs : the step's inputs (as for ``function``).
    cost : scalar, this rank's cost.
    params : shared variables to differentiate and to broadcast.
    updates : callable ``(params, grads) -> list of (shared, expression)`` or dict.
    bucket_bytes, compression, block, overlap : see ``average_gradients``.
    **function_kwargs : passed to ``function`` (``mode``, ``name``, ...).

    Returns
    -------
    Function : ``step(*inputs) -> cost`` (this rank's), with ``step.bytes_sent()``: payload
    bytes this process handed to MPI collectives since the step was built.
    """
    comm = communicator(comm)
    broadcast_parameters(params, 0, comm)
    averaged, residual_updates = average_gradients(
        grad(cost, list(params)), params, comm, bucket_bytes, compression, block, overlap)
    chosen = updates(list(params), averaged)
    chosen = list(chosen.items()) if isinstance(chosen, dict) else list(chosen)
    step = function(inputs, cost, updates=chosen + residual_updates, **function_kwargs)
    setattr(step, "bytes_sent", BytesSince(TRAFFIC["bytes"]))  # noqa: B010 - a new attribute
    return step


class BytesSince:
    """``bytes_sent()``: payload bytes this process handed to MPI collectives since ``start``
    (a plain object, so that the step still pickles)."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __call__(self) -> int:
        return TRAFFIC["bytes"] - self.start


def _overlapped_means(flats: list[Any], comm: Any) -> list[Any]:
    """Each bucket's start waits for the previous start (so the starts go out in bucket
    order, interleaved with the backward pass), each wait for the last start."""
    tickets: list[Any] = []
    for flat in flats:
        tickets.append(collective.AllreduceStart("mean", comm)(flat, *tickets[-1:]))
    return [collective.AllreduceWait(comm)(ticket, flat, tickets[-1])
            for ticket, flat in zip(tickets, flats)]


def _size(static: tuple[int, ...]) -> int:
    return int(np.prod(static, dtype=np.int64))


def _buckets(grads: Sequence[Any], shapes: Sequence[tuple[int, ...]],
             bucket_bytes: int) -> list[list[int]]:
    buckets: dict[str, list[list[int]]] = {}
    for i in reversed(range(len(grads))):
        itemsize = np.dtype(grads[i].dtype).itemsize
        open_ = buckets.setdefault(grads[i].dtype, [[]])
        used = sum(_size(shapes[j]) for j in open_[-1]) * itemsize
        if open_[-1] and used + _size(shapes[i]) * itemsize > bucket_bytes:
            open_.append([])
        open_[-1].append(i)
    return [bucket for group in buckets.values() for bucket in group]
