"""Indexing and assembling in native entry points: basic ``Subtensor`` views (ints, slices with
run-time bounds, newaxis, ellipsis), ``IncSubtensor`` (a kernel over the indexed region),
``Alloc`` and ``Join`` (copies into a new buffer). NumPy's rules throughout; an index out of
range hands the call to the Python path, which raises NumPy's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.kernels import KernelSpec
from symgraph.codegen.llvm.native_ops import _compiled, call_kernel, copy_into, identity_spec
from symgraph.codegen.llvm.plan import Match, OutlinedByOp, Program, Step
from symgraph.graph import Apply
from symgraph.ops import construct, elemwise, shape, subtensor
from symgraph.ops.composite import ScalarProgram
from symgraph.ops.subtensor import SCALAR, Slice
from symgraph.type import TensorType


def _tensors(node: Apply) -> bool:
    return all(isinstance(v.type, TensorType) for v in node.inputs + node.outputs)


def _basic(idx_list: Sequence[Any]) -> bool:
    return all(e is None or e is Ellipsis or e == SCALAR or isinstance(e, (int, Slice))
               for e in idx_list)


def padded_strides(code: Any, slot: Any, ndim: int, bcast: Sequence[bool]) -> list[Any]:
    """Strides of ``slot`` aligned to the last of ``ndim`` dimensions (0 where broadcast)."""
    lead = ndim - slot.ndim
    return [iu.i64(0) if d < lead or bcast[d] else code.gen.load(slot.stride(d - lead))
            for d in range(ndim)]


def index_pattern(idx_list: Sequence[Any]) -> tuple[tuple[Any, ...], list[int]]:
    """``idx_list`` with its int indices and slice bounds replaced by ``INT``, and those ints
    in the order ``_IndexEmitter`` reads them: steps that index alike but at other constant
    positions share their code, which takes the ints as arguments. Slice steps stay (their
    sign decides the code)."""
    ints: list[int] = []

    def bound(part: Any) -> Any:
        if isinstance(part, int):
            ints.append(part)
            return INT
        return part

    pattern = tuple(Slice(bound(e.start), bound(e.stop), e.step) if isinstance(e, Slice) else
                    bound(e) if isinstance(e, int) else e for e in idx_list)
    return pattern, ints


# Stands for an int index or slice bound in an ``index_pattern``.
INT = "int"


class _IndexEmitter:
    """Writes the view ``x[index]`` of the value in ``source`` into ``target``; the int
    indices and slice bounds are ``ints`` (i64 values, in ``index_pattern``'s order)."""

    def __init__(self, code: Any, idx_list: Sequence[Any], index_slots: Sequence[Any],
                 ints: Sequence[Any]) -> None:
        self.code = code
        self.g = code.gen
        self.b = code.gen.b
        self.idx_list = idx_list
        self.values = iter(index_slots)
        self.ints = iter(ints)

    def _part(self, part: Any) -> Any:
        if part is None:
            return None
        if part == SCALAR:
            return self.g.read_scalar(next(self.values), "int64")
        return next(self.ints)

    def emit(self, source: Any, target: Any) -> None:
        g, b = self.g, self.b
        consumed = sum(1 for e in self.idx_list if e is not None and e is not Ellipsis)
        entries = list(self.idx_list)
        if Ellipsis not in entries:
            entries.append(Ellipsis)
        offset: Any = iu.i64(0)
        axis = out = 0
        for entry in entries:
            if entry is None:
                g.store(target.dim(out), iu.i64(1))
                g.store(target.stride(out), iu.i64(0))
                out += 1
            elif entry is Ellipsis:
                for _ in range(source.ndim - consumed):
                    g.store(target.dim(out), g.load(source.dim(axis)))
                    g.store(target.stride(out), g.load(source.stride(axis)))
                    axis, out = axis + 1, out + 1
            elif isinstance(entry, Slice):
                start, length, step = self._slice(entry, g.load(source.dim(axis)))
                stride = g.load(source.stride(axis))
                offset = b.add(offset, b.mul(start, stride))
                g.store(target.dim(out), length)
                g.store(target.stride(out), b.mul(stride, step))
                axis, out = axis + 1, out + 1
            else:
                index = self._part(entry)
                length = g.load(source.dim(axis))
                index = b.select(b.icmp_signed("<", index, iu.i64(0)), b.add(index, length),
                                 index)
                g.bail_if(b.or_(b.icmp_signed("<", index, iu.i64(0)),
                                b.icmp_signed(">=", index, length)))
                offset = b.add(offset, b.mul(index, g.load(source.stride(axis))))
                axis += 1
        g.store(target.data, b.gep(g.data(source), [offset], source_etype=iu.I8))

    def _slice(self, entry: Slice, n: Any) -> tuple[Any, Any, Any]:
        """``(start, length, step)`` as Python's ``slice.indices`` gives them."""
        b = self.b
        start, stop = self._part(entry.start), self._part(entry.stop)
        step = iu.i64(entry.step) if isinstance(entry.step, int) else self._part(entry.step)
        if step is None:
            step = iu.i64(1)
        static_step = entry.step if isinstance(entry.step, int) or entry.step is None else None
        if static_step is None:
            self.g.bail_if(b.icmp_signed("==", step, iu.i64(0)))
        forward = self._forward(start, stop, step, n)
        backward = self._backward(start, stop, step, n)
        if static_step is not None:
            chosen = forward if (static_step or 1) > 0 else backward
            return chosen[0], chosen[1], step
        positive = b.icmp_signed(">", step, iu.i64(0))
        return (b.select(positive, forward[0], backward[0]),
                b.select(positive, forward[1], backward[1]), step)

    def _clamp_forward(self, value: Any, n: Any) -> Any:
        b = self.b
        value = b.select(b.icmp_signed("<", value, iu.i64(0)), b.add(value, n), value)
        value = b.select(b.icmp_signed("<", value, iu.i64(0)), iu.i64(0), value)
        return b.select(b.icmp_signed(">", value, n), n, value)

    def _clamp_backward(self, value: Any, n: Any) -> Any:
        b = self.b
        value = b.select(b.icmp_signed("<", value, iu.i64(0)), b.add(value, n), value)
        value = b.select(b.icmp_signed("<", value, iu.i64(0)), iu.i64(-1), value)
        return b.select(b.icmp_signed(">=", value, n), b.sub(n, iu.i64(1)), value)

    def _forward(self, start: Any, stop: Any, step: Any, n: Any) -> tuple[Any, Any]:
        b = self.b
        first = iu.i64(0) if start is None else self._clamp_forward(start, n)
        last = n if stop is None else self._clamp_forward(stop, n)
        span = b.sub(last, first)
        positive = b.icmp_signed(">", step, iu.i64(0))
        safe_step = b.select(positive, step, iu.i64(1))
        count = b.sdiv(b.add(span, b.sub(safe_step, iu.i64(1))), safe_step)
        return first, b.select(b.icmp_signed(">", span, iu.i64(0)), count, iu.i64(0))

    def _backward(self, start: Any, stop: Any, step: Any, n: Any) -> tuple[Any, Any]:
        b = self.b
        top = b.sub(n, iu.i64(1))
        minus_one = iu.i64(-1)
        first = top if start is None else self._clamp_backward(start, n)
        last = minus_one if stop is None else self._clamp_backward(stop, n)
        negative = b.icmp_signed("<", step, iu.i64(0))
        magnitude = b.select(negative, b.neg(step), iu.i64(1))
        span = b.sub(first, last)
        count = b.add(b.sdiv(b.sub(span, iu.i64(1)), magnitude), iu.i64(1))
        return first, b.select(b.icmp_signed(">", span, iu.i64(0)), count, iu.i64(0))


class _IndexingRule:
    """Steps that index alike (``index_pattern``) share their code."""

    def outline_key(self, step: Step) -> Any:
        op = step.node.op
        return (type(op).__name__, index_pattern(op.idx_list)[0],
                getattr(op, "set_instead_of_inc", None))

    def outline_constants(self, step: Step) -> list[int]:
        return index_pattern(step.node.op.idx_list)[1]


class SubtensorRule(_IndexingRule):
    name = "view"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not subtensor.Subtensor or not _tensors(node) or \
                not _basic(node.op.idx_list):
            return None
        return Match(node.inputs, aliases={0: 0}, note="view")

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        slots = [code.slot(v) for v in node.inputs]
        ints = code.constants(self.outline_constants(step))
        _IndexEmitter(code, node.op.idx_list, slots[1:], ints).emit(
            slots[0], code.slot(node.outputs[0]))


class IncSubtensorRule(_IndexingRule):
    """``x`` with a region set or incremented: in ``x``'s own buffer when that is an arena
    buffer nothing reads afterwards (whether or not the inplace rewrite ran), else in a copy."""

    name = "kernel"

    def match(self, node: Apply, program: Program) -> Match | None:
        op = node.op
        if type(op) is not subtensor.IncSubtensor or not _tensors(node) or \
                not _basic(op.idx_list) or node.inputs[1].type.dtype != node.outputs[0].dtype:
            return None
        spec = self._spec(node)
        if _compiled(spec) is None:
            return None
        if program.is_last_reader(node.inputs[0], node):
            return Match(node.inputs, aliases={0: 0}, info=spec, note="kernel (in place)")
        return Match(node.inputs, allocates=(0,), info=spec, note="kernel")

    @staticmethod
    def _region_ndim(node: Apply) -> int:
        return node.inputs[0].type.ndim - sum(
            1 for e in node.op.idx_list if isinstance(e, int) or e == SCALAR) + sum(
            1 for e in node.op.idx_list if e is None)

    def _spec(self, node: Apply) -> KernelSpec:
        ndim = self._region_ndim(node)
        y = node.inputs[1]
        lead = ndim - y.type.ndim
        y_bcast = tuple(d < lead or y.type.shape[d - lead] == 1 for d in range(ndim))
        return region_spec(node.outputs[0].dtype, ndim, y_bcast, node.op.set_instead_of_inc)

    def emit(self, code: Any, step: Step) -> None:
        node, spec = step.node, step.match.info
        g, b = code.gen, code.gen.b
        x, y = code.slot(node.inputs[0]), code.slot(node.inputs[1])
        out_var = node.outputs[0]
        out = code.slot(out_var)
        dims = [g.load(x.dim(d)) for d in range(x.ndim)]
        if 0 in step.match.aliases:
            g.copy_slot(x, out)
        else:
            code.alloc(out_var, dims)
            copy_into(code, x, dims, g.data(out), [g.load(out.stride(d)) for d in range(x.ndim)])
        region = code.layout.slot(spec.ndim, x.dtype)
        _IndexEmitter(code, node.op.idx_list, [code.slot(v) for v in node.inputs[2:]],
                      code.constants(self.outline_constants(step))).emit(out, region)
        region_dims = [g.load(region.dim(d)) for d in range(spec.ndim)]
        y_bcast = spec.broadcast[-1]
        lead = spec.ndim - y.ndim
        g.bail_if_any([b.icmp_signed("!=", g.load(y.dim(d)), region_dims[lead + d])
                       for d in range(y.ndim) if not y_bcast[lead + d]])
        region_strides = [g.load(region.stride(d)) for d in range(spec.ndim)]
        y_strides = padded_strides(code, y, spec.ndim, y_bcast)
        if node.op.set_instead_of_inc:
            call_kernel(code, spec, region_dims, [g.data(y), g.data(region)],
                        [y_strides, region_strides])
        else:
            call_kernel(code, spec, region_dims, [g.data(region), g.data(y), g.data(region)],
                        [region_strides, y_strides, region_strides])


def region_spec(dtype: str, ndim: int, y_bcast: tuple[bool, ...], set_values: bool) -> KernelSpec:
    """The kernel that sets a region to ``y`` (operands ``y, region``) or adds ``y`` to it in
    place (operands ``region, y, region``), ``y`` broadcast along ``y_bcast``."""
    if set_values:
        return KernelSpec(ScalarProgram((dtype,), (), (0,)), ndim, (y_bcast,), (dtype,))
    add = (elemwise.TABLE["add"], (0, 1), dtype)
    return KernelSpec(ScalarProgram((dtype, dtype), (add,), (2,)), ndim,
                      ((False,) * ndim, y_bcast), (dtype,), inplace=True)


class AllocRule(OutlinedByOp):
    name = "kernel"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not construct.Alloc or not _tensors(node):
            return None
        out = node.outputs[0]
        value = node.inputs[0]
        lead = out.type.ndim - value.type.ndim
        bcast = tuple(d < lead or value.type.shape[d - lead] == 1 for d in range(out.ndim))
        spec = identity_spec(out.type.dtype, out.type.ndim, bcast)
        if value.type.dtype != out.type.dtype:
            return None
        return Match(node.inputs, allocates=(0,), info=spec, note="kernel (fill)")

    def emit(self, code: Any, step: Step) -> None:
        node, spec = step.node, step.match.info
        g, b = code.gen, code.gen.b
        value = code.slot(node.inputs[0])
        dims = [g.read_scalar(code.slot(v), "int64") for v in node.inputs[1:]]
        bcast = spec.broadcast[0]
        lead = len(dims) - value.ndim
        g.bail_if_any([b.icmp_signed("<", d, iu.i64(0)) for d in dims] +
                      [b.icmp_signed("!=", g.load(value.dim(d)), dims[lead + d])
                       for d in range(value.ndim) if not bcast[lead + d]])
        out_var = node.outputs[0]
        code.alloc(out_var, dims)
        out = code.slot(out_var)
        call_kernel(code, spec, dims, [g.data(value), g.data(out)],
                    [padded_strides(code, value, len(dims), bcast),
                     [g.load(out.stride(d)) for d in range(len(dims))]])


class JoinRule(OutlinedByOp):
    """``Join``: the pieces copied one after the other along the axis."""

    name = "copies"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not shape.Join or not _tensors(node):
            return None
        dtype = node.outputs[0].type.dtype
        if any(v.type.dtype != dtype or v.type.ndim != node.outputs[0].ndim
               for v in node.inputs):
            return None
        identity_spec(dtype, node.outputs[0].ndim)
        return Match(node.inputs, allocates=(0,), note="copies")

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        g, b = code.gen, code.gen.b
        axis = node.op.axis
        pieces = [code.slot(v) for v in node.inputs]
        ndim = node.outputs[0].ndim
        dims = [g.load(pieces[0].dim(d)) for d in range(ndim)]
        total: Any = iu.i64(0)
        g.bail_if_any([b.icmp_signed("!=", g.load(piece.dim(d)), dims[d])
                       for piece in pieces for d in range(ndim) if d != axis])
        for piece in pieces:
            total = b.add(total, g.load(piece.dim(axis)))
        dims[axis] = total
        out_var = node.outputs[0]
        code.alloc(out_var, dims)
        out = code.slot(out_var)
        strides = [g.load(out.stride(d)) for d in range(ndim)]
        offset: Any = iu.i64(0)
        for piece in pieces:
            piece_dims = list(dims)
            piece_dims[axis] = g.load(piece.dim(axis))
            target = b.gep(g.data(out), [b.mul(offset, strides[axis])], source_etype=iu.I8)
            copy_into(code, piece, piece_dims, target, strides)
            offset = b.add(offset, piece_dims[axis])


class ReshapeRule(OutlinedByOp):
    """``Reshape``: a view of a C-contiguous input, else a C-ordered copy (NumPy makes a
    copy in fewer cases; either way the values are NumPy's)."""

    name = "view"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not shape.Reshape or not _tensors(node) or \
                node.inputs[1].type.dtype != "int64":
            return None
        identity_spec(node.inputs[0].type.dtype, node.inputs[0].type.ndim)
        return Match(node.inputs, views=(0,), note="view (or copy)")

    def emit(self, code: Any, step: Step) -> None:
        g, b = code.gen, code.gen.b
        x, shp = code.slot(step.node.inputs[0]), code.slot(step.node.inputs[1])
        ndim = step.node.op.ndim
        g.bail_if(b.icmp_signed("!=", g.load(shp.dim(0)), iu.i64(ndim)))
        x_dims = [g.load(x.dim(d)) for d in range(x.ndim)]
        size: Any = iu.i64(1)
        for length in x_dims:
            size = b.mul(size, length)
        stride = g.load(shp.stride(0))
        wanted = [b.load(b.gep(g.data(shp), [b.mul(iu.i64(d), stride)], source_etype=iu.I8),
                         typ=iu.I64) for d in range(ndim)]
        unknown: Any = iu.i64(0)
        known: Any = iu.i64(1)
        for value in wanted:
            g.bail_if(b.icmp_signed("<", value, iu.i64(-1)))
            missing = b.icmp_signed("==", value, iu.i64(-1))
            unknown = b.add(unknown, b.zext(missing, iu.I64))
            known = b.mul(known, b.select(missing, iu.i64(1), value))
        g.bail_if(b.icmp_signed(">", unknown, iu.i64(1)))
        guessed = unknown_length(g, size, known, unknown)
        dims = [b.select(b.icmp_signed("==", v, iu.i64(-1)), guessed, v) for v in wanted]
        total: Any = iu.i64(1)
        for length in dims:
            total = b.mul(total, length)
        g.bail_if(b.icmp_signed("!=", total, size))
        out_var = step.node.outputs[0]
        out = code.slot(out_var)
        x_strides = [g.load(x.stride(d)) for d in range(x.ndim)]
        from symgraph.codegen.llvm.native_ops import contiguous_strides, is_contiguous

        flat = is_contiguous(g, x_strides, x_dims, x.itemsize)
        with b.if_else(flat) as (view, copy):
            with view:
                for d in range(ndim):
                    g.store(out.dim(d), dims[d])
                g.set_contiguous_strides(out)
                g.store(out.data, g.data(x))
            with copy:
                code.alloc(out_var, dims)
                target, _ = contiguous_strides(g, x_dims, x.itemsize)
                copy_into(code, x, x_dims, g.data(out), target)


def unknown_length(g: Any, size: Any, known: Any, unknown: Any) -> Any:
    """The length standing for -1: ``size / known`` (bails when it does not divide)."""
    b = g.b
    needed = b.icmp_signed("==", unknown, iu.i64(1))
    safe = b.select(b.icmp_signed("==", known, iu.i64(0)), iu.i64(1), known)
    g.bail_if(b.and_(needed, b.icmp_signed("==", known, iu.i64(0))))
    g.bail_if(b.and_(needed, b.icmp_signed("!=", b.srem(size, safe), iu.i64(0))))
    return b.sdiv(size, safe)
