"""The whole-function runtime: one compiled METH_FASTCALL entry point per function checks its
arguments, runs every step of the plan (kernels, BLAS, views, ``perform`` callbacks), returns
fresh arrays and assigns shared-variable updates, all without the interpreter in between.

The entry point returns ``contract.FALLBACK`` when it cannot handle a call (an argument that needs
converting or fails a check, a shape mismatch): ``Function`` then converts the arguments, or runs
the reference schedule, which raises the usual error. All per-call state (value descriptors,
arena buffers, owned references) lives in a frame; a frame serves one call at a time, and a call
that finds its frame busy (another thread, or a recursive call) returns ``contract.BUSY``:
``NativeFunction.run`` then runs it in a spare frame. Long kernels and BLAS calls release the GIL.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir

from symgraph.codegen.contract import BUSY, FALLBACK, CallSpec
from symgraph.codegen.gcpause import gc_paused
from symgraph.codegen.linker import FreeList, reraise_node_error
from symgraph.codegen.llvm import capi
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.code import Code, emit_steps
from symgraph.codegen.llvm.irgen import Frame, Gen, Slot, Word
from symgraph.codegen.llvm.jit import OPT_LEVEL, engine, pinning
from symgraph.codegen.llvm.nan_check import emit_nan_guard
from symgraph.codegen.llvm.jit import Code as Compiled
from symgraph.codegen.llvm.plan import Program
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Variable
from symgraph.type import TensorType


def accepted_type_nums(dtype: str) -> tuple[int, ...]:
    """NumPy type numbers with this dtype's name (int64 is both ``long`` and ``longlong``)."""
    nums = {np.dtype(dtype).num}
    for code in np.typecodes["All"]:
        try:
            candidate = np.dtype(code)
        except TypeError:
            continue
        if candidate.name == dtype:
            nums.add(candidate.num)
    return tuple(sorted(nums))




# ---------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------

