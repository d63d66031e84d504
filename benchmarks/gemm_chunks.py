"""Products as one BLAS call against products split into calls under OpenBLAS's small-matrix
limit (``blas.small_kernel_limit``, see codegen/llvm/blas.py), through compiled symgraph
functions calling NumPy's OpenBLAS alone (``gemm_libraries=numpy``: oneDNN, when installed,
takes the larger float32 products otherwise), one thread pinned to the quietest core; NumPy
beside them. The shapes are those of
the MLP step, the Elman and LSTM steps and their weight gradients batched over 100 steps.
Each figure is the median of interleaved rounds (GFLOP/s by wall time).

    python benchmarks/gemm_chunks.py
    python benchmarks/gemm_chunks.py --rounds 41 --dtypes float32
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("SYMGRAPH_FLAGS", "num_threads=1,tier=final")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cores  # noqa: E402 - found through the path set above

_CORE = cores.quietest(1)
if _CORE is not None:
    os.sched_setaffinity(0, _CORE)

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph.codegen.llvm import blas  # noqa: E402

# (label, m, n, k, form): op(A) is m x k, op(B) k x n.
SHAPES = [
    ("MLP 64x64 . 64x256", 64, 256, 64, "NN"),
    ("MLP 64x256 . 256x256", 64, 256, 256, "NN"),
    ("MLP weight gradient (64x256)^T . 64x256", 256, 256, 64, "TN"),
    ("Elman x.W over 100 steps 3200x64 . 64x128", 3200, 128, 64, "NN"),
    ("Elman weight gradient over 100 steps (3200x128)^T . 3200x128", 128, 128, 3200, "TN"),
    ("LSTM h.U 32x256 . 256x1024", 32, 1024, 256, "NN"),
    ("LSTM weight gradient over 100 steps (3200x256)^T . 3200x1024", 256, 1024, 3200, "TN"),
]


def _function(form: str, dtype: str, limit: int):
    """A compiled ``op(u) @ op(v)`` built while the split limit is ``limit``."""
    saved = blas.small_kernel_limit
    blas.small_kernel_limit = lambda: limit
    try:
        u, v = (sg.tensor(name, dtype, shape=(None, None)) for name in "uv")
        x = u.T if form[0] == "T" else u
        y = v.T if form[1] == "T" else v
        # A distinct name keeps the two functions apart in the whole-function cache; NumPy's
        # OpenBLAS alone (no oneDNN or MKL), whose calls are what is compared.
        with sg.change_flags(gemm_libraries="numpy"):
            return sg.function([u, v], sg.dot(x, y), mode="llvm", name=f"chunks={limit}")
    finally:
        blas.small_kernel_limit = saved


def _time(fn, args, seconds: float = 0.02) -> float:
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        spent = time.perf_counter() - start
        if spent >= seconds:
            return spent / calls
        calls *= 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--dtypes", nargs="*", default=["float32", "float64"])
    args = parser.parse_args()
    limit = blas.small_kernel_limit()
    print(f"library target's split limit: {limit or 'none (not a SkylakeX OpenBLAS)'}; "
          f"pinned to {sorted(_CORE) if _CORE else 'any core'}; load {os.getloadavg()[0]:.2f}")
    print()
    print("| product | dtype | one call | split | NumPy | split / one call |")
    print("|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        for label, m, n, k, form in SHAPES:
            rng = np.random.default_rng(0)
            a = rng.standard_normal((k, m) if form[0] == "T" else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if form[1] == "T" else (k, n)).astype(dtype)
            x, y = (a.T if form[0] == "T" else a), (b.T if form[1] == "T" else b)
            runs = {"one": (_function(form, dtype, 0), (a, b)),
                    "split": (_function(form, dtype, blas.SMALL_KERNEL_WORK), (a, b)),
                    "numpy": (np.dot, (x, y))}
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, (fn, operands) in runs.items():
                    times[name].append(_time(fn, operands))
            flops = 2.0 * m * n * k
            rate = {name: flops / statistics.median(t) / 1e9 for name, t in times.items()}
            print(f"| {label} | {dtype} | {rate['one']:.1f} | {rate['split']:.1f} | "
                  f"{rate['numpy']:.1f} | {rate['split'] / rate['one']:.2f} |")
    print(f"\nGFLOP/s; load {os.getloadavg()[0]:.2f} after.")


if __name__ == "__main__":
    main()
