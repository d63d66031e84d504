"""The MPI communicator the collective ops hold: a hashable, picklable name for an mpi4py
communicator, with the collective calls on NumPy arrays and a count of the bytes sent.

mpi4py is imported on first use, so ``import symgraph.distributed`` works without it.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

_REGISTERED: dict[str, Any] = {}
_MPI: list[Any] = []  # the mpi4py module, once imported
_CHECKED: dict[tuple[str, int], Any] = {}  # (name, size) -> mpi4py communicator of that size
# Collectives on one communicator must not overlap: calls from several threads run one at a time.
_LOCK = threading.Lock()
_TICKETS = itertools.count()
_PENDING: dict[int, tuple[Any, np.ndarray, np.ndarray, str]] = {}  # started allreduces
TRAFFIC = {"calls": 0, "bytes": 0}  # payload bytes this process handed to MPI collectives
HEADER = 34  # dtype, rank (ndim), up to 32 dimensions: what every rank checks before a call


def mpi() -> Any:
    """mpi4py's MPI module (initialises MPI on first use).

    Raises
    ------
    ImportError
        When mpi4py or an MPI library is missing: ``pip install 'symgraph[mpi]'``.
    """
    if _MPI:
        return _MPI[0]
    try:
        from mpi4py import MPI  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise ImportError("symgraph.distributed needs mpi4py and an MPI library: "
                          "pip install 'symgraph[mpi]'") from error
    _MPI.append(MPI)
    return MPI


@dataclass(frozen=True)
class MPICommunicator:
    """An MPI communicator by name: ``"world"`` (every process of the launch), ``"self"``,
    or the name given to ``communicator``, and its size. Ops compare, pickle and key the
    compile caches by both (a graph rewritten for 2 ranks is not one for 1); the mpi4py object
    is looked up when a collective runs."""

    name: str
    size_: int

    def mpi_comm(self) -> Any:
        try:
            return _CHECKED[self.name, self.size_]
        except KeyError:
            pass
        comm = _lookup(self.name)
        if comm.Get_size() != self.size_:
            raise RuntimeError(f"communicator {self.name!r} was built with {self.size_} ranks "
                               f"and now has {comm.Get_size()}: rebuild the graph")
        _CHECKED[self.name, self.size_] = comm
        return comm

    def __str__(self) -> str:
        return self.name

    def rank(self) -> int:
        return self.mpi_comm().Get_rank()

    def size(self) -> int:
        return self.size_

    def allreduce(self, x: np.ndarray, op: str) -> np.ndarray:
        MPI = mpi()
        x = self._agreed(x, "allreduce")
        out = np.empty_like(x)
        mpi_op = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]
        with _LOCK:
            self.mpi_comm().Allreduce(x, out, op=mpi_op)
        if op == "mean":
            out /= self.size()
        return out

    def broadcast(self, x: np.ndarray, root: int) -> np.ndarray:
        x = self._agreed(x, "broadcast")
        out = x.copy()
        with _LOCK:
            self.mpi_comm().Bcast(out, root=root)
        return out

    def reduce(self, x: np.ndarray, root: int) -> np.ndarray:
        x = self._agreed(x, "sum_to_root")
        out = np.zeros_like(x)
        with _LOCK:
            self.mpi_comm().Reduce(x, out if self.rank() == root else None, root=root)
        return out

    def allgather(self, x: np.ndarray) -> np.ndarray:
        x = self._agreed(x, "allgather")
        out = np.empty((self.size(), *x.shape), dtype=x.dtype)
        with _LOCK:
            self.mpi_comm().Allgather(x, out)
        return out

    def reduce_scatter(self, x: np.ndarray) -> np.ndarray:
        x = self._agreed(x, "reduce_scatter")
        out = np.empty(x.shape[1:], dtype=x.dtype)
        with _LOCK:
            self.mpi_comm().Reduce_scatter_block(x, out, op=mpi().SUM)
        return out

    def start_allreduce(self, x: np.ndarray, op: str) -> int:
        x = self._agreed(x, "allreduce_start")
        out = np.empty_like(x)
        with _LOCK:
            request = self.mpi_comm().Iallreduce(x, out, op=mpi().SUM)
            ticket = next(_TICKETS)
            _PENDING[ticket] = (request, x, out, op)  # x stays alive until the wait
        return ticket

    def wait(self, ticket: int) -> np.ndarray:
        with _LOCK:
            request, _, out, op = _PENDING.pop(ticket)
            request.Wait()
        if op == "mean":
            out /= self.size_
        return out

    def _agreed(self, x: np.ndarray, what: str) -> np.ndarray:
        """``x`` contiguous, after checking that every rank passes the same shape and dtype
        (every rank raises the same ValueError otherwise, instead of MPI hanging). The check
        is one allgather of a small fixed-size integer header (no pickling)."""
        x = np.ascontiguousarray(x)
        header = np.full(HEADER, -1, dtype=np.int64)
        header[0], header[1] = x.dtype.num, x.ndim
        header[2:2 + x.ndim] = x.shape
        seen = np.empty((self.size_, HEADER), dtype=np.int64)
        with _LOCK:
            self.mpi_comm().Allgather(header, seen)
        if seen.tobytes() != header.tobytes() * self.size_:
            described = ", ".join(
                f"rank {r}: {tuple(int(d) for d in row[2:2 + row[1]])} {_dtype_name(row[0])}"
                for r, row in enumerate(seen))
            raise ValueError(f"{what}: the ranks pass different shapes or dtypes ({described})")
        TRAFFIC["calls"] += 1
        TRAFFIC["bytes"] += x.nbytes
        return x


def _dtype_name(num: int) -> str:
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64"):
        if np.dtype(name).num == num:
            return name
    return f"dtype #{num}"


def _lookup(name: str) -> Any:
    if name == "world":
        return mpi().COMM_WORLD
    if name == "self":
        return mpi().COMM_SELF
    try:
        return _REGISTERED[name]
    except KeyError:
        raise LookupError(f"no MPI communicator registered as {name!r} in this process "
                          f"(symgraph.distributed.communicator(comm, name))") from None


def communicator(comm: Any = None, name: str | None = None) -> MPICommunicator:
    """The communicator the collective ops take: the world's for ``None``; an
    ``MPICommunicator`` as it is; an mpi4py communicator (e.g. from ``Split``) registered
    in this process under ``name`` (every rank must give the same name)."""
    if isinstance(comm, MPICommunicator):
        return comm
    if comm is None or isinstance(comm, str):
        name = comm or "world"
    elif name is None:
        raise TypeError("communicator: an mpi4py communicator needs a name shared by its ranks")
    else:
        _REGISTERED[name] = comm
        _CHECKED.pop((name, comm.Get_size()), None)
    return MPICommunicator(name, _lookup(name).Get_size())
