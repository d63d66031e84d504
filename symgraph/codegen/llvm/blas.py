"""Matrix products in native entry points: Gemm, Gemv, Ger, Dot and Matmul call the CBLAS of
the OpenBLAS bundled with NumPy straight from generated code.

The library is found by probing symbol names (``scipy_cblas_?gemm64_`` in NumPy >= 2 wheels,
``cblas_?gemm64_`` in older ones, then the LP64 ``cblas_?gemm``); without one these nodes run
their ``perform`` (which calls NumPy, hence the same BLAS). Small float32 ``A @ B.T`` may call
MKL or scipy-openblas64 instead, when installed (see ``blas_choice``). Operands whose layout
BLAS cannot take (no unit stride, negative or broadcast strides) are copied to a scratch buffer
first.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir

from symgraph.codegen.llvm import blas_choice
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.irgen import Slot, Word
from symgraph.codegen.llvm.jit import engine
from symgraph.codegen.llvm.native_ops import contiguous_strides, copy_into, is_contiguous
from symgraph.codegen.llvm.plan import Match, OutlinedByOp, Program, Step
from symgraph.graph import Apply
from symgraph.ops import blas as blas_ops

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# What operand layouts come back as: (transpose flag, leading dimension, pointer) of a matrix;
# (increment, pointer) of a vector.
MATRIX = ir.LiteralStructType([iu.I32, iu.I64, iu.PTR])
VECTOR = ir.LiteralStructType([iu.I64, iu.PTR])
ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv", "sger", "dger", "sdot", "ddot")
# (prefix, suffix, integer width) in the order tried.
NAMINGS = (("scipy_cblas_", "64_", 64), ("cblas_", "64_", 64), ("cblas_", "", 32))


@dataclass(frozen=True)
class Library:
    """Addresses of the CBLAS routines and the width of their integer arguments."""

    path: str
    addresses: dict[str, int]
    int_bits: int

    def __hash__(self) -> int:
        return hash(self.path)


def _candidates() -> list[str]:
    root = os.path.dirname(np.__file__)
    found: list[str] = []
    for folder in (os.path.join(root, os.pardir, "numpy.libs"), os.path.join(root, ".libs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*.so*")))
    return found


@functools.cache
def library() -> Library | None:
    """NumPy's OpenBLAS, or None when no candidate exports a complete CBLAS."""
    for path in _candidates():
        try:
            handle = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, bits in NAMINGS:
            addresses = {}
            for routine in ROUTINES:
                symbol = getattr(handle, f"{prefix}{routine}{suffix}", None)
                if symbol is None:
                    break
                addresses[routine] = int(ctypes.cast(symbol, ctypes.c_void_p).value or 0)
            else:
                return Library(path, addresses, bits)
    return None


# OpenBLAS's SkylakeX target (which it also picks on Zen 4) has "small matrix" ?gemm kernels
# that skip packing the operands; it takes them while m*n*k <= 1e6. Measured on one Zen 4 core
# with NumPy's OpenBLAS 0.3.31 (``python benchmarks/gemm_chunks.py``):
# float32 3200x128x64 NN 99 GFLOP/s as one call, 114 as 29 calls of 112 rows; 128x128x3200 TN
# (a weight gradient over 100 steps) 99 against 112 in chunks of 48 along k; 64x256x64 NN (an
# MLP layer) 90 against 105; float64 47 against 53-56. Larger products are therefore split into
# chunks under the limit, along k (accumulating) when that leaves chunks of 16 or more (32 in
# float64, whose chunks of 16 ran slower than one call: LSTM 32x1024x256 47 against 37, and 52
# in chunks along n; float32 74 along n, 97 along k), else along m, else along n (chunks of 16
# or more); B transposed is left alone (its small kernel gained nothing).
SMALL_KERNEL_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")
SMALL_KERNEL_WORK = 1_000_000
_CORENAME_SYMBOLS = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename")


@functools.cache
def small_kernel_limit() -> int:
    """The ``m*n*k`` up to which the library's small-matrix kernels run (products above it
    are split into chunks that size), or 0: no splitting (another library or target)."""
    lib = library()
    if lib is None:
        return 0
    try:
        handle = ctypes.CDLL(lib.path)
    except OSError:
        return 0
    for symbol in _CORENAME_SYMBOLS:
        function = getattr(handle, symbol, None)
        if function is not None:
            function.restype = ctypes.c_char_p
            name = (function() or b"").decode(errors="replace")
            return SMALL_KERNEL_WORK if name in SMALL_KERNEL_CORES else 0
    return 0