class EntryBuilder:
    """Emits ``PyObject *entry(PyObject *frame, PyObject *const *args, Py_ssize_t nargs)``."""

    def __init__(self, program: Program, spec: CallSpec, nan_guard: bool = False) -> None:
        self.program = program
        self.spec = spec
        self.nan_guard = nan_guard
        self.layout = Frame()
        self.busy = self.layout.reserve(1)
        self.current_step = self.layout.reserve(1)
        self.profile_words = self.layout.reserve(2 * len(program.steps)) if spec.profile else 0
        # Where a NaN guard's check says what it found: the step, the output, the flat index.
        self.nan_words = self.layout.reserve(3) if nan_guard else -1
        self.module = ir.Module(name="sg_runtime")
        fnty = ir.FunctionType(iu.PTR, [iu.PTR, iu.PTR, iu.I64])
        self.function = ir.Function(self.module, fnty, name=ENTRY_PLACEHOLDER)
        builder = ir.IRBuilder(self.function.append_basic_block("entry"))
        self_obj, self.args, self.nargs = self.function.args
        frame = builder.load(builder.gep(self_obj, [iu.i64(capi.ARRAY_DATA)],
                                         source_etype=iu.I8), typ=iu.PTR)
        self.gen = Gen(self.module, self.function, self.layout, builder, frame)
        self.code = Code(program, self.layout, self.gen)
        containers = list(spec.containers) + list(spec.update_containers)
        if len({type(c) for c in containers}) > 1:
            raise capi.LayoutError("shared variables with different container classes")
        # Shared values are read and assigned in place: the offset of the container's slot.
        self.value_offset = capi.slot_offset(type(containers[0]), "value") if containers else 0

    def build(self) -> str:
        g, b = self.gen, self.gen.b
        busy_block = self.function.append_basic_block("busy")
        running = b.icmp_signed("!=", g.load(self.busy), iu.i64(0))
        following = self.function.append_basic_block("start")
        b.cbranch(running, busy_block, following)
        b.position_at_end(following)
        g.store(self.busy, iu.i64(1))
        g.store(self.current_step, iu.i64(-1))
        after = None
        if self.nan_guard:
            g.store(self.nan_words, iu.i64(-1))
            words = (self.nan_words, self.nan_words + 1, self.nan_words + 2)
            after = lambda code, step: emit_nan_guard(code, step, words)  # noqa: E731
        g.bail_if(b.icmp_signed("!=", self.nargs, iu.i64(self.spec.n_args)))
        self._bind_inputs()
        emit_steps(self.code, self.program.steps, self.profile_words if self.spec.profile
                   else None, self.current_step, after)
        b.ret(self._finish())
        self._emit_exits(busy_block)
        return str(self.module)

    # -- arguments and shared values ------------------------------------------------------------
    def _bind_inputs(self) -> None:
        g, b = self.gen, self.gen.b
        fgraph = self.program.fgraph
        for i, var in enumerate(fgraph.inputs[:self.spec.n_args]):
            pointer = b.gep(self.args, [iu.i64(i)], source_etype=iu.PTR)
            self._bind(b.load(pointer, typ=iu.PTR), var, not self.spec.trust_input)
        for var, container in zip(fgraph.inputs[self.spec.n_args:], self.spec.containers):
            # A reference of our own: another thread may assign the shared variable while
            # this call runs (in a perform callback, or while a kernel runs without the GIL).
            value = g.field(g.object(container), self.value_offset, iu.PTR)
            g.incref(value)
            self.layout.owned.append(self.code.slot(var).obj)
            self._bind(value, var, True)

    def _bind(self, obj: Any, var: Variable, check: bool) -> None:
        """``var``'s slot describes ``obj`` (kept in it first, so that a bail releases an
        owned reference)."""
        g = self.gen
        slot = self.code.slot(var)
        if slot.dtype is None:
            g.store(slot.obj, obj)
            return

        vtype = var.type
        assert isinstance(vtype, TensorType)

        def build(gen: Gen, args: list[Any]) -> None:
            obj, slot_ptr = args
            own = Slot(Word(slot_ptr), slot.ndim, slot.dtype)
            gen.store(own.obj, obj)
            bind_array(gen, obj, own, vtype, check)

        fn = g.outlined(("bind", vtype, check), [iu.PTR, iu.PTR], build, "bind")
        g.call_status(fn, [obj, g.word_ptr(slot.word)])

    # -- results ----------------------------------------------------------------------------------
    def _finish(self) -> Any:
        """Build every result (new references kept in owned words, so that a failure
        releases them), assign the updates, then return the output or list of outputs."""
        g, b = self.gen, self.gen.b
        fgraph = self.program.fgraph
        words = []
        for var in fgraph.outputs:
            word = self.layout.owned_word()
            store_result(self.code, var, word, self._caller_objects)
            words.append(word)
        n_out = self.spec.n_outputs
        for container, word in zip(self.spec.update_containers, words[n_out:]):
            target = b.gep(g.object(container), [iu.i64(self.value_offset)], source_etype=iu.I8)
            old = b.load(target, typ=iu.PTR)
            b.store(g.load(word, iu.PTR), target)
            g.store(word, ir.Constant(iu.PTR, None))
            g.decref(old)
        if self.spec.single:
            result = g.load(words[0], iu.PTR)
            g.store(words[0], ir.Constant(iu.PTR, None))
        else:
            result = g.api("PyList_New", iu.PTR, [(iu.I64, iu.i64(n_out))])
            g.error_if(g.is_null(result))
            for j, word in enumerate(words[:n_out]):
                g.api("PyList_SetItem", iu.I32, [(iu.PTR, result), (iu.I64, iu.i64(j)),
                                                 (iu.PTR, g.load(word, iu.PTR))])
                g.store(word, ir.Constant(iu.PTR, None))
        self._cleanup()
        g.store(self.busy, iu.i64(0))
        return result

    def _caller_objects(self) -> list[Any]:
        """Objects the caller (or a constant) owns: an output that is one of them is copied."""
        g = self.gen
        fgraph = self.program.fgraph
        objects = [g.load(self.code.slot(v).obj, iu.PTR) for v in fgraph.inputs]
        objects += [g.load(self.code.slot(v).obj, iu.PTR) for v in self.program.constants]
        return objects

    def _cleanup(self) -> None:
        self.gen.release(self.layout.owned)

    def _emit_exits(self, busy_block: ir.Block) -> None:
        g, b = self.gen, self.gen.b
        sentinel_word = self.layout.object_word(FALLBACK)
        b.position_at_end(g.bail_block)
        self._cleanup()
        g.store(self.busy, iu.i64(0))
        sentinel = g.load(sentinel_word, iu.PTR)
        g.incref(sentinel)
        b.ret(sentinel)
        b.position_at_end(g.error_block)
        self._cleanup()
        g.store(self.busy, iu.i64(0))
        b.ret(ir.Constant(iu.PTR, None))
        b.position_at_end(busy_block)
        busy = g.load(self.layout.object_word(BUSY), iu.PTR)
        g.incref(busy)
        b.ret(busy)


