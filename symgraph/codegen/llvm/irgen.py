"""The frame of a native function (one array of 64-bit words: value descriptors, arena
buffers, Python objects, kernel addresses) and ``Gen``, the IR-building context its steps use.

A tensor value is described in the frame by a slot ``[obj, data, dims[ndim], strides[ndim]]``:
``obj`` is the Python object holding it when there is one (an argument, a shared value, a
constant, an array returned by ``perform`` or allocated for the caller), else 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir

from symgraph.codegen.llvm import capi
from symgraph.codegen.llvm import irutil as iu


@dataclass(frozen=True)
class Word:
    """A frame word whose index is known only at run time: ``offset`` words past ``base``
    (a pointer into the frame). Outlined functions receive slot positions as arguments."""

    base: Any
    offset: int = 0

    def __add__(self, count: int) -> Word:
        return Word(self.base, self.offset + count)


@dataclass(frozen=True)
class Slot:
    """Where a variable's descriptor lives in the frame (word indices, or ``Word``s in an
    outlined function)."""

    word: Any  # int, or Word
    ndim: int
    dtype: str | None  # None: not a tensor, only ``obj`` is used

    @property
    def obj(self) -> Any:
        return self.word

    @property
    def data(self) -> Any:
        return self.word + 1

    def dim(self, d: int) -> Any:
        return self.word + 2 + d

    def stride(self, d: int) -> Any:
        return self.word + 2 + self.ndim + d

    @property
    def size(self) -> int:
        return 1 if self.dtype is None else 2 + 2 * self.ndim

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize


class Frame:
    """Allocates words; records what Python writes into them before the first call."""

    def __init__(self) -> None:
        self.size = 0
        self.objects: list[tuple[int, Any]] = []
        self._object_words: dict[int, int] = {}
        self.addresses: list[tuple[int, Callable[[], int]]] = []
        self.owned: list[int] = []  # words holding references the function must release
        self.buffers: list[int] = []  # arena buffers: [pointer, capacity] word pairs
        self.constants: list[tuple[Slot, Any]] = []  # slots filled from constants' values

    def reserve(self, count: int) -> int:
        start = self.size
        self.size += count
        return start

    def slot(self, ndim: int, dtype: str | None) -> Slot:
        slot = Slot(0, ndim, dtype)
        return Slot(self.reserve(slot.size), ndim, dtype)

    def object_word(self, obj: Any) -> int:
        """A word holding ``obj``'s address; the frame keeps ``obj`` alive."""
        word = self._object_words.get(id(obj))
        if word is None:
            word = self.reserve(1)
            self._object_words[id(obj)] = word
            self.objects.append((word, obj))
        return word

    def address_word(self, resolve: Callable[[], int]) -> int:
        """A word filled with ``resolve()`` (say, a kernel's address) at set-up."""
        word = self.reserve(1)
        self.addresses.append((word, resolve))
        return word

    def buffer(self) -> int:
        word = self.reserve(2)
        self.buffers.append(word)
        return word

    def owned_word(self) -> int:
        word = self.reserve(1)
        self.owned.append(word)
        return word


