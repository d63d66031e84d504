"""Data-parallel training over MPI: step times of the digits MLP on this launch's ranks, the
share of a step spent in the gradient allreduce, allreduce times against mpi4py's own on the
same buffers (the floor), and a ring-allreduce cost model fitted to them.

    mpiexec -n 1 python benchmarks/distributed.py
    mpiexec -n 2 python benchmarks/distributed.py     # rank 0 prints Markdown tables
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph.demo.digits import load_digits_data  # noqa: E402

D = sg.distributed
COMM = D.mpi().COMM_WORLD
RANK, SIZE = D.rank(), D.size()
STEPS = 200
# Parameters of the models the cost model projects: the digits MLP (64-256-10) and the LSTM of
# docs/benchmarks.md (input 256, hidden 256: four gates of (input + hidden + 1) x hidden).
# Compute per step on one rank: the MLP's is measured below (per-rank batch 32); the LSTM's
# (T=100, batch 32, forward+backward, single-threaded: 1.29 ms per time step) is the figure of
# docs/benchmarks.md.
MODELS = {"digits MLP 64-256-10": 64 * 256 + 256 + 256 * 10 + 10,
          "LSTM 256-256": 4 * (256 + 256 + 1) * 256}
LSTM_STEP_SECONDS = 100 * 1.29e-3
# Networks the cost model assumes (latency per message in seconds, bandwidth in bytes/s): not
# measured here (one machine), typical figures for the two kinds of cluster.
NETWORKS = {"100 Gb/s InfiniBand (2 µs, 12.5 GB/s)": (2e-6, 12.5e9),
            "10 Gb/s Ethernet (50 µs, 1.25 GB/s)": (50e-6, 1.25e9)}


def ring_allreduce_seconds(nbytes: float, ranks: int, latency: float, bandwidth: float) -> float:
    """Ring allreduce: 2(p-1) messages of bytes/p each way: 2(p-1) latency + 2(p-1)/p bytes/bw."""
    return 2 * (ranks - 1) * latency + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def cost_model(mlp_step_seconds: float) -> None:
    """Estimated step times for 8, 64, 512 ranks (weak scaling: per-rank batch fixed, no
    overlap of allreduce and backward pass), float32 and float64 gradients."""
    compute = {"digits MLP 64-256-10": mlp_step_seconds, "LSTM 256-256": LSTM_STEP_SECONDS}
    counts = (8, 64, 512)
    print("\nallreduce per step (efficiency: compute / (compute + allreduce))\n")
    print("| model (params, compute per step) | network | dtype | "
          + " | ".join(f"{p} ranks" for p in counts) + " |")
    print("|---|---|---|" + "---|" * len(counts))
    for model, params in MODELS.items():
        for network, (latency, bandwidth) in NETWORKS.items():
            for dtype, itemsize in (("float32", 4), ("float64", 8)):
                cells = []
                for ranks in counts:
                    t = ring_allreduce_seconds(params * itemsize, ranks, latency, bandwidth)
                    share = compute[model] / (compute[model] + t)
                    cells.append(f"{t * 1e3:.3f} ms ({100 * share:.0f}%)")
                print(f"| {model} ({params}, {compute[model] * 1e3:.3g} ms) | {network} | "
                      f"{dtype} | " + " | ".join(cells) + " |")


def median_seconds(call, repeat: int) -> float:
    """Median over ``repeat`` calls, every rank starting each call together."""
    times = []
    for _ in range(repeat):
        COMM.Barrier()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mlp_step(per_rank_batch: int, parallel: dict | None):
    """The MLP's training step on this rank's rows, averaging gradients with
    ``data_parallel(**parallel)``, or on local gradients alone for ``None``."""
    data = load_digits_data(seed=0)
    rng = np.random.default_rng(0)
    dtype = sg.config.floatX
    shapes = [(64, 256), (256,), (256, 10), (10,)]
    params = [sg.shared(rng.normal(0, 0.05, s).astype(dtype)) for s in shapes]
    x, t = sg.matrix("x"), sg.lvector("t")
    w1, b1, w2, b2 = params
    probs = sg.nnet.softmax(sg.nnet.relu(x @ w1 + b1) @ w2 + b2)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    def sgd(ps, gs):
        return [(p, p - 0.1 * g) for p, g in zip(ps, gs)]

    if parallel is None:
        step = sg.function([x, t], loss, updates=sgd(params, sg.grad(loss, params)))
        setattr(step, "bytes_sent", lambda: 0)  # noqa: B010
    else:
        step = D.data_parallel([x, t], loss, params, sgd, **parallel)
    rows = np.arange(RANK * per_rank_batch, (RANK + 1) * per_rank_batch) % len(data.y_train)
    xb, tb = data.x_train[rows], data.y_train[rows]
    step(xb, tb)
    return lambda: step(xb, tb), step


def allreduce_times(nbytes: int) -> tuple[float, float]:
    """(symgraph's compiled allreduce, mpi4py's Allreduce) of ``nbytes`` of float64."""
    v = sg.dvector("v")
    f = sg.function([v], D.allreduce(v, "mean"))
    buffer = np.ones(max(1, nbytes // 8))
    out = np.empty_like(buffer)
    f(buffer)
    repeat = 50
    ours = median_seconds(lambda: f(buffer), repeat)
    floor = median_seconds(lambda: COMM.Allreduce(buffer, out), repeat)
    return ours, floor


def main() -> None:
    configurations = {
        "local gradients only (no exchange)": None,
        "one bucket, blocking": {},
        "a bucket per parameter, blocking": {"bucket_bytes": 64},
        "a bucket per parameter, overlapped": {"bucket_bytes": 64, "overlap": True},
        "one bucket, 1-bit": {"compression": "1bit"},
    }
    rows = []
    for name, parallel in configurations.items():
        call, step = mlp_step(32, parallel)
        before = step.bytes_sent()
        seconds = median_seconds(call, STEPS)
        sent = (step.bytes_sent() - before) / STEPS
        rows.append((name, seconds, 32 * SIZE / seconds, sent))
    gradient_bytes = MODELS["digits MLP 64-256-10"] * 8
    reduce_ours, reduce_floor = allreduce_times(gradient_bytes)
    sizes = [8, 1 << 10, 1 << 14, 1 << 17, 1 << 20, 1 << 22]
    measured = [allreduce_times(n) for n in sizes]
    if RANK:
        return
    print(f"## {SIZE} rank(s), per-rank batch 32, float64, {STEPS} steps (median)\n")
    print("| gradients | step | samples/s | bytes sent per step and rank |")
    print("|---|---|---|---|")
    for name, seconds, rate, sent in rows:
        print(f"| {name} | {seconds * 1e3:.3f} ms | {rate:.0f} | {sent:.0f} |")
    local, blocking, overlapped = rows[0][1], rows[2][1], rows[3][1]
    print(f"\nexchange time per step with a bucket per parameter: "
          f"{(blocking - local) * 1e6:.0f} µs blocking, {(overlapped - local) * 1e6:.0f} µs "
          f"overlapped: {100 * (blocking - overlapped) / (blocking - local):.0f}% of it hidden "
          f"behind the backward pass")
    share = reduce_ours / rows[1][1]
    print(f"allreduce of the MLP's gradient ({gradient_bytes} bytes): {reduce_ours * 1e6:.1f} "
          f"µs (mpi4py alone {reduce_floor * 1e6:.1f} µs), {100 * share:.0f}% of a step\n")
    print("| bytes | sg.distributed.allreduce | mpi4py Allreduce | ratio |")
    print("|---|---|---|---|")
    for n, (ours, floor) in zip(sizes, measured):
        print(f"| {n} | {ours * 1e6:.1f} µs | {floor * 1e6:.1f} µs | {ours / floor:.2f} |")
    cost_model(local)


if __name__ == "__main__":
    main()
