"""Matrix products for the LLVM backend.

Not done yet: Dot, Matmul, Gemm, Gemv and Ger run through their ``perform``, which calls
NumPy and so the OpenBLAS bundled with it (full BLAS speed, Python call overhead). Calling
``scipy_cblas_?gemm64_`` from generated code (toolchain.md Q3) is the planned replacement.
"""

from __future__ import annotations

from typing import Any


def make_thunk(node: Any, inputs: list[list[Any]], outputs: list[list[Any]]) -> Any:
    """A compiled thunk for a BLAS node, or None to use ``perform``."""
    return None
