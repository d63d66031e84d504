"""Optional BLAS libraries for the float32 products where one beats NumPy's OpenBLAS clearly:
small ``A @ B.T`` (MKL or scipy-openblas64) and the larger products (oneDNN).

``benchmarks/gemm_survey.py`` timed the products of the MLP and RNN steps (and their backward
passes) through every BLAS available as a wheel, one thread each. Only the row-major ``sgemm``
with ``B`` transposed (the input gradient ``dY @ W.T``) showed a winner by more than 10%: MKL
(the ``mkl`` wheel) ran 24-51% faster than NumPy's bundled OpenBLAS 0.3.31 on 64x256x64,
64x256x256, 32x128x128 and 32x256x1024 products, and the newer OpenBLAS of scipy-openblas64
(0.3.34) ran 19-32% faster on the first three (8% slower on the last). Every other class (other
transposes, float64, large products) was within 10%, so it stays with NumPy's OpenBLAS; so do
large ``A @ B.T`` (``m*n*k`` over ``SMALL_WORK``), where OpenBLAS's threads pay and MKL's edge
is gone. Install them with ``pip install symgraph[blas]``.

A second survey (with oneDNN's ``dnnl_sgemm`` from the ``onednn-cpu-gomp`` wheel) found
oneDNN ahead on the larger float32 products: 98 against 64 GFLOP/s (90 split into OpenBLAS's
small-matrix calls) on the LSTM's 32x256x1024 step product, 105 against 74 on its
(32x256)^T 32x1024 weight gradient, 104-112 against 95-108 on weight gradients batched over
100 steps, 110 against 102-105 on 2048x2048 products. So float32 products of more than
``ONEDNN_WORK`` multiply-adds with B not transposed, and ``A @ B.T`` above ``SMALL_WORK``, call
it when installed; below, OpenBLAS's small-matrix kernels (or MKL for ``A @ B.T``) are as fast,
except on ``A @ B.T`` whose output is wide (``n`` at least ``ONEDNN_NT_WIDTH``) and whose ``k``
is at most ``n`` (the MLP's ``dY @ W.T``: 97 GFLOP/s against 92 for scipy-openblas64 and 76
for NumPy's OpenBLAS on 64x256x256; 84 against 65 and 63 on its 64x256x10 last layer; 96
against 78 and 59 on the Elman's 32x128x128): those go to oneDNN too from ``ONEDNN_NT_WORK``
multiply-adds. Narrow or deep ``A @ B.T`` stay off it (64x64x256: 69 against 89; the LSTM's
32x256x1024: 53 against 77 for MKL).
oneDNN runs its products with an OpenMP team (the system libgomp that symgraph's kernels use
too) of ``config.num_threads``, set for the calling thread before each call; products below
``ONEDNN_TEAM_WORK`` multiply-adds run on one thread. Exported C
libraries never call it.

``config.gemm_libraries`` picks: ``"auto"`` tries MKL, then scipy-openblas64, then falls back
to NumPy's OpenBLAS (and uses oneDNN where it wins, when installed); ``"numpy"`` uses NumPy's
OpenBLAS for every product. The choice is made
when a function's native code is set up (the small ``A @ B.T`` routine is read from a frame
word; oneDNN's calls, whose arguments differ, are in the code when it is installed); entry
points kept on disk record the choice (``fingerprint``) and are
compiled again in a process that would choose otherwise. MKL is switched to its sequential
threading layer (unless ``MKL_THREADING_LAYER`` is set) and scipy-openblas64 to one thread, so
that neither starts a thread pool beside NumPy's OpenBLAS.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import importlib.util
import os
import site
import sys
from typing import Any

from symgraph.config import config

SMALL_WORK = 1 << 24  # multiply-adds; the largest product surveyed in the class is 1 << 23
# Float32 products above this many multiply-adds (B not transposed), and A @ B.T above
# SMALL_WORK, go to oneDNN when installed (see the module's docstring).
ONEDNN_WORK = 1_000_000
# Float32 A @ B.T with n >= ONEDNN_NT_WIDTH columns and k <= n, of at least ONEDNN_NT_WORK
# multiply-adds, go to oneDNN too (see the module's docstring).
ONEDNN_NT_WIDTH = 128
ONEDNN_NT_WORK = 1 << 17
# oneDNN products below this many multiply-adds run on one thread (see blas._onednn_gemm).
ONEDNN_TEAM_WORK = 1 << 23
MKL_SEQUENTIAL = 1  # MKL_THREADING_SEQUENTIAL of mkl_service.h


# Where the libraries are is found from the file system alone: importlib.metadata and the
# scipy_openblas64 package take 15-30 ms to import, which a warm start (a kept entry point
# checks the fingerprint below) cannot afford.
def _in_environment_lib(pattern: str) -> str | None:
    """The first file matching ``pattern`` in the ``lib`` directory of the environment (or of
    the user's base, for ``pip install --user``), where wheels put their data files."""
    for base in (sys.prefix, site.USER_BASE or ""):
        found = sorted(glob.glob(os.path.join(base, "lib", pattern)))
        if found:
            return found[0]
    return None


@functools.cache
def _mkl_path() -> str | None:
    """``libmkl_rt.so`` of the ``mkl`` wheel."""
    return _in_environment_lib("libmkl_rt.so*")


@functools.cache
def _scipy_openblas64_path() -> str | None:
    spec = importlib.util.find_spec("scipy_openblas64")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(folder, "lib", "libscipy_openblas64_.so")
        if os.path.exists(path):
            return path
    return None


def _open(path: str | None) -> ctypes.CDLL | None:
    if path is None:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


@functools.cache
def _mkl() -> ctypes.CDLL | None:
    handle = _open(_mkl_path())
    if handle is not None and "MKL_THREADING_LAYER" not in os.environ:
        handle.MKL_Set_Threading_Layer(MKL_SEQUENTIAL)
    return handle


@functools.cache
def _scipy_openblas64() -> ctypes.CDLL | None:
    handle = _open(_scipy_openblas64_path())
    # One thread: the products it serves are small (threads do not pay there), and a second
    # pool of spinning OpenBLAS threads beside NumPy's took the cores from it and from the
    # kernels (an MLP epoch on 2 threads: 10 ms -> 280 ms).
    set_threads = getattr(handle, "scipy_openblas_set_num_threads64_", None)
    if set_threads is not None:
        set_threads.argtypes = [ctypes.c_int]
        set_threads(1)
    return handle


def _address(handle: ctypes.CDLL | None, symbol: str) -> int | None:
    function = getattr(handle, symbol, None) if handle is not None else None
    return None if function is None else int(ctypes.cast(function, ctypes.c_void_p).value or 0)


def _candidates(int_bits: int) -> list[tuple[str, Any, Any, str]]:
    """``(library, path, load, symbol)`` in order of preference; none with the ``numpy`` flag."""
    if config.gemm_libraries == "numpy":
        return []
    found = [("MKL", _mkl_path, _mkl, "cblas_sgemm_64" if int_bits == 64 else "cblas_sgemm")]
    if int_bits == 64:
        found.append(("scipy-openblas64", _scipy_openblas64_path, _scipy_openblas64,
                      "scipy_cblas_sgemm64_"))
    return found


def small_nt_sgemm(int_bits: int) -> tuple[str, int] | None:
    """``(library, address)`` of the row-major CBLAS ``sgemm`` taking ``int_bits``-wide sizes to
    call for small ``A @ B.T``, or None: use the default library."""
    for name, _, load, symbol in _candidates(int_bits):
        address = _address(load(), symbol)
        if address:
            return name, address
    return None


@functools.cache
def _onednn_path() -> str | None:
    """``libdnnl.so`` of a oneDNN wheel (``onednn-cpu-gomp``)."""
    return _in_environment_lib("libdnnl.so*")


@functools.cache
def _onednn() -> ctypes.CDLL | None:
    return _open(_onednn_path())


def onednn_sgemm() -> int | None:
    """The address of oneDNN's ``dnnl_sgemm`` (row-major, transposes as the characters 'N'
    and 'T', 64-bit sizes) for the float32 products it wins (``ONEDNN_WORK``), or None: not
    installed, or the ``numpy`` flag."""
    if config.gemm_libraries == "numpy":
        return None
    return _address(_onednn(), "dnnl_sgemm") or None


def fingerprint(int_bits: int) -> str | None:
    """The libraries picked (None: the default alone), for the disk cache: by the files
    present, without loading them (a library that then fails to load makes the entry point
    that wants it compile again)."""
    small_nt = next((name for name, path, _, _ in _candidates(int_bits) if path() is not None),
                    None)
    if config.gemm_libraries == "numpy" or _onednn_path() is None:
        return small_nt
    return f"{small_nt}+oneDNN"
