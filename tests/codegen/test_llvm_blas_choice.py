"""The BLAS picked for small float32 ``A @ B.T`` (codegen/llvm/blas_choice.py): MKL or
scipy-openblas64 when installed, NumPy's OpenBLAS otherwise or with
``gemm_libraries=numpy``. Products of every transpose form equal NumPy's float64 products
within the dtype's tolerance whichever library runs them; the choice reaches the frame, survives
the disk cache, and a function calling it serves 8 threads at once."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm import blas, blas_choice, entry_cache
from tests.test_threads import THREADS, _hammer

pytestmark = pytest.mark.skipif(blas.library() is None, reason="no BLAS in NumPy")

# (m, n, k): the MLP and RNN products of benchmarks/gemm_survey.py, degenerate ones, and one
# above SMALL_WORK (which stays with NumPy's OpenBLAS).
SHAPES = [(32, 128, 128), (64, 64, 256), (64, 256, 256), (64, 256, 10), (32, 256, 1024),
          (1, 7, 3), (5, 1, 1), (300, 260, 256)]
FORMS = ("NN", "TN", "NT")
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def _bits() -> int:
    library = blas.library()
    assert library is not None
    return library.int_bits


def _product(form: str, dtype: str):
    """A compiled ``op(u) @ op(v)`` and a maker of its (stored) operands for ``(m, n, k)``."""
    u, v = (sg.fmatrices if dtype == "float32" else sg.dmatrices)("u", "v")
    x = u.T if form == "TN" else u
    y = v.T if form == "NT" else v
    fn = sg.function([u, v], sg.dot(x, y), mode="llvm", tier="final")

    def operands(m: int, n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((k, m) if form == "TN" else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if form == "NT" else (k, n)).astype(dtype)
        return a, b
    return fn, operands


def _expected(form: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = a.T if form == "TN" else a
    y = b.T if form == "NT" else b
    return x.astype(np.float64) @ y.astype(np.float64)


def _check(out: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert out.dtype == dtype and out.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype] * 30 * scale)


def _addresses(fn) -> set[int]:
    return {address for _, address in fn._native.image.addresses}


def _check_all_forms(dtype: str) -> None:
    for form in FORMS:
        fn, operands = _product(form, dtype)
        for m, n, k in SHAPES:
            a, b = operands(m, n, k)
            _check(fn(a, b), _expected(form, a, b), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_equal_numpy_with_what_is_installed(dtype, cache_dir):
    _check_all_forms(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_equal_numpy_without_the_optional_libraries(dtype, cache_dir, monkeypatch):
    monkeypatch.setattr(blas_choice, "_mkl", lambda: None)
    monkeypatch.setattr(blas_choice, "_scipy_openblas64", lambda: None)
    assert blas_choice.small_nt_sgemm(_bits()) is None
    _check_all_forms(dtype)
    fn, _ = _product("NT", "float32")
    assert _addresses(fn) & set(blas.library().addresses.values())


def test_mkl_runs_small_float32_a_b_transposed_when_installed(cache_dir):
    if blas_choice._mkl() is None:
        pytest.skip("the mkl wheel is not installed")
    picked = blas_choice.small_nt_sgemm(_bits())
    assert picked is not None and picked[0] == "MKL"
    fn, operands = _product("NT", "float32")
    assert picked[1] in _addresses(fn)
    for m, n, k in SHAPES:
        a, b = operands(m, n, k)
        _check(fn(a, b), _expected("NT", a, b), "float32")


def test_scipy_openblas64_runs_them_when_installed_without_mkl(cache_dir, monkeypatch):
    if blas_choice._scipy_openblas64() is None or _bits() != 64:
        pytest.skip("scipy-openblas64 is not installed (or NumPy's BLAS is LP64)")
    monkeypatch.setattr(blas_choice, "_mkl", lambda: None)
    picked = blas_choice.small_nt_sgemm(_bits())
    assert picked is not None and picked[0] == "scipy-openblas64"
    fn, operands = _product("NT", "float32")
    assert picked[1] in _addresses(fn)
    for m, n, k in SHAPES:
        a, b = operands(m, n, k)
        _check(fn(a, b), _expected("NT", a, b), "float32")


def test_scipy_openblas64_starts_no_thread_pool_of_its_own():
    # A second pool of spinning OpenBLAS threads beside NumPy's took the cores from both.
    handle = blas_choice._scipy_openblas64()
    if handle is None:
        pytest.skip("scipy-openblas64 is not installed")
    handle.scipy_openblas_get_num_threads64_.restype = ctypes.c_int
    assert handle.scipy_openblas_get_num_threads64_() == 1


def test_the_numpy_flag_keeps_every_product_on_numpys_openblas(cache_dir):
    with sg.change_flags(gemm_libraries="numpy"):
        assert blas_choice.small_nt_sgemm(_bits()) is None
        fn, operands = _product("NT", "float32")
    picked = blas_choice.small_nt_sgemm(_bits())
    if picked is not None:
        assert picked[1] not in _addresses(fn)
    a, b = operands(32, 128, 128)
    _check(fn(a, b), _expected("NT", a, b), "float32")


def test_an_accumulating_product_calls_the_chosen_routine_with_beta(cache_dir):
    u, v, c = sg.fmatrix("u"), sg.fmatrix("v"), sg.fmatrix("c")
    fn = sg.function([u, v, c], 0.5 * c + 2.0 * sg.dot(u, v.T), mode="llvm", tier="final")
    rng = np.random.default_rng(3)
    a, b, z = (rng.standard_normal(s).astype("float32") for s in ((32, 128), (64, 128),
                                                                  (32, 64)))
    _check(fn(a, b, z), 0.5 * z.astype(np.float64) + 2.0 * _expected("NT", a, b), "float32")


def test_an_entry_point_from_the_disk_calls_the_same_library(cache_dir):
    first, operands = _product("NT", "float32")
    loaded = entry_cache.STATS.loaded
    second, _ = _product("NT", "float32")
    assert entry_cache.STATS.loaded == loaded + 1
    assert _addresses(second) == _addresses(first)
    a, b = operands(64, 256, 256)
    _check(second(a, b), _expected("NT", a, b), "float32")
    with sg.change_flags(gemm_libraries="numpy"):
        third, _ = _product("NT", "float32")  # another choice: not the stored entry point
    assert entry_cache.STATS.loaded == loaded + 1
    _check(third(a, b), _expected("NT", a, b), "float32")


@pytest.mark.parametrize("choice", ["auto", "numpy"])
def test_eight_threads_call_one_function(choice, cache_dir):
    with sg.change_flags(gemm_libraries=choice):
        fn, operands = _product("NT", "float32")
    assert THREADS >= 8

    def work(t: int, k: int) -> None:
        m, n, depth = SHAPES[(t + k) % 4]
        a, b = operands(m, n, depth, seed=1000 * t + k)
        _check(fn(a, b), _expected("NT", a, b), "float32")
    _hammer(work, calls=12)


def _needs_onednn():
    if blas_choice.onednn_sgemm() is None:
        pytest.skip("oneDNN (the onednn-cpu-gomp wheel) is not installed")


@pytest.mark.parametrize("form", FORMS)
def test_onednn_runs_the_larger_float32_products_when_installed(form, cache_dir):
    """Above ONEDNN_WORK (SMALL_WORK for A @ B.T) float32 products call oneDNN's dnnl_sgemm,
    below they stay with OpenBLAS or the small A @ B.T library; every size and form equals
    NumPy's float64 product, accumulators with beta included."""
    _needs_onednn()
    fn, operands = _product(form, "float32")
    assert blas_choice.onednn_sgemm() in _addresses(fn)
    for m, n, k in SHAPES + [(300, 300, 300), (2, 600, 1000)]:
        a, b = operands(m, n, k)
        _check(fn(a, b), _expected(form, a, b), "float32")
    u, v, c = sg.fmatrix("u"), sg.fmatrix("v"), sg.fmatrix("c")
    acc = sg.function([u, v, c], 0.5 * c - 2.0 * sg.dot(u, v), mode="llvm", tier="final")
    rng = np.random.default_rng(9)
    a, b, z = (rng.standard_normal(s).astype("float32") for s in ((64, 256), (256, 256),
                                                                  (64, 256)))
    _check(acc(a, b, z), 0.5 * z.astype(np.float64) - 2.0 * _expected("NN", a, b), "float32")


