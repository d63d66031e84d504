"""Graph-level helpers shared by the LLVM and CUDA backends: the scalar program of an
elementwise node and the tensors-only test. Imports neither llvmlite nor cuda-bindings.
"""

from __future__ import annotations

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
