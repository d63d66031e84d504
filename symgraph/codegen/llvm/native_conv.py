"""Convolution and pooling nodes in native entry points: ``Conv2d``, ``Conv2dGradInputs`` and
``Conv2dGradWeights`` as im2col / col2im around NumPy's CBLAS gemm, the pooling ops as
window loops (kernels in ``conv_kernels`` and ``pool_kernels``).

The entry point checks shapes (a mismatch hands the call to the Python path, whose
``perform`` reports it), computes the geometry, presents operands C-contiguous (copying
those that are not) and calls the kernel with the GIL released.
"""

from __future__ import annotations

from typing import Any

from symgraph.codegen.llvm import blas
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.conv_kernels import (CONV_PARAMS, ConvSpec, compile_loops, floor_div,
                                                smax)
from symgraph.codegen.llvm.native_ops import contiguous_strides, copy_into, is_contiguous
from symgraph.codegen.llvm.plan import Match, OutlinedByOp, Program, Step
from symgraph.codegen.llvm.pool_kernels import PoolSpec
from symgraph.graph import Apply
from symgraph.ops import conv
from symgraph.type import TensorType

FLOATS = ("float32", "float64")
INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
# Scratch buffers of the frame (numbers private to these rules).
FIRST_COPY, SECOND_COPY, WORKSPACE = 30, 31, 32


def _match(node: Apply, spec: Any, note: str) -> Match | None:
    """The match running ``node`` with the kernel of ``spec``, compiled now (while the function
    being built pins what it uses); None when it cannot be built."""
    try:
        compile_loops(spec)
    except (NotImplementedError, RuntimeError):
        return None
    return Match(node.inputs, allocates=(0,), info=spec, note=note)


def _tensors_share(node: Apply, dtype: str) -> bool:
    return all(v.type.dtype == dtype for v in node.inputs
               if isinstance(v.type, TensorType) and v.type.ndim > 0)


def contiguous_data(code: Any, slot: Any, dims: list[Any], scratch: int) -> Any:
    """A pointer to ``slot``'s value in C order: its own data, or a copy in ``scratch``."""
    g, b = code.gen, code.gen.b
    strides = [g.load(slot.stride(d)) for d in range(slot.ndim)]
    pointer = iu.entry_alloca(b, iu.PTR, "operand")
    with b.if_else(is_contiguous(g, strides, dims, slot.itemsize)) as (direct, copied):
        with direct:
            b.store(g.data(slot), pointer)
        with copied:
            target_strides, nbytes = contiguous_strides(g, dims, slot.itemsize)
            copy = g.reserve(code.scratch_word(scratch), nbytes)
            copy_into(code, slot, dims, copy, target_strides, strides)
            b.store(copy, pointer)
    return b.load(pointer, typ=iu.PTR)


def _call(code: Any, spec: Any, data: list[Any], params: list[Any], work: Any) -> None:
    g = code.gen
    word = code.address_word(("loops", spec), lambda: compile_loops(spec).address)
    data_array = g.alloca_array(iu.PTR, data, "loops.data")
    params_array = g.alloca_array(iu.I64, params, "loops.params")
    with g.without_gil(work):
        g.call_address(word, iu.VOID, [(iu.PTR, data_array), (iu.PTR, params_array)])


# ---------------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------------

CONV_OPS = {conv.Conv2d: "forward", conv.Conv2dGradInputs: "grad_inputs",
            conv.Conv2dGradWeights: "grad_weights"}


