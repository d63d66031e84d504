"""Softmax, log-softmax and the fused softmax crossentropy (and its gradient) with integer
labels in native entry points, composed from reduction and elementwise kernels (for the rows
of a matrix, the one-pass maximum and sum of online.py) plus one loop over rows that picks each
row's label. Same formulas as the ops' ``perform``: the maximum is
subtracted before ``exp``; a label out of range hands the call to the Python path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir

from symgraph import dtype as dt
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm import online
from symgraph.codegen.llvm.kernels import KernelSpec, ReduceSpec
from symgraph.codegen.llvm.native_ops import _compiled, call_kernel
from symgraph.codegen.llvm.plan import Match, OutlinedByOp, Program, Step
from symgraph.graph import Apply
from symgraph.ops import elemwise, nnet
from symgraph.ops.composite import ScalarProgram
from symgraph.type import TensorType

FLOATS = ("float32", "float64")


def _row(name: str) -> Any:
    return elemwise.TABLE[name]


def _spec(dtype: str, ndim: int, steps: tuple, n_inputs: int, output: int,
          bcast: tuple[tuple[bool, ...], ...], reduce: ReduceSpec | None = None,
          inplace: bool = False) -> KernelSpec:
    program = ScalarProgram((dtype,) * n_inputs, steps, (output,))
    return KernelSpec(program, ndim, bcast, (dtype,), reduce=reduce, inplace=inplace)


class _Reducer:
    """Runs kernels over the iteration space ``dims`` of a value reduced over ``axes``, with
    per-row (kept-dimension) scratch buffers."""

    def __init__(self, code: Any, dims: list[Any], axes: tuple[int, ...], dtype: str) -> None:
        self.code, self.g, self.b = code, code.gen, code.gen.b
        self.dims, self.axes, self.dtype = dims, axes, dtype
        self.ndim = len(dims)
        self.itemsize = np.dtype(dtype).itemsize
        kept = [d for d in range(self.ndim) if d not in axes]
        self.row_strides: list[Any] = [iu.i64(0)] * self.ndim
        running: Any = iu.i64(self.itemsize)
        for d in reversed(kept):
            self.row_strides[d] = running
            running = self.b.mul(running, dims[d])
        self.row_bytes = running
        for d in axes:
            self.g.bail_if(self.b.icmp_signed("==", dims[d], iu.i64(0)))

    def rows(self, number: int) -> Any:
        """A scratch buffer with one value per kept position."""
        return self.g.reserve(self.code.scratch_word(number), self.row_bytes)

    def run(self, spec: KernelSpec, operands: list[tuple[Any, list[Any]]],
            dims: list[Any] | None = None) -> None:
        """``spec``'s kernel over ``dims`` (default: the whole iteration space)."""
        call_kernel(self.code, spec, self.dims if dims is None else dims,
                    [p for p, _ in operands], [s for _, s in operands])


def _strides(code: Any, slot: Any) -> list[Any]:
    return [code.gen.load(slot.stride(d)) for d in range(slot.ndim)]


class SoftmaxRule(OutlinedByOp):
    """``Softmax`` and ``LogSoftmax`` of float tensors, over one axis or all."""

    name = "kernels"

    def match(self, node: Apply, program: Program) -> Match | None:
        op = node.op
        if type(op) not in (nnet.Softmax, nnet.LogSoftmax):
            return None
        x, out = node.inputs[0], node.outputs[0]
        if x.type.dtype not in FLOATS or out.type.dtype != x.type.dtype or x.type.ndim == 0:
            return None
        ndim, dtype = x.type.ndim, x.type.dtype
        axes = tuple(range(ndim)) if op.axis is None else (op.axis % ndim,)
        is_softmax = type(op) is nnet.Softmax
        specs = (_row_specs(is_softmax, dtype) if ndim == 2 and axes == (1,) else
                 _general_specs(is_softmax, dtype, ndim, axes))
        if any(_compiled(s) is None for s in specs.values()):
            return None
        return Match(node.inputs, allocates=(0,), info=(axes, specs), note="kernels")

    def emit(self, code: Any, step: Step) -> None:
        axes, specs = step.match.info
        g = code.gen
        x = code.slot(step.node.inputs[0])
        dims = [g.load(x.dim(d)) for d in range(x.ndim)]
        reducer = _Reducer(code, dims, axes, x.dtype)
        out_var = step.node.outputs[0]
        code.alloc(out_var, dims)
        out = code.slot(out_var)
        x_strides, out_strides = _strides(code, x), _strides(code, out)
        largest, total = reducer.rows(20), reducer.rows(21)
        x_op, out_op = (g.data(x), x_strides), (g.data(out), out_strides)
        if "rows" in specs:
            reducer.run(specs["rows"], [x_op, (largest, reducer.row_strides),
                                        (total, reducer.row_strides), out_op])
            return
        reducer.run(specs["max"], [x_op, (largest, reducer.row_strides)])
        reducer.run(specs["shift"], [x_op, (largest, reducer.row_strides), out_op])
        reducer.run(specs["sum"], [out_op, (total, reducer.row_strides)])
        reducer.run(specs["scale"], [out_op, (total, reducer.row_strides), out_op])