class Gen:
    """Builds IR into one function whose frame pointer is ``frame``; failures branch to the
    ``bail`` block (the caller then runs the Python path, which reports the error) or to the
    ``error`` block (a Python exception is set).

    Sequences that recur from step to step are built once per module as internal functions:
    fixed ones by ``_helper``, and steps of the same shape by ``outlined`` (their slots'
    positions become arguments); a call of one returns a status, which ``call_status``
    turns into the same branches to ``bail`` or ``error``.
    """

    def __init__(self, module: ir.Module, function: ir.Function, layout: Frame,
                 builder: ir.IRBuilder, frame: Any, parent: Gen | None = None) -> None:
        self.module = module
        self.function = function
        self.layout = layout
        self.b = builder
        self.frame = frame
        self.bail_block = function.append_basic_block("bail")
        self.error_block = function.append_basic_block("error")
        if parent is None:
            self._api = ir.GlobalVariable(module, ir.ArrayType(iu.PTR, len(capi.API_NAMES)),
                                          "sg_api")
            self._api.linkage = "external"
            self.helpers: dict[str, ir.Function] = {}
            self.outlines: dict[Hashable, ir.Function] = {}
        else:
            self._api = parent._api
            self.helpers = parent.helpers
            self.outlines = parent.outlines

    # -- frame words --------------------------------------------------------------------------
    def word_ptr(self, word: int | Word | Any) -> Any:
        if isinstance(word, Word):
            return self.b.gep(word.base, [iu.i64(word.offset)], source_etype=iu.I64,
                              inbounds=True)
        index = iu.i64(word) if isinstance(word, int) else word
        return self.b.gep(self.frame, [index], source_etype=iu.I64, inbounds=True)

    def word_arg(self, index: Any) -> Word:
        """The frame word at run-time index ``index`` (an i64)."""
        return Word(self.b.gep(self.frame, [index], source_etype=iu.I64, inbounds=True))

    def load(self, word: int, ty: ir.Type = iu.I64) -> Any:
        return self.b.load(self.word_ptr(word), typ=ty)

    def store(self, word: int, value: Any) -> None:
        self.b.store(value, self.word_ptr(word))

    def object(self, obj: Any) -> Any:
        return self.load(self.layout.object_word(obj), iu.PTR)

    # -- calls ----------------------------------------------------------------------------------
    def api_function(self, name: str, ret: ir.Type, args: list[ir.Type]) -> Any:
        pointer = self.b.gep(self._api, [iu.I32(0), iu.I32(capi.API[name])],
                             source_etype=self._api.value_type, inbounds=True)
        return self.b.load(pointer, typ=ir.PointerType(ir.FunctionType(ret, args)))

    def api(self, name: str, ret: ir.Type, args: list[tuple[ir.Type, Any]]) -> Any:
        callee = self.api_function(name, ret, [t for t, _ in args])
        return self.b.call(callee, [v for _, v in args])

    def call_address(self, word: int, ret: ir.Type, args: list[tuple[ir.Type, Any]]) -> Any:
        """Call the C function whose address is in frame word ``word``."""
        fnty = ir.FunctionType(ret, [t for t, _ in args])
        callee = self.load(word, ir.PointerType(fnty))
        return self.b.call(callee, [v for _, v in args])

    def incref(self, obj: Any) -> None:
        self.api("Py_IncRef", iu.VOID, [(iu.PTR, obj)])

    def decref(self, obj: Any) -> None:
        self.api("Py_DecRef", iu.VOID, [(iu.PTR, obj)])

    def xdecref_word(self, word: int) -> None:
        """Release the reference in ``word`` (if any) and zero it."""
        obj = self.load(word, iu.PTR)
        self.store(word, ir.Constant(iu.PTR, None))
        with self.b.if_then(self.is_not_null(obj)):
            self.decref(obj)

    # -- control flow ---------------------------------------------------------------------------
    def bail_if(self, condition: Any) -> None:
        self._branch_if(condition, self.bail_block)

    def bail_if_any(self, conditions: Sequence[Any]) -> None:
        """One branch for several checks (fewer blocks to compile and to run)."""
        if conditions:
            combined = conditions[0]
            for condition in conditions[1:]:
                combined = self.b.or_(combined, condition)
            self.bail_if(combined)

    def error_if(self, condition: Any) -> None:
        self._branch_if(condition, self.error_block)

    def _branch_if(self, condition: Any, target: ir.Block) -> None:
        following = self.function.append_basic_block("ok")
        self.b.cbranch(condition, target, following)
        self.b.position_at_end(following)

    def outlined(self, key: Hashable, params: Sequence[ir.Type],
                 build: Callable[[Gen, list[Any]], None], prefix: str = "step") -> ir.Function:
        """An internal function ``i32 (ptr frame, params...)`` of the module, built once per
        ``key`` by ``build(gen, arguments)``: ``gen`` builds its body, where a bail or an
        error returns ``STATUS_BAIL`` or ``STATUS_ERROR``; reaching the end returns
        ``STATUS_OK``. Call it with ``call_status``."""
        found = self.outlines.get(key)
        if found is not None:
            return found
        fnty = ir.FunctionType(iu.I32, [iu.PTR, *params])
        fn = ir.Function(self.module, fnty, name=f"sg_{prefix}{len(self.outlines)}")
        fn.linkage = "internal"
        self.outlines[key] = fn
        gen = Gen(self.module, fn, self.layout, ir.IRBuilder(fn.append_basic_block("entry")),
                  fn.args[0], parent=self)
        build(gen, list(fn.args[1:]))
        if not gen.b.block.is_terminated:
            gen.b.ret(ir.Constant(iu.I32, STATUS_OK))
        for block, status in ((gen.bail_block, STATUS_BAIL), (gen.error_block, STATUS_ERROR)):
            gen.b.position_at_end(block)
            gen.b.ret(ir.Constant(iu.I32, status))
        return fn

    def call_status(self, fn: ir.Function, args: Sequence[Any]) -> None:
        """Call an ``outlined`` function on this frame; its status picks the way on."""
        status = self.b.call(fn, [self.frame, *args])
        following = self.function.append_basic_block("ok")
        switch = self.b.switch(status, following)
        switch.add_case(ir.Constant(iu.I32, STATUS_BAIL), self.bail_block)
        switch.add_case(ir.Constant(iu.I32, STATUS_ERROR), self.error_block)
        self.b.position_at_end(following)

    def is_null(self, value: Any) -> Any:
        return self.b.icmp_unsigned("==", value, ir.Constant(iu.PTR, None))

    def is_not_null(self, value: Any) -> Any:
        return self.b.icmp_unsigned("!=", value, ir.Constant(iu.PTR, None))

    # -- descriptors ----------------------------------------------------------------------------
    def dims(self, slot: Slot) -> list[Any]:
        return [self.load(slot.dim(d)) for d in range(slot.ndim)]

    def strides(self, slot: Slot) -> list[Any]:
        return [self.load(slot.stride(d)) for d in range(slot.ndim)]

    def data(self, slot: Slot) -> Any:
        return self.load(slot.data, iu.PTR)

    def copy_slot(self, source: Slot, target: Slot) -> None:
        """``target`` describes the value ``source`` does (data, dims, strides)."""
        if not source.ndim:
            self.store(target.data, self.data(source))
            return
        memcpy = iu.declare(self.module, "llvm.memcpy.p0.p0.i64", iu.VOID,
                            [iu.PTR, iu.PTR, iu.I64, iu.I1])
        self.b.call(memcpy, [self.word_ptr(target.data), self.word_ptr(source.data),
                             iu.i64(8 * (1 + 2 * source.ndim)), iu.I1(0)])

    def set_contiguous_strides(self, slot: Slot, dims: list[Any] | None = None) -> Any:
        """C-order strides for the dims already in ``slot`` (their values, when given as
        ``dims``); returns the size in bytes, or the largest i64 when it does not fit (an
        allocation of that size fails cleanly)."""
        b = self.b
        multiply = iu.declare(self.module, "llvm.smul.with.overflow.i64",
                              ir.LiteralStructType([iu.I64, iu.I1]), [iu.I64, iu.I64])
        running: Any = iu.i64(slot.itemsize)
        overflow: Any = iu.I1(0)
        for d in reversed(range(slot.ndim)):
            self.store(slot.stride(d), running)
            length = self.load(slot.dim(d)) if dims is None else dims[d]
            product = b.call(multiply, [running, length])
            running = b.extract_value(product, 0)
            overflow = b.or_(overflow, b.extract_value(product, 1))
        if not slot.ndim:
            return running
        return b.select(overflow, iu.i64(2**63 - 1), running)

    def read_scalar(self, slot: Slot, as_dtype: str | None = None) -> Any:
        """The value of a 0-d tensor (converted to ``as_dtype``'s register type if given)."""
        assert slot.dtype is not None
        value = iu.load_element(self.b, self.data(slot), slot.dtype)
        target = as_dtype or slot.dtype
        if target == slot.dtype:
            return value
        from symgraph.codegen.llvm.emitter import LLVMEmitter

        emitter = LLVMEmitter(self.b, None, slot.dtype)
        return emitter.cast(emitter.typed(value, slot.dtype), target)

    def alloca_array(self, ty: ir.Type, values: list[Any], name: str = "") -> Any:
        count = max(len(values), 1)
        array = iu.entry_alloca(self.b, ir.ArrayType(ty, count), name)
        for i, value in enumerate(values):
            self.b.store(value, self.b.gep(array, [iu.i64(i)], source_etype=ty))
        return array

    @contextlib.contextmanager
    def without_gil(self, work: Any) -> Iterator[None]:
        """Release the GIL around the code emitted in the block when ``work`` (an i64:
        elements, or multiply-adds) passes ``GIL_RELEASE_WORK``, so that other threads run
        meanwhile. The block must touch no Python object and never branch out."""
        b = self.b
        release = b.icmp_signed(">", work, iu.i64(GIL_RELEASE_WORK))
        state = iu.entry_alloca(b, iu.PTR, "thread_state")
        b.store(ir.Constant(iu.PTR, None), state)
        with b.if_then(release, likely=False):
            b.store(self.api("PyEval_SaveThread", iu.PTR, []), state)
        yield
        saved = b.load(state, typ=iu.PTR)
        with b.if_then(self.is_not_null(saved), likely=False):
            self.api("PyEval_RestoreThread", iu.VOID, [(iu.PTR, saved)])

    def call_kernel(self, kernel: Any, dims: Sequence[Any], data: Sequence[Any],
                    strides: Sequence[Any]) -> None:
        """Call the loop kernel at pointer ``kernel`` over ``dims`` (``data``: a pointer per
        operand; ``strides``: per operand, per dimension), with the GIL released when the
        iteration space is large. The last data entry is the kernel's error flag: when a rule's
        ``fail_if`` sets it, the step bails out to the reference path, whose ``perform`` raises
        NumPy's error."""
        flag = iu.entry_alloca(self.b, iu.I32, "error_flag")
        self.b.store(ir.Constant(iu.I32, 0), flag)
        arrays = [self.alloca_array(iu.I64, list(dims), "shape"),
                  self.alloca_array(iu.PTR, [*data, flag], "data"),
                  self.alloca_array(iu.I64, list(strides), "strides")]
        work: Any = iu.i64(1)
        for length in dims:
            work = self.b.mul(work, length)
        with self.without_gil(work):
            self.b.call(kernel, arrays)
        self.bail_if(self.b.icmp_signed("!=", self.b.load(flag, typ=iu.I32),
                                        ir.Constant(iu.I32, 0)))

    # -- timing (profile builds) ----------------------------------------------------------------
    def now(self) -> Any:
        """Monotonic nanoseconds (``clock_gettime``)."""
        return self.b.call(self._helper("now", _build_now), [])

    def add_time(self, word: int, start: Any) -> None:
        """Add the nanoseconds since ``start`` to ``word`` and count a call in ``word + 1``."""
        self.b.call(self._helper("add_time", _build_add_time), [self.frame, iu.i64(word), start])

    # -- arrays ---------------------------------------------------------------------------------
    def array_type(self) -> Any:
        """``&PyArray_Type`` (the table entry is the type object's address)."""
        pointer = self.b.gep(self._api, [iu.I32(0), iu.I32(capi.API["PyArray_Type"])],
                             source_etype=self._api.value_type, inbounds=True)
        return self.b.load(pointer, typ=iu.PTR)

    def new_array(self, slot: Slot) -> Any:
        """Allocate a C-ordered ndarray for the dims already in ``slot`` (NumPy's allocator):
        the slot's ``obj`` (a reference this function owns), data and strides are set."""
        descr = self.object(np.dtype(slot.dtype))
        array = self.b.call(self._helper("new_array", _build_new_array), [
            self.array_type(), descr, ir.Constant(iu.I32, slot.ndim), self.word_ptr(slot.word),
            iu.i64(slot.itemsize)])
        self.error_if(self.is_null(array))
        return array

    def wrap(self, slot: Slot) -> Any:
        """A new ndarray viewing ``slot``'s memory (its base is a marker, so that a copy is
        made before such an array could reach the caller)."""
        descr = self.object(np.dtype(slot.dtype))
        self.incref(descr)
        null = ir.Constant(iu.PTR, None)
        dims = self.word_ptr(slot.dim(0)) if slot.ndim else null
        strides = self.word_ptr(slot.stride(0)) if slot.ndim else null
        array = self.api("PyArray_NewFromDescr", iu.PTR, [
            (iu.PTR, self.array_type()), (iu.PTR, descr), (iu.I32, ir.Constant(iu.I32, slot.ndim)),
            (iu.PTR, dims), (iu.PTR, strides), (iu.PTR, self.data(slot)),
            (iu.I32, ir.Constant(iu.I32, capi.NPY_WRITEABLE)), (iu.PTR, null)])
        self.error_if(self.is_null(array))
        marker = self.object(ARENA_MARKER)
        self.incref(marker)
        status = self.api("PyArray_SetBaseObject", iu.I32, [(iu.PTR, array), (iu.PTR, marker)])
        failed = self.b.icmp_signed("!=", status, ir.Constant(iu.I32, 0))
        with self.b.if_then(failed):
            self.decref(array)
            self.b.branch(self.error_block)
        return array

    def field(self, obj: Any, offset: int, ty: ir.Type) -> Any:
        pointer = self.b.gep(obj, [iu.i64(offset)], source_etype=iu.I8, inbounds=True)
        return self.b.load(pointer, typ=ty)

    def alloc_arena(self, slot: Slot, buffer_word: Any, dims: list[Any] | None = None) -> None:
        """Give ``slot`` (its dims already set, and given as ``dims`` when known) C-ordered
        strides and memory from the arena buffer at ``buffer_word``."""
        nbytes = self.set_contiguous_strides(slot, dims)
        self.store(slot.data, self.reserve(buffer_word, nbytes))

    def reserve(self, buffer_word: int, nbytes: Any) -> Any:
        """The arena buffer at ``buffer_word`` grown to ``nbytes`` (64-byte aligned)."""
        pointer = self.b.call(self._helper("reserve", _build_reserve),
                              [self.word_ptr(buffer_word), nbytes])
        self.error_if(self.is_null(pointer))
        return pointer

    def copy(self, kernel_word: int, ndim: int, itemsize: int, dims: list[Any], source: Any,
             source_strides: list[Any], target: Any, target_strides: list[Any]) -> None:
        """Copy ``dims`` elements between two layouts: a memmove when both are C-contiguous,
        else the elementwise copy kernel in ``kernel_word``."""
        self.b.call(self._helper("copy", _build_copy), [
            self.load(kernel_word, KERNEL_POINTER), iu.i64(ndim), iu.i64(itemsize),
            self.alloca_array(iu.I64, dims, "copy.dims"), source,
            self.alloca_array(iu.I64, source_strides, "copy.from"), target,
            self.alloca_array(iu.I64, target_strides, "copy.to")])

    def release(self, words: list[int]) -> None:
        """Release the references held in ``words`` (and zero them)."""
        if not words:
            return
        table = self.module.globals.get("sg_owned")
        if table is None:
            ty = ir.ArrayType(iu.I64, len(words))
            table = ir.GlobalVariable(self.module, ty, "sg_owned")
            table.linkage = "internal"
            table.global_constant = True
            table.initializer = ir.Constant(ty, [iu.i64(w) for w in words])
        self.b.call(self._helper("release", _build_release),
                    [self.frame, table, iu.i64(len(words))])

    def _helper(self, name: str, build: Callable[[Gen, ir.Function], None]) -> ir.Function:
        """An internal function of the module, built once by ``build(gen, function)``."""
        found = self.helpers.get(name)
        if found is not None:
            return found
        fnty = HELPER_TYPES[name]
        fn = ir.Function(self.module, fnty, name=f"sg_{name}")
        fn.linkage = "internal"
        self.helpers[name] = fn
        saved = self.b
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        try:
            build(self, fn)
        finally:
            self.b = saved
        return fn


