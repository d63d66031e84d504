"""Every kernel the CUDA backend can generate, enumerated for compile checks (CI compiles them
all with NVRTC, with no GPU) and for the emulator's table tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from symgraph import dtype as dt
from symgraph.codegen.cuda import conv, conv_grad, indexing, nnet
from symgraph.codegen.cuda import elementwise as ew
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import random as philox
from symgraph.codegen.cuda import reduction as rd
from symgraph.ops import elemwise
from symgraph.ops.composite import ScalarProgram
from symgraph.type import TensorType
from symgraph.op import EmitError

FLOATS = dt.FLOAT_DTYPES
NUMERIC = dt.INTEGER_DTYPES + dt.FLOAT_DTYPES


def table_rows() -> list[elemwise.ScalarOp]:
    """The elementwise table and a cast row per target dtype."""
    return list(elemwise.SCALAR_OPS) + [elemwise.cast_scalar_op(d) for d in dt.ALL_DTYPES]


def row_nodes(row: elemwise.ScalarOp) -> Iterator[Any]:
    """One Elemwise node per input dtype the row accepts (1-d inputs)."""
    arity = 2 if row.nin < 0 else row.nin
    for dtype in dt.ALL_DTYPES:
        if dtype[0] not in row.input_kinds and not (dtype == "bool" and "b" in row.input_kinds):
            continue
        dtypes = [dtype] * arity
        if row.skip_promotion:
            dtypes[0] = "bool"
        inputs = [TensorType(d, (None,)).make_variable() for d in dtypes]
        try:
            yield elemwise.Elemwise(row).make_node(*inputs)
        except TypeError:
            continue


def program_of(node: Any) -> ScalarProgram:
    n = len(node.inputs)
    step = (node.op.scalar_op, tuple(range(n)), node.outputs[0].type.dtype)
    return ScalarProgram(tuple(v.type.dtype for v in node.inputs), (step,), (n,))


def table_programs() -> tuple[list[tuple[str, ScalarProgram, list[Any]]], list[str]]:
    """Per input dtype, one program applying every table row that accepts it to its inputs
    (slots: three values of the dtype, then a bool for ``switch``), and the rows/dtypes with
    no CUDA rule. Compiling one program per dtype checks every row's code at a fraction of
    the cost of one kernel per row."""
    programs, missing = [], []
    for dtype in dt.ALL_DTYPES:
        inputs = (dtype, dtype, dtype, "bool")
        steps, nodes = [], []
        for row in table_rows():
            for node in row_nodes(row):
                if node.inputs[-1].type.dtype != dtype:
                    continue
                args = tuple(3 if (i == 0 and row.skip_promotion) else i
                             for i in range(len(node.inputs)))
                step = (row, args, node.outputs[0].type.dtype)
                single = ScalarProgram(inputs, (step,), (4,))
                try:
                    ew.elementwise_kernel(ew.ElementwiseSpec(single, (step[2],), 1))
                except EmitError:
                    missing.append(f"{row.name}({dtype})")
                    continue
                steps.append(step)
                nodes.append(node)
        outputs = tuple(range(4, 4 + len(steps)))
        programs.append((dtype, ScalarProgram(inputs, tuple(steps), outputs), nodes))
    return programs, missing


def table_kernels() -> tuple[list[kn.Kernel], list[str]]:
    programs, missing = table_programs()
    kernels = [ew.elementwise_kernel(ew.ElementwiseSpec(p, p.output_dtypes(), 1))
               for _, p, _ in programs]
    return kernels, missing


def reduction_specs() -> list[rd.ReduceSpec]:
    specs = []
    for kind in rd.KINDS:
        dtypes = ("bool",) if kind in ("and_", "or_") else dt.ALL_DTYPES
        for dtype in dtypes:
            if kind in ("add", "mul"):
                from symgraph.ops.reduce import accumulate_dtype

                out = accumulate_dtype(dtype)
            else:
                out = "int64" if kind in rd.ARG_KINDS else dtype
            acc = rd.accumulator_dtype(kind, dtype, out)
            shapes = ((1, 1, 32), (2, 2, 64)) if dtype == "float32" else ((2, 2, 64),)
            for keep, red, bits in shapes:
                specs.append(rd.ReduceSpec(rd.identity_program(dtype), kind, acc, out, keep,
                                           red, bits))
    fused = ScalarProgram(("float16", "float32"), (
        (elemwise.TABLE["exp"], (0,), "float16"), (elemwise.TABLE["mul"], (2, 1), "float32")),
        (3,))
    for kind in ("add", "maximum", "argmin"):
        out = "int64" if kind == "argmin" else "float32"
        specs.append(rd.ReduceSpec(fused, kind, rd.accumulator_dtype(kind, "float32", out), out,
                                   1, 2))
    return specs


def other_kernels() -> list[kn.Kernel]:
    """Softmax, crossentropy, indexing, Philox, im2col and pooling kernels in every dtype."""
    kernels = []
    for x_dtype in FLOATS + ("int32",):
        out = dt.upgrade_to_float(x_dtype)
        kernels += [nnet.softmax_kernel(log, x_dtype, out) for log in (False, True)]
    for f in FLOATS:
        kernels += [
            nnet.crossentropy_kernel("onehot", (f, "int64"), f),
            nnet.crossentropy_kernel("onehot_grad", (f, f, "int32"), f),
            nnet.crossentropy_kernel("logits_index", (f, "int64"), f),
            nnet.crossentropy_kernel("logits_dense", (f, f), f),
            nnet.crossentropy_kernel("logits_index_grad", (f, f, "uint8"), f),
            nnet.crossentropy_kernel("logits_dense_grad", (f, f, f), f),
        ]
    for dtype in dt.ALL_DTYPES:
        for mode in ("gather", "inc", "set"):
            kernels.append(indexing.index_kernel(mode, dtype, ("int64",)))
    kernels.append(indexing.index_kernel("inc", "float32", ("int32", "uint16", "int8")))
    for dist in ("uniform", "normal"):
        kernels += [philox.philox_kernel(dist, d) for d in FLOATS]
    kernels.append(philox.philox_kernel("bits", "float32"))
    kernels += [conv.im2col_kernel(d) for d in ("float32", "float64")]
    for mode in ("max", "sum"):
        kernels += [conv.pool_kernel(mode, d) for d in NUMERIC]
    for mode in ("average_inc_pad", "average_exc_pad"):
        kernels += [conv.pool_kernel(mode, d) for d in FLOATS]
    kernels += [conv_grad.col2im_kernel(d) for d in ("float32", "float64")]
    kernels += [conv_grad.pool_grad_kernel(kind, d) for kind in conv_grad.POOL_GRAD_KINDS
                for d in ("float32", "float64")]
    return kernels
