"""The CUDA driver API through ctypes (``libcuda.so.1``, installed with the NVIDIA driver): a
primary context, one non-blocking stream, stream-ordered allocation, cubin modules, launches.

Every call is queued on the one stream, so kernels, copies and frees are ordered without host
synchronisation; the host waits only to read results back.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph.codegen.cuda import compile as cc
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda.device import Device

P, U64, SZ, INT, UINT = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_int, \
    ctypes.c_uint
_REF = ctypes.POINTER
# name -> argtypes (CUresult is the int restype). Versioned names as cuda.h maps them.
SIGNATURES: dict[str, list[Any]] = {
    "cuInit": [UINT],
    "cuDriverGetVersion": [_REF(INT)],
    "cuDeviceGetCount": [_REF(INT)],
    "cuDeviceGet": [_REF(INT), INT],
    "cuDeviceGetName": [ctypes.c_char_p, INT, INT],
    "cuDeviceGetAttribute": [_REF(INT), INT, INT],
    "cuDevicePrimaryCtxRetain": [_REF(P), INT],
    "cuCtxSetCurrent": [P],
    "cuStreamCreate": [_REF(P), UINT],
    "cuStreamSynchronize": [P],
    "cuMemAlloc_v2": [_REF(U64), SZ],
    "cuMemFree_v2": [U64],
    "cuMemAllocAsync": [_REF(U64), SZ, P],
    "cuMemFreeAsync": [U64, P],
    "cuDeviceGetDefaultMemPool": [_REF(P), INT],
    "cuMemPoolSetAttribute": [P, INT, P],
    "cuMemcpyHtoDAsync_v2": [U64, P, SZ, P],
    "cuMemcpyDtoHAsync_v2": [P, U64, SZ, P],
    "cuMemcpyDtoDAsync_v2": [U64, U64, SZ, P],
    "cuMemsetD8Async": [U64, ctypes.c_ubyte, SZ, P],
    "cuModuleLoadData": [_REF(P), P],
    "cuModuleGetFunction": [_REF(P), P, ctypes.c_char_p],
    "cuLaunchKernel": [P, UINT, UINT, UINT, UINT, UINT, UINT, UINT, P, P, P],
    "cuGetErrorString": [INT, _REF(ctypes.c_char_p)],
}
ATTR_MULTIPROCESSOR_COUNT = 16
ATTR_CC_MAJOR, ATTR_CC_MINOR = 75, 76
ATTR_MEMORY_POOLS_SUPPORTED = 115
MEMPOOL_RELEASE_THRESHOLD = 4
STREAM_NON_BLOCKING = 1


class CudaError(RuntimeError):
    """A CUDA driver call failed (message: the call and the driver's error string)."""


class Driver:
    """ctypes bindings of ``libcuda``; ``call(name, *args)`` raises ``CudaError``."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libcuda.so.1")
        for name, argtypes in SIGNATURES.items():
            function = getattr(self.lib, name, None)
            if function is not None:
                function.argtypes = argtypes
                function.restype = INT

    def call(self, name: str, *args: Any) -> None:
        result = getattr(self.lib, name)(*args)
        if result != 0:
            raise CudaError(f"{name} failed: {self.error_string(result)} ({result})")

    def error_string(self, code: int) -> str:
        text = ctypes.c_char_p()
        if self.lib.cuGetErrorString(code, ctypes.byref(text)) != 0 or not text.value:
            return "unknown error"
        return text.value.decode(errors="replace")


@functools.lru_cache(maxsize=1)
def driver() -> Driver:
    """The initialised driver (``OSError`` without libcuda, ``CudaError`` without a GPU)."""
    drv = Driver()
    drv.call("cuInit", 0)
    return drv


class CudaDevice(Device):
    """GPU ``ordinal`` through the driver API."""

    emulated = False

    def __init__(self, ordinal: int = 0) -> None:
        super().__init__()
        self.drv = drv = driver()
        handle = INT()
        drv.call("cuDeviceGet", ctypes.byref(handle), ordinal)
        self.handle = handle.value
        name = ctypes.create_string_buffer(256)
        drv.call("cuDeviceGetName", name, 256, self.handle)
        self.name = name.value.decode()
        self.context = P()
        drv.call("cuDevicePrimaryCtxRetain", ctypes.byref(self.context), self.handle)
        drv.call("cuCtxSetCurrent", self.context)
        major, minor = self._attribute(ATTR_CC_MAJOR), self._attribute(ATTR_CC_MINOR)
        self.compute_capability = (major, minor)
        self.arch = f"sm_{major}{minor}"
        self.sm_count = self._attribute(ATTR_MULTIPROCESSOR_COUNT)
        self.stream = P()
        drv.call("cuStreamCreate", ctypes.byref(self.stream), STREAM_NON_BLOCKING)
        self.pooled = bool(self._attribute(ATTR_MEMORY_POOLS_SUPPORTED))
        if self.pooled:
            self._keep_pool_memory()
        self._modules: list[Any] = []
        self._blas: Any = None

    def _attribute(self, attribute: int) -> int:
        value = INT()
        self.drv.call("cuDeviceGetAttribute", ctypes.byref(value), attribute, self.handle)
        return value.value

    def _keep_pool_memory(self) -> None:
        """Freed blocks stay in the pool (no return to the OS at each synchronisation)."""
        pool = P()
        self.drv.call("cuDeviceGetDefaultMemPool", ctypes.byref(pool), self.handle)
        threshold = U64(2 ** 64 - 1)
        self.drv.call("cuMemPoolSetAttribute", pool, MEMPOOL_RELEASE_THRESHOLD,
                      ctypes.byref(threshold))

    def _current(self) -> None:
        self.drv.call("cuCtxSetCurrent", self.context)

    def alloc(self, nbytes: int) -> int:
        ptr = U64()
        if self.pooled:
            self.drv.call("cuMemAllocAsync", ctypes.byref(ptr), nbytes, self.stream)
        else:
            self.drv.call("cuMemAlloc_v2", ctypes.byref(ptr), nbytes)
        return ptr.value

    def free(self, ptr: int) -> None:
        if self.pooled:
            self.drv.call("cuMemFreeAsync", ptr, self.stream)
        else:
            self.synchronize()
            self.drv.call("cuMemFree_v2", ptr)

    def upload(self, ptr: int, host: np.ndarray) -> None:
        self.drv.call("cuMemcpyHtoDAsync_v2", ptr, host.ctypes.data, host.nbytes, self.stream)

    def download(self, host: np.ndarray, ptr: int) -> None:
        self.drv.call("cuMemcpyDtoHAsync_v2", host.ctypes.data, ptr, host.nbytes, self.stream)
        self.synchronize()

    def copy_bytes(self, dst: int, src: int, nbytes: int) -> None:
        self.drv.call("cuMemcpyDtoDAsync_v2", dst, src, nbytes, self.stream)

    def zero(self, ptr: int, nbytes: int) -> None:
        self.drv.call("cuMemsetD8Async", ptr, 0, nbytes, self.stream)

    def synchronize(self) -> None:
        self.drv.call("cuStreamSynchronize", self.stream)

    def _load(self, kernels: Sequence[kn.Kernel]) -> dict[str, Any]:
        image = cc.compile_cubin(kn.program_source(kernels), self.arch)
        buffer = ctypes.create_string_buffer(image, len(image))
        module = P()
        self._current()
        self.drv.call("cuModuleLoadData", ctypes.byref(module), buffer)
        self._modules.append(module)
        functions = {}
        for kernel in kernels:
            function = P()
            self.drv.call("cuModuleGetFunction", ctypes.byref(function), module,
                          kernel.name.encode())
            functions[kernel.name] = function
        return functions

    def _launch(self, function: Any, grid: int, block: int, params: Any) -> None:
        self.drv.call("cuLaunchKernel", function, grid, 1, 1, block, 1, 1, 0, self.stream,
                      ctypes.cast(params, P), None)

    @property
    def blas(self) -> Any:
        if self._blas is None:
            from symgraph.codegen.cuda.cublas import CuBlas

            self._blas = CuBlas(self.stream)
        return self._blas


_DEVICES: dict[int, CudaDevice] = {}


def get_device(ordinal: int = 0) -> CudaDevice:
    if ordinal not in _DEVICES:
        _DEVICES[ordinal] = CudaDevice(ordinal)
    return _DEVICES[ordinal]


def probe() -> tuple[bool, str]:
    """``(usable, reason)``: a driver, a GPU and a CUDA C compiler; never raises."""
    try:
        drv = driver()
        count = INT()
        drv.call("cuDeviceGetCount", ctypes.byref(count))
        if count.value < 1:
            return False, "the CUDA driver reports no GPU"
    except OSError as err:
        return False, f"no CUDA driver (libcuda.so.1): {err}"
    except Exception as err:  # noqa: BLE001 - CudaError from cuInit: no device, or a stub driver
        return False, f"CUDA initialisation failed: {err}"
    if not cc.nvrtc_available() and cc.nvcc_path() is None:
        return False, "no CUDA C compiler: pip install cuda-bindings 'nvidia-cuda-nvrtc==13.0.*'"
    return True, "ok"
