"""Row gathers and scatters in native entry points: ``x[idx]`` (``AdvancedSubtensor``) and
``x[idx] += y`` or ``x[idx] = y`` (``AdvancedIncSubtensor``) for one integer index array on the
leading axis, the other axes whole (an embedding lookup and its gradient).

NumPy's rules: negative indices count from the end; duplicate indices accumulate when
incrementing (``np.add.at``) and the last write wins when setting (rows are visited in C order).
Every index is checked before anything is written: one out of range hands the call to the
Python path, whose ``perform`` raises NumPy's ``IndexError`` (an error code in exported code).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.emitter import LLVMEmitter
from symgraph.codegen.llvm.kernels import KernelSpec
from symgraph.codegen.llvm.native_index import padded_strides, region_spec
from symgraph.codegen.llvm.native_ops import _compiled, call_kernel, copy_into, identity_spec
from symgraph.codegen.llvm.plan import Match, OutlinedByOp, Program, Step
from symgraph.graph import Apply
from symgraph.ops import subtensor
from symgraph.ops.subtensor import ARRAY, Slice
from symgraph.type import TensorType

INDEX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


def leading_rows(node: Apply, n_other: int) -> bool:
    """``node`` indexes the leading axis of its tensor ``x`` with one integer array (its
    input ``n_other``) and takes the other axes whole: ``(ARRAY, :, ..., :)``, maybe ending
    in ``...``."""
    idx_list = list(node.op.idx_list)
    if idx_list[-1:] == [Ellipsis]:
        idx_list.pop()
    if not idx_list or idx_list[0] != ARRAY or \
            any(e != Slice(None, None, None) for e in idx_list[1:]):
        return False
    if not all(isinstance(v.type, TensorType) for v in node.inputs + node.outputs):
        return False
    x = node.inputs[0].type
    return x.ndim >= len(idx_list) and len(node.inputs) == n_other + 1 and \
        node.inputs[n_other].type.dtype in INDEX_DTYPES


def _index_positions(code: Any, idx: Any, body: Callable[[list[Any], Any], None]) -> None:
    """``body(position, row)`` for each element of the index array in slot ``idx``, in C order:
    ``position`` its multi-index (i64 values), ``row`` its value as an i64."""
    g, b = code.gen, code.gen.b
    dims, strides = g.dims(idx), g.strides(idx)
    emitter = LLVMEmitter(b, None, idx.dtype)

    def level(d: int, position: list[Any], offset: Any) -> None:
        if d == idx.ndim:
            pointer = b.gep(g.data(idx), [offset], source_etype=iu.I8)
            value = iu.load_element(b, pointer, idx.dtype)
            body(position, emitter.cast(emitter.typed(value, idx.dtype), "int64"))
            return
        with iu.for_range(b, iu.i64(0), dims[d], f"at{d}") as i:
            level(d + 1, position + [i], b.add(offset, b.mul(i, strides[d])))

    level(0, [], iu.i64(0))


def _check_rows(code: Any, idx: Any, length: Any) -> None:
    """Bail unless every index is in ``[-length, length)`` (NumPy's IndexError)."""
    b = code.gen.b

    def check(position: list[Any], row: Any) -> None:
        code.gen.bail_if(b.or_(b.icmp_signed("<", row, b.neg(length)),
                               b.icmp_signed(">=", row, length)))

    _index_positions(code, idx, check)


def _row_pointer(b: Any, data: Any, row: Any, length: Any, stride: Any) -> Any:
    """The address of row ``row`` (checked, maybe negative) of a leading axis."""
    row = b.select(b.icmp_signed("<", row, iu.i64(0)), b.add(row, length), row)
    return b.gep(data, [b.mul(row, stride)], source_etype=iu.I8)


def _offset(b: Any, data: Any, position: Sequence[Any], strides: Sequence[Any]) -> Any:
    offset: Any = iu.i64(0)
    for i, stride in zip(position, strides):
        offset = b.add(offset, b.mul(i, stride))
    return b.gep(data, [offset], source_etype=iu.I8)


class GatherRule(OutlinedByOp):
    """``x[idx]`` with ``idx`` an integer array of any rank on the leading axis: a new array
    of shape ``idx.shape + x.shape[1:]``, filled one row at a time (a memmove when both rows
    are contiguous)."""

    name = "gather"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not subtensor.AdvancedSubtensor or not leading_rows(node, 1):
            return None
        identity_spec(node.outputs[0].dtype, node.inputs[0].type.ndim - 1)
        return Match(node.inputs, allocates=(0,), note="gather")

    def emit(self, code: Any, step: Step) -> None:
        node = step.node
        g, b = code.gen, code.gen.b
        x, idx = code.slot(node.inputs[0]), code.slot(node.inputs[1])
        out_var = node.outputs[0]
        out = code.slot(out_var)
        x_dims, x_strides = g.dims(x), g.strides(x)
        length = x_dims[0]
        _check_rows(code, idx, length)
        row_dims = x_dims[1:]
        code.alloc(out_var, g.dims(idx) + row_dims)
        out_strides = g.strides(out)
        spec = identity_spec(x.dtype, x.ndim - 1)
        size: Any = iu.i64(1)
        for d in range(out.ndim):
            size = b.mul(size, g.load(out.dim(d)))

        def copy_row(position: list[Any], row: Any) -> None:
            source = _row_pointer(b, g.data(x), row, length, x_strides[0])
            target = _offset(b, g.data(out), position, out_strides)
            g.copy(code.kernel_word(spec), x.ndim - 1, x.itemsize, row_dims, source,
                   x_strides[1:], target, out_strides[idx.ndim:])

        with g.without_gil(size):
            _index_positions(code, idx, copy_row)


class ScatterRule(OutlinedByOp):
    """``x`` with ``x[idx]`` incremented by (or set to) ``y``, ``idx`` an integer array of any
    rank on the leading axis, ``y`` broadcast to ``idx.shape + x.shape[1:]`` by Theano's rule:
    in ``x``'s own buffer when that is an arena buffer nothing reads afterwards (whether or
    not the inplace rewrite ran), else in a copy. One kernel call per index."""

    name = "scatter"

    def match(self, node: Apply, program: Program) -> Match | None:
        op = node.op
        if type(op) is not subtensor.AdvancedIncSubtensor or not leading_rows(node, 2) or \
                node.inputs[1].type.dtype != node.outputs[0].dtype:
            return None
        spec = _compiled(self.row_spec(node))
        if spec is None:
            return None
        kind = "scatter (set" if op.set_instead_of_inc else "scatter (add"
        if program.is_last_reader(node.inputs[0], node):
            return Match(node.inputs, aliases={0: 0}, info=spec, note=kind + ", in place)")
        return Match(node.inputs, allocates=(0,), info=spec, note=kind + ")")

    @staticmethod
    def y_broadcast(node: Apply) -> tuple[bool, ...]:
        """Which dimensions of the region ``idx.shape + x.shape[1:]`` ``y`` broadcasts along."""
        ndim = node.inputs[2].type.ndim + node.inputs[0].type.ndim - 1
        y = node.inputs[1].type
        lead = ndim - y.ndim
        return tuple(d < lead or y.shape[d - lead] == 1 for d in range(ndim))

    def row_spec(self, node: Apply) -> KernelSpec:
        """The kernel that adds (or copies) one row of ``y`` into one row of the result."""
        k = node.inputs[2].type.ndim
        ndim = node.inputs[0].type.ndim - 1
        return region_spec(node.outputs[0].dtype, ndim, self.y_broadcast(node)[k:],
                           node.op.set_instead_of_inc)

    def emit(self, code: Any, step: Step) -> None:
        node, spec = step.node, step.match.info
        g, b = code.gen, code.gen.b
        x, y, idx = (code.slot(v) for v in node.inputs)
        out_var = node.outputs[0]
        out = code.slot(out_var)
        x_dims = g.dims(x)
        length = x_dims[0]
        region = g.dims(idx) + x_dims[1:]
        bcast = self.y_broadcast(node)
        lead = len(region) - y.ndim
        g.bail_if_any([b.icmp_signed("!=", g.load(y.dim(d)), region[lead + d])
                       for d in range(y.ndim) if not bcast[lead + d]])
        _check_rows(code, idx, length)
        if 0 in step.match.aliases:
            g.copy_slot(x, out)
        else:
            code.alloc(out_var, x_dims)
            copy_into(code, x, x_dims, g.data(out), g.strides(out))
        out_strides = g.strides(out)
        y_strides = padded_strides(code, y, len(region), bcast)
        k = idx.ndim

        def update_row(position: list[Any], row: Any) -> None:
            target = _row_pointer(b, g.data(out), row, length, out_strides[0])
            source = _offset(b, g.data(y), position, y_strides[:k])
            if node.op.set_instead_of_inc:
                call_kernel(code, spec, x_dims[1:], [source, target],
                            [y_strides[k:], out_strides[1:]])
            else:
                call_kernel(code, spec, x_dims[1:], [target, source, target],
                            [out_strides[1:], y_strides[k:], out_strides[1:]])

        _index_positions(code, idx, update_row)


def rules() -> list[Any]:
    return [GatherRule(), ScatterRule()]