# What an outlined function returns.
STATUS_OK, STATUS_BAIL, STATUS_ERROR = 0, 1, 2


# Kernels and BLAS calls doing more work than this (elements, or multiply-adds) run with the
# GIL released: about 10 microseconds, far above the cost of releasing and taking it back.
GIL_RELEASE_WORK = 1 << 16
KERNEL_POINTER = ir.PointerType(ir.FunctionType(iu.VOID, [iu.PTR, iu.PTR, iu.PTR]))
HELPER_TYPES = {
    "reserve": ir.FunctionType(iu.PTR, [iu.PTR, iu.I64]),
    "new_array": ir.FunctionType(iu.PTR, [iu.PTR, iu.PTR, iu.I32, iu.PTR, iu.I64]),
    "copy": ir.FunctionType(iu.VOID, [KERNEL_POINTER, iu.I64, iu.I64, iu.PTR, iu.PTR, iu.PTR,
                                      iu.PTR, iu.PTR]),
    "release": ir.FunctionType(iu.VOID, [iu.PTR, iu.PTR, iu.I64]),
    "now": ir.FunctionType(iu.I64, []),
    "add_time": ir.FunctionType(iu.VOID, [iu.PTR, iu.I64, iu.I64]),
}


def _element(b: ir.IRBuilder, base: Any, index: Any, ty: ir.Type = iu.I64) -> Any:
    return b.gep(base, [index], source_etype=ty)


