"""``DeviceArray``: an n-dimensional view (shape, element strides, offset) of a device buffer.

Views (transpose, dimshuffle, basic indexing, reshape of contiguous data) only change the
metadata, as NumPy's do; kernels take the strides, so they never force a copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


class Buffer:
    """One device allocation; freed (stream-ordered) when the last view of it goes away."""

    __slots__ = ("__weakref__", "device", "nbytes", "ptr")

    def __init__(self, device: Any, nbytes: int) -> None:
        self.device = device
        self.nbytes = int(nbytes)
        self.ptr = device.alloc(self.nbytes) if nbytes else 0

    def __del__(self) -> None:
        try:
            if self.ptr:
                self.device.free(self.ptr)
        except Exception:  # noqa: BLE001,S110 - interpreter shutdown: the driver may be gone
            pass


def c_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


class DeviceArray:
    """An array in device memory.

    Attributes
    ----------
    shape : tuple of int
    strides : tuple of int
        In elements (not bytes); may be 0 (broadcast) or negative.
    dtype : str
    buffer : Buffer
    offset : int
        Element offset of index ``(0, ..., 0)`` in the buffer.
    """

    __array_priority__ = 100

    def __init__(self, buffer: Buffer, shape: Sequence[int], dtype: str,
                 strides: Sequence[int] | None = None, offset: int = 0) -> None:
        self.buffer = buffer
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype).name
        self.strides = c_strides(self.shape) if strides is None else tuple(int(s) for s in
                                                                         strides)
        self.offset = int(offset)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def empty(cls, device: Any, shape: Sequence[int], dtype: str) -> DeviceArray:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        return cls(Buffer(device, nbytes), shape, dtype)

    @classmethod
    def from_host(cls, device: Any, value: Any, dtype: str | None = None) -> DeviceArray:
        host = np.asarray(value, dtype=dtype)
        if not host.flags.c_contiguous:  # (ascontiguousarray would make a 0-d array 1-d)
            host = np.ascontiguousarray(host)
        out = cls.empty(device, host.shape, host.dtype.name)
        if host.size:
            device.upload(out.ptr, host)
        return out

    # -- properties -----------------------------------------------------------------------
    @property
    def device(self) -> Any:
        return self.buffer.device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def ptr(self) -> int:
        return self.buffer.ptr + self.offset * self.itemsize if self.buffer.ptr else 0

    def is_c_contiguous(self) -> bool:
        expected = c_strides(self.shape)
        return all(n == 1 or s == e for n, s, e in zip(self.shape, self.strides, expected))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d device array")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, strides={self.strides})"

    # -- views ----------------------------------------------------------------------------
    def view(self, shape: Sequence[int], strides: Sequence[int],
             offset: int = 0) -> DeviceArray:
        """The view with ``shape`` and ``strides`` starting ``offset`` elements further."""
        return DeviceArray(self.buffer, shape, self.dtype, strides, self.offset + offset)

    def dimshuffle(self, kept: Sequence[int], new_order: Sequence[Any]) -> DeviceArray:
        """``DimShuffle``: ``kept`` input axes in order, ``'x'`` inserting length-1 axes."""
        shape = [1 if o == "x" else self.shape[o] for o in new_order]
        strides = [0 if o == "x" else self.strides[o] for o in new_order]
        return self.view(shape, strides)

    def reshape(self, shape: Sequence[int]) -> DeviceArray | None:
        """A view of C-contiguous data with another shape (None when not contiguous)."""
        if not self.is_c_contiguous():
            return None
        return self.view(shape, c_strides(shape))

    def index_view(self, index: tuple[Any, ...]) -> DeviceArray:
        """Basic (view) indexing, worked out by NumPy on a fake array of the same layout
        (never read: only its shape, strides and data pointer matter)."""
        itemsize = self.itemsize
        fake = np.lib.stride_tricks.as_strided(
            np.zeros(1, dtype=np.uint8), shape=self.shape,
            strides=[s * itemsize for s in self.strides])
        result = fake[index]
        if not isinstance(result, np.ndarray):  # all-integer index: ask for a 0-d view
            result = fake[(*index, Ellipsis)]
        base = fake.__array_interface__["data"][0]
        moved = result.__array_interface__["data"][0] - base
        return self.view(result.shape, [s // itemsize for s in result.strides],
                         moved // itemsize)

    def broadcast_to(self, shape: Sequence[int]) -> DeviceArray:
        pad = len(shape) - self.ndim
        strides = [0] * pad + [0 if n == 1 and m != 1 else s for n, m, s in
                               zip(self.shape, shape[pad:], self.strides)]
        return self.view(shape, strides)

    # -- transfers ------------------------------------------------------------------------
    def get(self) -> np.ndarray:
        """A host copy (NumPy array of the same shape and dtype)."""
        source = self if self.is_c_contiguous() else self.device.contiguous(self)
        host = np.empty(self.shape, dtype=self.dtype)
        if host.size:
            self.device.download(host, source.ptr)
        return host

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A pickle holds the values; loading uploads them to the device of mode "cuda" then.
        return (device_array_from_host, (self.get(),))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        host = self.get()
        return host if dtype is None else host.astype(dtype)

    def copy(self) -> DeviceArray:
        return self.device.contiguous(self, force=True)


def device_array_from_host(host: np.ndarray) -> DeviceArray:
    """Unpickling a ``DeviceArray``: ``host`` uploaded to the device mode "cuda" uses."""
    from symgraph.codegen import get_backend

    return get_backend("cuda").device.to_device(host)