def bind_array(g: Gen, obj: Any, slot: Slot, vtype: TensorType, check: bool) -> None:
    """Describe the ndarray ``obj`` in ``slot`` (bails unless it is exactly an ndarray of
    the type's dtype, in native byte order, aligned, of its rank, and with ``check``, of
    its static shape)."""
    b = g.b
    # Checked even with trust_input: a wrong dtype or rank would read past the buffer.
    _check_array(g, obj, vtype)
    g.store(slot.data, g.field(obj, capi.ARRAY_DATA, iu.PTR))
    if not slot.ndim:
        return
    dims = g.field(obj, capi.ARRAY_DIMS, iu.PTR)
    strides = g.field(obj, capi.ARRAY_STRIDES, iu.PTR)
    mismatches = []
    for d, static in enumerate(vtype.shape):
        length = b.load(b.gep(dims, [iu.i64(d)], source_etype=iu.I64), typ=iu.I64)
        if check and static is not None:
            mismatches.append(b.icmp_signed("!=", length, iu.i64(static)))
        g.store(slot.dim(d), length)
        g.store(slot.stride(d),
                b.load(b.gep(strides, [iu.i64(d)], source_etype=iu.I64), typ=iu.I64))
    g.bail_if_any(mismatches)


def _check_array(g: Gen, obj: Any, vtype: TensorType) -> None:
    """Exactly an ndarray, of the declared dtype in native byte order, rank, aligned."""
    b = g.b
    g.bail_if(g.is_null(obj))
    g.bail_if(b.icmp_unsigned("!=", g.field(obj, capi.OB_TYPE, iu.PTR), g.array_type()))
    descr = g.field(obj, capi.ARRAY_DESCR, iu.PTR)
    number = g.field(descr, capi.DESCR_TYPE_NUM, iu.I32)
    good = iu.I1(0)
    for accepted in accepted_type_nums(vtype.dtype):
        good = b.or_(good, b.icmp_signed("==", number, ir.Constant(iu.I32, accepted)))
    g.bail_if(b.not_(good))
    order = g.field(descr, capi.DESCR_BYTEORDER, iu.I8)
    g.bail_if(b.icmp_unsigned("==", order, ir.Constant(iu.I8, ord(">"))))
    ndim = g.field(obj, capi.ARRAY_NDIM, iu.I32)
    g.bail_if(b.icmp_signed("!=", ndim, ir.Constant(iu.I32, vtype.ndim)))
    flags = g.field(obj, capi.ARRAY_FLAGS, iu.I32)
    aligned = b.and_(flags, ir.Constant(iu.I32, capi.NPY_ALIGNED))
    g.bail_if(b.icmp_signed("==", aligned, ir.Constant(iu.I32, 0)))


ENTRY_PLACEHOLDER = "sg_entry_PLACEHOLDER"
# Entry points are glue around kernels and library calls: a light pipeline compiles them fast.
ENTRY_SPEED_LEVEL = 0
# From this many steps on, an entry point is compiled by the fast code generator (FastISel):
# 3-5 times faster to build, about 10 ns slower per step and call, which matters only where
# the steps are few and tiny.
FAST_CODEGEN_STEPS = 32