class _Blas:
    """IR helpers shared by the rules: routine calls, operand layouts, copies."""

    def __init__(self, code: Any, dtype: str) -> None:
        self.code = code
        self.g = code.gen
        self.b = code.gen.b
        self.dtype = dtype
        lib = library()
        assert lib is not None
        self.lib: Library = lib
        self.int_type = ir.IntType(self.lib.int_bits)
        self.value_type = iu.register_type(dtype)
        self.itemsize = np.dtype(dtype).itemsize
        self.prefix = "s" if dtype == "float32" else "d"

    def integer(self, value: Any) -> Any:
        return value if self.lib.int_bits == 64 else self.b.trunc(value, self.int_type)

    def call(self, routine: str, ret: ir.Type, args: list[tuple[str, Any]],
             small_nt: Any = None) -> Any:
        """``args``: (kind, value) with kind ``e`` (enum constant), ``t`` (enum value, i32),
        ``i`` (i64 integer), ``v`` (scalar of the dtype) or ``p`` (pointer). Where the i1
        ``small_nt`` holds, the routine called is ``blas_choice.small_nt_sgemm``'s."""
        types = {"e": iu.I32, "t": iu.I32, "i": self.int_type, "v": self.value_type,
                 "p": iu.PTR}
        typed = []
        for kind, value in args:
            if kind == "e":
                value = ir.Constant(iu.I32, value)
            elif kind == "i":
                value = self.integer(value)
            typed.append((types[kind], value))
        name = self.prefix + routine
        word = self.code.address_word(("blas", name), lambda: self.lib.addresses[name])
        if small_nt is None:
            return self.g.call_address(word, ret, typed)
        chosen = self.code.address_word(("blas", name, "small_nt"),
                                        lambda: self.small_nt_address(name))
        pointer = ir.PointerType(ir.FunctionType(ret, [t for t, _ in typed]))
        callee = self.b.select(small_nt, self.g.load(chosen, pointer),
                               self.g.load(word, pointer))
        return self.b.call(callee, [v for _, v in typed])

    def small_nt_address(self, name: str) -> int:
        picked = blas_choice.small_nt_sgemm(self.lib.int_bits)
        return self.lib.addresses[name] if picked is None else picked[1]

    def max1(self, value: Any) -> Any:
        return self.b.select(self.b.icmp_signed("<", value, iu.i64(1)), iu.i64(1), value)

    def copy(self, source: Any, dims: list[Any], bcast: tuple[bool, ...], target: Any,
             target_strides: list[Any]) -> None:
        """Elementwise copy (broadcasting ``source`` where ``bcast`` says) into ``target``."""
        strides = [iu.i64(0) if flag else self.g.load(source.stride(d))
                   for d, flag in enumerate(bcast)]
        copy_into(self.code, source, dims, target, target_strides, strides)

    def contiguous_copy(self, source: Any, dims: list[Any], scratch: int) -> Any:
        """A C-ordered copy of ``source`` in scratch buffer ``scratch``."""
        strides, nbytes = contiguous_strides(self.g, dims, self.itemsize)
        pointer = self.g.reserve(self.code.scratch_word(scratch), nbytes)
        copy_into(self.code, source, dims, pointer, strides)
        return pointer

    def matrix(self, slot: Any, rows: Any, cols: Any, scratch: int) -> tuple[Any, Any, Any]:
        """``(transpose flag, leading dimension, pointer)`` presenting the ``rows x cols``
        matrix in ``slot`` to row-major BLAS, copying it when its layout does not fit."""
        return self._operand(MATRIX, slot, [rows, cols], scratch, _Blas._matrix)

    def vector(self, slot: Any, length: Any, scratch: int) -> tuple[Any, Any]:
        """``(increment, pointer)`` of a 1-d operand (copied unless its stride is a positive
        multiple of the item size)."""
        return self._operand(VECTOR, slot, [length], scratch, _Blas._vector)

    def _operand(self, result: ir.LiteralStructType, slot: Any, sizes: list[Any],
                 scratch: int, emit: Any) -> Any:
        """``emit(blas, slot, *sizes, scratch)`` in a function of the module shared by every
        operand of this dtype and scratch buffer; returns its values (``result``'s fields)."""
        def build(gen: Any, args: list[Any]) -> None:
            blas = _Blas(self.code.with_gen(gen), self.dtype)
            values = emit(blas, Slot(Word(args[0]), len(sizes), self.dtype), *args[1:-1],
                          scratch)
            for k, value in enumerate(values):
                gen.b.store(value, gen.b.gep(args[-1], [iu.I32(0), iu.I32(k)],
                                             source_etype=result, inbounds=True))

        b = self.b
        name = "matrix" if result is MATRIX else "vector"
        fn = self.g.outlined((name, self.dtype, scratch), [iu.PTR] + [iu.I64] * len(sizes) +
                             [iu.PTR], build, name)
        out = iu.entry_alloca(b, result, name)
        self.g.call_status(fn, [self.g.word_ptr(slot.word), *sizes, out])
        return tuple(b.load(b.gep(out, [iu.I32(0), iu.I32(k)], source_etype=result,
                                  inbounds=True), typ=ty) for k, ty in enumerate(result.elements))

    def _matrix(self, slot: Any, rows: Any, cols: Any, scratch: int) -> tuple[Any, Any, Any]:
        b, isz = self.b, iu.i64(self.itemsize)
        s0, s1 = self.g.load(slot.stride(0)), self.g.load(slot.stride(1))
        one_row, one_col = (b.icmp_signed("<=", rows, iu.i64(1)),
                            b.icmp_signed("<=", cols, iu.i64(1)))
        direct = b.and_(b.or_(b.icmp_signed("==", s1, isz), one_col),
                        b.or_(one_row, self._leading_ok(s0, cols)))
        swapped = b.and_(b.or_(b.icmp_signed("==", s0, isz), one_row),
                         b.or_(one_col, self._leading_ok(s1, rows)))
        flag = iu.entry_alloca(b, iu.I32, "trans")
        lead = iu.entry_alloca(b, iu.I64, "ld")
        pointer = iu.entry_alloca(b, iu.PTR, "matrix")
        with b.if_else(direct) as (then, otherwise):
            with then:
                b.store(ir.Constant(iu.I32, NO_TRANS), flag)
                b.store(b.select(one_row, self.max1(cols), b.sdiv(s0, isz)), lead)
                b.store(self.g.data(slot), pointer)
            with otherwise, b.if_else(swapped) as (then2, otherwise2):
                with then2:
                    b.store(ir.Constant(iu.I32, TRANS), flag)
                    b.store(b.select(one_col, self.max1(rows), b.sdiv(s1, isz)), lead)
                    b.store(self.g.data(slot), pointer)
                with otherwise2:
                    b.store(ir.Constant(iu.I32, NO_TRANS), flag)
                    b.store(self.max1(cols), lead)
                    b.store(self.contiguous_copy(slot, [rows, cols], scratch), pointer)
        return (b.load(flag, typ=iu.I32), b.load(lead, typ=iu.I64),
                b.load(pointer, typ=iu.PTR))

    def _leading_ok(self, stride: Any, minimum: Any) -> Any:
        b, isz = self.b, iu.i64(self.itemsize)
        exact = b.icmp_signed("==", b.srem(stride, isz), iu.i64(0))
        return b.and_(exact, b.icmp_signed(">=", stride, b.mul(self.max1(minimum), isz)))

    def _vector(self, slot: Any, length: Any, scratch: int) -> tuple[Any, Any]:
        b, isz = self.b, iu.i64(self.itemsize)
        stride = self.g.load(slot.stride(0))
        usable = b.and_(b.icmp_signed(">", stride, iu.i64(0)),
                        b.icmp_signed("==", b.srem(stride, isz), iu.i64(0)))
        usable = b.or_(usable, b.icmp_signed("<=", length, iu.i64(1)))
        inc = iu.entry_alloca(b, iu.I64, "inc")
        pointer = iu.entry_alloca(b, iu.PTR, "vector")
        with b.if_else(usable) as (then, otherwise):
            with then:
                b.store(b.select(b.icmp_signed("<=", length, iu.i64(1)), iu.i64(1),
                                 b.sdiv(stride, isz)), inc)
                b.store(self.g.data(slot), pointer)
            with otherwise:
                b.store(iu.i64(1), inc)
                b.store(self.contiguous_copy(slot, [length], scratch), pointer)
        return b.load(inc, typ=iu.I64), b.load(pointer, typ=iu.PTR)

    def output_matrix(self, slot: Any, cols: Any) -> Any:
        """Leading dimension of an output matrix BLAS writes (it must be row-major)."""
        b, isz = self.b, iu.i64(self.itemsize)
        s0, s1 = self.g.load(slot.stride(0)), self.g.load(slot.stride(1))
        rows = self.g.load(slot.dim(0))
        one_row = b.icmp_signed("<=", rows, iu.i64(1))
        good = b.and_(b.or_(b.icmp_signed("==", s1, isz), b.icmp_signed("<=", cols, iu.i64(1))),
                      b.or_(one_row, self._leading_ok(s0, cols)))
        self.g.bail_if(b.not_(good))
        return b.select(one_row, self.max1(cols), b.sdiv(s0, isz))

    def gemm(self, a: tuple[Any, Any, Any], b_: tuple[Any, Any, Any], out: Any, ldc: Any,
             dims: tuple[Any, Any, Any], alpha: Any, beta: Any) -> None:
        """``out = alpha * op(a) @ op(b) + beta * out`` with ``dims = (m, n, k)``. Small
        float32 ``A @ B.T`` call the routine ``blas_choice`` picks (the default library's
        when it picks none)."""
        b = self.b
        m, n, k = dims
        work = b.mul(b.mul(m, n), k)
        small_nt = None
        if self.dtype == "float32":
            small_nt = b.and_(b.and_(b.icmp_signed("==", a[0], ir.Constant(iu.I32, NO_TRANS)),
                                     b.icmp_signed("==", b_[0], ir.Constant(iu.I32, TRANS))),
                              b.icmp_signed("<=", work, iu.i64(blas_choice.SMALL_WORK)))
        with self.g.without_gil(work):
            onednn = self._onednn_word()
            if onednn is None:
                self._cblas_gemm(a, b_, out, ldc, dims, alpha, beta, small_nt, work)
                return
            plain_b = b.icmp_signed("==", b_[0], ir.Constant(iu.I32, NO_TRANS))
            wide_nt = b.and_(b.and_(b.not_(plain_b),
                                    b.icmp_signed(">=", n, iu.i64(blas_choice.ONEDNN_NT_WIDTH))),
                             b.and_(b.icmp_signed("<=", k, n),
                                    b.icmp_signed(">=", work,
                                                  iu.i64(blas_choice.ONEDNN_NT_WORK))))
            wins = b.or_(b.or_(b.and_(plain_b, b.icmp_signed(">", work,
                                                              iu.i64(blas_choice.ONEDNN_WORK))),
                               wide_nt),
                         b.icmp_signed(">", work, iu.i64(blas_choice.SMALL_WORK)))
            with b.if_else(wins) as (then, otherwise):
                with then:
                    self._onednn_gemm(onednn, a, b_, out, ldc, dims, alpha, beta, work)
                with otherwise:
                    self._cblas_gemm(a, b_, out, ldc, dims, alpha, beta, small_nt, work)

    def _cblas_gemm(self, a: tuple[Any, Any, Any], b_: tuple[Any, Any, Any], out: Any,
                    ldc: Any, dims: tuple[Any, Any, Any], alpha: Any, beta: Any,
                    small_nt: Any, work: Any) -> None:
        """The product through CBLAS (``work``: its multiply-adds, m*n*k)."""
        limit = small_kernel_limit()
        if limit:
            self._chunked_gemm(a, b_, out, ldc, dims, alpha, beta, small_nt, limit, work)
            return
        m, n, k = dims
        self.call("gemm", iu.VOID, [
            ("e", ROW_MAJOR), ("t", a[0]), ("t", b_[0]), ("i", m), ("i", n), ("i", k),
            ("v", alpha), ("p", a[2]), ("i", a[1]), ("p", b_[2]), ("i", b_[1]),
            ("v", beta), ("p", out), ("i", ldc)], small_nt)

    def _onednn_word(self) -> int | None:
        """The frame word of oneDNN's ``dnnl_sgemm`` for float32 products of JIT code, when
        installed (``blas_choice``); None otherwise and in exported libraries."""
        if self.dtype != "float32" or getattr(self.code, "exports", False):
            return None
        address = blas_choice.onednn_sgemm()
        if address is None:
            return None
        return self.code.address_word(("blas", "sgemm", "oneDNN"), lambda: address)

    def _onednn_gemm(self, word: int, a: tuple[Any, Any, Any], b_: tuple[Any, Any, Any],
                     out: Any, ldc: Any, dims: tuple[Any, Any, Any], alpha: Any,
                     beta: Any, work: Any) -> None:
        """``dnnl_sgemm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)``:
        row-major like our CBLAS calls, transposes as 'T' or 'N'."""
        b = self.b
        i8 = ir.IntType(8)

        def trans(flag: Any) -> Any:
            return b.select(b.icmp_signed("==", flag, ir.Constant(iu.I32, TRANS)),
                            ir.Constant(i8, ord("T")), ir.Constant(i8, ord("N")))

        m, n, k = dims
        if engine().has_gomp:
            # oneDNN's team is OpenMP's default for the calling thread: make it the kernels'
            # thread count (config.num_threads), which our own parallel regions pass
            # explicitly, so that setting it changes nothing else; one thread below
            # ONEDNN_TEAM_WORK, where a team's fork and join cost more than it gains (an
            # MLP epoch of 64x256 products on 2 threads: 10.8-12.6 -> 9.5 ms).
            module = self.g.module
            threads = b.load(iu.global_i32(module, "sg_num_threads"), typ=iu.I32)
            small = b.icmp_signed("<", work, iu.i64(blas_choice.ONEDNN_TEAM_WORK))
            threads = b.select(small, ir.Constant(iu.I32, 1), threads)
            b.call(iu.declare(module, "omp_set_num_threads", iu.VOID, [iu.I32]), [threads])
        self.g.call_address(word, iu.I32, [
            (i8, trans(a[0])), (i8, trans(b_[0])), (iu.I64, m), (iu.I64, n), (iu.I64, k),
            (self.value_type, alpha), (iu.PTR, a[2]), (iu.I64, a[1]), (iu.PTR, b_[2]),
            (iu.I64, b_[1]), (self.value_type, beta), (iu.PTR, out), (iu.I64, ldc)])

    def _chunked_gemm(self, a: tuple[Any, Any, Any], b_: tuple[Any, Any, Any], out: Any,
                      ldc: Any, dims: tuple[Any, Any, Any], alpha: Any, beta: Any,
                      small_nt: Any, limit: int, work: Any) -> None:
        """The product as calls of at most ``limit`` multiply-adds each (see
        ``SMALL_KERNEL_WORK``): chunks of k accumulate (beta 1 after the first), chunks of m
        or n are blocks of the output; one call when no split applies. Every loop runs at
        least once, so ``k = 0`` still scales the output by beta."""
        g, b = self.g, self.b
        m, n, k = dims
        lim = iu.i64(limit)
        trans_a = b.icmp_signed("==", a[0], ir.Constant(iu.I32, TRANS))
        plain_b = b.icmp_signed("==", b_[0], ir.Constant(iu.I32, NO_TRANS))

        def chunk(other: Any) -> Any:
            return b.and_(b.sdiv(lim, self.max1(other)), iu.i64(~15))

        def fits(size: Any, total: Any, least: int = 16) -> Any:
            return b.and_(b.icmp_signed(">=", size, iu.i64(least)),
                          b.icmp_signed(">", total, size))

        by_k, by_m, by_n = chunk(b.mul(m, n)), chunk(b.mul(n, k)), chunk(b.mul(m, k))
        big = b.and_(plain_b, b.icmp_signed(">", work, lim))
        use_k = b.and_(big, fits(by_k, k, 16 if self.dtype == "float32" else 32))
        use_m = b.and_(b.and_(big, b.not_(use_k)), fits(by_m, m))
        use_n = b.and_(b.and_(big, b.not_(b.or_(use_k, use_m))), fits(by_n, n))
        along_k = b.not_(b.or_(use_m, use_n))
        total = b.select(use_m, m, b.select(use_n, n, k))
        size = b.select(use_k, by_k, b.select(use_m, by_m, b.select(use_n, by_n,
                                                                     self.max1(k))))
        one = ir.Constant(self.value_type, 1.0)
        isz = iu.i64(self.itemsize)
        before = b.block
        body = g.function.append_basic_block("gemm.chunk")
        done = g.function.append_basic_block("gemm.done")
        b.branch(body)
        b.position_at_end(body)
        start = b.phi(iu.I64, name="start")
        start.add_incoming(iu.i64(0), before)
        left = b.sub(total, start)
        count = b.select(b.icmp_signed("<", left, size), left, size)
        zero = iu.i64(0)
        a_off = b.select(use_m, b.select(trans_a, start, b.mul(start, a[1])),
                         b.select(along_k, b.select(trans_a, b.mul(start, a[1]), start), zero))
        b_off = b.select(use_n, start, b.select(along_k, b.mul(start, b_[1]), zero))
        c_off = b.select(use_m, b.mul(start, ldc), b.select(use_n, start, zero))

        def at(pointer: Any, offset: Any) -> Any:
            return b.gep(pointer, [b.mul(offset, isz)], source_etype=iu.I8)

        first = b.icmp_signed("==", start, zero)
        self.call("gemm", iu.VOID, [
            ("e", ROW_MAJOR), ("t", a[0]), ("t", b_[0]),
            ("i", b.select(use_m, count, m)), ("i", b.select(use_n, count, n)),
            ("i", b.select(along_k, count, k)), ("v", alpha), ("p", at(a[2], a_off)),
            ("i", a[1]), ("p", at(b_[2], b_off)), ("i", b_[1]),
            ("v", b.select(b.or_(first, b.not_(along_k)), beta, one)), ("p", at(out, c_off)),
            ("i", ldc)], small_nt)
        following = b.add(start, size)
        start.add_incoming(following, b.block)
        b.cbranch(b.icmp_signed("<", following, total), body, done)
        b.position_at_end(done)

    def gemv(self, a: tuple[Any, Any, Any], rows: Any, cols: Any, x: tuple[Any, Any],
             out: Any, inc_out: Any, alpha: Any, beta: Any) -> None:
        """``out = alpha * A @ x + beta * out`` for the ``rows x cols`` matrix presented by
        ``a`` (a transposed layout is the stored transpose, hence the swapped sizes)."""
        b = self.b
        swapped = b.icmp_signed("==", a[0], ir.Constant(iu.I32, TRANS))
        m = b.select(swapped, cols, rows)
        n = b.select(swapped, rows, cols)
        with self.g.without_gil(b.mul(m, n)):
            self.call("gemv", iu.VOID, [
                ("e", ROW_MAJOR), ("t", a[0]), ("i", m), ("i", n), ("v", alpha), ("p", a[2]),
                ("i", a[1]), ("p", x[1]), ("i", x[0]), ("v", beta), ("p", out),
                ("i", inc_out)])

    def scalar(self, slot: Any) -> Any:
        return self.g.read_scalar(slot, self.dtype)

    def is_zero(self, value: Any) -> Any:
        return self.b.fcmp_ordered("==", value, ir.Constant(self.value_type, 0.0))


