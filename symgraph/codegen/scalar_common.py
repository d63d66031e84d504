"""Graph-level helpers shared by the LLVM and CUDA backends: the scalar program of an
elementwise node, the dtypes a scalar step computes in, and the tensors-only test. Imports
neither llvmlite nor cuda-bindings.
"""

from __future__ import annotations

from symgraph import dtype as dt
from symgraph.graph import Apply
from symgraph.ops import composite, elemwise
from symgraph.ops.composite import ScalarProgram
from symgraph.type import TensorType


def tensors_only(node: Apply) -> bool:
    """Every input and output of ``node`` is a tensor."""
    return all(isinstance(v.type, TensorType) for v in node.inputs + node.outputs)


def program_of(node: Apply) -> ScalarProgram | None:
    """The scalar program of an Elemwise or Composite node (None for other nodes)."""
    op = node.op
    if isinstance(op, composite.Composite):
        return op.program
    if isinstance(op, elemwise.Elemwise):
        n = len(node.inputs)
        step = (op.scalar_op, tuple(range(n)), node.outputs[0].type.dtype)
        return ScalarProgram(tuple(v.type.dtype for v in node.inputs), (step,), (n,))
    return None


def compute_dtypes(row: elemwise.ScalarOp, arg_dtypes: list[str],
                   out_dtype: str) -> tuple[str, list[str]]:
    """``(e.dtype, dtype of each argument)`` of a step, as ``apply_scalar_op`` computes: rows
    whose output dtype is the input's (or its float upgrade) compute in the output's compute
    dtype; the others (comparisons, selections, casts) in their inputs' dtype, float16 widened
    to float32."""
    if row.output_dtype in (elemwise.same, elemwise.to_float):
        compute = dt.compute_dtype(out_dtype)
        return compute, [compute] * len(arg_dtypes)
    skip = row.skip_promotion
    common = dt.compute_dtype(arg_dtypes[-1] if arg_dtypes else out_dtype)
    wanted = [dt.compute_dtype(d) if i < skip else common for i, d in enumerate(arg_dtypes)]
    return common, wanted
