"""Compiled loops of ``Conv2d`` and its two gradients (im2col / col2im around the CBLAS gemm,
whose address the caller passes in), and what they share with ``pool_kernels``: the kernel
cache, the entry signature and index arithmetic.

Each kernel is a module of its own, optimised like the elementwise kernels (entry points are
not) and shared by every function that uses an equal spec. Kernels take C-contiguous
operands and have the C signature ``void k(ptr *data, i64 *params)``; the rules in
``native_conv`` check shapes, lay operands out and compute the geometry first.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.jit import Code, engine, pin

PLACEHOLDER = "sg_conv_kernel"
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# Conv kernels: data = [image, filters, maps, workspace, gemm]; params below. "image" is the
# input of Conv2d and Conv2dGradWeights and the result of Conv2dGradInputs, "filters" the
# result of Conv2dGradWeights, "maps" the output of Conv2d and the output gradient otherwise.
CONV_PARAMS = ("batch", "channels", "rows", "cols", "out_channels", "kernel_rows",
               "kernel_cols", "out_rows", "out_cols", "pad_rows", "pad_cols")
CONV_KINDS = ("forward", "grad_inputs", "grad_weights")
# Input channels from which a unit-stride forward pass runs one gemm per filter tap.
SHIFTED_CHANNELS = 32


@dataclass(frozen=True)
class ConvSpec:
    """``kind`` in CONV_KINDS; ``subsample`` and ``flip`` as the op's; ``int_bits``: width of
    the BLAS integers."""

    kind: str
    dtype: str
    subsample: tuple[int, int]
    flip: bool
    int_bits: int

    def ir_text(self) -> str:
        return _ConvBuilder(self).build()


_CODES: weakref.WeakValueDictionary[Any, Code] = weakref.WeakValueDictionary()


def compile_loops(spec: Any) -> Code:
    """The compiled kernel of ``spec`` (a ConvSpec or a PoolSpec: frozen, with ``ir_text()``;
    shared while anything holds it)."""
    code = _CODES.get(spec)
    if code is not None:
        return pin(code)
    text = spec.ir_text()
    symbol = "sg_conv_" + hashlib.sha1(text.encode()).hexdigest()[:24]
    code = engine().compile(text.replace(PLACEHOLDER, symbol), [symbol])
    _CODES[spec] = code
    return code


# ---------------------------------------------------------------------------------------------
# Index arithmetic
# ---------------------------------------------------------------------------------------------

def floor_div(b: ir.IRBuilder, a: Any, divisor: int) -> Any:
    """``a // divisor`` (Python's floor) for a constant ``divisor > 0``."""
    if divisor == 1:
        return a
    negative = b.icmp_signed("<", a, iu.i64(0))
    shifted = b.sub(a, b.select(negative, iu.i64(divisor - 1), iu.i64(0)))
    return b.sdiv(shifted, iu.i64(divisor))


def smax(b: ir.IRBuilder, a: Any, c: Any) -> Any:
    return b.select(b.icmp_signed(">", a, c), a, c)


def smin(b: ir.IRBuilder, a: Any, c: Any) -> Any:
    return b.select(b.icmp_signed("<", a, c), a, c)


def valid_range(b: ir.IRBuilder, offset: Any, stride: int, length: Any, count: Any
                ) -> tuple[Any, Any]:
    """``[lo, hi)``: the ``i`` in ``[0, count)`` with ``0 <= i * stride + offset < length``."""
    lo = floor_div(b, b.add(b.neg(offset), iu.i64(stride - 1)), stride)
    hi = floor_div(b, b.add(b.sub(length, offset), iu.i64(stride - 1)), stride)
    lo = smin(b, smax(b, lo, iu.i64(0)), count)
    hi = smax(b, smin(b, hi, count), lo)
    return lo, hi


def at(b: ir.IRBuilder, pointer: Any, index: Any, ty: ir.Type) -> Any:
    return b.gep(pointer, [index], source_etype=ty)


def zero_fill(b: ir.IRBuilder, pointer: Any, start: Any, stop: Any, ty: ir.Type) -> None:
    with iu.for_range(b, start, stop, name="z") as k:
        b.store(ir.Constant(ty, 0), at(b, pointer, k, ty))


def entry(module: ir.Module) -> tuple[ir.Function, ir.IRBuilder, Any, Any]:
    """The kernel ``void k(ptr data, ptr params)`` (named for the JIT later)."""
    fn = ir.Function(module, ir.FunctionType(iu.VOID, [iu.PTR, iu.PTR]), name=PLACEHOLDER)
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    return fn, b, fn.args[0], fn.args[1]


