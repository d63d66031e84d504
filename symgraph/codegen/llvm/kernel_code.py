"""Compiled kernels, one per kernel specification: shared by every function that uses one
while any holds it (the JIT unloads it with the last), built on first use."""

from __future__ import annotations

import weakref

from symgraph.codegen.llvm.jit import Code, engine, pin
from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir
from symgraph.op import EmitError

_KERNELS: weakref.WeakValueDictionary[KernelSpec, Code] = weakref.WeakValueDictionary()
_UNBUILDABLE: dict[KernelSpec, EmitError] = {}


def compile_kernel(spec: KernelSpec) -> Code:
    """The compiled kernel of ``spec`` (shared while anything holds it; ``EmitError`` when it
    cannot be built). Kernels are ``void kernel(i64 *shape, ptr *data, i64 *strides)``."""
    code = _KERNELS.get(spec)
    if code is not None:
        return pin(code)
    failed = _UNBUILDABLE.get(spec)
    if failed is not None:
        raise failed
    jit = engine()
    try:
        if not jit.has_f16c and "float16" in spec.operand_dtypes():
            raise EmitError("float16 needs the F16C instructions on this CPU")
        text, symbol = kernel_ir(spec, jit.has_gomp, jit.has_scalef)
    except NotImplementedError as err:
        failed = err if isinstance(err, EmitError) else EmitError(str(err))
        _UNBUILDABLE[spec] = failed
        raise failed from None
    code = jit.compile(text, [symbol])
    _KERNELS[spec] = code
    return code
