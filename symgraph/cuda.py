"""``sg.cuda``: whether the "cuda" mode can run here, the GPU in use, and shared variables whose
value lives in GPU memory (so training loops do not copy weights at every call).

Nothing here imports a CUDA library before it is asked to; ``is_available`` never raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.ops.basic import TensorSharedVariable
from symgraph.ops.basic import shared as _shared

__all__ = [
    "CudaSharedVariable",
    "device_name",
    "is_available",
    "shared",
    "to_device",
    "unavailable_reason",
]


def _probe() -> tuple[bool, str]:
    try:
        from symgraph.codegen.cuda import driver

        return driver.probe()
    except Exception as err:  # noqa: BLE001 - a broken install must not break the caller
        return False, f"the CUDA backend could not be loaded: {err}"


def is_available() -> bool:
    """True when ``mode="cuda"`` can run: a CUDA driver, a GPU and a CUDA C compiler (NVRTC
    from ``pip install "symgraph[cuda]"``, or nvcc). Never raises."""
    return _probe()[0]


def unavailable_reason() -> str:
    """Why ``is_available()`` is False (``"ok"`` when it is True)."""
    return _probe()[1]


def device_name() -> str:
    """The name of the GPU the "cuda" mode uses.

    Raises
    ------
    RuntimeError
        When no GPU is usable (see ``unavailable_reason``).
    """
    return _backend().device.name


def _backend() -> Any:
    from symgraph.codegen import get_backend

    return get_backend("cuda")


def to_device(value: Any, dtype: Any = None) -> Any:
    """A ``DeviceArray`` holding ``value`` on the GPU."""
    return _backend().device.to_device(np.asarray(value, dtype=dtype))


class CudaSharedVariable(TensorSharedVariable):
    """A shared tensor whose value stays in GPU memory between calls.

    Functions compiled with ``mode="cuda"`` read it without a transfer and keep its updates
    on the device. ``get_value`` returns a NumPy copy (the ``DeviceArray`` itself with
    ``return_internal_type=True``); ``set_value`` uploads.
    """

    on_device = True

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        value = self.container.value
        if return_internal_type:
            return value
        return value.get() if hasattr(value, "get") else np.array(value, copy=True)

    def set_value(self, value: Any, borrow: bool = False, allow_downcast: bool = False) -> None:
        if hasattr(value, "get") and hasattr(value, "strides"):  # already a DeviceArray
            self.container.value = value
            return
        label = f"shared variable {self.name!r}" if self.name else "shared variable"
        host = self.type.filter(value, name=label, allow_downcast=allow_downcast)
        self.container.value = _backend().device.to_device(host)


def shared(value: Any, name: str | None = None, borrow: bool = False, strict: bool = False,
           allow_downcast: bool | None = None, shape: Any = None) -> CudaSharedVariable:
    """``sg.shared`` whose value lives on the GPU (see ``CudaSharedVariable``).

    Raises
    ------
    RuntimeError
        When no GPU is usable.
    TypeError
        As ``sg.shared``, for a value that is not an array of a supported dtype.
    """
    host = _shared(value, name=name, borrow=borrow, strict=strict,
                   allow_downcast=allow_downcast, shape=shape)
    var = CudaSharedVariable(host.type, None, name=name, container=host.container)
    var.container.value = _backend().device.to_device(host.container.value)
    return var