def store_result(code: Code, var: Variable, word: int,
                 caller_objects: Callable[[], list[Any]]) -> None:
    """Put in ``word`` a new reference to an object the caller may own: the value's own
    fresh array when it describes it exactly, else a C-ordered copy. ``caller_objects()``:
    the objects the caller or a constant owns (an output that is one of them is copied)."""
    g, b = code.gen, code.gen.b
    slot = code.slot(var)
    storage = code.program.storage[var]
    # A loop with ``until`` shortens its stacked outputs after allocating them.
    resized = getattr(getattr(storage.root.owner, "op", None), "until", False)
    if slot.dtype is None or (storage.kind == "fresh" and storage.root is var and
                              not resized):
        obj = g.load(slot.obj, iu.PTR)
        g.incref(obj)
        g.store(word, obj)
    elif storage.kind == "fresh":
        # A view of a fresh array: the array itself when the view is all of it.
        root = code.slot(storage.root)

        def build(gen: Gen, args: list[Any]) -> None:
            view = Slot(Word(args[0]), slot.ndim, slot.dtype)
            array = Slot(Word(args[1]), root.ndim, root.dtype)
            _own_or_copy(code.with_gen(gen), view, Word(args[2]),
                         gen.load(array.obj, iu.PTR), _describes(gen, view, array))

        fn = g.outlined(("fresh view", slot.dtype, slot.ndim, root.ndim),
                        [iu.PTR, iu.PTR, iu.PTR], build, "fresh_view")
        g.call_status(fn, [g.word_ptr(slot.word), g.word_ptr(root.word), g.word_ptr(word)])
    elif storage.kind == "object" and storage.root is var:
        obj = g.load(slot.obj, iu.PTR)
        shared = b.icmp_unsigned("!=", g.field(obj, capi.ARRAY_BASE, iu.PTR),
                                 ir.Constant(iu.PTR, None))
        for other in caller_objects():
            shared = b.or_(shared, b.icmp_unsigned("==", obj, other))
        _own_or_copy(code, slot, word, obj, b.not_(shared))
    else:
        _copy(code, slot, word)


def _describes(g: Gen, slot: Slot, root: Slot) -> Any:
    """The descriptor in ``slot`` is exactly that of ``root``'s array object."""
    b = g.b
    if slot.ndim != root.ndim:
        return iu.I1(0)
    array = g.load(root.obj, iu.PTR)
    same = b.icmp_unsigned("==", g.data(slot), g.field(array, capi.ARRAY_DATA, iu.PTR))
    if not slot.ndim:
        return same
    dims = g.field(array, capi.ARRAY_DIMS, iu.PTR)
    strides = g.field(array, capi.ARRAY_STRIDES, iu.PTR)
    for d in range(slot.ndim):
        for words, base in ((slot.dim(d), dims), (slot.stride(d), strides)):
            value = b.load(b.gep(base, [iu.i64(d)], source_etype=iu.I64), typ=iu.I64)
            same = b.and_(same, b.icmp_signed("==", g.load(words), value))
    return same


def _own_or_copy(code: Code, slot: Slot, word: Any, obj: Any, owned: Any) -> None:
    g, b = code.gen, code.gen.b
    with b.if_else(owned) as (keep, copy):
        with keep:
            g.incref(obj)
            g.store(word, obj)
        with copy:
            _copy(code, slot, word)


def _copy(code: Code, slot: Slot, word: Any) -> None:
    """A new C-ordered copy of the value in ``slot``, in ``word``."""
    def build(gen: Gen, args: list[Any]) -> None:
        view = gen.wrap(Slot(Word(args[0]), slot.ndim, slot.dtype))
        copy = gen.api("PyArray_NewCopy", iu.PTR, [(iu.PTR, view),
                                                   (iu.I32, ir.Constant(iu.I32, 0))])
        gen.decref(view)
        gen.error_if(gen.is_null(copy))
        gen.b.store(copy, args[1])

    g = code.gen
    fn = g.outlined(("copy out", slot.dtype, slot.ndim), [iu.PTR, iu.PTR], build, "copy_out")
    g.call_status(fn, [g.word_ptr(slot.word), g.word_ptr(word)])


# ---------------------------------------------------------------------------------------------
# Python side
# ---------------------------------------------------------------------------------------------

class _Frame(np.ndarray):
    """The frame as the entry point's ``self``: its ``keep`` list holds everything the frame's
    words point to (and the method definition), so the builtin keeps it all alive."""


def _free_buffers(frame: np.ndarray, words: list[int]) -> None:
    free = ctypes.CDLL(None).free
    free.argtypes = [ctypes.c_void_p]
    for word in words:
        address = int(frame[word])
        if address:
            free(address)
            frame[word] = 0