def loads(b: ir.IRBuilder, array: Any, count: int, ty: ir.Type) -> list[Any]:
    return [b.load(at(b, array, iu.i64(k), ty), typ=ty) for k in range(count)]


def _new_function(module: ir.Module, name: str, n_args: int, ret: ir.Type = iu.VOID
                  ) -> tuple[ir.Function, ir.IRBuilder]:
    fn = ir.Function(module, ir.FunctionType(ret, [iu.PTR] * 2 + [iu.I64] * n_args), name=name)
    fn.attributes.add("nounwind")
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


# ---------------------------------------------------------------------------------------------
# Convolutions: im2col + gemm
# ---------------------------------------------------------------------------------------------

class _ConvBuilder:
    """``forward``: per image, im2col then ``maps = filters @ col``; ``grad_inputs``: per
    image, ``col = filters.T @ maps`` then col2im adds col into the image; ``grad_weights``:
    ``filters = sum over images of maps @ col.T``. Rows of col are (channel, filter row,
    filter col) with the filter flipped when ``flip`` (so the filters are used as stored);
    columns are the output positions. A 1x1 filter with unit stride and no padding uses the
    image itself as col."""

    def __init__(self, spec: ConvSpec) -> None:
        self.spec = spec
        self.module = ir.Module(name="conv")
        self.ty = iu.register_type(spec.dtype)
        self.int_type = ir.IntType(spec.int_bits)

    def build(self) -> str:
        flip = self.spec.flip
        self.im2col = self._build_walk("im2col", accumulate=False, flip=flip)
        self.col2im = self._build_walk("col2im", accumulate=True, flip=flip)
        # With unit strides the input gradient is a convolution of the output gradient.
        self.as_convolution = self.spec.kind == "grad_inputs" and self.spec.subsample == (1, 1)
        if self.as_convolution:
            self.im2col_flipped = self._build_walk("im2col_t", accumulate=False, flip=not flip)
        fn, b, data, params = entry(self.module)
        self.b = b
        image, filters, maps, work = loads(b, data, 4, iu.PTR)
        self.first_image = image
        self.gemm_fn = b.load(at(b, data, iu.i64(4), iu.PTR), typ=ir.PointerType(self._gemm_type()))
        p = dict(zip(CONV_PARAMS, loads(b, params, len(CONV_PARAMS), iu.I64)))
        self.p = p
        image_size = b.mul(b.mul(p["channels"], p["rows"]), p["cols"])
        self.image_size = image_size
        self.spatial = b.mul(p["out_rows"], p["out_cols"])
        self.depth = b.mul(b.mul(p["channels"], p["kernel_rows"]), p["kernel_cols"])
        maps_size = b.mul(p["out_channels"], self.spatial)
        direct = iu.I1(0)
        if self.spec.subsample == (1, 1):
            ones = [b.icmp_signed("==", p[k], iu.i64(1)) for k in ("kernel_rows", "kernel_cols")]
            zeros = [b.icmp_signed("==", p[k], iu.i64(0)) for k in ("pad_rows", "pad_cols")]
            direct = b.and_(b.and_(ones[0], ones[1]), b.and_(zeros[0], zeros[1]))
        kind = self.spec.kind
        if kind == "grad_weights":
            zero_fill(b, filters, iu.i64(0), b.mul(p["out_channels"], self.depth), self.ty)
        shifted = kind == "forward" and self.spec.subsample == (1, 1)
        if shifted:
            # Products as deep as the channels: worth it from SHIFTED_CHANNELS on (VGG's 64
            # channels: 12 % faster than im2col; one channel: 5x slower).
            by_taps = b.and_(b.not_(direct), b.icmp_signed(">=", p["channels"],
                                                           iu.i64(SHIFTED_CHANNELS)))
            self._shifted_layout(work)
            with b.if_then(by_taps):
                self._shifted_setup(filters, work)
        with iu.for_range(b, iu.i64(0), p["batch"], name="n") as n:
            img = at(b, image, b.mul(n, image_size), self.ty)
            out = at(b, maps, b.mul(n, maps_size), self.ty)
            if shifted:
                with b.if_else(by_taps) as (taps, im2col):
                    with taps:
                        self._shifted_forward(img, out)
                    with im2col:
                        col = self._col(direct, img, work)
                        self._gemm(NO_TRANS, NO_TRANS, p["out_channels"], self.spatial,
                                   self.depth, filters, self.depth, col, self.spatial, 0.0,
                                   out, self.spatial)
            elif kind == "forward":
                col = self._col(direct, img, work)
                self._gemm(NO_TRANS, NO_TRANS, p["out_channels"], self.spatial, self.depth,
                           filters, self.depth, col, self.spatial, 0.0, out, self.spatial)
            elif kind == "grad_weights":
                col = self._col(direct, img, work)
                self._gemm(NO_TRANS, TRANS, p["out_channels"], self.depth, self.spatial,
                           out, self.spatial, col, self.spatial, 1.0, filters, self.depth)
            elif self.as_convolution:
                # As a convolution when it costs no more products: outputs at least as
                # large as the input ('half', 'full'); col2im otherwise ('valid' computes
                # fewer products than the convolution over the zero-padded gradient).
                cheaper = b.icmp_signed("<=", image_size, b.mul(p["channels"], self.spatial))
                with b.if_else(cheaper) as (convolution, scatter):
                    with convolution:
                        self._grad_inputs_as_convolution(direct, img, filters, out, work)
                    with scatter:
                        self._grad_inputs_by_col2im(direct, img, filters, out, work)
            else:
                self._grad_inputs_by_col2im(direct, img, filters, out, work)
        b.ret_void()
        return str(self.module)

    def _shifted_layout(self, work: Any) -> None:
        """Where ``_shifted_setup`` puts things in ``work`` (computed where every use sees it)."""
        b, p, ty = self.b, self.p, self.ty
        self.padded_cols = b.add(p["cols"], b.mul(p["pad_cols"], iu.i64(2)))
        padded_rows = b.add(p["rows"], b.mul(p["pad_rows"], iu.i64(2)))
        self.plane_stride = b.add(b.mul(padded_rows, self.padded_cols), p["kernel_cols"])
        self.padded = work
        self.taps = b.mul(p["kernel_rows"], p["kernel_cols"])
        self.tap_filters = at(b, work, b.mul(p["channels"], self.plane_stride), ty)
        pairs = b.mul(p["out_channels"], p["channels"])
        self.staging = at(b, self.tap_filters, b.mul(self.taps, pairs), ty)

    def _shifted_setup(self, filters: Any, work: Any) -> None:
        """Unit strides: the forward pass as one gemm per filter tap on shifted views of a
        zero-padded copy of the image (no im2col). ``work`` holds the padded image (channel
        planes ``plane_stride`` apart, zero past the padded rows so every shifted view stays
        inside), the filters tap by tap ((taps, out_channels, channels)), and the staging
        output (out_channels, out_rows x padded width), whose columns past the output width
        are discarded."""
        b, p, ty = self.b, self.p, self.ty
        taps, pairs = self.taps, b.mul(p["out_channels"], p["channels"])
        zero_fill(b, work, iu.i64(0), b.mul(p["channels"], self.plane_stride), ty)
        with iu.for_range(b, iu.i64(0), p["out_channels"], name="k") as k:
            with iu.for_range(b, iu.i64(0), p["channels"], name="c") as c:
                pair = b.add(b.mul(k, p["channels"]), c)
                source = at(b, filters, b.mul(pair, taps), ty)
                with iu.for_range(b, iu.i64(0), taps, name="t") as t:
                    b.store(b.load(at(b, source, t, ty), typ=ty),
                            at(b, self.tap_filters, b.add(b.mul(t, pairs), pair), ty))

    def _shifted_forward(self, img: Any, out: Any) -> None:
        b, p, ty = self.b, self.p, self.ty
        wp = self.padded_cols
        with iu.for_range(b, iu.i64(0), p["channels"], name="c") as c:
            with iu.for_range(b, iu.i64(0), p["rows"], name="r") as r:
                source = at(b, img, b.mul(b.add(b.mul(c, p["rows"]), r), p["cols"]), ty)
                line = b.add(b.mul(b.add(r, p["pad_rows"]), wp), p["pad_cols"])
                target = at(b, self.padded, b.add(b.mul(c, self.plane_stride), line), ty)
                with iu.for_range(b, iu.i64(0), p["cols"], name="q") as q:
                    b.store(b.load(at(b, source, q, ty), typ=ty), at(b, target, q, ty))
        width = b.mul(p["out_rows"], wp)
        pairs = b.mul(p["out_channels"], p["channels"])
        with iu.for_range(b, iu.i64(0), self.taps, name="tap") as t:
            u, v = b.sdiv(t, p["kernel_cols"]), b.srem(t, p["kernel_cols"])
            if self.spec.flip:
                u = b.sub(b.sub(p["kernel_rows"], iu.i64(1)), u)
                v = b.sub(b.sub(p["kernel_cols"], iu.i64(1)), v)
            shift = at(b, self.padded, b.add(b.mul(u, wp), v), ty)
            beta = b.select(b.icmp_signed("==", t, iu.i64(0)), ir.Constant(ty, 0.0),
                            ir.Constant(ty, 1.0))
            self._gemm(NO_TRANS, NO_TRANS, p["out_channels"], width, p["channels"],
                       at(b, self.tap_filters, b.mul(t, pairs), ty), p["channels"], shift,
                       self.plane_stride, beta, self.staging, width)
        with iu.for_range(b, iu.i64(0), p["out_channels"], name="k") as k:
            with iu.for_range(b, iu.i64(0), p["out_rows"], name="i") as i:
                source = at(b, self.staging, b.add(b.mul(k, width), b.mul(i, wp)), ty)
                target = at(b, out, b.add(b.mul(k, self.spatial), b.mul(i, p["out_cols"])), ty)
                with iu.for_range(b, iu.i64(0), p["out_cols"], name="j") as j:
                    b.store(b.load(at(b, source, j, ty), typ=ty), at(b, target, j, ty))

    def _grad_inputs_by_col2im(self, direct: Any, img: Any, filters: Any, gz: Any,
                               work: Any) -> None:
        b, p = self.b, self.p
        target = b.select(direct, img, work)
        self._gemm(TRANS, NO_TRANS, self.depth, self.spatial, p["out_channels"], filters,
                   self.depth, gz, self.spatial, 0.0, target, self.spatial)
        with b.if_then(b.not_(direct)):
            zero_fill(b, img, iu.i64(0), self.image_size, self.ty)
            b.call(self.col2im, [work, img, *self._walk_args()])

    def _grad_inputs_as_convolution(self, direct: Any, img: Any, filters: Any, gz: Any,
                                    work: Any) -> None:
        """``gx = conv(gz, filters with channels swapped, pads kernel - 1 - pad)``, a
        correlation where the forward pass convolves and vice versa: one im2col pass over
        the smaller gz instead of col2im's read-add-write passes. ``work`` holds col, then
        the swapped filters (written on the first image)."""
        b, p, ty = self.b, self.p, self.ty
        taps = b.mul(p["kernel_rows"], p["kernel_cols"])
        plane = b.mul(p["rows"], p["cols"])
        k_depth = b.mul(p["out_channels"], taps)
        swapped = at(b, work, b.mul(k_depth, plane), ty)
        with b.if_then(direct):
            self._gemm(TRANS, NO_TRANS, self.depth, self.spatial, p["out_channels"],
                       filters, self.depth, gz, self.spatial, 0.0, img, self.spatial)
        with b.if_then(b.not_(direct)):
            with b.if_then(b.icmp_signed("==", img, self.first_image)):
                with iu.for_range(b, iu.i64(0), p["out_channels"], name="k") as k:
                    with iu.for_range(b, iu.i64(0), p["channels"], name="c") as c:
                        source = at(b, filters, b.mul(b.add(b.mul(k, p["channels"]), c), taps),
                                    ty)
                        target = at(b, swapped, b.mul(b.add(b.mul(c, p["out_channels"]), k),
                                                      taps), ty)
                        with iu.for_range(b, iu.i64(0), taps, name="t") as t:
                            b.store(b.load(at(b, source, t, ty), typ=ty), at(b, target, t, ty))
            pads = [b.sub(b.sub(p[k], iu.i64(1)), p[q]) for k, q in
                    (("kernel_rows", "pad_rows"), ("kernel_cols", "pad_cols"))]
            b.call(self.im2col_flipped, [gz, work, p["out_channels"], p["out_rows"],
                                         p["out_cols"], p["kernel_rows"], p["kernel_cols"],
                                         p["rows"], p["cols"], *pads])
            self._gemm(NO_TRANS, NO_TRANS, p["channels"], plane, k_depth, swapped, k_depth,
                       work, plane, 0.0, img, plane)

    def _walk_args(self) -> list[Any]:
        return [self.p[k] for k in CONV_PARAMS[1:4] + CONV_PARAMS[5:]]

    def _col(self, direct: Any, img: Any, work: Any) -> Any:
        b = self.b
        with b.if_then(b.not_(direct)):
            b.call(self.im2col, [img, work, *self._walk_args()])
        return b.select(direct, img, work)

    def _gemm(self, trans_a: int, trans_b: int, m: Any, n: Any, k: Any, a: Any, lda: Any,
              bb: Any, ldb: Any, beta: Any, c: Any, ldc: Any) -> None:
        b = self.b
        ints = [self._int(v) for v in (m, n, k)]
        lead = [self._int(smax(b, v, iu.i64(1))) for v in (lda, ldb, ldc)]
        args = [ir.Constant(iu.I32, ROW_MAJOR), ir.Constant(iu.I32, trans_a),
                ir.Constant(iu.I32, trans_b), *ints, ir.Constant(self.ty, 1.0), a, lead[0],
                bb, lead[1], beta if isinstance(beta, ir.Value) else ir.Constant(self.ty, beta),
                c, lead[2]]
        b.call(self.gemm_fn, args)

    def _gemm_type(self) -> ir.FunctionType:
        """CBLAS ``?gemm``: order, transposes, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc."""
        n, v = self.int_type, self.ty
        return ir.FunctionType(iu.VOID, [iu.I32] * 3 + [n] * 3 + [v, iu.PTR, n, iu.PTR, n, v,
                                                                   iu.PTR, n])

    def _int(self, value: Any) -> Any:
        return value if self.spec.int_bits == 64 else self.b.trunc(value, self.int_type)

    def _build_walk(self, name: str, accumulate: bool, flip: bool) -> ir.Function:
        """``walk(col, image, channels, rows, cols, kernel_rows, kernel_cols, out_rows,
        out_cols, pad_rows, pad_cols)`` (im2col: the image first): col rows from the image,
        or (col2im) col added into the image."""
        fn, b = _new_function(self.module, name, 9)
        fn.linkage = "internal"
        for arg in fn.args[:2]:
            arg.add_attribute("noalias")
        src, dst = fn.args[:2]
        col, image = (src, dst) if accumulate else (dst, src)
        channels, rows, cols, krows, kcols, orows, ocols, prows, pcols = fn.args[2:]
        ty, (s0, s1) = self.ty, self.spec.subsample
        spatial = b.mul(orows, ocols)
        with iu.for_range(b, iu.i64(0), channels, name="c") as c:
            plane = at(b, image, b.mul(c, b.mul(rows, cols)), ty)
            with iu.for_range(b, iu.i64(0), krows, name="u") as u:
                with iu.for_range(b, iu.i64(0), kcols, name="v") as v:
                    row = b.add(b.mul(b.add(b.mul(c, krows), u), kcols), v)
                    line = at(b, col, b.mul(row, spatial), ty)
                    uu = b.sub(b.sub(krows, iu.i64(1)), u) if flip else u
                    vv = b.sub(b.sub(kcols, iu.i64(1)), v) if flip else v
                    off_r, off_c = b.sub(uu, prows), b.sub(vv, pcols)
                    i_lo, i_hi = valid_range(b, off_r, s0, rows, orows)
                    j_lo, j_hi = valid_range(b, off_c, s1, cols, ocols)
                    if not accumulate:
                        zero_fill(b, line, iu.i64(0), b.mul(i_lo, ocols), ty)
                        zero_fill(b, line, b.mul(i_hi, ocols), spatial, ty)
                    with iu.for_range(b, i_lo, i_hi, name="i") as i:
                        ih = b.add(b.mul(i, iu.i64(s0)), off_r)
                        out_line = at(b, line, b.mul(i, ocols), ty)
                        in_line = at(b, plane, b.add(b.mul(ih, cols), off_c), ty)
                        if not accumulate:
                            zero_fill(b, out_line, iu.i64(0), j_lo, ty)
                            zero_fill(b, out_line, j_hi, ocols, ty)
                        with iu.for_range(b, j_lo, j_hi, name="j") as j:
                            cell = at(b, in_line, b.mul(j, iu.i64(s1)), ty)
                            entry = at(b, out_line, j, ty)
                            if accumulate:
                                total = b.fadd(b.load(cell, typ=ty), b.load(entry, typ=ty))
                                b.store(total, cell)
                            else:
                                b.store(b.load(cell, typ=ty), entry)
        b.ret_void()
        return fn