def _blas_dtype(node: Apply) -> str | None:
    dtype = node.outputs[0].type.dtype
    if dtype not in ("float32", "float64") or library() is None:
        return None
    if any(getattr(v.type, "dtype", None) != dtype for v in node.inputs
           if getattr(v.type, "ndim", 0) > 0):
        return None
    return dtype


def _check_accumulator(code: Any, z: Any, static: tuple, sizes: list[Any]) -> None:
    """``z`` matches the product's shape where it is not statically broadcast."""
    g = code.gen
    g.bail_if_any([g.b.icmp_signed("!=", g.load(z.dim(axis)), size)
                   for axis, (known, size) in enumerate(zip(static, sizes)) if known != 1])


class _AccumulatingRule(OutlinedByOp):
    """Shared planning of Gemm, Gemv and Ger: overwrite ``z`` in place when it is an arena
    buffer, else start from a copy of ``z`` (broadcast) in the output."""

    op_class: type = object
    name = "BLAS"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not self.op_class or _blas_dtype(node) is None:
            return None
        z = node.inputs[0]
        if node.op.inplace and program.kind(z) == "arena" and \
                z.type == node.outputs[0].type:
            return Match(node.inputs, aliases={0: 0}, note=f"BLAS {self.routine} (in place)")
        return Match(node.inputs, allocates=(0,), note=f"BLAS {self.routine}")

    routine = ""

    def prepare_output(self, blas: _Blas, step: Step, sizes: list[Any], scale: Any) -> Any:
        """The output slot holding ``z`` (or, when ``scale`` is 0, uninitialised memory)."""
        code, g = blas.code, blas.g
        node = step.node
        z, out = code.slot(node.inputs[0]), code.slot(node.outputs[0])
        _check_accumulator(code, z, node.inputs[0].type.shape, sizes)
        if 0 in step.match.aliases:
            g.copy_slot(z, out)
            return out
        code.alloc(node.outputs[0], sizes)
        bcast = tuple(s == 1 for s in node.inputs[0].type.shape)
        strides = [g.load(out.stride(d)) for d in range(len(sizes))]
        with g.b.if_then(g.b.not_(blas.is_zero(scale)) if scale is not None else iu.I1(1)):
            blas.copy(z, sizes, bcast, g.data(out), strides)
        return out