def _build_now(g: Gen, fn: ir.Function) -> None:
    b = g.b
    spec = iu.entry_alloca(b, ir.ArrayType(iu.I64, 2), "ts")
    g.api("clock_gettime", iu.I32, [(iu.I32, ir.Constant(iu.I32, 1)), (iu.PTR, spec)])
    seconds = b.load(_element(b, spec, iu.i64(0)), typ=iu.I64)
    nanos = b.load(_element(b, spec, iu.i64(1)), typ=iu.I64)
    b.ret(b.add(b.mul(seconds, iu.i64(1_000_000_000)), nanos))


def _build_add_time(g: Gen, fn: ir.Function) -> None:
    """``add_time(frame, word, start)``."""
    b = g.b
    frame, word, start = fn.args
    elapsed = b.sub(b.call(g._helper("now", _build_now), []), start)
    total = _element(b, frame, word)
    b.store(b.add(b.load(total, typ=iu.I64), elapsed), total)
    count = _element(b, frame, b.add(word, iu.i64(1)))
    b.store(b.add(b.load(count, typ=iu.I64), iu.i64(1)), count)
    b.ret_void()


def _build_reserve(g: Gen, fn: ir.Function) -> None:
    b = g.b
    entry, nbytes = fn.args
    cap_ptr = _element(b, entry, iu.i64(1))
    capacity = b.load(cap_ptr, typ=iu.I64)
    # Empty values get a buffer too: a null pointer means "out of memory" to the caller.
    grow = b.or_(b.icmp_signed(">", nbytes, capacity), b.icmp_signed("==", capacity, iu.i64(0)))
    with b.if_then(grow, likely=False):
        g.api("free", iu.VOID, [(iu.PTR, b.load(entry, typ=iu.PTR))])
        b.store(ir.Constant(iu.PTR, None), entry)
        b.store(iu.i64(0), cap_ptr)
        small = b.icmp_signed("<", nbytes, iu.i64(64))
        rounded = b.and_(b.add(b.select(small, iu.i64(64), nbytes), iu.i64(63)), iu.i64(~63))
        fresh = g.api("aligned_alloc", iu.PTR, [(iu.I64, iu.i64(64)), (iu.I64, rounded)])
        with b.if_then(g.is_null(fresh), likely=False):
            g.api("PyErr_NoMemory", iu.PTR, [])
            b.ret(ir.Constant(iu.PTR, None))
        b.store(fresh, entry)
        b.store(rounded, cap_ptr)
    b.ret(b.load(entry, typ=iu.PTR))


