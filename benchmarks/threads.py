"""Calls from several Python threads at once: symgraph releases the GIL during long kernels and
BLAS calls, so two threads calling compiled functions get about twice the work done. NumPy (and
JAX when installed) run the same work in the same process for comparison. Every kernel runs
single-threaded (``num_threads=1``), so the parallelism measured is that of the callers.

    python benchmarks/threads.py            # prints a Markdown table
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402

CALLS = 200
ROUNDS = 5


def _throughput(call: Callable[[], object], threads: int) -> float:
    """Calls per second with ``threads`` threads making CALLS calls each (median of ROUNDS)."""
    rates = []
    for _ in range(ROUNDS):
        start = threading.Barrier(threads + 1)

        def run() -> None:
            start.wait()
            for _ in range(CALLS):
                call()

        workers = [threading.Thread(target=run) for _ in range(threads)]
        for worker in workers:
            worker.start()
        start.wait()
        began = time.perf_counter()
        for worker in workers:
            worker.join()
        rates.append(threads * CALLS / (time.perf_counter() - began))
    return statistics.median(rates)


def _cases() -> dict[str, dict[str, Callable[[], object]]]:
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=1_000_000).astype("float32") for _ in range(3))
    m = rng.normal(size=(256, 256)).astype("float32")
    x, y, z = sg.fvectors("x", "y", "z")
    fused = sg.function([x, y, z], sg.tanh(x * y + z) * sg.exp(-x * x) + 0.5 * sg.log1p(abs(y)))
    p, q = sg.fmatrices("p", "q")
    product = sg.function([p, q], sg.tanh(sg.dot(p, q)))
    cases = {
        "fused elementwise, 1e6 float32": {
            "symgraph": lambda: fused(a, b, c),
            "numpy": lambda: np.tanh(a * b + c) * np.exp(-a * a) + 0.5 * np.log1p(np.abs(b)),
        },
        "tanh(dot) 256x256 float32": {
            "symgraph": lambda: product(m, m),
            "numpy": lambda: np.tanh(m @ m),
        },
    }
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return cases
    jfused = jax.jit(lambda x, y, z: jnp.tanh(x * y + z) * jnp.exp(-x * x)
                     + 0.5 * jnp.log1p(jnp.abs(y)))
    jproduct = jax.jit(lambda p, q: jnp.tanh(p @ q))
    cases["fused elementwise, 1e6 float32"]["jax"] = \
        lambda: jfused(a, b, c).block_until_ready()
    cases["tanh(dot) 256x256 float32"]["jax"] = lambda: jproduct(m, m).block_until_ready()
    return cases


def main() -> None:
    sg.config.num_threads = 1
    sg.config.tier = "final"  # measure the native code, not the first calls
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    print("| case | framework | 1 thread (calls/s) | 2 threads (calls/s) | speed-up |")
    print("|---|---|---|---|---|")
    for case, frameworks in _cases().items():
        for name, call in frameworks.items():
            call()
            one, two = _throughput(call, 1), _throughput(call, 2)
            print(f"| {case} | {name} | {one:,.0f} | {two:,.0f} | {two / one:.2f}× |")


if __name__ == "__main__":
    main()
