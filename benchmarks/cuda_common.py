"""Shared by the GPU benchmarks: skip without a GPU, time a callable with device syncs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symgraph.cuda as sgcuda


def require_gpu() -> None:
    if not sgcuda.is_available():
        print(f"skipped: no usable GPU ({sgcuda.unavailable_reason()})")
        sys.exit(0)


def device():
    from symgraph.codegen import get_backend

    return get_backend("cuda").device


def best_time(run: Callable[[], None], repeats: int = 10, warmup: int = 2) -> float:
    """Best wall time of ``run()`` followed by a device synchronisation."""
    dev = device()
    for _ in range(warmup):
        run()
    dev.synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        dev.synchronize()
        best = min(best, time.perf_counter() - start)
    return best
