"""Accuracy of float32 and float16 reductions (sum, mean, var, std, prod and reductions with a
fused elementwise pre-op) against float64 references, on the LLVM and "py" backends: long
axes, innermost in memory or not, a long reduced axis with a short kept one, all axes of a
3-d view. Added in order in float32, such sums lose up to 1e-1 of their value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import symgraph as sg

pytest.importorskip("llvmlite")

# Bounds on the relative error: NumPy's pairwise float32 sum stays near 1e-7 on these data;
# a float16 result may be off by one rounding, 2**-11.
BOUNDS = {"float32": 1e-6, "float16": 5e-4}
M = 1 << 20


@dataclass(frozen=True)
class Layout:
    """A ``shape`` array, seen through ``transpose`` (None: as is), reduced over ``axis``."""

    shape: tuple[int, ...]
    axis: int | tuple[int, ...] | None
    transpose: tuple[int, ...] | None = None

    def view(self, value: np.ndarray) -> np.ndarray:
        return value if self.transpose is None else value.transpose(self.transpose)


LAYOUTS = {
    "all_1e7": Layout((10 ** 7,), None),
    "column": Layout((M, 1), 0),  # a long reduced axis, a short kept one
    "rows": Layout((M // 8, 8), 0),  # reduced axis not the innermost one
    "wide_rows": Layout((M // 1024, 1024), 0),
    "all_3d": Layout((64, 128, 128), None, (2, 0, 1)),  # a strided innermost axis
    "outer_3d": Layout((128, 128, 64), (0, 2), (1, 2, 0)),
    "inner": Layout((8, M // 8), 1),  # kept rows, split over threads
}


@dataclass(frozen=True)
class Reduction:
    """``build(x, axis)``; ``reference(value, axis)`` in float64 (after the elementwise part
    of a fused reduction, which rounds to the input's dtype, as the graph does); ``data``:
    "tenth" (every element 0.1, 0.01 in float16), "two_values" (0.01 or 0.03 at random),
    "uniform" (in [0, 1)) or "near_one"."""

    build: Callable[..., object]
    reference: Callable[..., np.ndarray]
    data: str


REDUCTIONS = {
    "sum": Reduction(lambda x, a: sg.sum(x, axis=a),
                     lambda v, a: np.sum(v, axis=a, dtype="float64"), "tenth"),
    "mean": Reduction(lambda x, a: sg.mean(x, axis=a),
                      lambda v, a: np.mean(v, axis=a, dtype="float64"), "tenth"),
    "var": Reduction(lambda x, a: sg.var(x, axis=a),
                     lambda v, a: np.var(v.astype("float64"), axis=a), "two_values"),
    "std": Reduction(lambda x, a: sg.std(x, axis=a),
                     lambda v, a: np.std(v.astype("float64"), axis=a), "two_values"),
    "prod": Reduction(lambda x, a: sg.prod(x, axis=a),
                      lambda v, a: np.prod(v, axis=a, dtype="float64"), "near_one"),
    "sum_sqr": Reduction(lambda x, a: sg.sum(x * x, axis=a),
                         lambda v, a: np.sum(v * v, axis=a, dtype="float64"), "tenth"),
    "sum_exp": Reduction(lambda x, a: sg.sum(sg.exp(x), axis=a),
                         lambda v, a: np.sum(np.exp(v), axis=a, dtype="float64"), "uniform"),
}

# (mode, dtype, reduction, layout): each case lost accuracy before float64 accumulators. The
# "py" backend is NumPy, whose float32 sums are pairwise along the innermost axis in memory
# only, and whose products multiply in order.
CASES = [
    ("llvm", "float32", "sum", layout) for layout in LAYOUTS
] + [
    ("llvm", "float32", "mean", "all_1e7"), ("llvm", "float32", "mean", "rows"),
    ("llvm", "float32", "var", "column"), ("llvm", "float32", "var", "outer_3d"),
    ("llvm", "float32", "std", "rows"), ("llvm", "float32", "std", "all_3d"),
    ("llvm", "float32", "prod", "column"), ("llvm", "float32", "prod", "outer_3d"),
    ("llvm", "float32", "sum_sqr", "rows"), ("llvm", "float32", "sum_sqr", "all_3d"),
    ("llvm", "float32", "sum_exp", "column"), ("llvm", "float32", "sum_exp", "outer_3d"),
    ("llvm", "float16", "sum", "rows"), ("llvm", "float16", "mean", "column"),
    ("llvm", "float16", "mean", "all_3d"), ("llvm", "float16", "var", "rows"),
    ("llvm", "float16", "std", "column"), ("llvm", "float16", "sum_sqr", "rows"),
    ("py", "float32", "sum", "rows"), ("py", "float32", "sum", "outer_3d"),
    ("py", "float32", "mean", "rows"), ("py", "float32", "var", "outer_3d"),
    ("py", "float32", "std", "rows"), ("py", "float32", "prod", "column"),
    ("py", "float32", "prod", "all_3d"), ("py", "float32", "sum_exp", "rows"),
    ("py", "float32", "sum_sqr", "outer_3d"),
    ("py", "float16", "sum", "rows"), ("py", "float16", "mean", "rows"),
    ("py", "float16", "var", "rows"),
]


def _data(kind: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if kind == "tenth":
        return np.full(shape, 0.1 if dtype == "float32" else 0.01, dtype=dtype)
    if kind == "near_one":  # a product of about 1.13 for 2**20 terms
        return np.full(shape, 1 + 2 ** -23, dtype=dtype)
    uniform = np.random.default_rng(0).random(shape)
    if kind == "two_values":
        return np.where(uniform < 0.5, 0.01, 0.03).astype(dtype)
    return uniform.astype(dtype)


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, dtype="float64") - want) / np.abs(want)))


@pytest.mark.parametrize("mode, dtype, name, layout", CASES,
                         ids=["-".join(case) for case in CASES])
def test_reduction_is_accurate(mode, dtype, name, layout):
    reduction, where = REDUCTIONS[name], LAYOUTS[layout]
    value = where.view(_data(reduction.data, where.shape, dtype))
    x = sg.tensor("x", dtype=dtype, shape=(None,) * value.ndim)
    f = sg.function([x], reduction.build(x, where.axis), mode=mode)
    got = f(value)
    assert got.dtype == dtype
    want = reduction.reference(value, where.axis)
    assert _relative_error(got, want) <= BOUNDS[dtype]


@pytest.mark.parametrize("layout", ["column", "rows", "inner"])
def test_python_thunks_and_threads_are_accurate(layout):
    """The schedule of Python thunks (which the compiled entry point hands calls back to) and
    kernels split over threads keep the float64 accumulators."""
    where = LAYOUTS[layout]
    value = where.view(_data("tenth", where.shape, "float32"))
    x = sg.tensor("x", dtype="float32", shape=(None,) * value.ndim)
    want = np.sum(value.astype("float64"), axis=where.axis)
    with sg.change_flags(num_threads=2):
        f = sg.function([x], sg.sum(x, axis=where.axis), mode="llvm")
        assert _relative_error(f(value), want) <= BOUNDS["float32"]
        (thunks,) = f._linked.run([value])
        assert _relative_error(thunks, want) <= BOUNDS["float32"]