def _build_new_array(g: Gen, fn: ir.Function) -> None:
    """``new_array(type, descr, nd, slot, itemsize)``: NumPy allocates; the slot's previous
    object is released; returns the array (null with an exception set)."""
    b = g.b
    array_type, descr, nd, slot, itemsize = fn.args
    g.incref(descr)
    null = ir.Constant(iu.PTR, None)
    dims = _element(b, slot, iu.i64(2))
    array = g.api("PyArray_NewFromDescr", iu.PTR, [
        (iu.PTR, array_type), (iu.PTR, descr), (iu.I32, nd), (iu.PTR, dims), (iu.PTR, null),
        (iu.PTR, null), (iu.I32, ir.Constant(iu.I32, 0)), (iu.PTR, null)])
    with b.if_then(g.is_null(array), likely=False):
        b.ret(null)
    old = b.load(slot, typ=iu.PTR)
    b.store(array, slot)
    with b.if_then(g.is_not_null(old)):
        g.decref(old)
    data = b.load(b.gep(array, [iu.i64(capi.ARRAY_DATA)], source_etype=iu.I8), typ=iu.PTR)
    b.store(data, _element(b, slot, iu.i64(1)))
    ndim = b.sext(nd, iu.I64)
    strides = _element(b, slot, b.add(iu.i64(2), ndim))
    running = iu.entry_alloca(b, iu.I64, "running")
    b.store(itemsize, running)
    with iu.for_range(b, iu.i64(0), ndim) as k:
        d = b.sub(b.sub(ndim, iu.i64(1)), k)
        value = b.load(running, typ=iu.I64)
        b.store(value, _element(b, strides, d))
        b.store(b.mul(value, b.load(_element(b, dims, d), typ=iu.I64)), running)
    b.ret(array)