class GemmRule(_AccumulatingRule):
    op_class = blas_ops.Gemm
    routine = "gemm"

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        blas = _Blas(code, node.outputs[0].type.dtype)
        g, b = blas.g, blas.b
        _, alpha_v, x_v, y_v, beta_v = node.inputs
        x, y = code.slot(x_v), code.slot(y_v)
        m, k, n = g.load(x.dim(0)), g.load(x.dim(1)), g.load(y.dim(1))
        g.bail_if(b.icmp_signed("!=", g.load(y.dim(0)), k))
        alpha, beta = blas.scalar(code.slot(alpha_v)), blas.scalar(code.slot(beta_v))
        out = self.prepare_output(blas, step, [m, n], beta)
        ldc = blas.output_matrix(out, n)
        a_op = blas.matrix(x, m, k, 1)
        b_op = blas.matrix(y, k, n, 2)
        blas.gemm(a_op, b_op, g.data(out), ldc, (m, n, k), alpha, beta)


class GemvRule(_AccumulatingRule):
    op_class = blas_ops.Gemv
    routine = "gemv"

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        blas = _Blas(code, node.outputs[0].type.dtype)
        g, b = blas.g, blas.b
        _, alpha_v, a_v, x_v, beta_v = node.inputs
        a, x = code.slot(a_v), code.slot(x_v)
        m, n = g.load(a.dim(0)), g.load(a.dim(1))
        g.bail_if(b.icmp_signed("!=", g.load(x.dim(0)), n))
        alpha, beta = blas.scalar(code.slot(alpha_v)), blas.scalar(code.slot(beta_v))
        out = self.prepare_output(blas, step, [m], beta)
        inc_out = _output_increment(blas, out)
        matrix = blas.matrix(a, m, n, 1)
        vector = blas.vector(x, n, 2)
        blas.gemv(matrix, m, n, vector, g.data(out), inc_out, alpha, beta)


