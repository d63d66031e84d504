"""Products split into calls of at most ``blas.small_kernel_limit()`` multiply-adds (OpenBLAS's
small-matrix kernels of its SkylakeX target): along k with accumulation, along m or along n;
every form, remainders, empty sums and scaled accumulators give NumPy's float64 products within
the dtype's tolerance. The limit is made tiny here so that small operands exercise each split."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm import blas

pytestmark = pytest.mark.skipif(blas.library() is None, reason="no BLAS in NumPy")

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
# (m, n, k) against a limit of 600: split along k (chunks of 48 and a remainder), along m,
# along n, none (every chunk would be under 16), an empty sum, and one under the limit.
SHAPES = [(3, 4, 200), (100, 3, 4), (4, 100, 3), (30, 30, 30), (3, 4, 0), (5, 6, 7)]


@pytest.fixture
def tiny_limit(monkeypatch, cache_dir):
    monkeypatch.setattr(blas, "small_kernel_limit", lambda: 600)


def _check(out, expected, dtype):
    assert out.dtype == dtype and out.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype] * 30 * scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", ["NN", "TN", "NT", "TT"])
def test_split_products_equal_numpy(dtype, form, tiny_limit):
    u, v, c = (sg.tensor(name, dtype, shape=(None, None)) for name in "uvc")
    x = u.T if form[0] == "T" else u
    y = v.T if form[1] == "T" else v
    fn = sg.function([u, v, c], [sg.dot(x, y), 0.5 * c - 2.0 * sg.dot(x, y)], mode="llvm",
                     tier="final")
    rng = np.random.default_rng(7)
    for m, n, k in SHAPES:
        a = rng.standard_normal((k, m) if form[0] == "T" else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if form[1] == "T" else (k, n)).astype(dtype)
        z = rng.standard_normal((m, n)).astype(dtype)
        want = (a.T if form[0] == "T" else a).astype(np.float64) @ \
            (b.T if form[1] == "T" else b).astype(np.float64)
        product, accumulated = fn(a, b, z)
        _check(product, want, dtype)
        _check(accumulated, 0.5 * z.astype(np.float64) - 2.0 * want, dtype)


def test_split_batched_products_and_tensordot(tiny_limit):
    X, Y = sg.dtensor3("X"), sg.dtensor3("Y")
    W = sg.dmatrix("W")
    fn = sg.function([X, Y, W], [sg.matmul(X, W), sg.tensordot(X, Y, axes=[[0, 1], [0, 1]]),
                                 sg.tensordot(X[::-1], Y, axes=[[0, 1], [0, 1]])],
                     mode="llvm", tier="final")
    rng = np.random.default_rng(8)
    x, y, w = (rng.standard_normal(s) for s in ((20, 8, 3), (20, 8, 4), (3, 30)))
    got = fn(x, y, w)
    for out, want in zip(got, [x @ w, np.tensordot(x, y, axes=[[0, 1], [0, 1]]),
                               np.tensordot(x[::-1], y, axes=[[0, 1], [0, 1]])]):
        _check(out, want, "float64")
    assert fn.fallbacks == 0


def test_the_limit_follows_the_librarys_target():
    library = blas.library()
    handle = ctypes.CDLL(library.path)
    names = [getattr(handle, s, None) for s in blas._CORENAME_SYMBOLS]
    corename = next((f for f in names if f is not None), None)
    if corename is None:
        assert blas.small_kernel_limit() == 0
        return
    corename.restype = ctypes.c_char_p
    small = corename().decode() in blas.SMALL_KERNEL_CORES
    assert blas.small_kernel_limit() == (blas.SMALL_KERNEL_WORK if small else 0)