def _general_specs(is_softmax: bool, dtype: str, ndim: int,
                   axes: tuple[int, ...]) -> dict[str, KernelSpec]:
    """The four kernels of a (log-)softmax over ``axes`` of any tensor: the maximum, the
    shifted values (and their exponentials), the sum, the output."""
    full = (False,) * ndim
    rows = tuple(d in axes for d in range(ndim))
    identity = ((), 1, 0)
    specs = {"max": _spec(dtype, ndim, *identity, (full,), ReduceSpec("maximum", axes, dtype))}
    if is_softmax:
        specs["shift"] = _spec(dtype, ndim, ((_row("sub"), (0, 1), dtype),
                                             (_row("exp"), (2,), dtype)), 2, 3, (full, rows))
        specs["sum"] = _spec(dtype, ndim, *identity, (full,), ReduceSpec("add", axes, dtype))
        specs["scale"] = _spec(dtype, ndim, ((_row("true_divide"), (0, 1), dtype),), 2, 2,
                               (full, rows), inplace=True)
    else:
        specs["shift"] = _spec(dtype, ndim, ((_row("sub"), (0, 1), dtype),), 2, 2,
                               (full, rows))
        specs["sum"] = _spec(dtype, ndim, ((_row("exp"), (0,), dtype),), 1, 1, (full,),
                             ReduceSpec("add", axes, dtype))
        specs["scale"] = _spec(dtype, ndim, ((_row("log"), (1,), dtype),
                                             (_row("sub"), (0, 2), dtype)), 2, 3,
                               (full, rows), inplace=True)
    return specs


def _row_specs(is_softmax: bool, dtype: str) -> dict[str, KernelSpec]:
    """The one kernel of a row (log-)softmax of a matrix (online.py): each row's maximum and
    sum of exponentials in one pass, then ``exp(x - m) / s`` or ``x - m - log(s)`` while the
    row is in L1; threads take rows."""
    return {"rows": online.rows_spec(is_softmax, dtype)}


def _index_labels(node: Apply, logits: Any, labels: Any) -> bool:
    return (isinstance(labels.type, TensorType) and dt.is_integer(labels.type.dtype) and
            logits.type.ndim == 2 and labels.type.ndim == 1 and
            logits.type.dtype in FLOATS and node.outputs[0].type.dtype == logits.type.dtype)


def _label(code: Any, labels: Any, row: Any, classes: Any) -> Any:
    """The label of ``row`` as an i64, checked to lie in ``[0, classes)``."""
    g, b = code.gen, code.gen.b
    pointer = b.gep(g.data(labels), [b.mul(row, g.load(labels.stride(0)))], source_etype=iu.I8)
    value = iu.load_element(b, pointer, labels.dtype)
    width = value.type.width
    if width < 64:
        value = b.zext(value, iu.I64) if labels.dtype.startswith("u") else b.sext(value, iu.I64)
    g.bail_if(b.or_(b.icmp_signed("<", value, iu.i64(0)),
                    b.icmp_signed(">=", value, classes)))
    return value


def _element(code: Any, slot: Any, row: Any, column: Any) -> Any:
    g, b = code.gen, code.gen.b
    offset = b.add(b.mul(row, g.load(slot.stride(0))), b.mul(column, g.load(slot.stride(1))))
    return b.gep(g.data(slot), [offset], source_etype=iu.I8)