def _output_increment(blas: _Blas, out: Any) -> Any:
    b, g, isz = blas.b, blas.g, iu.i64(blas.itemsize)
    stride = g.load(out.stride(0))
    length = g.load(out.dim(0))
    short = b.icmp_signed("<=", length, iu.i64(1))
    good = b.and_(b.icmp_signed(">", stride, iu.i64(0)),
                  b.icmp_signed("==", b.srem(stride, isz), iu.i64(0)))
    g.bail_if(b.not_(b.or_(good, short)))
    return b.select(short, iu.i64(1), b.sdiv(stride, isz))


class GerRule(_AccumulatingRule):
    op_class = blas_ops.Ger
    routine = "ger"

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        blas = _Blas(code, node.outputs[0].type.dtype)
        g, b = blas.g, blas.b
        _, alpha_v, x_v, y_v = node.inputs
        x, y = code.slot(x_v), code.slot(y_v)
        m, n = g.load(x.dim(0)), g.load(y.dim(0))
        alpha = blas.scalar(code.slot(alpha_v))
        out = self.prepare_output(blas, step, [m, n], None)
        lda = blas.output_matrix(out, n)
        with b.if_then(b.not_(blas.is_zero(alpha))):
            inc_x, px = blas.vector(x, m, 1)
            inc_y, py = blas.vector(y, n, 2)
            blas.call("ger", iu.VOID, [
                ("e", ROW_MAJOR), ("i", m), ("i", n), ("v", alpha), ("p", px), ("i", inc_x),
                ("p", py), ("i", inc_y), ("p", g.data(out)), ("i", lda)])