class ConvRule(OutlinedByOp):
    """``Conv2d`` and its gradient ops of float32 or float64 operands (all one dtype)."""

    name = "im2col + BLAS gemm"

    def match(self, node: Apply, program: Program) -> Match | None:
        kind = CONV_OPS.get(type(node.op))
        lib = blas.library()
        dtype: str = getattr(node.outputs[0].type, "dtype", "")
        if kind is None or lib is None or dtype not in FLOATS or not _tensors_share(node, dtype):
            return None
        op: Any = node.op
        spec = ConvSpec(kind, dtype, op.subsample, op.filter_flip, lib.int_bits)
        return _match(node, spec, "im2col + BLAS gemm")

    def emit(self, code: Any, step: Step) -> None:
        spec: ConvSpec = step.match.info
        node, g, b = step.node, code.gen, code.gen.b
        op: Any = node.op
        first, second = (code.slot(v) for v in node.inputs[:2])
        a_dims = [g.load(first.dim(d)) for d in range(4)]
        z_dims = [g.load(second.dim(d)) for d in range(4)]
        checks: list[Any] = []
        if spec.kind == "forward":
            (batch, channels, rows, cols), (out_ch, w_ch, krows, kcols) = a_dims, z_dims
            checks.append(b.icmp_signed("!=", channels, w_ch))
            for hint, dims in ((op.input_shape, a_dims), (op.filter_shape, z_dims)):
                checks += [b.icmp_signed("!=", d, iu.i64(h))
                           for h, d in zip(hint or (), dims) if h is not None]
        else:
            size = [g.read_scalar(code.slot(v), "int64") for v in node.inputs[2:]]
            batch, out_ch = z_dims[0], z_dims[1]
            if spec.kind == "grad_inputs":
                (w_out, channels, krows, kcols), (rows, cols) = a_dims, size
                checks.append(b.icmp_signed("!=", w_out, out_ch))
            else:
                (x_batch, channels, rows, cols), (krows, kcols) = a_dims, size
                checks.append(b.icmp_signed("!=", x_batch, batch))
        pads = [self._pad(b, op.border_mode, k, axis) for axis, k in enumerate((krows, kcols))]
        outs = []
        for axis, (size, k) in enumerate(((rows, krows), (cols, kcols))):
            span = b.sub(b.add(size, b.mul(pads[axis], iu.i64(2))), k)
            checks += [b.icmp_signed("<", span, iu.i64(0)), b.icmp_signed("<", size, iu.i64(0))]
            outs.append(b.add(floor_div(b, span, op.subsample[axis]), iu.i64(1)))
        if spec.kind != "forward":
            checks += [b.icmp_signed("!=", z_dims[2], outs[0]),
                       b.icmp_signed("!=", z_dims[3], outs[1])]
        # Empty operands and 0-sized filters are left to perform (and BLAS's edge cases).
        checks += [b.icmp_signed("<=", v, iu.i64(0)) for v in (channels, out_ch, krows, kcols)]
        g.bail_if_any(checks)
        values = dict(zip(CONV_PARAMS, (batch, channels, rows, cols, out_ch, krows, kcols,
                                        outs[0], outs[1], pads[0], pads[1])))
        self._run(code, spec, node, values, a_dims, z_dims)

    @staticmethod
    def _pad(b: Any, border_mode: Any, kernel: Any, axis: int) -> Any:
        if border_mode == "valid":
            return iu.i64(0)
        if border_mode == "full":
            return b.sub(kernel, iu.i64(1))
        if border_mode == "half":
            return b.sdiv(kernel, iu.i64(2))
        return iu.i64(border_mode[axis])

    @staticmethod
    def _run(code: Any, spec: ConvSpec, node: Apply, p: dict[str, Any], a_dims: list[Any],
             z_dims: list[Any]) -> None:
        g, b = code.gen, code.gen.b
        first, second = (code.slot(v) for v in node.inputs[:2])
        shapes = {"forward": [p["batch"], p["out_channels"], p["out_rows"], p["out_cols"]],
                  "grad_inputs": [p["batch"], p["channels"], p["rows"], p["cols"]],
                  "grad_weights": [p["out_channels"], p["channels"], p["kernel_rows"],
                                   p["kernel_cols"]]}
        out_var = node.outputs[0]
        code.alloc(out_var, shapes[spec.kind])
        result = g.data(code.slot(out_var))
        a = contiguous_data(code, first, a_dims, FIRST_COPY)
        z = contiguous_data(code, second, z_dims, SECOND_COPY)
        depth = b.mul(b.mul(p["channels"], p["kernel_rows"]), p["kernel_cols"])
        spatial = b.mul(p["out_rows"], p["out_cols"])
        itemsize = iu.i64(first.itemsize)
        elements = b.mul(depth, spatial)
        if spec.kind == "grad_inputs" and spec.subsample == (1, 1):
            # Or, run as a convolution: col of the output gradient (its taps by the input's
            # positions), then the filters with their channels swapped (see conv_kernels).
            swapped = b.mul(b.mul(p["out_channels"], p["kernel_rows"]), p["kernel_cols"])
            converted = b.mul(swapped, b.add(b.mul(p["rows"], p["cols"]), p["channels"]))
            elements = smax(b, elements, converted)
        if spec.kind == "forward" and spec.subsample == (1, 1):
            elements = smax(b, elements, _shifted_elements(b, p))
        work = g.reserve(code.scratch_word(WORKSPACE), b.mul(elements, itemsize))
        operands = {"forward": [a, z, result], "grad_inputs": [result, a, z],
                    "grad_weights": [a, result, z]}[spec.kind]
        name = ("s" if spec.dtype == "float32" else "d") + "gemm"
        lib = blas.library()
        assert lib is not None
        gemm = g.load(code.address_word(("blas", name), lambda: lib.addresses[name]), iu.PTR)
        flops = b.mul(b.mul(depth, spatial), b.mul(p["batch"], p["out_channels"]))
        _call(code, spec, [*operands, work, gemm], [p[k] for k in CONV_PARAMS], flops)