@dataclass(frozen=True)
class FrameImage:
    """What Python writes into a fresh frame before its first call, as plain values: the
    frame's size, objects and C-function addresses by word, constants' slots and values,
    the arena buffers' words (freed with the frame), and where the entry point keeps the
    index of the step running and, in profile builds, the steps' times."""

    size: int
    objects: tuple[tuple[int, Any], ...]
    addresses: tuple[tuple[int, int], ...]
    constants: tuple[tuple[Slot, Any], ...]
    buffers: tuple[int, ...]
    current_step: int
    profile_words: int | None
    nan_words: int = -1  # where a NaN guard's check writes what it found (-1: no guard)


class NativeFunction:
    """A compiled entry point with its frames. ``call`` is the builtin bound to the first
    frame; ``run`` takes a spare frame when that one is busy, so any number of threads may
    call at once.

    ``entry`` is the loaded code of the entry point (its one symbol), ``codes`` all the code
    it runs (kernels); ``steps`` are the nodes of its steps, in order (errors and the profile
    name them), ``notes`` how each runs; ``program`` is the plan they came from, or a
    function that makes it again (an entry point loaded from the disk has none until asked);
    ``ir_text`` the entry point's module, when it was built here (else emitted again when
    asked).
    """

    def __init__(self, spec: CallSpec, image: FrameImage, entry: Compiled, codes: list[Any],
                 steps: Sequence[Apply], notes: dict[Apply, str],
                 program: Program | Callable[[], Program], ir_text: str = "") -> None:
        self.spec = spec
        self.image = image
        self.entry = entry
        self.codes = codes  # the compiled code it runs: freed with the last frame
        self.steps = list(steps)
        self.builder_notes = notes
        self._program = program
        self.profile_words = image.profile_words if spec.profile else None
        self._nan_found = threading.local()
        self._ir_text = ir_text  # the entry point's module, when built in this process
        self._bases: list[np.ndarray] = []
        self.base, self.call = self._new_frame()
        self._spares = FreeList(self._new_frame)

    @property
    def ir_text(self) -> str:
        """The LLVM IR of the entry point's module (emitted again from the plan, without
        compiling it, for an entry point loaded from the disk)."""
        if not self._ir_text:
            builder = EntryBuilder(self.program, self.spec, self.image.nan_words >= 0)
            self._ir_text, _ = entry_module(builder)
        return self._ir_text

    @property
    def program(self) -> Program:
        """The plan of the entry point (made again, without any code, when it came from
        the disk)."""
        if not isinstance(self._program, Program):
            self._program = self._program()
        return self._program

    def _new_frame(self) -> tuple[np.ndarray, Any]:
        image = self.image
        base = np.zeros(max(image.size, 1), dtype=np.int64)
        frame = base.view(_Frame)
        keep: list[Any] = []
        for word, obj in image.objects:
            base[word] = id(obj)
            keep.append(obj)
        for word, address in image.addresses:
            base[word] = address
        for slot, value in image.constants:
            keep.append(_fill_constant(base, slot, value))
        function = capi.FastcallFunction(self.spec.name or "function", self.entry.address,
                                       frame)
        keep.append(function)
        keep.append(self.codes)
        frame.keep = keep  # type: ignore[attr-defined]
        weakref.finalize(frame, _free_buffers, base, list(image.buffers))
        self._bases.append(base)
        return base, function.function

    def run(self, args: Sequence[Any]) -> Any:
        """Call the entry point on ``args``, in a spare frame if the first one is busy;
        errors raised by a step name its node."""
        try:
            result = self.call(*args)
        except Exception as err:
            self.reraise(err, self.base)
        if result is not BUSY:
            return self._note_nan(result, self.base)
        with self._spares.lease() as (base, call):
            try:
                return self._note_nan(call(*args), base)
            except Exception as err:
                self.reraise(err, base)

    def _note_nan(self, result: Any, base: np.ndarray) -> Any:
        """Keep (for this thread) what a NaN guard's check found when it handed the call
        back: ``take_nan_report`` then says which node, if the reference run does not."""
        words = self.image.nan_words
        if words >= 0 and result is FALLBACK:
            step = int(base[words])
            if step >= 0:
                self._nan_found.report = (self.steps[step], int(base[words + 1]),
                                          int(base[words + 2]))
        return result

    def take_nan_report(self) -> tuple[Any, int, int] | None:
        """``(node, output, flat index)`` of the NaN or Inf the last call of this thread
        found in native code (forgotten once taken), or None."""
        report = getattr(self._nan_found, "report", None)
        self._nan_found.report = None
        return report

    def reraise(self, err: Exception, base: np.ndarray | None = None) -> None:
        """Re-raise ``err`` from a call that used frame ``base`` (the first frame by default),
        naming the node of the step that failed unless the error already does."""
        if getattr(err, "node", None) is not None:
            raise err
        base = self.base if base is None else base
        index = int(base[self.image.current_step])
        node = self.steps[index] if 0 <= index < len(self.steps) else None
        if node is None:
            raise err
        if isinstance(err, ValueError) and "array is too big" in str(err):
            err = MemoryError(f"cannot allocate an output: {err}")
        reraise_node_error(node, None, err)

    def step_of(self, node: Any) -> Any:
        """The plan's step that runs ``node`` (None for a node no step runs: a view folded
        into its reader, a constant)."""
        return next((s for s in self.program.steps if s.node is node), None)

    def node_source(self, node: Any) -> str | None:
        """The LLVM IR of the kernels that run ``node``, or None when its step calls no
        kernel of its own (its code is then part of the entry point's module, ``ir_text``)."""
        from symgraph.codegen.llvm.kernels import kernel_ir

        step = self.step_of(node)
        if step is None:
            return None
        specs = list(getattr(step.rule, "outline_kernels", lambda s: ())(step))
        if not specs:
            return None
        jit = engine()
        return "\n".join(kernel_ir(spec, jit.has_gomp, jit.has_scalef)[0] for spec in specs)

    def collect(self, profile: Any) -> None:
        """Move the per-step timings gathered since the last call into ``profile``."""
        if self.profile_words is None:
            return
        for base in self._bases:
            for index, node in enumerate(self.steps):
                word = self.profile_words + 2 * index
                calls = int(base[word + 1])
                if calls:
                    profile.node_time[node] += base[word] * 1e-9
                    profile.node_calls[node] += calls
                    base[word] = base[word + 1] = 0


