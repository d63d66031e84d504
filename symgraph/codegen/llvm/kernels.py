"""Loop nests for elementwise programs (Elemwise, Composite) and reductions (CAReduce,
argmax/argmin, optionally with a fused elementwise pre-op).

Every kernel has the C signature ``void k(i64 *shape, void **data, i64 *strides)``: ``shape``
is the iteration space (the output's shape, or the reduced input's), ``data`` one pointer per
operand (inputs, outputs, then scratch) and, last, an ``i32`` error flag that a kernel whose
rules may fail (``Emitter.fail_if``) sets to 1; ``strides`` ``ndim`` byte strides per operand.
Shapes and strides are run-time values, so one kernel serves every size and layout;
broadcasting is a static stride of 0. A kernel takes a flat loop when every operand is
contiguous, else a loop nest whose innermost loop has a unit-stride (vectorised) and a general
version. Above a size threshold the outermost loop is split over threads with libgomp's
``GOMP_parallel``.

Float32 sums and products accumulate in float64, in a scratch operand of the output's shape;
sums add float32 partials of a few terms each into it, which keeps the float32 loop's speed.
Float max/min along a unit-stride loop combine with ``llvm.maximum``/``llvm.minimum``, which
vectorise, and fix the sign of a zero result afterwards (``_emit_extreme``).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm import polys, special  # noqa: F401  (register the math functions)
from symgraph.codegen.llvm.emitter import ErrorFlag, LLVMEmitter
from symgraph.codegen.llvm.mathlib import MathLib
from symgraph.codegen.llvm.scalar import emit_arg_update, emit_combine, emit_program, identity_value
from symgraph.ops.composite import ScalarProgram

ARG_KINDS = ("argmax", "argmin")
# Float max/min reductions whose combine is an order-free intrinsic (see _emit_extreme).
EXTREMES = {"maximum": "llvm.maximum", "minimum": "llvm.minimum"}
# Elements (weighted by cost) above which a kernel runs on several threads.
PARALLEL_THRESHOLD = 1 << 17
LARGE_PROGRAM = 48
# An elementwise program of at least this weight per element (a math function's row costs 8)
# asks the vectoriser for two vectors in flight per iteration of its unit-stride loop: its
# long dependency chains (polynomials, a division) then overlap, which the out-of-order
# window alone did not (benchmarks/cases.py's fused case a, 1e5 float32: 107.5 -> 96.5 us
# with session 6's math; tanh 41.2 -> 38.2 and log1p 44.7 -> 43.9 before it; exp and cheap
# loops unchanged; 3 and 4 vectors were slower than 2). The loop's code doubles: 3-8 ms more
# of LLVM's time per such kernel.
INTERLEAVE_WEIGHT = 9
# Terms a float32 partial of a float32 sum takes before it is added to its float64
# accumulator. A reduced innermost loop: blocks of 512 elements, which the vectoriser splits
# over 64 lanes (4 interleaved vectors of 16 with AVX-512), 8 terms in order each (1e7 terms
# of 0.1: 4.8e-8 relative error; 1.7e-7 for 1024, NumPy's 1.1e-7; 256 costs time on data in
# cache); 16 in a loop with strides, which stays scalar.
BLOCK_TERMS = 512
STRIDED_TERMS = 16
# A kept innermost dimension: 4 terms when fewer than NARROW_OUTPUT outputs share the loops
# (a (n, 1) column: folding one element is cheap), else 32 (folding a wide row costs memory
# traffic; NumPy adds in order along such an axis).
PARTIAL_TERMS = (4, 32)
NARROW_OUTPUT = 256


@dataclass(frozen=True)
class ReduceSpec:
    """``kind``: a CAReduce row name, or ``argmax``/``argmin``; ``axes``: reduced dimensions
    of the iteration space; ``dtype``: the accumulator dtype (for CAReduce the output's, or a
    wider one, e.g. float64 for a float32 sum, which the kernel keeps in a scratch operand and
    rounds to the output's dtype at the end; the compared values' for argmax/argmin, whose
    output is int64)."""

    kind: str
    axes: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class KernelSpec:
    """Everything a kernel's code depends on (its hash names the compiled function)."""

    program: ScalarProgram
    ndim: int
    broadcast: tuple[tuple[bool, ...], ...]
    out_dtypes: tuple[str, ...]
    reduce: ReduceSpec | None = None
    inplace: bool = False
    parallel: bool = True
    # (output, input) pairs the caller passes the very same buffer and strides for: the body
    # writes those outputs through the input's pointer, so that the vectoriser sees one
    # pointer (a dependence at distance 0) instead of two it cannot prove equal or apart.
    aliases: tuple[tuple[int, int], ...] = ()

    @property
    def n_inputs(self) -> int:
        return self.program.n_inputs

    @property
    def has_scratch(self) -> bool:
        """A reduction whose accumulators are not its output: argmax/argmin's best values, or
        the wide accumulators of a sum or product (an operand of the output's shape)."""
        red = self.reduce
        return red is not None and (red.kind in ARG_KINDS or red.dtype != self.out_dtypes[0])

    def operand_dtypes(self) -> list[str]:
        """Storage dtypes of every operand: inputs, outputs, then the reduction's scratch."""
        dtypes = list(self.program.input_dtypes) + list(self.out_dtypes)
        if self.has_scratch:
            assert self.reduce is not None
            dtypes.append(self.reduce.dtype)
        return dtypes

    def operand_broadcast(self) -> list[tuple[bool, ...]]:
        reduced = tuple(d in self.reduce.axes for d in range(self.ndim)) if self.reduce \
            else (False,) * self.ndim
        n_rest = len(self.operand_dtypes()) - self.n_inputs
        return list(self.broadcast) + [reduced] * n_rest

    @property
    def is_large(self) -> bool:
        """Long programs (say, a 1000-op chain) compile in time linear in their length: one
        loop version, math functions called rather than inlined, no vectorisation."""
        return len(self.program.steps) > LARGE_PROGRAM

    def weight(self) -> int:
        """Work per element, in simple arithmetic instructions (the rows' ``cost``)."""
        return 1 + sum(row.cost for row, _, _ in self.program.steps)

    def symbol(self) -> str:
        """A placeholder name while the IR is built; ``kernel_ir`` names the kernel after the
        hash of its code, so that the name is the same in every process."""
        return PLACEHOLDER


