"""What the backend asks of a GPU: memory, transfers, modules of kernels and launches, with the
parameter packing CUDA's ``kernelParams`` wants; ``HostDevice`` does all of it on the CPU.

The emulator compiles the same generated CUDA C as host C++ and runs each launch as one block of
one thread, so the whole CUDA backend (placement, views, kernels, cuBLAS calls) can be tested on
a machine without a GPU. It checks meaning, not speed or parallel races.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph.codegen.cuda import compile as cc
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda.array import DeviceArray

_SCALARS = {"sg_i64": ctypes.c_int64, "sg_i32": ctypes.c_int32, "int": ctypes.c_int,
            "sg_u64": ctypes.c_uint64, "float": ctypes.c_float, "double": ctypes.c_double}


def pack(params: Sequence[str], args: Sequence[Any]) -> tuple[Any, list[Any]]:
    """``(void *kernelParams[], objects to keep alive)`` for a launch.

    A pointer parameter takes a ``DeviceArray`` (or an int address, or None), a ``..._meta``
    struct the bytes of its packed int64 fields, a scalar a Python number.
    """
    if len(params) != len(args):
        raise TypeError(f"kernel takes {len(params)} parameters, got {len(args)}")
    objects: list[Any] = []
    for ctype, value in zip(params, args):
        if ctype.endswith("*"):
            address = value.ptr if isinstance(value, DeviceArray) else int(value or 0)
            objects.append(ctypes.c_uint64(address))
        elif ctype.endswith("_meta"):
            objects.append(ctypes.create_string_buffer(bytes(value), len(value)))
        else:
            objects.append(_SCALARS[ctype](value))
    array = (ctypes.c_void_p * max(len(objects), 1))(*[ctypes.addressof(o) for o in objects])
    return array, objects


def meta_bytes(*fields: Any) -> bytes:
    """A ``..._meta`` struct: every field an int64 (nested sequences flattened in order)."""
    flat: list[int] = []
    for field in fields:
        if isinstance(field, (list, tuple)):
            for item in field:
                flat.extend(item if isinstance(item, (list, tuple)) else [item])
        else:
            flat.append(field)
    return np.asarray(flat, dtype=np.int64).tobytes()


class Device:
    """Base class: kernel modules by name, launches, and device-side helpers."""

    name = "device"
    arch = "sm_90"
    sm_count = 1
    emulated = False

    def __init__(self) -> None:
        self._functions: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- to implement ---------------------------------------------------------------------
    def alloc(self, nbytes: int) -> int:
        raise NotImplementedError

    def free(self, ptr: int) -> None:
        raise NotImplementedError

    def upload(self, ptr: int, host: np.ndarray) -> None:
        raise NotImplementedError

    def download(self, host: np.ndarray, ptr: int) -> None:
        raise NotImplementedError

    def copy_bytes(self, dst: int, src: int, nbytes: int) -> None:
        raise NotImplementedError

    def zero(self, ptr: int, nbytes: int) -> None:
        raise NotImplementedError

    def synchronize(self) -> None:
        raise NotImplementedError

    def _load(self, kernels: Sequence[kn.Kernel]) -> dict[str, Any]:
        raise NotImplementedError

    def _launch(self, function: Any, grid: int, block: int, params: Any) -> None:
        raise NotImplementedError

    @property
    def blas(self) -> Any:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def prepare(self, kernels: Sequence[kn.Kernel]) -> None:
        """Compile and load every kernel not loaded yet, as one module (one compiler run)."""
        with self._lock:
            missing = [k for k in dict.fromkeys(kernels) if k.name not in self._functions]
            if missing:
                self._functions.update(self._load(missing))

    def launch(self, kernel: kn.Kernel, grid: int, block: int, args: Sequence[Any]) -> None:
        function = self._functions.get(kernel.name)
        if function is None:
            self.prepare([kernel])
            function = self._functions[kernel.name]
        params, keep = pack(kernel.params, args)
        self._launch(function, max(int(grid), 1), int(block), params)
        del keep

    def grid_for(self, n: int, block: int = 256) -> int:
        """Blocks for a grid-stride loop over ``n`` items: enough to fill the device."""
        return max(1, min((int(n) + block - 1) // block, self.sm_count * 32))

    def empty(self, shape: Sequence[int], dtype: str) -> DeviceArray:
        return DeviceArray.empty(self, shape, dtype)

    def to_device(self, value: Any, dtype: str | None = None) -> DeviceArray:
        if isinstance(value, DeviceArray):
            return value
        return DeviceArray.from_host(self, value, dtype)

    def contiguous(self, array: DeviceArray, force: bool = False) -> DeviceArray:
        """``array`` itself when C-contiguous (unless ``force``), else a contiguous copy."""
        if array.is_c_contiguous() and not force:
            return array
        out = self.empty(array.shape, array.dtype)
        if array.size == 0:
            return out
        if array.is_c_contiguous():
            self.copy_bytes(out.ptr, array.ptr, array.size * array.itemsize)
            return out
        from symgraph.codegen.cuda import launch

        launch.copy_into(self, array, out)
        return out


class HostDevice(Device):
    """The CPU emulator: host memory, kernels built with g++, cuBLAS calls done by NumPy."""

    name = "CPU emulator"
    emulated = True
    sm_count = 1

    def __init__(self) -> None:
        super().__init__()
        self._memory: dict[int, np.ndarray] = {}
        self._libraries: list[Any] = []
        self._blas: Any = None

    def alloc(self, nbytes: int) -> int:
        raw = np.empty(nbytes + 64, dtype=np.uint8)
        ptr = (raw.ctypes.data + 63) // 64 * 64
        self._memory[ptr] = raw
        return ptr

    def free(self, ptr: int) -> None:
        self._memory.pop(ptr, None)

    def upload(self, ptr: int, host: np.ndarray) -> None:
        ctypes.memmove(ptr, host.ctypes.data, host.nbytes)

    def download(self, host: np.ndarray, ptr: int) -> None:
        ctypes.memmove(host.ctypes.data, ptr, host.nbytes)

    def copy_bytes(self, dst: int, src: int, nbytes: int) -> None:
        ctypes.memmove(dst, src, nbytes)

    def zero(self, ptr: int, nbytes: int) -> None:
        ctypes.memset(ptr, 0, nbytes)

    def synchronize(self) -> None:
        return None

    def _load(self, kernels: Sequence[kn.Kernel]) -> dict[str, Any]:
        path = cc.compile_host(kn.program_source(kernels, host=True))
        library = ctypes.CDLL(str(path))
        self._libraries.append(library)
        functions = {}
        for kernel in kernels:
            function = getattr(library, f"{kernel.name}_host")
            function.argtypes = [ctypes.c_void_p]
            function.restype = None
            functions[kernel.name] = function
        return functions

    def _launch(self, function: Any, grid: int, block: int, params: Any) -> None:
        function(params)

    @property
    def blas(self) -> Any:
        if self._blas is None:
            from symgraph.codegen.cuda.cublas import HostBlas

            self._blas = HostBlas()
        return self._blas
