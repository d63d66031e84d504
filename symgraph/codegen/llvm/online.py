"""One-pass row statistics of softmax: each row's maximum ``m`` and ``s = sum(exp(x - m))``,
read once ("Online normalizer calculation for softmax", Milakov & Gimelshein, 2018).

The kernel takes a row in chunks of ``CHUNK`` elements that stay in the L1 cache: the chunk's
maximum (``maxnum`` with a NaN flag beside it, which vectorises to one vector max), the running
maximum ``m'``, the chunk's ``exp(x - m')`` summed as a float32 partial (vectorised, as a sum's
blocks in kernels.py), and ``s = s * exp(m - m') + partial`` in float64, so that a float32 row
is summed as accurately as the two-pass kernels sum it. Where the next chunk is whole (and the
row has unit stride) its maximum is taken in the loop that sums this chunk, so that its reads
from memory overlap the exponentials. Same ABI as every kernel (kernels.py): operands ``x``,
``m``, ``s`` of a (rows, columns) iteration space, ``m`` and ``s`` with a zero column stride.

``rows_spec`` is the whole row softmax or log-softmax in one kernel (``RowsBuilder``): a row's
statistics, then its output while the row is still in L1, so the input is read from memory
once; threads take rows. A row of one chunk skips the running maximum's float64 rescale, and
a softmax row of one chunk stores each ``exp(x - m)`` as it sums it and then only divides: one
exp per element instead of two (the same values; on rows as short as 10, whose exps run
scalar, a 64x10 softmax 6.1 -> 2.8 us, its crossentropy 5.8 -> 2.9 us).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.kernels import KernelBuilder, KernelSpec, ReduceSpec, register_builder
from symgraph.codegen.llvm.scalar import emit_combine, emit_step
from symgraph.ops import elemwise
from symgraph.ops.composite import ScalarProgram

KIND = "softmax_stats"
# Elements per chunk: the chunk is read twice (maximum, then sum), from L1 the second time;
# its float32 partial sums as many terms as a float32 sum's blocks do (kernels.BLOCK_TERMS).
CHUNK = 512


def stats_spec(dtype: str, parallel: bool = False) -> KernelSpec:
    """The kernel of ``(m, s)`` along the rows of a (rows, columns) ``dtype`` matrix (the
    softmax crossentropy's, on the calling thread; ``parallel``: threads take rows, as
    ``SoftmaxStats``'s kernel does)."""
    program = ScalarProgram((dtype,), ((elemwise.TABLE["exp"], (0,), dtype),), (1,))
    return KernelSpec(program, 2, ((False, False),), (dtype, dtype),
                      reduce=ReduceSpec(KIND, (1,), dtype), parallel=parallel)


class StatsBuilder(KernelBuilder):
    """Rows ``[start, end)`` of the iteration space, one after the other; the entry (threads,
    the GIL-free call) is KernelBuilder's."""

    def _open_rows(self) -> tuple[ir.Function, list[Any], Any, Any, Any, list[list[Any]]]:
        """The body function, its arguments, the rows ``[start, end)``, the row length and
        every operand's (row, column) strides in bytes."""
        fn, args, b = self._open_body()
        shape_p, strides_p = args[:2]
        start, end = args[2 + self.n_ops:4 + self.n_ops]
        columns = b.load(b.gep(shape_p, [iu.i64(1)], source_etype=iu.I64), typ=iu.I64)
        strides = [[self._load_stride(b, strides_p, k, d) for d in range(2)]
                   for k in range(self.n_ops)]
        return fn, args, (start, end), columns, strides_p, strides

    def _build_body(self) -> ir.Function:
        fn, args, (start, end), columns, _, strides = self._open_rows()
        b = self.b
        dtype = self.dtypes[0]
        unit = b.icmp_signed("==", strides[0][1], iu.i64(iu.itemsize(dtype)))
        with iu.for_range(b, start, end, name="row") as row:
            x, m, s = (b.gep(base, [b.mul(row, strides[k][0])], source_etype=iu.I8)
                       for k, base in enumerate(args[2:2 + self.n_ops]))
            with b.if_else(unit) as (then, otherwise):
                with then:
                    self._emit_row(x, m, s, columns, None)
                with otherwise:
                    self._emit_row(x, m, s, columns, strides[0][1])
        b.ret_void()
        return fn

    def _emit_row(self, x: Any, m_out: Any, s_out: Any, columns: Any, stride: Any) -> None:
        """One row: ``stride`` None for unit stride (the loops vectorise), else in bytes."""
        b = self.b
        ty = iu.register_type(self.dtypes[0])
        wide = iu.F64
        with b.if_else(b.icmp_signed("<=", columns, iu.i64(CHUNK))) as (short, long):
            with short:  # one chunk: no running maximum to rescale by (no float64 exp)
                self._one_chunk(x, m_out, s_out, columns, stride)
            with long:
                m_slot = iu.entry_alloca(b, ty, "m")
                s_slot = iu.entry_alloca(b, wide, "s")
                b.store(ir.Constant(ty, float("-inf")), m_slot)
                b.store(ir.Constant(wide, 0.0), s_slot)
                self._emit_chunks(x, m_slot, s_slot, columns, stride)
                self._store_stats(b.load(m_slot, typ=ty), b.load(s_slot, typ=wide), m_out,
                                  s_out)

    def _one_chunk(self, x: Any, m_out: Any, s_out: Any, columns: Any, stride: Any,
                   store: tuple[Any, Any] | None = None) -> Any:
        """The statistics of a row of at most ``CHUNK`` elements (``store``: where each
        ``exp(x - m)`` is also written, as ``_chunk_sum`` says); returns ``s`` as stored."""
        m = self._chunk_max(x, iu.i64(0), columns, stride)
        return self._store_stats(m, self._chunk_sum(x, iu.i64(0), columns, stride, m, store),
                                 m_out, s_out)

    def _store_stats(self, m: Any, s: Any, m_out: Any, s_out: Any) -> Any:
        """Store a row's ``m`` and its float64 ``s`` in the dtype; returns that ``s``."""
        b = self.b
        dtype = self.dtypes[0]
        ty = iu.register_type(dtype)
        # A row of -inf: exp(x - m) is NaN, as the two-pass formula gives.
        s = b.select(b.fcmp_ordered("==", m, ir.Constant(ty, float("-inf"))),
                     ir.Constant(iu.F64, float("nan")), s)
        s = b.fptrunc(s, ty) if dtype != "float64" else s
        b.store(m, m_out)
        b.store(s, s_out)
        return s

    def _emit_chunks(self, x: Any, m_slot: Any, s_slot: Any, columns: Any,
                     stride: Any) -> None:
        """The running maximum and rescaled sum over a row's chunks. The next chunk's maximum
        is taken in the same loop as this chunk's sum where both are whole and the row has
        unit stride, so that its reads from memory overlap the exponentials' arithmetic
        (the maximum of a chunk does not depend on the sums before it)."""
        b = self.b
        ty = iu.register_type(self.dtypes[0])
        wide = iu.F64
        maximum = iu.intrinsic(self.module, "llvm.maximum", ty, 2)
        n_chunks = b.udiv(b.add(columns, iu.i64(CHUNK - 1)), iu.i64(CHUNK))
        first_high = b.select(b.icmp_signed("<", iu.i64(CHUNK), columns), iu.i64(CHUNK), columns)
        next_max = iu.entry_alloca(b, ty, "next_max")
        b.store(self._chunk_max(x, iu.i64(0), first_high, stride), next_max)
        with iu.for_range(b, iu.i64(0), n_chunks, name="chunk") as chunk:
            low = b.mul(chunk, iu.i64(CHUNK))
            high = b.add(low, iu.i64(CHUNK))
            high = b.select(b.icmp_signed("<", high, columns), high, columns)
            after = b.add(high, iu.i64(CHUNK))
            after = b.select(b.icmp_signed("<", after, columns), after, columns)
            has_next = b.icmp_signed("<", high, columns)
            m = b.load(m_slot, typ=ty)
            m_new = b.call(maximum, [m, b.load(next_max, typ=ty)])
            # An all -inf prefix adds nothing (exp(-inf - -inf) would be NaN); NaN goes on.
            summing = b.fcmp_unordered("!=", m_new, ir.Constant(ty, float("-inf")))
            partial_slot = iu.entry_alloca(b, wide, "partial")

            def apart() -> None:
                with b.if_then(summing):
                    b.store(self._chunk_sum(x, low, high, stride, m_new), partial_slot)
                with b.if_then(has_next):
                    b.store(self._chunk_max(x, high, after, stride), next_max)

            if stride is not None:
                apart()
            else:
                whole = b.icmp_signed("==", b.sub(after, high), iu.i64(CHUNK))
                with b.if_else(b.and_(summing, whole)) as (then, otherwise):
                    with then:
                        ahead = self._max_slots()
                        end = b.add(low, iu.i64(CHUNK))  # high, as a constant trip count
                        b.store(self._chunk_sum(x, low, end, None, m_new, ahead=ahead),
                                partial_slot)
                        b.store(self._max_result(ahead), next_max)
                    with otherwise:
                        apart()
            with b.if_then(summing):
                partial = b.load(partial_slot, typ=wide)
                s = b.load(s_slot, typ=wide)
                shift = self._step("sub", [self._wide(m), self._wide(m_new)], "float64")
                scale = self._step("exp", [shift], "float64")
                scale = b.select(b.fcmp_ordered("==", m, m_new), ir.Constant(wide, 1.0), scale)
                b.store(b.fadd(b.fmul(s, scale), partial), s_slot)
                b.store(m_new, m_slot)

    def _wide(self, value: Any) -> Any:
        return value if self.dtypes[0] == "float64" else self.b.fpext(value, iu.F64)

    def _element(self, x: Any, j: Any, stride: Any) -> Any:
        return self.b.load(self._address(x, j, stride), typ=iu.register_type(self.dtypes[0]))

    def _chunk_max(self, x: Any, low: Any, high: Any, stride: Any) -> Any:
        slots = self._max_slots()
        with iu.for_range(self.b, low, high, name="cmax") as j:
            self._max_step(slots, self._element(x, j, stride))
        return self._max_result(slots)

    def _max_slots(self) -> tuple[Any, Any]:
        """A running maximum (-inf) and whether a NaN was seen (false)."""
        b = self.b
        ty = iu.register_type(self.dtypes[0])
        largest, nan = iu.entry_alloca(b, ty, "chunk_max"), iu.entry_alloca(b, iu.I1, "nan")
        b.store(ir.Constant(ty, float("-inf")), largest)
        b.store(iu.I1(0), nan)
        return largest, nan

    def _max_step(self, slots: tuple[Any, Any], value: Any) -> None:
        """One term of a maximum: ``maxnum`` without NaN or signed zeros (one vector max on
        x86, where ``llvm.maximum`` takes six operations), the NaN noted on the side. A
        maximum of zeros may come out as -0 or +0: ``x - m`` is the same either way."""
        b = self.b
        largest, nan = slots
        ty = iu.register_type(self.dtypes[0])
        maxnum = iu.intrinsic(self.module, "llvm.maxnum", ty, 2)
        b.store(b.call(maxnum, [b.load(largest, typ=ty), value], fastmath=("nnan", "nsz")),
                largest)
        b.store(b.or_(b.load(nan, typ=iu.I1), b.fcmp_unordered("uno", value, value)), nan)

    def _max_result(self, slots: tuple[Any, Any]) -> Any:
        """The maximum, NaN if a term was (the maxnum is poison then, and not selected)."""
        b = self.b
        ty = iu.register_type(self.dtypes[0])
        return b.select(b.load(slots[1], typ=iu.I1), ir.Constant(ty, float("nan")),
                        b.load(slots[0], typ=ty))

    def _address(self, base: Any, j: Any, stride: Any) -> Any:
        """Element ``j`` of a row: ``stride`` None for unit stride, else in bytes."""
        b = self.b
        if stride is None:
            return b.gep(base, [j], source_etype=iu.register_type(self.dtypes[0]),
                         inbounds=True)
        return b.gep(base, [b.mul(j, stride)], source_etype=iu.I8, inbounds=True)

    def _chunk_sum(self, x: Any, low: Any, high: Any, stride: Any, m: Any,
                   store: tuple[Any, Any] | None = None,
                   ahead: tuple[Any, Any] | None = None) -> Any:
        """``sum(exp(x - m))`` over the chunk, in float64 (the rows' own ``sub`` and ``exp``:
        the same code as the two-pass kernels). With unit stride the terms add up in the
        input's dtype, over the vector lanes, as a sum's blocks do; a strided loop stays
        scalar and adds in float64 (512 float32 terms in order lose up to about 1e-6).
        ``store``: (row, stride) where each term is also written. ``ahead``: the slots of
        ``_max_slots`` that also take the maximum of the next ``CHUNK`` elements in the same
        loop (a whole chunk at unit stride)."""
        b = self.b
        dtype = self.dtypes[0]
        acc_dtype = dtype if stride is None else "float64"
        ty = iu.register_type(acc_dtype)
        slot = iu.entry_alloca(b, ty, "chunk_sum")
        b.store(ir.Constant(ty, 0.0), slot)
        with iu.for_range(b, low, high, name="csum") as j:
            term = self._step("exp", [self._step("sub", [self._element(x, j, stride), m],
                                                 dtype)], dtype)
            if store is not None:
                b.store(term, self._address(store[0], j, store[1]))
            if ahead is not None:
                self._max_step(ahead, self._element(x, b.add(j, iu.i64(CHUNK)), stride))
            if acc_dtype != dtype:
                term = b.fpext(term, ty)
            total = emit_combine(b, self.mathlib, "add", acc_dtype, b.load(slot, typ=ty), term)
            b.store(total, slot)
        return self._wide(b.load(slot, typ=ty)) if acc_dtype == dtype else b.load(slot, typ=ty)

    def _step(self, name: str, args: list[Any], dtype: str) -> Any:
        value, _ = emit_step(self.b, self.mathlib, elemwise.TABLE[name],
                             [(a, dtype) for a in args], dtype, self.error_flag)
        return value


# The whole row (log-)softmax in one kernel: each row's statistics, then its output while the
# row is still in L1 (a row of 4096 float32 is 16 KiB). Threads split the rows.
ROWS_KINDS = {"softmax_rows": True, "log_softmax_rows": False}


def rows_spec(is_softmax: bool, dtype: str) -> KernelSpec:
    """The kernel of a row softmax (``exp(x - m) / s``) or log-softmax (``x - m - log(s)``)
    of a (rows, columns) ``dtype`` matrix: operands ``x``, ``m``, ``s`` (one per row, zero
    column stride: the statistics, kept for the caller) and the output."""
    kind = "softmax_rows" if is_softmax else "log_softmax_rows"
    program = ScalarProgram((dtype,), ((elemwise.TABLE["exp"], (0,), dtype),
                                       (elemwise.TABLE["true_divide"], (1, 0), dtype)), (2,))
    return KernelSpec(program, 2, ((False, False),), (dtype, dtype, dtype),
                      reduce=ReduceSpec(kind, (1,), dtype))


class RowsBuilder(StatsBuilder):
    """Rows ``[start, end)``: a row's ``m`` and ``s`` (StatsBuilder's), then its output, with
    the same scalar steps (``sub``, ``exp``, ``true_divide``; ``log``) as the two-kernel form,
    so the results are the same."""

    def _build_body(self) -> ir.Function:
        fn, args, (start, end), columns, strides_p, strides = self._open_rows()
        b = self.b
        # The output is full-size: its column stride is the caller's, not a reduced operand's 0.
        strides[3][1] = b.load(b.gep(strides_p, [iu.i64(3 * self.ndim + 1)],
                                     source_etype=iu.I64), typ=iu.I64)
        itemsize = iu.i64(iu.itemsize(self.dtypes[0]))
        unit = b.and_(b.icmp_signed("==", strides[0][1], itemsize),
                      b.icmp_signed("==", strides[3][1], itemsize))
        is_softmax = ROWS_KINDS[self.spec.reduce.kind]  # type: ignore[union-attr]
        # A softmax row of one chunk has its final maximum before its sum: each exp(x - m)
        # is stored as it is summed, and the output pass only divides (half the exps).
        short = b.and_(iu.I1(1 if is_softmax else 0),
                       b.icmp_signed("<=", columns, iu.i64(CHUNK)))
        with iu.for_range(b, start, end, name="row") as row:
            x, m, s, out = (b.gep(base, [b.mul(row, strides[k][0])], source_etype=iu.I8)
                            for k, base in enumerate(args[2:2 + self.n_ops]))
            with b.if_then(b.and_(short, unit)):
                self._emit_short_row(x, m, s, out, columns, None, None)
            with b.if_then(b.and_(short, b.not_(unit))):
                self._emit_short_row(x, m, s, out, columns, strides[0][1], strides[3][1])
            with b.if_then(b.not_(short)):
                with b.if_else(unit) as (then, otherwise):
                    with then:
                        self._emit_row(x, m, s, columns, None)
                        self._emit_output(x, m, s, out, columns, None, None)
                    with otherwise:
                        self._emit_row(x, m, s, columns, strides[0][1])
                        self._emit_output(x, m, s, out, columns, strides[0][1], strides[3][1])
        b.ret_void()
        return fn

    def _emit_short_row(self, x: Any, m_out: Any, s_out: Any, out: Any, columns: Any,
                        x_stride: Any, out_stride: Any) -> None:
        """A softmax row of at most ``CHUNK`` elements: the same ``m`` and ``s`` as
        ``_emit_row``, each ``exp(x - m)`` stored in the output as it is summed, then divided
        by ``s``: the same values, one exp each."""
        b = self.b
        dtype = self.dtypes[0]
        s = self._one_chunk(x, m_out, s_out, columns, x_stride, store=(out, out_stride))
        with iu.for_range(b, iu.i64(0), columns, name="out") as j:
            where = self._address(out, j, out_stride)
            value = self._step("true_divide", [b.load(where, typ=s.type), s], dtype)
            b.store(value, where)

    def _emit_output(self, x: Any, m_in: Any, s_in: Any, out: Any, columns: Any,
                     x_stride: Any, out_stride: Any) -> None:
        b = self.b
        dtype = self.dtypes[0]
        ty = iu.register_type(dtype)
        m, s = b.load(m_in, typ=ty), b.load(s_in, typ=ty)
        is_softmax = ROWS_KINDS[self.spec.reduce.kind]  # type: ignore[union-attr]
        log_s = None if is_softmax else self._step("log", [s], dtype)
        with iu.for_range(b, iu.i64(0), columns, name="out") as j:
            shifted = self._step("sub", [self._element(x, j, x_stride), m], dtype)
            value = (self._step("true_divide", [self._step("exp", [shifted], dtype), s], dtype)
                     if log_s is None else self._step("sub", [shifted, log_s], dtype))
            b.store(value, self._address(out, j, out_stride))


register_builder(KIND, StatsBuilder)
for _kind in ROWS_KINDS:
    register_builder(_kind, RowsBuilder)
