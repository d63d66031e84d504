"""The LLVM CPU backend: fused loop nests compiled with llvmlite for the host CPU.

Only this package imports llvmlite, so ``import symgraph`` works without it.
"""

from symgraph.codegen.llvm.backend import LLVMBackend

__all__ = ["LLVMBackend"]
