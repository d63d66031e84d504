"""CUDA C for elementwise programs (``Elemwise`` rows and fused ``Composite`` programs).

One thread per output element over a grid-stride loop. Shapes and element strides are run-time
values in a struct passed by value, so one kernel serves every size and layout: broadcasting is a
stride of 0, transposed and sliced views have their own strides, and the runtime merges
dimensions that are contiguous for every operand before choosing the kernel's rank. Float16 is
loaded to float, computed in float32 as NumPy does, and stored back rounded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.emitter import ERROR_CODE, ERROR_FLAG, CodeBlock, CValue
from symgraph.ops.composite import ScalarProgram


@dataclass(frozen=True)
class ElementwiseSpec:
    """What an elementwise kernel's code depends on.

    ``ndim`` is the rank after merging dimensions (at least 1); ``index_bits`` 32 when every
    offset fits (faster index arithmetic), else 64.
    """

    program: ScalarProgram
    out_dtypes: tuple[str, ...]
    ndim: int
    index_bits: int = 32

    @property
    def n_operands(self) -> int:
        return self.program.n_inputs + len(self.out_dtypes)

    def operand_dtypes(self) -> list[str]:
        return list(self.program.input_dtypes) + list(self.out_dtypes)


def meta_struct(ndim: int, n_operands: int) -> str:
    return (f"struct @NAME@_meta {{ sg_i64 n; sg_i64 shape[{ndim}]; "
            f"sg_i64 strides[{n_operands}][{ndim}]; }};\n")


@functools.lru_cache(maxsize=4096)
def elementwise_kernel(spec: ElementwiseSpec) -> kn.Kernel:
    """The kernel computing ``spec.program`` elementwise.

    Parameters: ``meta`` (``n`` elements, ``shape[ndim]``, ``strides[operand][ndim]`` in
    elements), then one pointer per input and per output; then, when a rule may fail (integer
    powers), the error flag and one code per error (``Kernel.errors``).

    Raises
    ------
    EmitError
        When a step of the program has no CUDA rule (the node then runs its perform).
    """
    idx = kn.index_type(spec.index_bits)
    dtypes = spec.operand_dtypes()
    n_in = spec.program.n_inputs
    offsets = [f"o{k}" for k in range(len(dtypes))]
    strides = [f"m.strides[{k}]" for k in range(len(dtypes))]
    body = kn.decompose("i", "m.shape", strides, spec.ndim, idx, offsets)
    block = CodeBlock(prefix="v", errors=[])
    inputs = [block.declare(d, src.load(d, f"p{k}", offsets[k])) for k, d in
              enumerate(dtypes[:n_in])]
    outputs = kn.emit_program(block, spec.program, inputs)
    body += block.lines
    for j, (value, dtype) in enumerate(zip(outputs, spec.out_dtypes)):
        k = n_in + j
        body.append(f"p{k}[{offsets[k]}] = {src.store_value(dtype, _as(value, dtype, block))};")
    params = ["const @NAME@_meta"] + [f"const {src.storage_type(d)}*" for d in dtypes[:n_in]] \
        + [f"{src.storage_type(d)}*" for d in spec.out_dtypes]
    names = ["m"] + [f"p{k}" for k in range(len(dtypes))]
    if block.errors:
        params += ["int*"] + ["int"] * len(block.errors)
        names += [ERROR_FLAG] + [f"{ERROR_CODE}{k}" for k in range(len(block.errors))]
    args = ", ".join(f"{p} {name}" for p, name in zip(params, names))
    lines = "\n".join("    " + line for line in body)
    code = (meta_struct(spec.ndim, len(dtypes))
            + f"SG_KERNEL void @NAME@({args}) {{\n"
            + f"  {kn.grid_stride('i', 'm.n', idx)} {{\n{lines}\n  }}\n}}\n")
    return kn.finalize("ew", code, params, block.errors or ())


def _as(value: CValue, dtype: str, block: CodeBlock) -> str:
    """``value`` as a register of ``dtype`` (program outputs already have their dtype)."""
    if value.dtype == dtype:
        return value.text
    from symgraph.codegen.cuda.emitter import cast_expr

    return f"({cast_expr(value.text, value.dtype, dtype)})"


def copy_program(dtype: str, out_dtype: str | None = None) -> ScalarProgram:
    """The program of a strided copy (or a cast): its output is its input."""
    if out_dtype is None or out_dtype == dtype:
        return ScalarProgram((dtype,), (), (0,))
    from symgraph.ops import elemwise

    row = elemwise.cast_scalar_op(out_dtype)
    return ScalarProgram((dtype,), ((row, (0,), out_dtype),), (1,))
