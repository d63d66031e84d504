"""Float max/min reductions on llvm (codegen/llvm/kernels.py, ``_emit_extreme``): vectorised,
and equal bit for bit to NumPy's values, NaN propagation and infinities; a zero result has
the sign the sequential rule gives (at a tie the later element wins: the last zero of the
reduced elements), whatever the layout or length.

NumPy's own contiguous max/min is not sequential for mixed-sign zeros: its SIMD loop
(``loops_minmax.dispatch.c.src``) keeps one accumulator per lane and combines the lanes at
the end, so the sign of a zero result depends on the row's length and on the vector width
NumPy dispatched to: with NumPy 2.4 on AVX-512, ``np.max`` of float32 ``[-0.0] * 8 + [0.0]``
is 0.0 (its scalar loop) but of ``[-0.0] * 16 + [0.0]`` is -0.0 (one vector of 16 lanes). The
tests compare with NumPy bit for bit wherever its answer does not depend on that order (no
mixed-sign zero ties at the result), and with the sequential rule, which is NumPy's scalar
loop, everywhere."""

from __future__ import annotations


import numpy as np
import pytest

import symgraph as sg
from tests.test_threads import THREADS, _hammer

pytest.importorskip("llvmlite")

LENGTHS = (1, 7, 8, 9, 16, 17, 33, 1000)


def _sequential(value: np.ndarray, axis, kind: str) -> np.ndarray:
    """NumPy's scalar loop, element after element in C order along the reduced axes."""
    better = np.greater if kind == "max" else np.less
    axes = tuple(range(value.ndim)) if axis is None else np.atleast_1d(axis)
    axes = tuple(int(a) % value.ndim for a in axes)
    kept = [d for d in range(value.ndim) if d not in axes]
    moved = np.moveaxis(value, kept + list(axes), list(range(value.ndim)))
    rows = moved.reshape(moved.shape[:len(kept)] + (-1,))
    acc = rows[..., 0].copy()
    for k in range(1, rows.shape[-1]):
        v = rows[..., k]
        keep = better(acc, v) | np.isnan(acc)
        acc = np.where(keep, acc, v)
    return acc


def _bits(value: np.ndarray) -> np.ndarray:
    """Values with every NaN made the same (NumPy's and our NaN payloads may differ)."""
    value = np.array(value, copy=True)
    value[np.isnan(value)] = np.nan
    return value.view(f"u{value.itemsize}")


def _function(kind: str, ndim: int, dtype: str, axis):
    x = sg.tensor("x", dtype=dtype, shape=(None,) * ndim)
    reduce = sg.max if kind == "max" else sg.min
    return sg.function([x], reduce(x, axis=axis), mode="llvm", tier="final")


def _rows(dtype: str, length: int, rng) -> np.ndarray:
    """Rows of random values, NaN, +-inf, all-equal, and zeros of both signs at several
    places (first, last, only some), each row ``length`` long."""
    base = rng.standard_normal((12, length))
    base[1, rng.integers(length)] = np.nan
    base[2, :] = np.inf
    base[3, :] = -np.inf
    base[4, rng.integers(length)] = np.inf
    base[5, :] = 2.5
    base[6, :] = -0.0
    base[6, -1] = 0.0
    base[7, :] = 0.0
    base[7, 0] = -0.0
    base[8, :] = -np.abs(base[8, :])
    base[8, rng.integers(length, size=3)] = rng.choice([0.0, -0.0], 3)
    base[9, :] = rng.choice([0.0, -0.0], length)
    base[10, :] = np.abs(base[10, :])
    base[10, rng.integers(length, size=3)] = rng.choice([0.0, -0.0], 3)
    base[11, :] = np.nan
    return base.astype(dtype)


def _check(got: np.ndarray, value: np.ndarray, axis, kind: str) -> None:
    want = _sequential(value, axis, kind)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    numpy = (np.max if kind == "max" else np.min)(value, axis=axis)
    np.testing.assert_array_equal(got, numpy)  # values (NaN equal to NaN), 0.0 == -0.0
    zero = np.asarray(numpy) == 0
    tie_free = ~zero | _zeros_of_one_sign(value, axis)
    np.testing.assert_array_equal(_bits(got)[tie_free], _bits(numpy)[tie_free])


def _zeros_of_one_sign(value: np.ndarray, axis) -> np.ndarray:
    zeros = value == 0
    negative = zeros & np.signbit(value)
    return ~np.any(zeros & ~negative, axis=axis) | ~np.any(negative, axis=axis)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["max", "min"])
def test_row_extremes_match_numpy_and_the_sequential_rule(dtype, kind):
    rng = np.random.default_rng(0)
    f_rows, f_all = _function(kind, 2, dtype, 1), _function(kind, 2, dtype, None)
    f_column = _function(kind, 2, dtype, 0)
    for length in LENGTHS:
        value = _rows(dtype, length, rng)
        if kind == "min":
            value = -value
        for view in (value, np.repeat(value, 2, axis=1)[:, ::2], value.T.copy().T):
            _check(f_rows(view), view, 1, kind)
            _check(f_column(view.T), view.T, 0, kind)
            for row in view:
                _check(f_all(row[None, :]), row[None, :], None, kind)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_whole_array_and_several_axes(dtype):
    rng = np.random.default_rng(1)
    value = rng.standard_normal((5, 9, 17)).astype(dtype)
    value[value < 0.3] = -0.0
    value[value > 2] = 0.0
    nan = value.copy()
    nan[2, 3, 4] = np.nan
    for kind in ("max", "min"):
        for axis in (None, (0, 2), (1, 2), 2, 0):
            f = _function(kind, 3, dtype, axis)
            for view in (value, -value, value.transpose(2, 0, 1), nan, value[:, ::2, ::3]):
                _check(f(view), view, axis, kind)


def test_one_element_and_fused_pre_op():
    x = sg.fmatrix("x")
    f = sg.function([x], sg.max(sg.minimum(x, 1.0), axis=1), mode="llvm", tier="final")
    value = np.array([[-3.0, 0.0, -0.0, -5.0, -2.0], [-1.0, -0.0, -3.0, 0.0, -4.0]],
                     "float32")
    got = f(value)
    want = _sequential(np.minimum(value, 1.0), 1, "max")
    np.testing.assert_array_equal(_bits(got), _bits(want))
    assert np.signbit(got).tolist() == [True, False]  # the last zero of each row
    one = _function("min", 1, "float32", None)
    for v in (0.0, -0.0, np.nan, -np.inf, 7.0):
        got = one(np.array([v], "float32"))
        assert _bits(got) == _bits(np.array(v, "float32"))


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "uint64"])
def test_integer_extremes(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(2)
    value = rng.integers(info.min, info.max, size=(9, 1000), dtype=dtype, endpoint=True)
    value[3, :] = info.min
    value[4, :] = info.max
    for kind, reduce in (("max", np.max), ("min", np.min)):
        for axis in (None, 0, 1):
            f = _function(kind, 2, dtype, axis)
            for view in (value, value[:, ::3], value.T):
                np.testing.assert_array_equal(f(view), reduce(view, axis=axis))


def test_extremes_from_eight_threads():
    """Every call of one function from 8 threads at once gives its own rows' extremes."""
    f = _function("max", 2, "float32", 1)
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((64, 1000)).astype("float32") for _ in range(THREADS)]

    def work(t: int, _: int) -> None:
        assert np.array_equal(f(inputs[t]), inputs[t].max(axis=1)), f"thread {t}"

    _hammer(work, calls=20)
