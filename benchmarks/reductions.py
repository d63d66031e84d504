"""Float32 sums on the LLVM backend against NumPy: relative error (against a float64 sum) and
time, over all axes and along axes where NumPy adds in order; then float32 max and min (equal
to NumPy's, which the run checks) and the row statistics of softmax. symgraph uses its
default threads (all cores) unless told otherwise; NumPy one.

    python benchmarks/reductions.py
    SYMGRAPH_FLAGS=num_threads=1 python benchmarks/reductions.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symgraph as sg  # noqa: E402 - found through the path set above

CASES = [("sum, 1e7", (10 ** 7,), None), ("sum axis 0, (1e7, 1)", (10 ** 7, 1), 0),
         ("sum axis 1, 4096²", (4096, 4096), 1), ("sum axis 0, 4096²", (4096, 4096), 0)]
EXTREMES = [("max, 1e7", (10 ** 7,), None, "max"), ("max axis 1, 4096²", (4096, 4096), 1, "max"),
            ("min axis 0, 4096²", (4096, 4096), 0, "min"),
            ("min axis 1, 4096² transposed", (4096, 4096), 1, "min")]


def best(fn: Callable[[], object], repeat: int = 21) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, dtype="float64") - want) / np.abs(want)))


def main() -> None:
    print("| case | symgraph error | NumPy error | symgraph | NumPy | NumPy / symgraph |")
    print("|---|---|---|---|---|---|")
    for name, shape, axis in CASES:
        x = sg.tensor("x", dtype="float32", shape=(None,) * len(shape))
        f = sg.function([x], sg.sum(x, axis=axis), mode="llvm")
        value = np.full(shape, 0.1, dtype="float32")
        want = np.sum(value, axis=axis, dtype="float64")
        ours, theirs = best(lambda: f(value)), best(lambda: np.sum(value, axis=axis))
        print(f"| {name} | {relative_error(f(value), want):.1e} | "
              f"{relative_error(np.sum(value, axis=axis), want):.1e} | {ours * 1e3:.2f} ms | "
              f"{theirs * 1e3:.2f} ms | {theirs / ours:.2f} |")
    print()
    print("| case | symgraph | NumPy | NumPy / symgraph |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, shape, axis, kind in EXTREMES:
        x = sg.tensor("x", dtype="float32", shape=(None,) * len(shape))
        f = sg.function([x], getattr(sg, kind)(x, axis=axis), mode="llvm")
        value = rng.standard_normal(shape).astype("float32")
        if "transposed" in name:
            value = value.T
        reference = getattr(np, kind)
        assert np.array_equal(f(value), reference(value, axis=axis))
        ours, theirs = best(lambda: f(value)), best(lambda: reference(value, axis=axis))
        print(f"| {name} | {ours * 1e3:.2f} ms | {theirs * 1e3:.2f} ms | {theirs / ours:.2f} |")
    m = sg.fmatrix("m")
    denominator = sg.sum(sg.exp(m - sg.max(m, axis=1, keepdims=True)), axis=1)
    for name, out, reference in (
            ("softmax denominator, 4096²", denominator,
             lambda v: np.exp(v - v.max(axis=1, keepdims=True)).sum(axis=1)),
            ("logsumexp axis 1, 4096²", sg.logsumexp(m, axis=1),
             lambda v: np.log(np.exp(v - v.max(axis=1, keepdims=True)).sum(axis=1)) +
             v.max(axis=1))):
        f = sg.function([m], out, mode="llvm")
        value = rng.standard_normal((4096, 4096)).astype("float32")
        np.testing.assert_allclose(f(value), reference(value), rtol=1e-5)
        ours, theirs = best(lambda: f(value)), best(lambda: reference(value))
        print(f"| {name} | {ours * 1e3:.2f} ms | {theirs * 1e3:.2f} ms | {theirs / ours:.2f} |")


if __name__ == "__main__":
    main()