class SoftmaxCrossentropyRule(OutlinedByOp):
    """``log(sum(exp(x[r] - m))) - (x[r, t[r]] - m)`` with ``m = max(x[r])``, for a
    (rows, classes) matrix and integer labels; ``m`` and the sum in one pass (online.py)."""

    name = "kernels"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not nnet.SoftmaxCrossentropy:
            return None
        x, t = node.inputs
        if not _index_labels(node, x, t):
            return None
        spec = online.stats_spec(x.type.dtype)
        if _compiled(spec) is None:
            return None
        return Match(node.inputs, allocates=(0,), info=spec, note="kernels")

    def emit(self, code: Any, step: Step) -> None:
        g, b = code.gen, code.gen.b
        x, t = (code.slot(v) for v in step.node.inputs)
        rows, classes = g.load(x.dim(0)), g.load(x.dim(1))
        g.bail_if(b.icmp_signed("!=", g.load(t.dim(0)), rows))
        reducer = _Reducer(code, [rows, classes], (1,), x.dtype)
        largest, total = reducer.rows(20), reducer.rows(21)
        reducer.run(step.match.info, [(g.data(x), _strides(code, x)),
                                      (largest, reducer.row_strides),
                                      (total, reducer.row_strides)])
        out_var = step.node.outputs[0]
        code.alloc(out_var, [rows])
        out = code.slot(out_var)
        ty = iu.register_type(x.dtype)
        log = iu.intrinsic(g.module, "llvm.log", ty, 1)
        with iu.for_range(b, iu.i64(0), rows, name="row") as r:
            picked = b.load(_element(code, x, r, _label(code, t, r, classes)), typ=ty)
            m = b.load(b.gep(largest, [r], source_etype=ty), typ=ty)
            s = b.load(b.gep(total, [r], source_etype=ty), typ=ty)
            # log(s) - (x[t] - m), as perform computes it: log(s) >= 0 and x[t] - m <= 0, so
            # nothing cancels. (m + log(s)) - x[t] rounded m + log(s) at the magnitude of m
            # and then cancelled it: float32 errors of ulp(m), far above the loss when small.
            value = b.fsub(b.call(log, [s]), b.fsub(picked, m))
            target = b.gep(g.data(out), [b.mul(r, g.load(out.stride(0)))], source_etype=iu.I8)
            b.store(value, target)


class SoftmaxCrossentropyGradRule(OutlinedByOp):
    """``gy[r] * (sm[r] - onehot(t[r]))`` for a (rows, classes) softmax and integer labels."""

    name = "kernels"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not nnet.SoftmaxCrossentropyGrad:
            return None
        gy, sm, t = node.inputs
        if not _index_labels(node, sm, t) or gy.type.dtype != sm.type.dtype:
            return None
        dtype = sm.type.dtype
        spec = _spec(dtype, 2, ((_row("mul"), (0, 1), dtype),), 2, 2,
                     ((False, False), (False, True)))
        if _compiled(spec) is None:
            return None
        return Match(node.inputs, allocates=(0,), info=spec, note="kernel")

    def emit(self, code: Any, step: Step) -> None:
        g, b = code.gen, code.gen.b
        gy, sm, t = (code.slot(v) for v in step.node.inputs)
        rows, classes = g.load(sm.dim(0)), g.load(sm.dim(1))
        g.bail_if(b.icmp_signed("!=", g.load(t.dim(0)), rows))
        g.bail_if(b.icmp_signed("!=", g.load(gy.dim(0)), rows))
        out_var = step.node.outputs[0]
        code.alloc(out_var, [rows, classes])
        out = code.slot(out_var)
        spec = step.match.info
        call_kernel(code, spec, [rows, classes], [g.data(sm), g.data(gy), g.data(out)],
                    [_strides(code, sm), [g.load(gy.stride(0)), iu.i64(0)], _strides(code, out)])
        ty = iu.register_type(sm.dtype)
        one = ir.Constant(ty, 1.0)
        with iu.for_range(b, iu.i64(0), rows, name="row") as r:
            label = _label(code, t, r, classes)
            p = b.load(_element(code, sm, r, label), typ=ty)
            grad = b.load(b.gep(g.data(gy), [b.mul(r, g.load(gy.stride(0)))],
                                source_etype=iu.I8), typ=ty)
            b.store(b.fmul(grad, b.fsub(p, one)), _element(code, out, r, label))


class SoftmaxStatsRule(OutlinedByOp):
    """Each row's maximum and sum of ``exp(x - m)`` for a float matrix, in one pass
    (online.py); threads take rows."""

    name = "kernels"

    def match(self, node: Apply, program: Program) -> Match | None:
        if type(node.op) is not nnet.SoftmaxStats:
            return None
        spec = online.stats_spec(node.inputs[0].type.dtype, parallel=True)
        if _compiled(spec) is None:
            return None
        return Match(node.inputs, allocates=(0, 1), info=spec, note="kernel")

    def emit(self, code: Any, step: Step) -> None:
        g = code.gen
        x = code.slot(step.node.inputs[0])
        rows, columns = g.load(x.dim(0)), g.load(x.dim(1))
        reducer = _Reducer(code, [rows, columns], (1,), x.dtype)  # no columns: to perform
        operands = [(g.data(x), _strides(code, x))]
        for var in step.node.outputs:
            code.alloc(var, [rows])
            out = code.slot(var)
            operands.append((g.data(out), [g.load(out.stride(0)), iu.i64(0)]))
        reducer.run(step.match.info, operands)


def rules() -> list[Any]:
    return [SoftmaxRule(), SoftmaxCrossentropyRule(), SoftmaxCrossentropyGradRule(),
            SoftmaxStatsRule()]