PLACEHOLDER = "sg_kernel_PLACEHOLDER"


# Builders of kernels whose reduction is not a row of the scalar table (``ReduceSpec.kind``
# -> a KernelBuilder subclass), registered by their modules (online.py).
_BUILDERS: dict[str, type[KernelBuilder]] = {}


def register_builder(kind: str, builder: type[KernelBuilder]) -> None:
    _BUILDERS[kind] = builder


# Bounded: kernels of dropped functions must not keep their IR text alive for ever.
@functools.lru_cache(maxsize=128)
def kernel_ir(spec: KernelSpec, has_gomp: bool, has_scalef: bool = False) -> tuple[str, str]:
    """``(IR module text, name of the kernel function)``; ``has_scalef``: the target CPU
    scales by powers of two in one instruction (AVX-512's vscalef), which the math functions
    then use (see ``MathLib``)."""
    kind = spec.reduce.kind if spec.reduce is not None else None
    builder_class = _BUILDERS.get(kind, KernelBuilder)
    text = builder_class(spec, has_gomp, has_scalef).build()  # type: ignore[arg-type]
    text = iu.resolve_loop_ids(text)
    symbol = "sg_kernel_" + hashlib.sha1(text.encode()).hexdigest()[:24]
    return text.replace(PLACEHOLDER, symbol), symbol


