"""Run by tests/distributed/test_mpi.py on every rank (``mpiexec -n 2``): the collective ops
against NumPy, computed from every rank's inputs (each rank can make them all from the seeds),
on the "py" and "llvm" backends, with their gradients against the derivative of the sum over
ranks of each rank's cost (a formula, and central differences moving every rank at once)."""

import sys
import warnings

import numpy as np

import symgraph as sg
from symgraph import distributed as D
from symgraph.ops.collective import Allreduce
from symgraph.ops.onebit import OneBitAllreduce
from tests.ops.records_collective import one_bit_reference

warnings.simplefilter("error", sg.PerformFallbackWarning)  # collectives must not warn
comm = D.mpi().COMM_WORLD
RANK, SIZE = D.rank(), D.size()
SHAPE = (3, 4)
CHECKS = []


def value(seed, shape=SHAPE, dtype="float64"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def every_rank(seed, shape=SHAPE, dtype="float64"):
    """Each rank's value for ``seed`` (seed + rank), as a list by rank."""
    return [value(seed + r, shape, dtype) for r in range(SIZE)]


def close(got, want, what, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"rank {RANK}: {what}")
    CHECKS.append(what)


def check_values(mode):
    x = sg.tensor("x", dtype="float64", shape=(None, 4))
    xs = every_rank(0)
    references = {"sum": sum(xs), "mean": sum(xs) / SIZE, "max": np.maximum.reduce(xs),
                  "min": np.minimum.reduce(xs)}
    for op, want in references.items():
        f = sg.function([x], D.allreduce(x, op), mode=mode)
        close(f(xs[RANK]), want, f"{mode} allreduce {op}")
    root = SIZE - 1
    close(sg.function([x], D.broadcast(x, root=root), mode=mode)(xs[RANK]), xs[root],
          f"{mode} broadcast root {root}")
    for axis in (0, 1, -1):
        gathered = D.allgather(x, axis=axis)
        f = sg.function([x], [gathered, gathered.shape], mode=mode)
        got, shape = f(xs[RANK])
        close(got, np.concatenate(xs, axis=axis), f"{mode} allgather axis {axis}")
        assert tuple(shape) == got.shape, (shape, got.shape)
    assert D.allgather(sg.tensor("s", shape=(3, 4)), axis=0).type.shape == (3 * SIZE, 4)
    ints = sg.lvector("i")
    ivalues = [np.arange(5) * (r + 1) for r in range(SIZE)]
    got = sg.function([ints], D.allreduce(ints, "max"), mode=mode)(ivalues[RANK])
    assert got.dtype == np.int64 and (got == np.maximum.reduce(ivalues)).all()
    f32 = sg.fmatrix("f")
    got = sg.function([f32], D.allreduce(f32, "sum"), mode=mode)(xs[RANK].astype("float32"))
    assert got.dtype == np.float32
    close(got, sum(v.astype("float32") for v in xs), f"{mode} float32 sum", rtol=1e-6)


def global_cost_and_grad(build, mode, x_shape=SHAPE):
    """``(cost_r, d total / d x_r)`` for ``cost_r = sum(u_r * build(x_r))``, a function of
    ``x_r``; ``u_r`` has the output's shape."""
    x = sg.dmatrix("x")
    y = build(x)
    u = sg.dmatrix("u")
    cost = (u * y).sum()
    return sg.function([x, u], [cost, sg.grad(cost, x)], mode=mode)


def check_gradients(mode):
    xs = every_rank(10)
    for other in xs[1:]:
        other[0, 0] = xs[0][0, 0]  # a tie for the maximum on one element
    p = SIZE
    cases = {
        "allreduce sum": (lambda x: D.allreduce(x, "sum"), SHAPE,
                          lambda us: sum(us)),
        "allreduce mean": (lambda x: D.allreduce(x, "mean"), SHAPE,
                           lambda us: sum(us) / p),
        "allreduce max": (lambda x: D.allreduce(x, "max"), SHAPE,
                          lambda us: sum(us) * (xs[RANK] == np.maximum.reduce(xs))),
        "broadcast": (lambda x: D.broadcast(x, root=0), SHAPE,
                      lambda us: sum(us) if RANK == 0 else 0 * us[0]),
        "allgather": (lambda x: D.allgather(x, axis=0), (p * SHAPE[0], SHAPE[1]),
                      lambda us: sum(us)[RANK * SHAPE[0]:(RANK + 1) * SHAPE[0]]),
    }
    for name, (build, out_shape, reference) in cases.items():
        us = every_rank(20, out_shape)
        f = global_cost_and_grad(build, mode)
        _, grad = f(xs[RANK], us[RANK])
        close(grad, reference(us), f"{mode} gradient of {name}")
        if name == "allreduce max":
            continue  # not differentiable at the tie built above
        # Central differences of the total cost, every rank moving along its own direction.
        direction, eps = value(30 + RANK), 1e-5
        plus = comm.allreduce(float(f(xs[RANK] + eps * direction, us[RANK])[0]))
        minus = comm.allreduce(float(f(xs[RANK] - eps * direction, us[RANK])[0]))
        slope = comm.allreduce(float((grad * direction).sum()))
        close((plus - minus) / (2 * eps), slope, f"{mode} differences of {name}", rtol=1e-7)
    x = sg.dmatrix("x")
    gradient = sg.grad(D.allreduce(x, "sum").sum(), x)
    assert isinstance(gradient.owner.op, Allreduce) and gradient.owner.op.op == "sum"


def check_errors():
    x = sg.dvector("x")
    f = sg.function([x], D.allreduce(x))
    try:
        f(np.zeros(3 + RANK))
    except ValueError as error:
        assert "different shapes" in str(error) and "allreduce" in str(error), error
        CHECKS.append("mismatched shapes raise ValueError on every rank")
    else:
        raise AssertionError("mismatched shapes did not raise")
    for bad in (lambda: D.allreduce(sg.lvector(), "mean"), lambda: D.allreduce(x, "prod"),
                lambda: D.broadcast(x, root=SIZE), lambda: D.allgather(sg.dscalar())):
        try:
            bad()
        except (TypeError, ValueError):
            continue
        raise AssertionError("bad arguments were accepted")


def check_one_bit(mode):
    x = sg.dvector("x")
    xs = every_rank(40, (700,))
    mean, mine = sg.function([x], OneBitAllreduce(256, D.communicator())(x), mode=mode)(xs[RANK])
    close(mine, one_bit_reference(xs[RANK], 256), f"{mode} one-bit local")
    close(mean, sum(one_bit_reference(v, 256) for v in xs) / SIZE, f"{mode} one-bit mean")


for mode in ("py", "llvm"):
    check_values(mode)
    check_gradients(mode)
    check_one_bit(mode)
check_errors()
print(f"rank {RANK} of {SIZE}: ok, {len(CHECKS)} checks")
sys.stdout.flush()
