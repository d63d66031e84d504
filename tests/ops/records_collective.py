"""Records for the collective ops, on an in-process communicator of one rank (the many-rank
behaviour is tested under ``mpiexec`` in tests/distributed/)."""

import itertools
from dataclasses import dataclass

import numpy as np

from symgraph.ops import collective, onebit
from tests.records import F, I, OpRecord


@dataclass(frozen=True)
class OneRank:
    """The communicator of a single process: every collective gives back its input."""

    name: str = "one-rank"

    def rank(self):
        return 0

    def size(self):
        return 1

    def allreduce(self, x, op):
        return x.copy()

    def broadcast(self, x, root):
        return x.copy()

    def reduce(self, x, root):
        return x.copy()

    def allgather(self, x):
        return x[np.newaxis].copy()

    def reduce_scatter(self, x):
        return x[0].copy()

    def start_allreduce(self, x, op):
        ticket = next(TICKETS)
        STARTED[ticket] = x.copy()
        return ticket

    def wait(self, ticket):
        return STARTED.pop(ticket)


STARTED = {}
TICKETS = itertools.count()


def start_and_wait(x, y):
    """Two non-blocking allreduces, ``y``'s started first, both waited for."""
    y_ticket = collective.AllreduceStart("sum", ONE)(y)
    x_ticket = collective.AllreduceStart("mean", ONE)(x, y_ticket)
    return [collective.AllreduceWait(ONE)(x_ticket, x, y_ticket),
            collective.AllreduceWait(ONE)(y_ticket, y)]


ONE = OneRank()


def one_bit_reference(x, block):
    """Each block: the mean of its non-negative elements where x >= 0, else of its negative
    ones, the means rounded to float32 as they are sent."""
    out = np.empty_like(x)
    for start in range(0, x.size, block):
        part = x[start:start + block]
        up = part >= 0
        high = np.float32(part[up].mean()) if up.any() else np.float32(0)
        low = np.float32(part[~up].mean()) if (~up).any() else np.float32(0)
        out[start:start + block] = np.where(up, high, low)
    return out


RECORDS = [
    *[OpRecord(f"allreduce_{op}", lambda x, op=op: collective.Allreduce(op, ONE)(x),
               [F(3, 4)], lambda x: x) for op in collective.REDUCTIONS],
    OpRecord("allreduce_int_max", lambda x: collective.Allreduce("max", ONE)(x), [I(5)],
             lambda x: x, grad=False),
    OpRecord("broadcast", lambda x: collective.Broadcast(0, ONE)(x), [F(2, 3)], lambda x: x),
    OpRecord("sum_to_root", lambda x: collective.SumToRoot(0, ONE)(x), [F(4)], lambda x: x),
    OpRecord("allgather_axis1", lambda x: collective.Allgather(1, ONE)(x), [F(2, 3)],
             lambda x: x),
    OpRecord("reduce_scatter", lambda x: collective.ReduceScatter(0, ONE)(x), [F(4, 2)],
             lambda x: x),
    OpRecord("allreduce_start_wait", start_and_wait, [F(3, 2), F(2)], lambda x, y: [x, y],
             grad=False),
    OpRecord("one_bit_allreduce", lambda x: onebit.OneBitAllreduce(256, ONE)(x), [F(600)],
             lambda x: [one_bit_reference(x, 256)] * 2, grad=False),
]