class KernelBuilder:
    def __init__(self, spec: KernelSpec, has_gomp: bool, has_scalef: bool = False) -> None:
        self.spec = spec
        self.module = ir.Module(name=spec.symbol())
        self.mathlib = MathLib(self.module, inline=not spec.is_large, has_scalef=has_scalef)
        self.dtypes = spec.operand_dtypes()
        self.bcast = spec.operand_broadcast()
        self.n_ops = len(self.dtypes)
        self.ndim = spec.ndim
        red = spec.reduce
        self.axes = red.axes if red else ()
        self.accumulators = self._accumulator_operands()
        self.is_wide = red is not None and red.kind not in ARG_KINDS and spec.has_scratch
        # Sums add float32 partials into the wide accumulator; products accumulate in it
        # throughout: the relative errors of partial products would add up, not average out.
        self.has_partials = self.is_wide and red is not None and red.kind == "add"
        self.partial_group = self._partial_group()
        self.pending: Any = None  # the stack slot counting the terms of the partials
        self.fold_terms: Any = None  # how many they take (PARTIAL_TERMS)
        self.flat_ok = self._flat_ok()
        self.parallel = (spec.parallel and has_gomp and self.ndim > 0 and
                         (red is None or 0 not in self.axes))

    def _accumulator_operands(self) -> list[int]:
        """The operands a reduction accumulates into: its output, argmax/argmin's index and
        best value, or the wide scratch that a sum or product rounds to its output at the end
        (so that float32 data summed in float64 loses nothing however long the axis)."""
        red = self.spec.reduce
        n_in = self.spec.n_inputs
        if red is None:
            return []
        if red.kind in ARG_KINDS:
            return [n_in, n_in + 1]
        return [n_in + 1] if self.spec.has_scratch else [n_in]

    def _partial_group(self) -> tuple[int, int] | None:
        """``(first, last)``: the run of reduced dimensions nearest the innermost one, when a
        wide reduction keeps the innermost dimension. The innermost loop then adds into the
        output itself, as a float32 partial (vectorised, no wider than the output in cache),
        which is folded into the wide accumulator every few iterations of ``last``
        (``PARTIAL_TERMS``) and at the run's last iteration."""
        if not self.has_partials or not self.axes or self.ndim - 1 in self.axes:
            return None
        last = first = max(self.axes)
        while first - 1 in self.axes:
            first -= 1
        return first, last

    def _flat_ok(self) -> bool:
        """A flat loop applies when every operand is either full or a broadcast scalar (for
        reductions: only a reduction over every dimension)."""
        red = self.spec.reduce
        if self.spec.is_large or red is not None and len(red.axes) != self.ndim:
            return False
        return all(all(b) or not any(b) for b in self.bcast)

    def build(self) -> str:
        body = self._build_body()
        self._build_entry(body)
        return str(self.module)

    # -- entry: flat check, thread dispatch -------------------------------------------------
    def _build_entry(self, body: ir.Function) -> None:
        fnty = ir.FunctionType(iu.VOID, [iu.PTR, iu.PTR, iu.PTR])
        fn = ir.Function(self.module, fnty, name=self.spec.symbol())
        fn.attributes.add("nounwind")
        shape_p, data_p, strides_p = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        flag_p = ir.Constant(iu.PTR, None)
        if self.error_flag.used:
            flag_p = b.load(b.gep(data_p, [iu.i64(self.n_ops)], source_etype=iu.PTR), typ=iu.PTR)
        shape = [b.load(b.gep(shape_p, [iu.i64(d)], source_etype=iu.I64), typ=iu.I64)
                 for d in range(self.ndim)]
        total = iu.i64(1)
        for n in shape:
            total = b.mul(total, n)
        flat = self._emit_flat_check(b, shape, strides_p) if self.flat_ok else iu.I1(0)
        if self.ndim == 0:
            flat = iu.I1(1)
        length = b.select(flat, total, shape[0]) if self.ndim else iu.i64(1)
        if not self.parallel:
            self._call_body(b, body, shape_p, data_p, strides_p, iu.i64(0), length, flat,
                            flag_p)
            b.ret_void()
            return
        threads = b.load(iu.global_i32(self.module, "sg_num_threads"), typ=iu.I32)
        big = b.icmp_signed(">=", b.mul(total, iu.i64(self.spec.weight())),
                            iu.i64(PARALLEL_THRESHOLD))
        wide = b.and_(big, b.icmp_signed(">", threads, ir.Constant(iu.I32, 1)))
        with b.if_else(wide) as (then, otherwise):
            with then:
                self._emit_gomp(b, body, [shape_p, data_p, strides_p, length, flat, flag_p],
                                threads)
            with otherwise:
                self._call_body(b, body, shape_p, data_p, strides_p, iu.i64(0), length, flat,
                                flag_p)
        b.ret_void()

    def _emit_flat_check(self, b: ir.IRBuilder, shape: list[Any], strides_p: Any) -> Any:
        ok = iu.I1(1)
        for k in range(self.n_ops):
            if all(self.bcast[k]):
                continue
            expected = iu.i64(iu.itemsize(self.dtypes[k]))
            for d in reversed(range(self.ndim)):
                stride = self._load_stride(b, strides_p, k, d)
                good = b.or_(b.icmp_signed("==", stride, expected),
                             b.icmp_signed("==", shape[d], iu.i64(1)))
                ok = b.and_(ok, good)
                expected = b.mul(expected, shape[d])
        return ok

    def _load_stride(self, b: ir.IRBuilder, strides_p: Any, k: int, d: int) -> Any:
        if self.bcast[k][d]:
            return iu.i64(0)
        pointer = b.gep(strides_p, [iu.i64(k * self.ndim + d)], source_etype=iu.I64)
        return b.load(pointer, typ=iu.I64)

    def _emit_gomp(self, b: ir.IRBuilder, body: ir.Function, job_fields: list[Any],
                   threads: Any) -> None:
        job_ty = ir.LiteralStructType([iu.PTR, iu.PTR, iu.PTR, iu.I64, iu.I1, iu.PTR])
        job = iu.entry_alloca(b, job_ty, "job")
        for i, value in enumerate(job_fields):
            b.store(value, b.gep(job, [iu.I32(0), iu.I32(i)], source_etype=job_ty))
        worker = self._build_worker(body, job_ty)
        gomp = iu.declare(self.module, "GOMP_parallel", iu.VOID,
                          [iu.PTR, iu.PTR, iu.I32, iu.I32])
        b.call(gomp, [worker, job, threads, ir.Constant(iu.I32, 0)])

    def _call_body(self, b: ir.IRBuilder, body: ir.Function, shape_p: Any, data_p: Any,
                   strides_p: Any, start: Any, stop: Any, flat: Any, flag_p: Any) -> None:
        bases = [b.load(b.gep(data_p, [iu.i64(k)], source_etype=iu.PTR), typ=iu.PTR)
                 for k in range(self.n_ops)]
        b.call(body, [shape_p, strides_p] + bases + [start, stop, flat, flag_p])

    def _build_worker(self, body: ir.Function, job_ty: ir.Type) -> ir.Function:
        fn = ir.Function(self.module, ir.FunctionType(iu.VOID, [iu.PTR]),
                         name=self.spec.symbol() + ".omp")
        fn.linkage = "internal"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        fields = [b.load(b.gep(fn.args[0], [iu.I32(0), iu.I32(i)], source_etype=job_ty),
                         typ=ty) for i, ty in enumerate(job_ty.elements)]
        tid = b.sext(b.call(iu.declare(self.module, "omp_get_thread_num", iu.I32, []), []),
                     iu.I64)
        count = b.sext(b.call(iu.declare(self.module, "omp_get_num_threads", iu.I32, []), []),
                       iu.I64)
        n = fields[3]
        chunk = b.sdiv(b.add(n, b.sub(count, iu.i64(1))), count)
        chunk = b.and_(b.add(chunk, iu.i64(15)), iu.i64(~15))  # whole vectors per thread
        start = b.mul(tid, chunk)
        stop = b.add(start, chunk)
        stop = b.select(b.icmp_signed("<", stop, n), stop, n)
        with b.if_then(b.icmp_signed("<", start, stop)):
            self._call_body(b, body, *fields[:3], start, stop, fields[4], fields[5])
        b.ret_void()
        return fn

    # -- body: loops over [start, end) of the outermost dimension ---------------------------
    def _open_body(self) -> tuple[ir.Function, list[Any], ir.IRBuilder]:
        """``body(shape, strides, base_0 .. base_n, start, end, flat, error flag)`` and the
        builder at its entry (``self.b``, the error flag set up): separate pointer arguments,
        so that ``noalias`` tells the vectoriser operands do not overlap (unless in place)."""
        fnty = ir.FunctionType(iu.VOID, [iu.PTR, iu.PTR] + [iu.PTR] * self.n_ops +
                               [iu.I64, iu.I64, iu.I1, iu.PTR])
        fn = ir.Function(self.module, fnty, name=self.spec.symbol() + ".body")
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        args = list(fn.args)
        if not self.spec.inplace:
            for arg in args[2:2 + self.n_ops]:
                arg.add_attribute("noalias")
        self.b = b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.error_flag = ErrorFlag(args[-1])
        return fn, args, b

    def _build_body(self) -> ir.Function:
        fn, args, b = self._open_body()
        shape_p, strides_p = args[:2]
        start, end, flat, _ = args[2 + self.n_ops:]
        self.shape = [b.load(b.gep(shape_p, [iu.i64(d)], source_etype=iu.I64), typ=iu.I64)
                      for d in range(self.ndim)]
        self.bases = args[2:2 + self.n_ops]
        self.strides = [[self._load_stride(b, strides_p, k, d) for d in range(self.ndim)]
                        for k in range(self.n_ops)]
        for out, source in self.spec.aliases:
            self.bases[self.spec.n_inputs + out] = self.bases[source]
            self.strides[self.spec.n_inputs + out] = self.strides[source]
        self.weights = self._arg_weights()
        if self.ndim == 0:
            self._emit_flat(start, end)
        elif self.flat_ok:
            with b.if_else(flat) as (then, otherwise):
                with then:
                    self._emit_flat(start, end)
                with otherwise:
                    self._emit_nest(start, end)
        else:
            self._emit_nest(start, end)
        b.ret_void()
        return fn

    def _arg_weights(self) -> list[Any]:
        """For argmax/argmin: the C-order weight of each reduced dimension in the index."""
        red = self.spec.reduce
        if red is None or red.kind not in ARG_KINDS:
            return []
        weights: list[Any] = [iu.i64(0)] * self.ndim
        running: Any = iu.i64(1)
        for d in reversed(range(self.ndim)):
            if d in self.axes:
                weights[d] = running
                running = self.b.mul(running, self.shape[d])
        return weights

    def _emit_flat(self, start: Any, end: Any) -> None:
        if self.spec.reduce is not None:
            self._for_each_output(self.bases, 0, start, end, True, self._store_identity)
        unit = [not all(bc) for bc in self.bcast]
        self._emit_inner(start, end, self.bases, None, unit_flags=unit,
                         position=iu.i64(0), inner_weight=iu.i64(1))
        if self.is_wide:
            self._for_each_output(self.bases, 0, start, end, True, self._store_result)

    def _emit_nest(self, start: Any, end: Any) -> None:
        if self.spec.reduce is not None:
            self._for_each_output(self.bases, 0, start, end, False, self._store_identity,
                                  vectorise=self.is_wide)
        self._emit_level(0, start, end, self.bases, iu.i64(0))
        if self.is_wide:
            self._for_each_output(self.bases, 0, start, end, False, self._store_result,
                                  vectorise=True)

    def _advance(self, pointers: list[Any], d: int, index: Any) -> list[Any]:
        b = self.b
        return [p if self.bcast[k][d] else
                b.gep(p, [b.mul(index, self.strides[k][d])], source_etype=iu.I8, inbounds=True)
                for k, p in enumerate(pointers)]

    def _emit_level(self, d: int, start: Any, end: Any, pointers: list[Any],
                    position: Any, is_last: Any = None) -> None:
        """Loops from dimension ``d`` in; ``is_last``: whether the enclosing iterations of a
        ``partial_group`` are their last ones."""
        if d == self.ndim - 1:
            self._emit_inner_versions(start, end, pointers, position)
            return
        b = self.b
        group = self.partial_group or (-1, -1)
        if d == group[0]:
            self.pending = iu.entry_alloca(b, iu.I64, "pending")
            b.store(iu.i64(0), self.pending)
            is_last = iu.I1(1)
            width: Any = iu.i64(1)
            for e in range(group[1] + 1, self.ndim):
                width = b.mul(width, self.shape[e])
            narrow = b.icmp_signed("<", width, iu.i64(NARROW_OUTPUT))
            self.fold_terms = b.select(narrow, *[iu.i64(n) for n in PARTIAL_TERMS])
        with iu.for_range(b, start, end, name=f"d{d}") as index:
            inner = self._advance(pointers, d, index)
            pos = b.add(position, b.mul(index, self.weights[d])) if self.weights else position
            if group[0] <= d <= group[1]:
                is_last = b.and_(is_last, b.icmp_signed("==", index, b.sub(end, iu.i64(1))))
            self._emit_level(d + 1, iu.i64(0), self.shape[d + 1], inner, pos, is_last)
            if d == group[1]:
                self._count_partial(pointers, is_last)

    def _emit_inner_versions(self, start: Any, end: Any, pointers: list[Any],
                             position: Any) -> None:
        """The innermost loop twice: unit strides (vectorisable) or general strides."""
        b = self.b
        d = self.ndim - 1
        unit_ok = iu.I1(1)
        for k in range(self.n_ops):
            if not self.bcast[k][d]:
                size = iu.i64(iu.itemsize(self.dtypes[k]))
                unit_ok = b.and_(unit_ok, b.icmp_signed("==", self.strides[k][d], size))
        weight = self.weights[d] if self.weights else iu.i64(0)
        if self.spec.is_large:
            self._emit_inner(start, end, pointers, d, [False] * self.n_ops, position, weight)
            return
        with b.if_else(unit_ok) as (then, otherwise):
            with then:
                unit = [not self.bcast[k][d] for k in range(self.n_ops)]
                self._emit_inner(start, end, pointers, None, unit, position, weight)
            with otherwise:
                self._emit_inner(start, end, pointers, d, [False] * self.n_ops, position,
                                 weight)

    def _element_pointers(self, index: Any, pointers: list[Any], d: int | None,
                          unit_flags: list[bool]) -> list[Any]:
        b = self.b
        result = []
        for k, p in enumerate(pointers):
            if unit_flags[k]:
                ety = iu.memory_type(self.dtypes[k])
                result.append(b.gep(p, [index], source_etype=ety, inbounds=True))
            elif d is None or self.bcast[k][d]:
                result.append(p)
            else:
                offset = b.mul(index, self.strides[k][d])
                result.append(b.gep(p, [offset], source_etype=iu.I8, inbounds=True))
        return result

    # -- the element operation --------------------------------------------------------------
    def _emit_inner(self, start: Any, end: Any, pointers: list[Any], d: int | None,
                    unit_flags: list[bool], position: Any, inner_weight: Any) -> None:
        red = self.spec.reduce
        n_in = self.spec.n_inputs
        loop = (start, end, pointers, d, unit_flags, position, inner_weight)
        out_invariant = red is not None and (d is None and not unit_flags[n_in] or
                                             d is not None and self.bcast[n_in][d])
        if not out_invariant:
            self._emit_elements(*loop, None, self.partial_group is not None)
            return
        slots = self._open_accumulators(pointers)
        if self.has_partials:
            # Only the unit-stride version (d is None) vectorises, over 64 lanes.
            self._emit_blocks(*loop, slots, BLOCK_TERMS if d is None else STRIDED_TERMS)
        elif d is None and self._is_float_extreme():
            self._emit_extreme(*loop, slots)
        else:
            self._emit_elements(*loop, slots, False)
        self._close_accumulators(pointers, slots)

    def _is_float_extreme(self) -> bool:
        red = self.spec.reduce
        return (red is not None and red.kind in EXTREMES and
                red.dtype in ("float32", "float64") and not self.spec.is_large)

    def _emit_extreme(self, start: Any, end: Any, pointers: list[Any], d: int | None,
                      unit_flags: list[bool], position: Any, inner_weight: Any,
                      slots: list[Any]) -> None:
        """A float max/min into an accumulator that stays put, over a unit-stride loop. The
        combine is ``llvm.maximum``/``llvm.minimum``: NaN propagates and the result does not
        depend on the order, so the loop vectorises (lanes, then a horizontal combine). Only
        the sign of a zero result depends on the order: the sequential rule (NumPy's scalar
        loop, ``emit_rules.maximum``: at a tie the later element wins) gives the last element
        equal to zero, found by a scan from the end (the incoming accumulator when the loop
        holds none)."""
        b = self.b
        red = self.spec.reduce
        assert red is not None
        ty = iu.register_type(red.dtype)
        incoming = b.load(slots[0], typ=ty)
        self._emit_elements(start, end, pointers, d, unit_flags, position, inner_weight,
                            slots, False, extreme=True)
        zero = ir.Constant(ty, 0.0)
        with b.if_then(b.fcmp_ordered("==", b.load(slots[0], typ=ty), zero)):
            b.store(incoming, slots[0])
            index = iu.entry_alloca(b, iu.I64, "last_zero")
            b.store(end, index)
            function = b.function
            head = function.append_basic_block("zero.head")
            body = function.append_basic_block("zero.body")
            found = function.append_basic_block("zero.found")
            done = function.append_basic_block("zero.done")
            b.branch(head)
            b.position_at_end(head)
            j = b.load(index, typ=iu.I64)
            b.cbranch(b.icmp_signed(">", j, start), body, done)
            b.position_at_end(body)
            j = b.sub(j, iu.i64(1))
            b.store(j, index)
            value = self._reduced_value(j, pointers, d, unit_flags)
            b.cbranch(b.fcmp_ordered("==", value, zero), found, head)
            b.position_at_end(found)
            b.store(value, slots[0])
            b.branch(done)
            b.position_at_end(done)

    def _reduced_value(self, j: Any, pointers: list[Any], d: int | None,
                       unit_flags: list[bool]) -> Any:
        """The pre-op program's value at ``j`` of the innermost loop, in the accumulator's
        dtype."""
        b = self.b
        red = self.spec.reduce
        assert red is not None
        n_in = self.spec.n_inputs
        ptrs = self._element_pointers(j, pointers, d, unit_flags)
        values = [(iu.load_element(b, ptrs[k], self.dtypes[k]), self.dtypes[k])
                  for k in range(n_in)]
        value, dtype = emit_program(b, self.mathlib, self.spec.program, values,
                                    self.error_flag)[0]
        if dtype != red.dtype:
            value = LLVMEmitter(b, self.mathlib, dtype).cast(value, red.dtype)
        return value

    def _emit_elements(self, start: Any, end: Any, pointers: list[Any], d: int | None,
                       unit_flags: list[bool], position: Any, inner_weight: Any,
                       slots: list[Any] | None, partial: bool, extreme: bool = False) -> None:
        """The loop over ``[start, end)``: an elementwise program stores its outputs; a
        reduction accumulates into ``slots`` (when they stay put) or the output elements
        (``extreme``: see ``_emit_extreme``)."""
        b = self.b
        red = self.spec.reduce
        n_in = self.spec.n_inputs
        heavy = d is None and red is None and self.spec.weight() >= INTERLEAVE_WEIGHT
        with iu.for_range(b, start, end, name="j", interleave=2 if heavy else 0) as j:
            ptrs = self._element_pointers(j, pointers, d, unit_flags)
            values = [(iu.load_element(b, ptrs[k], self.dtypes[k]), self.dtypes[k])
                      for k in range(n_in)]
            outputs = emit_program(b, self.mathlib, self.spec.program, values, self.error_flag)
            if red is None:
                for k, (value, _) in enumerate(outputs):
                    iu.store_element(b, value, ptrs[n_in + k], self.dtypes[n_in + k])
            else:
                where = slots if slots is not None else ptrs[n_in:]
                pos = b.add(position, b.mul(j, inner_weight))
                self._accumulate(outputs[0], where, pos, partial, extreme)

    def _emit_blocks(self, start: Any, end: Any, pointers: list[Any], d: int | None,
                     unit_flags: list[bool], position: Any, inner_weight: Any,
                     slots: list[Any], block_terms: int) -> None:
        """A sum into a wide accumulator in the innermost loop: blocks of ``block_terms``
        elements are summed as float32 partials, which vectorise as fast as a plain float32
        loop, and each block's partial is added into the wide accumulator."""
        b = self.b
        n_in = self.spec.n_inputs
        partial = iu.entry_alloca(b, iu.memory_type(self.dtypes[n_in]), "partial")
        where = [partial] + slots[1:]
        self._store_identity(pointers[:n_in] + where, wide=False)
        size = iu.i64(block_terms)
        n_blocks = b.udiv(b.add(b.sub(end, start), iu.i64(block_terms - 1)), size)
        with iu.for_range(b, iu.i64(0), n_blocks, name="block") as block:
            low = b.add(start, b.mul(block, size))
            high = b.add(low, size)
            high = b.select(b.icmp_signed("<", high, end), high, end)
            self._emit_elements(low, high, pointers, d, unit_flags, position, inner_weight,
                                where, True)
            self._fold_partial(pointers[:n_in] + where)

    def _accumulate(self, typed: tuple[Any, str], where: list[Any], position: Any,
                    partial: bool = False, extreme: bool = False) -> None:
        """Fold ``typed`` into the accumulators at ``where`` (one pointer per operand after
        the inputs), or into the output's partial (see ``_partial_group``)."""
        b = self.b
        red = self.spec.reduce
        assert red is not None
        value, dtype = typed
        n_in = self.spec.n_inputs
        acc_dtype = self.dtypes[n_in] if partial else red.dtype
        value = LLVMEmitter(b, self.mathlib, dtype).cast(value, acc_dtype) \
            if dtype != acc_dtype else value
        if red.kind in ARG_KINDS:
            best_dtype = self.dtypes[n_in + 1]
            best = iu.load_element(b, where[1], best_dtype)
            index = b.load(where[0], typ=iu.I64)
            best, index = emit_arg_update(b, self.mathlib, red.kind, red.dtype, best, index,
                                          value, position)
            iu.store_element(b, best, where[1], best_dtype)
            b.store(index, where[0])
            return
        (k,) = [n_in] if partial else self.accumulators
        acc = iu.load_element(b, where[k - n_in], self.dtypes[k])
        if extreme:
            ty = iu.register_type(acc_dtype)
            intrinsic = iu.intrinsic(self.module, EXTREMES[red.kind], ty, 2)
            b.store(b.call(intrinsic, [acc, value]), where[k - n_in])
            return
        iu.store_element(b, emit_combine(b, self.mathlib, red.kind, acc_dtype, acc, value),
                         where[k - n_in], self.dtypes[k])

    def _open_accumulators(self, pointers: list[Any]) -> list[Any]:
        """Stack slots (registers, after mem2reg) for the accumulators that stay put during
        the innermost loop; the other operands after the inputs keep their pointers."""
        b = self.b
        n_in = self.spec.n_inputs
        slots = list(pointers[n_in:])
        for k in self.accumulators:
            slot = iu.entry_alloca(b, iu.memory_type(self.dtypes[k]), f"acc{k}")
            b.store(b.load(pointers[k], typ=iu.memory_type(self.dtypes[k])), slot)
            slots[k - n_in] = slot
        return slots

    def _close_accumulators(self, pointers: list[Any], slots: list[Any]) -> None:
        b = self.b
        n_in = self.spec.n_inputs
        for k in self.accumulators:
            b.store(b.load(slots[k - n_in], typ=iu.memory_type(self.dtypes[k])), pointers[k])

    # -- reductions: start values and results ---------------------------------------------------
    def _for_each_output(self, pointers: list[Any], d: int, start: Any, end: Any, flat: bool,
                         leaf: Any, vectorise: bool = False) -> None:
        """``leaf(pointers)`` at every output element of the range: loops over kept
        dimensions only (the innermost one in two versions when ``vectorise``: for a step
        that runs often, not once per call)."""
        b = self.b
        if flat or d == self.ndim:
            leaf(pointers)
            return
        if d in self.axes:
            self._for_each_output(pointers, d + 1, iu.i64(0), self._dim(d + 1), flat, leaf,
                                  vectorise)
            return
        if vectorise and all(e in self.axes for e in range(d + 1, self.ndim)):
            self._for_each_output_row(pointers, d, start, end, leaf)
            return
        with iu.for_range(b, start, end, name=f"out{d}") as index:
            inner = self._advance(pointers, d, index)
            self._for_each_output(inner, d + 1, iu.i64(0), self._dim(d + 1), flat, leaf,
                                  vectorise)

    def _for_each_output_row(self, pointers: list[Any], d: int, start: Any, end: Any,
                             leaf: Any) -> None:
        """The innermost kept dimension ``d`` of ``_for_each_output``: a unit-stride version,
        which vectorises, and a general one."""
        b = self.b
        n_in = self.spec.n_inputs
        unit_ok = iu.I1(1)
        for k in range(n_in, self.n_ops):
            size = iu.i64(iu.itemsize(self.dtypes[k]))
            unit_ok = b.and_(unit_ok, b.icmp_signed("==", self.strides[k][d], size))
        with b.if_else(unit_ok) as (then, otherwise):
            with then:
                with iu.for_range(b, start, end, name="outj") as j:
                    leaf(pointers[:n_in] + [
                        b.gep(pointers[k], [j], source_etype=iu.memory_type(self.dtypes[k]),
                              inbounds=True) for k in range(n_in, self.n_ops)])
            with otherwise:
                with iu.for_range(b, start, end, name="outj") as j:
                    leaf(self._advance(pointers, d, j))

    def _count_partial(self, pointers: list[Any], is_last: Any) -> None:
        """One more term in every partial below this level: fold them when they are full or
        the group's loops end."""
        assert self.partial_group is not None
        b = self.b
        count = b.add(b.load(self.pending, typ=iu.I64), iu.i64(1))
        full = b.or_(b.icmp_signed(">=", count, self.fold_terms), is_last)
        with b.if_else(full) as (then, otherwise):
            with then:
                d = self.partial_group[1] + 1
                self._for_each_output(pointers, d, iu.i64(0), self._dim(d), False,
                                      self._fold_partial, vectorise=not self.spec.is_large)
                b.store(iu.i64(0), self.pending)
            with otherwise:
                b.store(count, self.pending)

    def _fold_partial(self, pointers: list[Any]) -> None:
        """``wide = wide (kind) partial``, and the partial starts again."""
        red = self.spec.reduce
        assert red is not None
        b = self.b
        n_in = self.spec.n_inputs
        out_dtype = self.dtypes[n_in]
        e = LLVMEmitter(b, self.mathlib, out_dtype)
        partial = e.typed(iu.load_element(b, pointers[n_in], out_dtype), out_dtype)
        total = iu.load_element(b, pointers[n_in + 1], red.dtype)
        total = emit_combine(b, self.mathlib, red.kind, red.dtype, total,
                             e.cast(partial, red.dtype))
        iu.store_element(b, total, pointers[n_in + 1], red.dtype)
        start = e.constant(identity_value(red.kind, out_dtype), out_dtype)
        iu.store_element(b, start, pointers[n_in], out_dtype)

    def _dim(self, d: int) -> Any:
        return self.shape[d] if d < self.ndim else iu.i64(1)

    def _store_identity(self, pointers: list[Any], wide: bool = True) -> None:
        """The start value in the accumulators at ``pointers`` (with ``wide`` false, only in
        the output or its float32 partial)."""
        red = self.spec.reduce
        assert red is not None
        b = self.b
        n_in = self.spec.n_inputs
        e = LLVMEmitter(b, self.mathlib, red.dtype)
        start = e.constant(identity_value(red.kind, red.dtype), red.dtype)
        if red.kind in ARG_KINDS:
            b.store(iu.i64(0), pointers[n_in])
            best_dtype = self.dtypes[n_in + 1]
            iu.store_element(b, e.cast(start, best_dtype), pointers[n_in + 1], best_dtype)
            return
        if not wide:
            targets = [n_in]
        elif self.partial_group is not None:
            targets = [n_in, n_in + 1]  # the output's float32 partials, the wide accumulators
        else:
            targets = self.accumulators
        for k in targets:
            iu.store_element(b, e.cast(start, self.dtypes[k]), pointers[k], self.dtypes[k])

    def _store_result(self, pointers: list[Any]) -> None:
        """Round a wide accumulator to the output's dtype."""
        red = self.spec.reduce
        assert red is not None
        b = self.b
        n_in = self.spec.n_inputs
        e = LLVMEmitter(b, self.mathlib, red.dtype)
        total = e.typed(iu.load_element(b, pointers[n_in + 1], red.dtype), red.dtype)
        out_dtype = self.dtypes[n_in]
        iu.store_element(b, e.cast(total, out_dtype), pointers[n_in], out_dtype)