class DotRule(OutlinedByOp):
    """``Dot`` of float vectors and matrices: gemm, gemv or dot."""

    name = "BLAS"

    def match(self, node: Apply, program: Program) -> Match | None:
        if not isinstance(node.op, blas_ops.Dot) or _blas_dtype(node) is None:
            return None
        ranks = tuple(v.type.ndim for v in node.inputs)
        routine = {(2, 2): "gemm", (2, 1): "gemv", (1, 2): "gemv", (1, 1): "dot"}[ranks]
        return Match(node.inputs, allocates=(0,), note=f"BLAS {routine}")

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        blas = _Blas(code, node.outputs[0].type.dtype)
        g, b = blas.g, blas.b
        a_v, b_v = node.inputs
        a, bb = code.slot(a_v), code.slot(b_v)
        k = g.load(a.dim(a.ndim - 1))
        g.bail_if(b.icmp_signed("!=", g.load(bb.dim(0)), k))
        one = ir.Constant(blas.value_type, 1.0)
        zero = ir.Constant(blas.value_type, 0.0)
        out_var = node.outputs[0]
        if a.ndim == 2 and bb.ndim == 2:
            m, n = g.load(a.dim(0)), g.load(bb.dim(1))
            code.alloc(out_var, [m, n])
            out = code.slot(out_var)
            a_op, b_op = blas.matrix(a, m, k, 1), blas.matrix(bb, k, n, 2)
            blas.gemm(a_op, b_op, g.data(out), blas.max1(n), (m, n, k), one, zero)
        elif a.ndim == 2:
            m = g.load(a.dim(0))
            code.alloc(out_var, [m])
            blas.gemv(blas.matrix(a, m, k, 1), m, k, blas.vector(bb, k, 2),
                      g.data(code.slot(out_var)), iu.i64(1), one, zero)
        elif bb.ndim == 2:
            n = g.load(bb.dim(1))
            code.alloc(out_var, [n])
            self._vector_matrix(blas, bb, k, n, blas.vector(a, k, 2),
                                g.data(code.slot(out_var)))
        else:
            code.alloc(out_var, [])
            inc_a, pa = blas.vector(a, k, 1)
            inc_b, pb = blas.vector(bb, k, 2)
            value = blas.call("dot", blas.value_type, [("i", k), ("p", pa), ("i", inc_a),
                                                       ("p", pb), ("i", inc_b)])
            b.store(value, g.data(code.slot(out_var)))

    @staticmethod
    def _vector_matrix(blas: _Blas, matrix: Any, k: Any, n: Any, vector: tuple[Any, Any],
                       out: Any) -> None:
        """``x @ B`` is ``B.T @ x``: the same matrix operand with the transpose flipped."""
        b = blas.b
        flag, lead, pointer = blas.matrix(matrix, k, n, 1)
        flipped = b.select(b.icmp_signed("==", flag, ir.Constant(iu.I32, TRANS)),
                           ir.Constant(iu.I32, NO_TRANS), ir.Constant(iu.I32, TRANS))
        one = ir.Constant(blas.value_type, 1.0)
        zero = ir.Constant(blas.value_type, 0.0)
        blas.gemv((flipped, lead, pointer), n, k, vector, out, iu.i64(1), one, zero)


