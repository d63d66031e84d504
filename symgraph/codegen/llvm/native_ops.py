"""Steps of native functions: how each kind of node runs inside the compiled entry point
(elementwise and reduction kernels, views, shapes) and the fallback that calls ``perform``.

Each rule has ``match(node, program) -> Match | None`` (planning) and ``emit(code, step)``
(IR, through the ``Code`` context of symgraph.codegen.llvm.native).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from llvmlite import ir

from symgraph.codegen import warn_fallback
from symgraph.codegen.linker import FreeList, reraise_node_error
from symgraph.codegen.python import check_output
from symgraph.codegen.llvm import capi, lowering
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.irgen import KERNEL_POINTER
from symgraph.codegen.llvm.kernel_code import compile_kernel
from symgraph.codegen.llvm.kernels import ARG_KINDS, KernelSpec
from symgraph.codegen.llvm.plan import Match, OutlinedByOp, Program, Step
from symgraph.grad import IdentityMarker
from symgraph.graph import Apply
from symgraph.ops import elemwise, shape
from symgraph.type import TensorType
from symgraph.op import EmitError


def broadcast_dims(code: Any, slots: Sequence[Any], bcast: Sequence[Sequence[bool]],
                   ndim: int) -> list[Any]:
    """The iteration shape of operands (Theano's rule: only static-1 dimensions broadcast);
    the step bails out where two non-broadcast lengths differ."""
    g = code.gen
    dims = []
    mismatches = []
    for d in range(ndim):
        size = None
        for k, slot in enumerate(slots):
            if bcast[k][d]:
                continue
            value = g.load(slot.dim(d))
            if size is None:
                size = value
            else:
                mismatches.append(g.b.icmp_signed("!=", value, size))
        dims.append(iu.i64(1) if size is None else size)
    g.bail_if_any(mismatches)
    return dims


def call_kernel(code: Any, spec: KernelSpec, dims: Sequence[Any], operands: Sequence[Any],
                strides: Sequence[Sequence[Any]]) -> None:
    """Call ``spec``'s kernel: ``operands`` are data pointers, ``strides`` per operand. When the
    kernel sets its error flag (a rule's ``fail_if``), the call bails out to the reference
    path, whose ``perform`` raises NumPy's error."""
    g = code.gen
    flat = [s for per_operand in strides for s in per_operand]
    g.call_kernel(g.load(code.kernel_word(spec), KERNEL_POINTER), dims, operands, flat)


def operand_strides(code: Any, slot: Any, bcast: Sequence[bool]) -> list[Any]:
    return [iu.i64(0) if b else code.gen.load(slot.stride(d)) for d, b in enumerate(bcast)]


# ---------------------------------------------------------------------------------------------
# Elementwise kernels
# ---------------------------------------------------------------------------------------------

class KernelRule:
    """Elemwise and Composite nodes: one compiled loop nest. An in-place node writes into
    the input it destroys when that buffer is one of the arena's."""

    name = "kernel"

    def match(self, node: Apply, program: Program) -> Match | None:
        spec = lowering.elementwise_spec(node, inplace_ok=False)
        if spec is None:
            return None
        aliases: dict[int, int] = {}
        for out, source in getattr(node.op, "inplace_pattern", ()):
            var = node.inputs[source]
            if program.kind(var) == "arena" and var.type == node.outputs[out].type and \
                    source not in aliases.values():
                aliases[out] = source
        if aliases:
            spec = KernelSpec(spec.program, spec.ndim, spec.broadcast, spec.out_dtypes,
                              inplace=True, aliases=tuple(sorted(aliases.items())))
        code_spec = _compiled(spec)
        if code_spec is None:
            return None
        allocates = tuple(k for k in range(len(node.outputs)) if k not in aliases)
        return Match(node.inputs, aliases=aliases, allocates=allocates, info=spec,
                     note="kernel" + (" (in place)" if aliases else ""))

    def emit(self, code: Any, step: Step) -> None:
        node, spec = step.node, step.match.info
        g = code.gen
        slots = [code.slot(v) for v in node.inputs]
        dims = broadcast_dims(code, slots, spec.broadcast, spec.ndim)
        outs = []
        for k, out in enumerate(node.outputs):
            target = code.slot(out)
            source = step.match.aliases.get(k)
            if source is not None:
                g.bail_if_any([g.b.icmp_signed("!=", g.load(slots[source].dim(d)), dims[d])
                               for d in range(spec.ndim)])
                g.copy_slot(slots[source], target)
            else:
                code.alloc(out, dims)
            outs.append(target)
        strides = [operand_strides(code, s, b) for s, b in zip(slots, spec.broadcast)]
        strides += [[g.load(t.stride(d)) for d in range(spec.ndim)] for t in outs]
        call_kernel(code, spec, dims, [g.data(s) for s in slots + outs], strides)

    def outline_key(self, step: Step) -> Any:
        spec = step.match.info
        return spec.ndim, spec.broadcast

    def outline_kernels(self, step: Step) -> tuple[KernelSpec, ...]:
        return (step.match.info,)


def _compiled(spec: KernelSpec) -> KernelSpec | None:
    try:
        compile_kernel(spec)
    except EmitError:
        return None
    return spec


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------

class ReduceRule:
    """CAReduce, FusedCAReduce, Argmax and Argmin, with a fused elementwise pre-op when the
    plan folded the producer in."""

    name = "reduction kernel"

    def match(self, node: Apply, program: Program) -> Match | None:
        if lowering.reduce_kind(node) is None:
            return None
        producer = program.producer_of(node)
        spec = lowering.reduce_spec(node, producer)
        if spec is None or _compiled(spec) is None:
            return None
        reads = list(producer.inputs) if producer is not None else list(node.inputs)
        note = "reduction kernel" + (f" (fused {producer.op})" if producer is not None else "")
        return Match(reads, allocates=(0,), info=spec, note=note)

    def emit(self, code: Any, step: Step) -> None:
        spec = step.match.info
        red = spec.reduce
        g = code.gen
        slots = [code.slot(v) for v in step.match.reads]
        dims = broadcast_dims(code, slots, spec.broadcast, spec.ndim)
        if red.kind in ("maximum", "minimum") + ARG_KINDS:
            for d in red.axes:
                g.bail_if(g.b.icmp_signed("==", dims[d], iu.i64(0)))
        kept = [d for d in range(spec.ndim) if d not in red.axes]
        out = code.slot(step.node.outputs[0])
        code.alloc(step.node.outputs[0], [dims[d] for d in kept])
        operands = [g.data(s) for s in slots] + [g.data(out)]
        strides = [operand_strides(code, s, b) for s, b in zip(slots, spec.broadcast)]
        strides.append(self._spread(code, [g.load(out.stride(i)) for i in range(len(kept))],
                                    kept, spec.ndim))
        if spec.has_scratch:
            itemsize = np.dtype(red.dtype).itemsize
            contiguous: list[Any] = []
            count: Any = iu.i64(itemsize)
            for d in reversed(kept):
                contiguous.insert(0, count)
                count = g.b.mul(count, dims[d])
            operands.append(g.reserve(code.scratch_word(0), count))
            strides.append(self._spread(code, contiguous, kept, spec.ndim))
        call_kernel(code, spec, dims, operands, strides)

    def outline_key(self, step: Step) -> Any:
        spec = step.match.info
        red = spec.reduce
        return (spec.ndim, spec.broadcast, red.kind in ("maximum", "minimum") + ARG_KINDS,
                red.axes, red.dtype, spec.has_scratch)

    def outline_kernels(self, step: Step) -> tuple[KernelSpec, ...]:
        return (step.match.info,)

    @staticmethod
    def _spread(code: Any, kept_strides: list[Any], kept: list[int], ndim: int) -> list[Any]:
        full: list[Any] = [iu.i64(0)] * ndim
        for d, stride in zip(kept, kept_strides):
            full[d] = stride
        return full


# ---------------------------------------------------------------------------------------------
# Views and shapes
# ---------------------------------------------------------------------------------------------

class IdentityMarkerRule(OutlinedByOp):
    """``disconnected_grad``, ``zero_grad``, ``unbroadcast`` and the other ops that are their
    input when the graph runs (when a rewrite could not drop them): a view of the input."""

    name = "view"

    def match(self, node: Apply, program: Program) -> Match | None:
        if not isinstance(node.op, IdentityMarker) or not isinstance(node.inputs[0].type,
                                                                      TensorType):
            return None
        return Match(node.inputs, aliases={0: 0}, note="view")

    def emit(self, code: Any, step: Step) -> None:
        code.gen.copy_slot(code.slot(step.node.inputs[0]), code.slot(step.node.outputs[0]))


class DimShuffleRule(OutlinedByOp):
    name = "view"

    def match(self, node: Apply, program: Program) -> Match | None:
        if not isinstance(node.op, elemwise.DimShuffle):
            return None
        return Match(node.inputs, aliases={0: 0}, note="view")

    def emit(self, code: Any, step: Step) -> None:
        op = step.node.op
        g = code.gen
        source = code.slot(step.node.inputs[0])
        target = code.slot(step.node.outputs[0])
        for axis in op.dropped:
            g.bail_if(g.b.icmp_signed("!=", g.load(source.dim(axis)), iu.i64(1)))
        g.store(target.data, g.data(source))
        for d, o in enumerate(op.new_order):
            if o == "x":
                g.store(target.dim(d), iu.i64(1))
                g.store(target.stride(d), iu.i64(0))
            else:
                g.store(target.dim(d), g.load(source.dim(o)))
                g.store(target.stride(d), g.load(source.stride(o)))


class ShapeRule(OutlinedByOp):
    """``Shape`` and ``Shape_i``: lengths copied from the input's descriptor."""

    name = "shape"

    def match(self, node: Apply, program: Program) -> Match | None:
        if not isinstance(node.op, (shape.Shape, shape.Shape_i)):
            return None
        if not isinstance(node.inputs[0].type, TensorType):
            return None
        return Match(node.inputs, allocates=(0,), note="shape")

    def emit(self, code: Any, step: Step) -> None:
        g = code.gen
        source = code.slot(step.node.inputs[0])
        out = step.node.outputs[0]
        if isinstance(step.node.op, shape.Shape_i):
            code.alloc(out, [])
            g.b.store(g.load(source.dim(step.node.op.i)), g.data(code.slot(out)))
            return
        code.alloc(out, [iu.i64(source.ndim)])
        base = g.data(code.slot(out))
        for d in range(source.ndim):
            pointer = g.b.gep(base, [iu.i64(d)], source_etype=iu.I64)
            g.b.store(g.load(source.dim(d)), pointer)


# ---------------------------------------------------------------------------------------------
# Fallback: perform, called from native code
# ---------------------------------------------------------------------------------------------

class FallbackRule:
    """Any node: its inputs become ndarrays (views of arena memory where needed), its op's
    ``perform`` (or its own thunk) runs in Python, and the arrays it returns are used."""

    name = "perform"

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def match(self, node: Apply, program: Program) -> Match | None:
        reason = getattr(node.tag, "native_note", None) if hasattr(node, "tag") else None
        note = "perform (no LLVM rule" + (f": {reason}" if reason else "") + ")"
        warn_fallback("llvm", node)
        return Match(node.inputs, info=python_callback(node, self.backend), note=note)

    def emit(self, code: Any, step: Step) -> None:
        g = code.gen
        node = step.node
        temporaries = []
        objects = []
        for var in node.inputs:
            slot = code.slot(var)
            if slot.dtype is None or code.program.is_exact(var):
                objects.append(g.load(slot.obj, iu.PTR))
            else:
                wrapper = g.wrap(slot)
                temporaries.append(wrapper)
                objects.append(wrapper)
        args = g.alloca_array(iu.PTR, objects, "args")
        null = ir.Constant(iu.PTR, None)
        result = g.api("PyObject_Vectorcall", iu.PTR, [
            (iu.PTR, g.object(step.match.info)), (iu.PTR, args),
            (iu.I64, iu.i64(len(objects))), (iu.PTR, null)])
        for wrapper in temporaries:
            g.decref(wrapper)
        g.error_if(g.is_null(result))
        for k, out in enumerate(node.outputs):
            item = g.api("PyTuple_GetItem", iu.PTR, [(iu.PTR, result), (iu.I64, iu.i64(k))])
            g.incref(item)
            slot = code.slot(out)
            g.xdecref_word(slot.obj)
            g.store(slot.obj, item)
            if slot.dtype is not None:
                read_descriptor(g, item, slot)
        g.decref(result)


def read_descriptor(g: Any, array: Any, slot: Any) -> None:
    """Copy an ndarray's data pointer, dims and strides into ``slot``."""
    g.store(slot.data, g.field(array, capi.ARRAY_DATA, iu.PTR))
    if not slot.ndim:
        return
    dims = g.field(array, capi.ARRAY_DIMS, iu.PTR)
    strides = g.field(array, capi.ARRAY_STRIDES, iu.PTR)
    for d in range(slot.ndim):
        g.store(slot.dim(d), g.b.load(g.b.gep(dims, [iu.i64(d)], source_etype=iu.I64),
                                      typ=iu.I64))
        g.store(slot.stride(d), g.b.load(g.b.gep(strides, [iu.i64(d)], source_etype=iu.I64),
                                         typ=iu.I64))


def python_callback(node: Apply, backend: Any) -> Any:
    """``callback(*inputs) -> tuple of outputs``: runs the node in Python; each tensor output
    must be an ndarray (or NumPy scalar) of exactly its declared dtype and rank, as on the
    reference backend. Safe to call from many threads: an op with its own thunk (scan) gets
    one per concurrent call."""
    outputs = node.outputs
    if getattr(node.op, "make_thunk", None) is not None:
        def make() -> tuple[list[list[Any]], list[list[Any]], Any]:
            in_cells: list[list[Any]] = [[None] for _ in node.inputs]
            out_cells: list[list[Any]] = [[None] for _ in outputs]
            return in_cells, out_cells, node.op.make_thunk(node, in_cells, out_cells, backend)

        thunks = FreeList(make, make())

        def run(inputs: Sequence[Any]) -> list[list[Any]]:
            with thunks.lease() as (in_cells, out_cells, thunk):
                try:
                    for cell, value in zip(in_cells, inputs):
                        cell[0] = value
                    thunk()
                    return [[cell[0]] for cell in out_cells]
                finally:
                    for cell in in_cells + out_cells:
                        cell[0] = None
    else:
        perform = node.op.perform

        def run(inputs: Sequence[Any]) -> list[list[Any]]:
            storage: list[list[Any]] = [[None] for _ in outputs]
            try:
                perform(node, list(inputs), storage)
            except Exception as err:  # noqa: BLE001 - re-raised with the node's description
                reraise_node_error(node, inputs, err)
            return storage

    def callback(*inputs: Any) -> tuple[Any, ...]:
        cells = run(inputs)
        for var, cell in zip(outputs, cells):
            check_output(node, var, cell)
        return tuple(_plain(cell[0]) if isinstance(var.type, TensorType) else cell[0]
                     for var, cell in zip(outputs, cells))

    return callback


def _plain(value: np.ndarray) -> np.ndarray:
    """Native code reads the descriptor of exactly an ndarray in native byte order."""
    if type(value) is not np.ndarray:
        value = value.view(np.ndarray)
    if not value.dtype.isnative:
        value = value.astype(value.dtype.newbyteorder("="))
    return value


# ---------------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------------

def identity_spec(dtype: str, ndim: int, bcast: tuple[bool, ...] | None = None) -> KernelSpec:
    """The kernel of an elementwise copy (broadcasting where ``bcast`` says)."""
    from symgraph.ops.composite import ScalarProgram

    spec = KernelSpec(ScalarProgram((dtype,), (), (0,)), ndim,
                      (bcast if bcast is not None else (False,) * ndim,), (dtype,))
    _compiled(spec)
    return spec


def contiguous_strides(g: Any, dims: Sequence[Any], itemsize: int) -> tuple[list[Any], Any]:
    """C-order strides of ``dims`` and the size in bytes."""
    strides: list[Any] = []
    running: Any = iu.i64(itemsize)
    for d in reversed(range(len(dims))):
        strides.insert(0, running)
        running = g.b.mul(running, dims[d])
    return strides, running


def is_contiguous(g: Any, strides: Sequence[Any], dims: Sequence[Any], itemsize: int) -> Any:
    b = g.b
    good = iu.I1(1)
    expected: Any = iu.i64(itemsize)
    for d in reversed(range(len(dims))):
        ok = b.or_(b.icmp_signed("==", strides[d], expected),
                   b.icmp_signed("<=", dims[d], iu.i64(1)))
        good = b.and_(good, ok)
        expected = b.mul(expected, dims[d])
    return good


def copy_into(code: Any, source: Any, dims: Sequence[Any], target: Any,
              target_strides: Sequence[Any], source_strides: Sequence[Any] | None = None,
              source_data: Any = None) -> None:
    """Copy the value in slot ``source`` (of shape ``dims``; its strides unless
    ``source_strides`` says otherwise, 0 for a broadcast dimension) to ``target``."""
    g = code.gen
    ndim = len(dims)
    if source_strides is None:
        source_strides = [g.load(source.stride(d)) for d in range(ndim)]
    spec = identity_spec(source.dtype, ndim)
    g.copy(code.kernel_word(spec), ndim, source.itemsize, list(dims),
           g.data(source) if source_data is None else source_data, list(source_strides),
           target, list(target_strides))
