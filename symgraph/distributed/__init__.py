"""``sg.distributed``: MPI collectives as graph ops, and data-parallel training helpers.

Launch one process per rank with MPI (``mpiexec -n 2 python train.py``); every process builds
the same graph and calls its compiled functions in the same order. Needs the ``[mpi]`` extra
(mpi4py and an MPI library from PyPI): ``pip install 'symgraph[mpi]'``. See docs/distributed.md.
"""

from __future__ import annotations

from typing import Any

from symgraph.distributed.comm import MPICommunicator, communicator, mpi
from symgraph.distributed.data_parallel import (
    average_gradients, broadcast_parameters, data_parallel, seed, shard,
)
from symgraph.ops import collective

__all__ = [
    "MPICommunicator", "allgather", "allreduce", "average_gradients", "broadcast",
    "broadcast_parameters", "communicator", "data_parallel", "is_available", "rank", "seed",
    "shard", "size",
]


def is_available() -> bool:
    """Whether mpi4py and an MPI library can be loaded."""
    try:
        mpi()
    except ImportError:
        return False
    return True


def rank(comm: Any = None) -> int:
    """This process's rank in ``comm`` (default: the world), from 0 to ``size() - 1``."""
    return communicator(comm).rank()


def size(comm: Any = None) -> int:
    """How many processes ``comm`` (default: the world) has."""
    return communicator(comm).size()


def allreduce(x: Any, op: str = "sum", comm: Any = None) -> Any:
    """The elementwise ``op`` of ``x`` over the ranks, on every rank (MPI_Allreduce).

    Parameters
    ----------
    x : tensor of any shape, integer or float (the same shape and dtype on every rank)
    op : {"sum", "mean", "max", "min"}
        "mean" needs a float ``x``.
    comm : communicator, optional
        ``None`` for the world, an ``MPICommunicator``, or a name given to ``communicator``.

    Returns
    -------
    tensor : the shape and dtype of ``x``.

    Raises
    ------
    TypeError
        For a bool or complex ``x``, or an integer one with "mean".
    ValueError
        For another ``op``; at run time when the ranks pass different shapes or dtypes.

    Notes
    -----
    Gradient (the cost being the sum over ranks of each rank's cost): for "sum" and "mean"
    the same allreduce of the output gradients; for "max" and "min" the summed output
    gradient, on the ranks whose value equals the result (all of them at ties).
    """
    return collective.Allreduce(op, communicator(comm))(x)


def broadcast(x: Any, root: int = 0, comm: Any = None) -> Any:
    """Rank ``root``'s ``x`` on every rank (MPI_Bcast).

    Parameters
    ----------
    x : tensor, integer or float; every rank passes one of the root's shape and dtype
        (the values of the other ranks are ignored).
    root : int in ``[0, size)``.

    Returns
    -------
    tensor : the shape and dtype of ``x``.

    Raises
    ------
    ValueError
        For a root outside the communicator; at run time for mismatched shapes or dtypes.

    Notes
    -----
    Gradient: the output gradients summed onto the root (MPI_Reduce); zeros elsewhere.
    """
    return collective.Broadcast(root, communicator(comm))(x)


def allgather(x: Any, axis: int = 0, comm: Any = None) -> Any:
    """The ranks' ``x`` joined along ``axis`` in rank order, on every rank (MPI_Allgather).

    Parameters
    ----------
    x : (..., n, ...) integer or float, the same shape on every rank.
    axis : int

    Returns
    -------
    tensor : (..., size * n, ...), the dtype of ``x``.

    Raises
    ------
    TypeError
        For a scalar ``x``. ValueError: an ``axis`` out of range; at run time, mismatched
        shapes or dtypes.

    Notes
    -----
    Gradient: the output gradient summed over the ranks and cut back into each rank's block
    (MPI_Reduce_scatter_block).
    """
    return collective.Allgather(axis, communicator(comm))(x)