class MatmulRule(OutlinedByOp):
    """``Matmul`` of float tensors of rank >= 2: one gemm per batch entry (loops over the
    broadcast batch dimensions)."""

    name = "BLAS"

    def match(self, node: Apply, program: Program) -> Match | None:
        if not isinstance(node.op, blas_ops.Matmul) or _blas_dtype(node) is None:
            return None
        if any(v.type.ndim < 2 for v in node.inputs):
            return None
        return Match(node.inputs, allocates=(0,), note="BLAS gemm (batched)")

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        blas = _Blas(code, node.outputs[0].type.dtype)
        g, b = blas.g, blas.b
        a_v, b_v = node.inputs
        a, bb = code.slot(a_v), code.slot(b_v)
        m, k = g.load(a.dim(a.ndim - 2)), g.load(a.dim(a.ndim - 1))
        n = g.load(bb.dim(bb.ndim - 1))
        g.bail_if(b.icmp_signed("!=", g.load(bb.dim(bb.ndim - 2)), k))
        out_var = node.outputs[0]
        rank = out_var.type.ndim - 2
        batch, offsets = self._batch(code, node, rank)
        code.alloc(out_var, batch + [m, n])
        out = code.slot(out_var)
        views = [self._matrix_view(code, s, "a" if s is a else "b") for s in (a, bb)]
        ldc = blas.max1(n)
        one = ir.Constant(blas.value_type, 1.0)
        zero = ir.Constant(blas.value_type, 0.0)
        bases = [g.data(a), g.data(bb), g.data(out)]
        strides = offsets + [[g.load(out.stride(d)) for d in range(rank)]]
        if bb.ndim != 2:
            self._loop(blas, 0, rank, batch, bases, strides, lambda pa, pb, po: self._one(
                blas, views, pa, pb, po, ldc, (m, n, k), one, zero))
            return
        # A stack of row blocks times one matrix: a single gemm when the stack is contiguous.
        a_dims = [g.load(a.dim(d)) for d in range(a.ndim)]
        rows: Any = iu.i64(1)
        for length in a_dims[:-1]:
            rows = b.mul(rows, length)
        flat = is_contiguous(g, [g.load(a.stride(d)) for d in range(a.ndim)], a_dims,
                             blas.itemsize)
        with b.if_else(flat) as (single, looped):
            with single:
                b_op = blas.matrix(bb, k, n, 2)
                a_op = (ir.Constant(iu.I32, NO_TRANS), blas.max1(k), g.data(a))
                blas.gemm(a_op, b_op, g.data(out), ldc, (rows, n, k), one, zero)
            with looped:
                self._loop(blas, 0, rank, batch, bases, strides, lambda pa, pb, po: self._one(
                    blas, views, pa, pb, po, ldc, (m, n, k), one, zero))

    @staticmethod
    def _batch(code: Any, node: Apply, rank: int) -> tuple[list[Any], list[list[Any]]]:
        """Batch lengths (checked equal where not broadcast) and each operand's strides."""
        g = code.gen
        sizes: list[Any] = []
        strides: list[list[Any]] = [[], []]
        for axis in range(rank):
            size = None
            for k, var in enumerate(node.inputs):
                slot = code.slot(var)
                local = axis - (rank - (var.type.ndim - 2))
                if local < 0 or var.type.shape[local] == 1:
                    strides[k].append(iu.i64(0))
                    continue
                strides[k].append(g.load(slot.stride(local)))
                length = g.load(slot.dim(local))
                if size is None:
                    size = length
                else:
                    g.bail_if(g.b.icmp_signed("!=", length, size))
            sizes.append(iu.i64(1) if size is None else size)
        return sizes, strides

    @staticmethod
    def _matrix_view(code: Any, slot: Any, name: str) -> Any:
        """A 2-d slot in scratch frame words, re-pointed at each batch entry's matrix."""
        view = code.layout.slot(2, slot.dtype)
        g = code.gen
        for d in range(2):
            g.store(view.dim(d), g.load(slot.dim(slot.ndim - 2 + d)))
            g.store(view.stride(d), g.load(slot.stride(slot.ndim - 2 + d)))
        assert isinstance(view, Slot)
        return view

    def _loop(self, blas: _Blas, axis: int, rank: int, sizes: list[Any], bases: list[Any],
              strides: list[list[Any]], body: Any) -> None:
        if axis == rank:
            body(*bases)
            return
        b = blas.b
        with iu.for_range(b, iu.i64(0), sizes[axis], name=f"batch{axis}") as index:
            moved = [b.gep(p, [b.mul(index, s[axis])], source_etype=iu.I8)
                     for p, s in zip(bases, strides)]
            self._loop(blas, axis + 1, rank, sizes, moved, strides, body)

    @staticmethod
    def _one(blas: _Blas, views: list[Any], pa: Any, pb: Any, po: Any, ldc: Any,
             dims: tuple[Any, Any, Any], one: Any, zero: Any) -> None:
        m, n, k = dims
        g = blas.g
        g.store(views[0].data, pa)
        g.store(views[1].data, pb)
        a_op = blas.matrix(views[0], m, k, 1)
        b_op = blas.matrix(views[1], k, n, 2)
        blas.gemm(a_op, b_op, po, ldc, dims, one, zero)