def _fill_constant(base: np.ndarray, slot: Slot, value: Any) -> Any:
    if slot.dtype is None:
        base[slot.obj] = id(value)
        return value
    array = np.asarray(value, dtype=slot.dtype)
    if type(array) is not np.ndarray:
        array = array.view(np.ndarray)
    base[slot.obj] = id(array)
    base[slot.data] = array.ctypes.data
    for d in range(slot.ndim):
        base[slot.dim(d)] = array.shape[d]
        base[slot.stride(d)] = array.strides[d]
    return array


def frame_image(builder: EntryBuilder) -> FrameImage:
    """The frame ``builder`` laid out, its kernels' addresses resolved."""
    layout = builder.layout
    return FrameImage(layout.size, tuple(layout.objects),
                      tuple((word, resolve()) for word, resolve in layout.addresses),
                      tuple((slot, var.data) for slot, var in layout.constants),
                      tuple(layout.buffers), builder.current_step,
                      builder.profile_words if builder.spec.profile else None,
                      builder.nan_words)


def entry_module(builder: EntryBuilder) -> tuple[str, str]:
    """The module ``builder`` emits, its entry point named after a digest of the module (so
    that equal modules share their compiled code), and that name."""
    text = builder.build()
    symbol = "sg_entry_" + hashlib.sha1(text.encode()).hexdigest()[:24]
    return text.replace(ENTRY_PLACEHOLDER, symbol), symbol


def build_native(fgraph: FunctionGraph, spec: CallSpec, rules: Any,
                 nan_guard: bool = False) -> NativeFunction:
    """Plan, emit and compile ``fgraph``'s entry point; the function owns the code of its
    entry point and of every kernel it calls."""
    table = capi.api()
    if isinstance(table, Exception):
        raise table
    jit = engine()
    jit.register_api(table)
    with pinning() as codes, gc_paused():
        program = Program(fgraph, fgraph.outputs, rules)
        builder = EntryBuilder(program, spec, nan_guard)
        text, symbol = entry_module(builder)
        fast = program.count_steps() >= FAST_CODEGEN_STEPS
        entry = jit.compile(text, [symbol], speed_level=ENTRY_SPEED_LEVEL,
                            codegen_level=0 if fast else OPT_LEVEL)
        steps = [step.node for step in program.steps]
        notes = {step.node: step.note for step in program.steps}
        return NativeFunction(spec, frame_image(builder), entry, codes, steps, notes,
                              program, ir_text=text)
