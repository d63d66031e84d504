"""GEMM through cuBLAS (ctypes on ``libcublas``, from the ``nvidia-cublas`` wheel or the CUDA
toolkit), and ``HostBlas``, the same column-major contract computed by NumPy for the emulator.

``gemm`` follows cuBLAS exactly: column-major operands, ``C = alpha op(A) op(B) + beta C``, C not
read when ``beta == 0``; strided batches when ``batch > 1``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from typing import Any

import numpy as np

OP_N, OP_T = 0, 1
_I, _LL, _P = ctypes.c_int, ctypes.c_longlong, ctypes.c_void_p


def _find_library() -> ctypes.CDLL:
    """libcublas: through cuda-pathfinder when installed, else the usual names and places."""
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib

        loaded = load_nvidia_dynamic_lib("cublas")
        return ctypes.CDLL(loaded.abs_path)
    except Exception:  # noqa: BLE001,S110 - not installed: try the usual names
        pass
    for name in ("libcublas.so.13", "libcublas.so.12", "libcublas.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    patterns = [os.path.join(p, "nvidia", "*", "lib", "libcublas.so*") for p in sys.path] + \
        ["/usr/local/cuda/lib64/libcublas.so*"]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern), reverse=True):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    raise OSError("cuBLAS (libcublas.so) was not found: pip install nvidia-cublas")


class CuBlas:
    """A cuBLAS handle bound to the device's stream."""

    def __init__(self, stream: Any) -> None:
        self.lib = _find_library()
        self.handle = _P()
        self._check("cublasCreate_v2", self.lib.cublasCreate_v2(ctypes.byref(self.handle)))
        self.lib.cublasSetStream_v2.argtypes = [_P, _P]
        self._check("cublasSetStream_v2", self.lib.cublasSetStream_v2(self.handle, stream))
        scalar = {"float32": ctypes.c_float, "float64": ctypes.c_double}
        self._scalar = scalar
        for prefix, ctype in (("S", ctypes.c_float), ("D", ctypes.c_double)):
            plain = getattr(self.lib, f"cublas{prefix}gemm_v2")
            plain.argtypes = [_P, _I, _I, _I, _I, _I, ctypes.POINTER(ctype), _P, _I, _P, _I,
                              ctypes.POINTER(ctype), _P, _I]
            batched = getattr(self.lib, f"cublas{prefix}gemmStridedBatched")
            batched.argtypes = [_P, _I, _I, _I, _I, _I, ctypes.POINTER(ctype), _P, _I, _LL, _P,
                                _I, _LL, ctypes.POINTER(ctype), _P, _I, _LL, _I]

    @staticmethod
    def _check(name: str, status: int) -> None:
        if status != 0:
            raise RuntimeError(f"{name} failed with cuBLAS status {status}")

    def gemm(self, dtype: str, trans_a: bool, trans_b: bool, m: int, n: int, k: int,
             alpha: float, a: int, lda: int, b: int, ldb: int, beta: float, c: int, ldc: int,
             batch: int = 1, stride_a: int = 0, stride_b: int = 0, stride_c: int = 0) -> None:
        ctype = self._scalar[dtype]
        prefix = "S" if dtype == "float32" else "D"
        al, be = ctype(alpha), ctype(beta)
        ta, tb = OP_T if trans_a else OP_N, OP_T if trans_b else OP_N
        if batch == 1:
            status = getattr(self.lib, f"cublas{prefix}gemm_v2")(
                self.handle, ta, tb, m, n, k, ctypes.byref(al), a, lda, b, ldb,
                ctypes.byref(be), c, ldc)
        else:
            status = getattr(self.lib, f"cublas{prefix}gemmStridedBatched")(
                self.handle, ta, tb, m, n, k, ctypes.byref(al), a, lda, stride_a, b, ldb,
                stride_b, ctypes.byref(be), c, ldc, stride_c, batch)
        self._check(f"cublas{prefix}gemm", status)


class HostBlas:
    """The cuBLAS contract on host memory (the emulator's pointers are host addresses)."""

    def gemm(self, dtype: str, trans_a: bool, trans_b: bool, m: int, n: int, k: int,
             alpha: float, a: int, lda: int, b: int, ldb: int, beta: float, c: int, ldc: int,
             batch: int = 1, stride_a: int = 0, stride_b: int = 0, stride_c: int = 0) -> None:
        item = np.dtype(dtype).itemsize
        for i in range(batch):
            op_a = _column_major(a + i * stride_a * item, (k, m) if trans_a else (m, k), lda,
                                 dtype)
            op_b = _column_major(b + i * stride_b * item, (n, k) if trans_b else (k, n), ldb,
                                 dtype)
            out = _column_major(c + i * stride_c * item, (m, n), ldc, dtype)
            product = (op_a.T if trans_a else op_a) @ (op_b.T if trans_b else op_b)
            result = alpha * product if beta == 0 else alpha * product + beta * out
            out[...] = result


def _column_major(ptr: int, shape: tuple[int, int], ld: int, dtype: str) -> np.ndarray:
    rows, cols = shape
    item = np.dtype(dtype).itemsize
    if rows == 0 or cols == 0:
        return np.zeros(shape, dtype=dtype)
    span = ((cols - 1) * ld + rows) * item
    raw = (ctypes.c_char * span).from_address(ptr)
    return np.ndarray(shape, dtype=dtype, buffer=raw, strides=(item, ld * item))