class TensorDotRule(OutlinedByOp):
    """``TensorDot``: each operand presented as a matrix (free axes x contracted axes), as it
    is when its permuted layout is contiguous, else copied; then one gemm."""

    name = "BLAS"

    def match(self, node: Apply, program: Program) -> Match | None:
        if not isinstance(node.op, blas_ops.TensorDot) or _blas_dtype(node) is None:
            return None
        return Match(node.inputs, allocates=(0,), note="BLAS gemm")

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        blas = _Blas(code, node.outputs[0].type.dtype)
        g, b = blas.g, blas.b
        op = node.op
        a, bb = code.slot(node.inputs[0]), code.slot(node.inputs[1])
        free_a, free_b = op.free_axes(a.ndim, bb.ndim)
        for xa, xb in zip(op.axes_a, op.axes_b):
            g.bail_if(b.icmp_signed("!=", g.load(a.dim(xa)), g.load(bb.dim(xb))))
        m, k, n = (self._product(g, a, free_a), self._product(g, a, op.axes_a),
                   self._product(g, bb, free_b))
        a_op = self._operand(blas, a, list(free_a), list(op.axes_a), m, k, 1)
        b_op = self._operand(blas, bb, list(op.axes_b), list(free_b), k, n, 2)
        out_var = node.outputs[0]
        code.alloc(out_var, [g.load(a.dim(d)) for d in free_a] +
                   [g.load(bb.dim(d)) for d in free_b])
        one = ir.Constant(blas.value_type, 1.0)
        zero = ir.Constant(blas.value_type, 0.0)
        blas.gemm(a_op, b_op, g.data(code.slot(out_var)), blas.max1(n), (m, n, k), one, zero)

    @staticmethod
    def _product(g: Any, slot: Any, axes: Any) -> Any:
        total: Any = iu.i64(1)
        for d in axes:
            total = g.b.mul(total, g.load(slot.dim(d)))
        return total

    @staticmethod
    def _operand(blas: _Blas, slot: Any, rows: list[int], cols: list[int], n_rows: Any,
                 n_cols: Any, scratch: int) -> tuple[Any, Any, Any]:
        """The matrix whose rows index the ``rows`` axes and columns the ``cols`` axes."""
        g, b = blas.g, blas.b
        order = rows + cols
        dims = [g.load(slot.dim(d)) for d in order]
        strides = [g.load(slot.stride(d)) for d in order]
        swapped = cols + rows
        direct = is_contiguous(g, strides, dims, blas.itemsize)
        transposed = is_contiguous(g, [g.load(slot.stride(d)) for d in swapped],
                                   [g.load(slot.dim(d)) for d in swapped], blas.itemsize)
        flag = iu.entry_alloca(b, iu.I32, "trans")
        lead = iu.entry_alloca(b, iu.I64, "ld")
        pointer = iu.entry_alloca(b, iu.PTR, "matrix")
        with b.if_else(direct) as (then, otherwise):
            with then:
                b.store(ir.Constant(iu.I32, NO_TRANS), flag)
                b.store(blas.max1(n_cols), lead)
                b.store(g.data(slot), pointer)
            with otherwise, b.if_else(transposed) as (then2, otherwise2):
                with then2:
                    b.store(ir.Constant(iu.I32, TRANS), flag)
                    b.store(blas.max1(n_rows), lead)
                    b.store(g.data(slot), pointer)
                with otherwise2:
                    TensorDotRule._copy(blas, slot, rows, cols, (n_rows, n_cols), scratch,
                                        (flag, lead, pointer))
        return (b.load(flag, typ=iu.I32), b.load(lead, typ=iu.I64),
                b.load(pointer, typ=iu.PTR))

    @staticmethod
    def _copy(blas: _Blas, slot: Any, rows: list[int], cols: list[int], sizes: tuple[Any, Any],
              scratch: int, results: tuple[Any, Any, Any]) -> None:
        """Copy an operand that is neither layout (a reversed or sliced axis) into scratch, in
        the layout whose innermost axis is the source's innermost: the copy then reads and
        writes runs of consecutive elements instead of gathering across rows (the weight
        gradient of the Elman benchmark, ``x[::-1]`` against the gradient of a scan: 1.52
        -> 1.18 ms a call)."""
        g, b = blas.g, blas.b
        flag, lead, pointer = results

        def copy(order: list[int]) -> Any:
            dims = [g.load(slot.dim(d)) for d in order]
            target_strides, nbytes = contiguous_strides(g, dims, blas.itemsize)
            target = g.reserve(blas.code.scratch_word(scratch), nbytes)
            copy_into(blas.code, slot, dims, target, target_strides,
                      [g.load(slot.stride(d)) for d in order])
            return target

        def store(order: list[int], trans: int, ld: Any) -> None:
            b.store(copy(order), pointer)
            b.store(ir.Constant(iu.I32, trans), flag)
            b.store(blas.max1(ld), lead)

        if not rows or not cols:
            store(rows + cols, NO_TRANS, sizes[1])
            return

        def inner(axis: int) -> Any:
            stride = g.load(slot.stride(axis))
            return b.select(b.icmp_signed("<", stride, iu.i64(0)), b.neg(stride), stride)

        rows_inner = b.icmp_signed("<", inner(rows[-1]), inner(cols[-1]))
        with b.if_else(rows_inner) as (then, otherwise):
            with then:
                store(cols + rows, TRANS, sizes[0])
            with otherwise:
                store(rows + cols, NO_TRANS, sizes[1])


def rules() -> list[Any]:
    """The BLAS rules of native entry points (none without a usable library)."""
    if library() is None:
        return []
    return [GemmRule(), GemvRule(), GerRule(), DotRule(), MatmulRule(), TensorDotRule()]
