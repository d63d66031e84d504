"""Backends (layer L4), looked up by mode name.

A backend has ``link(fgraph, profile=None)`` returning an object whose
``run(input_values) -> output_values`` evaluates the graph. Modules are imported only when
their mode is used, so ``import symgraph`` needs neither llvmlite nor pycuda.
"""

from __future__ import annotations

import importlib
from typing import Any

BACKENDS: dict[str, str] = {
    "py": "symgraph.codegen.python:PythonBackend",
    "llvm": "symgraph.codegen.llvm:LLVMBackend",
    "cuda": "symgraph.codegen.cuda.backend:CudaBackend",
}

_INSTANCES: dict[str, Any] = {}


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