def _shifted_elements(b: Any, p: dict[str, Any]) -> Any:
    """Workspace of the forward pass by filter taps (conv_kernels._shifted_setup): the padded
    image, the filters tap by tap, the staging output."""
    padded_cols = b.add(p["cols"], b.mul(p["pad_cols"], iu.i64(2)))
    padded_rows = b.add(p["rows"], b.mul(p["pad_rows"], iu.i64(2)))
    plane = b.add(b.mul(padded_rows, padded_cols), p["kernel_cols"])
    taps = b.mul(p["kernel_rows"], p["kernel_cols"])
    pairs = b.mul(p["out_channels"], p["channels"])
    staging = b.mul(p["out_channels"], b.mul(p["out_rows"], padded_cols))
    return b.add(b.add(b.mul(p["channels"], plane), b.mul(taps, pairs)), staging)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

POOL_OPS = {conv.Pool: "pool", conv.MaxPoolGrad: "max_grad",
            conv.MaxPoolGradGrad: "max_grad_grad", conv.AveragePoolGrad: "average_grad"}


def pooled_length(b: Any, size: Any, ws: int, stride: int, pad: int, ignore_border: bool
                  ) -> Any:
    """Theano's number of windows along an axis of ``size`` cells (as ``_pool_out_len``)."""
    zero = iu.i64(0)
    if ignore_border:
        span = b.sub(b.add(size, iu.i64(2 * pad)), iu.i64(ws))
        count = b.add(floor_div(b, span, stride), iu.i64(1))
        return b.select(b.icmp_signed("<", count, zero), zero, count)
    if stride >= ws:
        return b.add(floor_div(b, b.sub(size, iu.i64(1)), stride), iu.i64(1))
    whole = floor_div(b, b.add(size, iu.i64(stride - 1 - ws)), stride)
    whole = b.select(b.icmp_signed("<", whole, zero), zero, whole)
    some = b.select(b.icmp_signed("<", size, iu.i64(1)), size, iu.i64(1))
    return b.add(whole, some)


class PoolRule(OutlinedByOp):
    """Pooling and its gradients over the last two axes: floats, and integers for 'max' and
    'sum' pooling; one dtype throughout."""

    name = "window loops"

    def match(self, node: Apply, program: Program) -> Match | None:
        kind = POOL_OPS.get(type(node.op))
        if kind is None:
            return None
        dtype: str = getattr(node.outputs[0].type, "dtype", "")
        allowed = FLOATS + (INTEGERS if kind == "pool" else ())
        if dtype not in allowed or not _tensors_share(node, dtype):
            return None
        op: Any = node.op
        spec = PoolSpec(kind, getattr(op, "mode", "max"), dtype, op.ws, op.stride, op.pad)
        return _match(node, spec, "window loops")

    def emit(self, code: Any, step: Step) -> None:
        spec: PoolSpec = step.match.info
        node, g, b = step.node, code.gen, code.gen.b
        op: Any = node.op
        x = code.slot(node.inputs[0])
        dims = [g.load(x.dim(d)) for d in range(x.ndim)]
        rows, cols = dims[-2:]
        images: Any = iu.i64(1)
        for length in dims[:-2]:
            images = b.mul(images, length)
        pooled = [pooled_length(b, size, op.ws[a], op.stride[a], op.pad[a], op.ignore_border)
                  for a, size in enumerate((rows, cols))]
        pooled_dims = dims[:-2] + pooled
        # AveragePoolGrad reads only the input's shape.
        data = [g.data(x) if spec.kind == "average_grad" else
                contiguous_data(code, x, dims, FIRST_COPY)]
        if spec.kind == "pool":
            data.append(data[0])
        else:
            other = code.slot(node.inputs[1])
            expected = dims if spec.kind == "max_grad_grad" else pooled_dims
            other_dims = [g.load(other.dim(d)) for d in range(other.ndim)]
            g.bail_if_any([b.icmp_signed("!=", d, e) for d, e in zip(other_dims, expected)])
            data.append(contiguous_data(code, other, other_dims, SECOND_COPY))
        out_var = node.outputs[0]
        code.alloc(out_var, dims if spec.kind in ("max_grad", "average_grad") else pooled_dims)
        data.append(g.data(code.slot(out_var)))
        work = b.mul(b.mul(images, b.mul(rows, cols)), iu.i64(op.ws[0] * op.ws[1]))
        _call(code, spec, data, [images, rows, cols, *pooled], work)


def rules() -> list[Any]:
    return [ConvRule(), PoolRule()]
