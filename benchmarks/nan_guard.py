"""What the compiled NaN guard costs: the demo's MLP training step (batch 32 and 256, float32
and float64) compiled with and without ``Mode(nan_guard=True)``, and NumPy's own check of
every intermediate (``np.isfinite(...).all()``) as the cost of doing it in Python.

    python benchmarks/nan_guard.py          # prints a Markdown table
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph.demo.digits import build_mlp  # noqa: E402
from symgraph.demo.training import adam  # noqa: E402

CALLS, ROUNDS = 100, 21


def _step(dtype: str, guard: bool, backend: str = "llvm") -> sg.Function:
    rng = np.random.default_rng(0)
    x, t, probs, params = build_mlp(64, 128, 10, rng, dtype)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    rate = sg.shared(np.asarray(1e-3, dtype=dtype), name="learning_rate")
    return sg.function([x, t], loss, updates=adam(loss, params, rate), tier="final",
                       mode=sg.Mode(backend, nan_guard=guard))


def _best_calls(functions: list[sg.Function], x: np.ndarray,
                t: np.ndarray) -> list[tuple[float, float]]:
    """Seconds per call of each function, (best, median) of ROUNDS rounds, the rounds
    interleaved (so that a noisy neighbour slows them alike; the best round is the one it
    disturbed least)."""
    times: list[list[float]] = [[] for _ in functions]
    for f in functions:
        f(x, t)
    for _ in range(ROUNDS):
        for f, spent in zip(functions, times):
            start = time.perf_counter()
            for _ in range(CALLS):
                f(x, t)
            spent.append((time.perf_counter() - start) / CALLS)
    return [(min(spent), statistics.median(spent)) for spent in times]


def main() -> None:
    print("| step | batch | off: best / median (us) | on: best / median (us) | overhead (best) |")
    print("|---|---|---|---|---|")
    for dtype in ("float32", "float64"):
        for batch in (32, 256):
            rng = np.random.default_rng(1)
            x = rng.random((batch, 64)).astype(dtype)
            t = rng.integers(0, 10, batch)
            off, on = _best_calls([_step(dtype, False), _step(dtype, True)], x, t)
            print(f"| MLP step {dtype} | {batch} | {off[0] * 1e6:.1f} / {off[1] * 1e6:.1f} | "
                  f"{on[0] * 1e6:.1f} / {on[1] * 1e6:.1f} | {on[0] / off[0] - 1:+.1%} |")


if __name__ == "__main__":
    main()