def _contiguous(b: ir.IRBuilder, ndim: Any, itemsize: Any, dims: Any, strides: Any) -> Any:
    """Runtime C-contiguity test; returns ``(flag, size in bytes)`` as loaded values."""
    good = iu.entry_alloca(b, iu.I1, "contiguous")
    expected = iu.entry_alloca(b, iu.I64, "expected")
    b.store(iu.I1(1), good)
    b.store(itemsize, expected)
    with iu.for_range(b, iu.i64(0), ndim) as k:
        d = b.sub(b.sub(ndim, iu.i64(1)), k)
        length = b.load(_element(b, dims, d), typ=iu.I64)
        want = b.load(expected, typ=iu.I64)
        ok = b.or_(b.icmp_signed("==", b.load(_element(b, strides, d), typ=iu.I64), want),
                   b.icmp_signed("<=", length, iu.i64(1)))
        b.store(b.and_(b.load(good, typ=iu.I1), ok), good)
        b.store(b.mul(want, length), expected)
    return b.load(good, typ=iu.I1), b.load(expected, typ=iu.I64)


def _build_copy(g: Gen, fn: ir.Function) -> None:
    b = g.b
    kernel, ndim, itemsize, dims, source, source_strides, target, target_strides = fn.args
    source_ok, nbytes = _contiguous(b, ndim, itemsize, dims, source_strides)
    target_ok, _ = _contiguous(b, ndim, itemsize, dims, target_strides)
    with b.if_else(b.and_(source_ok, target_ok)) as (fast, general):
        with fast:
            memmove = iu.declare(g.module, "llvm.memmove.p0.p0.i64", iu.VOID,
                                 [iu.PTR, iu.PTR, iu.I64, iu.I1])
            b.call(memmove, [target, source, nbytes, iu.I1(0)])
        with general:
            data = iu.entry_alloca(b, ir.ArrayType(iu.PTR, 2), "data")
            b.store(source, _element(b, data, iu.i64(0), iu.PTR))
            b.store(target, _element(b, data, iu.i64(1), iu.PTR))
            strides = iu.entry_alloca(b, ir.ArrayType(iu.I64, 2 * MAX_COPY_DIMS), "strides")
            with iu.for_range(b, iu.i64(0), ndim) as d:
                b.store(b.load(_element(b, source_strides, d), typ=iu.I64),
                        _element(b, strides, d))
                b.store(b.load(_element(b, target_strides, d), typ=iu.I64),
                        _element(b, strides, b.add(d, ndim)))
            b.call(kernel, [dims, data, strides])
    b.ret_void()


MAX_COPY_DIMS = 64


def _build_release(g: Gen, fn: ir.Function) -> None:
    b = g.b
    frame, words, count = fn.args
    with iu.for_range(b, iu.i64(0), count) as k:
        pointer = _element(b, frame, b.load(_element(b, words, k), typ=iu.I64))
        obj = b.load(pointer, typ=iu.PTR)
        b.store(ir.Constant(iu.PTR, None), pointer)
        with b.if_then(g.is_not_null(obj)):
            g.decref(obj)
    b.ret_void()


# The base of every array made to view arena memory: such arrays are copied, never returned.
ARENA_MARKER = np.empty(0, dtype=np.int8)
