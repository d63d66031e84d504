"""Backends (layer L4), looked up by mode name.

A backend has ``link(fgraph, profile=None)`` returning an object whose
``run(input_values) -> output_values`` evaluates the graph. Modules are imported only when
their mode is used, so ``import symgraph`` needs neither llvmlite nor the CUDA packages
(NVIDIA's cuda-bindings and NVRTC wheels; the driver is loaded with ctypes).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

BACKENDS: dict[str, str] = {
    "py": "symgraph.codegen.python:PythonBackend",
    "llvm": "symgraph.codegen.llvm:LLVMBackend",
    "cuda": "symgraph.codegen.cuda.backend:CudaBackend",
}

_INSTANCES: dict[str, Any] = {}


class Signal:
    """What a compiled entry point returns instead of results, by identity: hand the call back
    to the Python path, or its frame is in use by another call."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class PerformFallbackWarning(UserWarning):
    """A compiled mode runs a node through its op's NumPy ``perform`` (no native rule)."""


_WARNED: set[tuple[str, type]] = set()


class ExportError(ValueError):
    """A function cannot leave Python (``sg.export``): an op with no native rule, a value that
    is not a tensor, a missing BLAS or C compiler."""


def warn_fallback(backend: str, node: Any,
                  what: str = "runs its NumPy perform, called back from compiled code") -> None:
    """Warn once per backend and op class (when ``config.warn_fallback`` is on) that
    ``node`` is not compiled; the warning points at the user's line that built it."""
    from symgraph.config import config

    key = (backend, type(node.op))
    if getattr(node.op, "perform_on_every_backend", False):
        return  # an op whose perform is the point (sg.printing.Print)
    if not config.warn_fallback or key in _WARNED:
        return
    _WARNED.add(key)
    message = (f"{node.op} has no {backend} rule: it {what}; sg.config.warn_fallback = False "
               f"silences this")
    trace = node.tag.get("trace")
    if trace:
        warnings.warn_explicit(message, PerformFallbackWarning, trace[0], trace[1])
    else:
        warnings.warn(message, PerformFallbackWarning, stacklevel=3)


def get_backend(name: str) -> Any:
    """The backend registered under ``name``.

    Raises
    ------
    ValueError
        For a mode no backend is registered under.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown mode {name!r}; available: {sorted(BACKENDS)}")
    if name not in _INSTANCES:
        module_name, _, class_name = BACKENDS[name].partition(":")
        _INSTANCES[name] = getattr(importlib.import_module(module_name), class_name)()
    return _INSTANCES[name]
