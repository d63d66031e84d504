"""A generated kernel (name, CUDA C code, parameter types), scalar programs emitted through the
table rows' ``emit`` rules, and the index arithmetic that kernels share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from symgraph import dtype as dt
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.emitter import CodeBlock, CudaEmitter, CValue
from symgraph.ops import elemwise
from symgraph.ops.composite import ScalarProgram
from symgraph.op import EmitError

PLACEHOLDER = "@NAME@"


@dataclass(frozen=True)
class Kernel:
    """One ``__global__`` function: ``code`` defines it (after the prelude) under ``name``;
    ``params`` are the C types of its parameters, in order (what a launch packs); ``errors``
    the ``(exception class, message)`` its rules report, whose codes end its parameters,
    after the error flag."""

    name: str
    code: str
    params: tuple[str, ...]
    errors: tuple[tuple[type, str], ...] = ()

    def host_shim(self) -> str:
        """A host entry point taking CUDA's ``void **kernelParams`` (for the CPU emulator)."""
        args = ", ".join(f"*({p}*)a[{i}]" for i, p in enumerate(self.params))
        return f'extern "C" void {self.name}_host(void** a) {{ {self.name}({args}); }}\n'


def finalize(kind: str, code: str, params: Sequence[str],
             errors: Sequence[tuple[type, str]] = ()) -> Kernel:
    """Name the kernel after the hash of its code, so equal kernels share a name everywhere."""
    digest = hashlib.sha1(code.encode()).hexdigest()[:16]
    name = f"sg_{kind}_{digest}"
    params = tuple(p.replace(PLACEHOLDER, name) for p in params)
    return Kernel(name, code.replace(PLACEHOLDER, name), params, tuple(errors))


def program_source(kernels: Sequence[Kernel], host: bool = False) -> str:
    """One translation unit: the prelude and every kernel (and host shims for the emulator)."""
    parts = ["#define SG_HOST 1\n" if host else "", src.prelude()]
    seen: set[str] = set()
    for kernel in kernels:
        if kernel.name in seen:
            continue
        seen.add(kernel.name)
        parts.append(kernel.code)
        if host:
            parts.append(kernel.host_shim())
    return "\n".join(parts)


def index_type(bits: int) -> str:
    return "sg_i32" if bits == 32 else "sg_i64"


# -- scalar programs ---------------------------------------------------------------------------
def emit_step(block: CodeBlock, row: elemwise.ScalarOp, args: list[CValue],
              out_dtype: str) -> CValue:
    """One table row applied to ``args``, converted to ``out_dtype``."""
    if row.nin == 0:
        return CudaEmitter(block, out_dtype).constant(row.params[0], out_dtype)
    if row.emit is None:
        raise EmitError(f"the elementwise row {row.name} has no emit rule")
    compute, wanted = elemwise.compute_dtypes(row, [a.dtype for a in args], out_dtype)
    e = CudaEmitter(block, compute)
    values = [e.cast(a, want) for a, want in zip(args, wanted)]
    try:
        result = row.emit(e, *values)
    except EmitError:
        raise
    except NotImplementedError as err:
        raise EmitError(str(err)) from err
    return e.cast(result, out_dtype)


def emit_program(block: CodeBlock, program: ScalarProgram, inputs: list[CValue]) -> list[CValue]:
    """Every step of ``program`` on typed ``inputs``; returns the typed outputs."""
    slots = list(inputs)
    for row, arg_slots, out_dtype in program.steps:
        slots.append(emit_step(block, row, [slots[a] for a in arg_slots], out_dtype))
    return [slots[o] for o in program.outputs]


def identity_literal(kind: str, dtype: str) -> str:
    """Start value of a reduction of ``kind`` accumulating in ``dtype``."""
    if kind in ("add", "or_"):
        value: float | int | bool = 0
    elif kind in ("mul", "and_"):
        value = 1
    elif dtype == "bool":
        value = kind in ("minimum", "argmin")
    elif dt.is_float(dtype):
        value = float("-inf") if kind in ("maximum", "argmax") else float("inf")
    else:
        import numpy as np

        info = np.iinfo(dtype)
        value = int(info.min) if kind in ("maximum", "argmax") else int(info.max)
    return src.literal(value, dtype)


# -- index arithmetic --------------------------------------------------------------------------
def decompose(index: str, shape: str, strides: Sequence[str], ndim: int, idx: str,
              offsets: Sequence[str], initial: Sequence[str] | None = None,
              tag: str = "") -> list[str]:
    """Statements turning linear ``index`` (C order over ``ndim`` dims of ``shape[d]``) into
    element offsets ``offsets[k] = initial[k] + sum_d coord_d * strides[k][d]``."""
    start = initial or ["0"] * len(offsets)
    lines = [f"{idx} {o} = {s};" for o, s in zip(offsets, start)]
    if ndim == 1:
        lines += [f"{o} += {index} * ({idx}){st}[0];" for o, st in zip(offsets, strides)]
        return lines
    rest, coord = f"rest{tag}", f"coord{tag}"
    lines.append(f"{idx} {rest} = {index}, {coord};")
    for d in range(ndim - 1, 0, -1):
        lines.append(f"{coord} = {rest} % ({idx}){shape}[{d}]; {rest} /= ({idx}){shape}[{d}];")
        lines += [f"{o} += {coord} * ({idx}){st}[{d}];" for o, st in zip(offsets, strides)]
    lines += [f"{o} += {rest} * ({idx}){st}[0];" for o, st in zip(offsets, strides)]
    return lines


def grid_stride(var: str, count: str, idx: str) -> str:
    """A loop header visiting ``0 .. count-1`` once over the whole grid (any grid size)."""
    return (f"for ({idx} {var} = ({idx})blockIdx.x * ({idx})blockDim.x + ({idx})threadIdx.x; "
            f"{var} < ({idx})({count}); {var} += ({idx})blockDim.x * ({idx})gridDim.x)")


def block_stride(var: str, count: str, idx: str) -> str:
    """A loop header giving each block the tasks ``blockIdx.x, blockIdx.x + gridDim.x, ...``."""
    return (f"for ({idx} {var} = ({idx})blockIdx.x; {var} < ({idx})({count}); "
            f"{var} += ({idx})gridDim.x)")