def test_onednn_is_left_out_by_the_numpy_flag_and_float64_and_survives_the_disk_cache(cache_dir):
    _needs_onednn()
    address = blas_choice.onednn_sgemm()
    with sg.change_flags(gemm_libraries="numpy"):
        assert blas_choice.onednn_sgemm() is None
        fn, operands = _product("NN", "float32")
    assert address not in _addresses(fn)
    assert address not in _addresses(_product("NN", "float64")[0])
    first, operands = _product("TN", "float32")
    loaded = entry_cache.STATS.loaded
    second, _ = _product("TN", "float32")
    assert entry_cache.STATS.loaded == loaded + 1 and address in _addresses(second)
    a, b = operands(256, 1024, 32)
    _check(second(a, b), _expected("TN", a, b), "float32")


def test_eight_threads_share_a_function_calling_onednn(cache_dir):
    _needs_onednn()
    fn, operands = _product("NN", "float32")

    def work(t: int, k: int) -> None:
        a, b = operands(64 + 8 * t, 256, 256, seed=1000 * t + k)
        _check(fn(a, b), _expected("NN", a, b), "float32")
    _hammer(work, calls=6)


def test_onednn_runs_with_the_kernels_thread_count(cache_dir):
    """oneDNN's OpenMP team follows config.num_threads (the count the kernels use), set for
    the calling thread before each of its products; smaller products run on one thread."""
    _needs_onednn()
    from symgraph.codegen.llvm.jit import engine

    if not engine().has_gomp:
        pytest.skip("no libgomp")
    gomp = ctypes.CDLL("libgomp.so.1")
    gomp.omp_get_max_threads.restype = ctypes.c_int
    fn, operands = _product("NN", "float32")
    large, small = operands(256, 256, 256), operands(64, 256, 256)
    assert 256 ** 3 >= blas_choice.ONEDNN_TEAM_WORK > 64 * 256 * 256
    settings = engine().settings
    saved = settings.num_threads.value
    try:
        for count in (1, 3):
            settings.set_threads(count)
            _check(fn(*large), _expected("NN", *large), "float32")
            assert gomp.omp_get_max_threads() == count
            _check(fn(*small), _expected("NN", *small), "float32")
            assert gomp.omp_get_max_threads() == 1
    finally:
        settings.set_threads(saved)
