"""Compiled window loops of pooling and its gradients (``Pool``, ``MaxPoolGrad``,
``MaxPoolGradGrad``, ``AveragePoolGrad``), with the reference's semantics: padded cells never
win a max, each window's arg-max is its first maximum in row-major order over the whole
window (padded cells count as the lowest value there), a NaN is a window's maximum.

Kernel: ``void k(ptr *data, i64 *params)`` with data = [input, second operand (the output
gradient, the input gradient, or unused), result], params = [images, rows, cols, out_rows,
out_cols]; operands C-contiguous, images stacked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir

from symgraph import dtype as dt
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.conv_kernels import (at, entry, loads, smax, smin, valid_range,
                                                zero_fill)

POOL_KINDS = ("pool", "max_grad", "max_grad_grad", "average_grad")
# Cells of a window past which a whole window's loops stay loops.
MAX_UNROLLED = 64


@dataclass(frozen=True)
class PoolSpec:
    """``kind`` in POOL_KINDS; ``mode`` the pooling mode ('max' for the max gradients)."""

    kind: str
    mode: str
    dtype: str
    ws: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]

    def ir_text(self) -> str:
        return _PoolBuilder(self).build()


def _lowest(dtype: str, ty: ir.Type) -> ir.Constant:
    if dt.is_float(dtype):
        return ir.Constant(ty, float("-inf"))
    return ir.Constant(ty, int(np.iinfo(dtype).min))


class _PoolBuilder:
    def __init__(self, spec: PoolSpec) -> None:
        self.spec = spec
        self.module = ir.Module(name="pool")
        self.ty = iu.register_type(spec.dtype)
        self.is_float = dt.is_float(spec.dtype)

    def build(self) -> str:
        _, b, data, params = entry(self.module)
        self.b = b
        spec = self.spec
        x, second, result = loads(b, data, 3, iu.PTR)
        images, rows, cols, orows, ocols = loads(b, params, 5, iu.I64)
        self.rows, self.cols = rows, cols
        plane, pooled = b.mul(rows, cols), b.mul(orows, ocols)
        to_input = spec.kind in ("max_grad", "average_grad")
        if to_input:
            zero_fill(b, result, iu.i64(0), b.mul(images, plane), self.ty)
        with iu.for_range(b, iu.i64(0), images, name="n") as n:
            self.x = at(b, x, b.mul(n, plane), self.ty)
            self.second = at(b, second, b.mul(n, pooled if spec.kind != "max_grad_grad"
                                              else plane), self.ty)
            self.result = at(b, result, b.mul(n, plane if to_input else pooled), self.ty)
            if spec.mode == "max" and self.is_float:
                # NaN needs more than one comparison per cell: an image that has one takes
                # the code that applies the full rule, the others the fast code.
                with b.if_else(self._has_nan(plane), likely=False) as (slow, fast):
                    with slow:
                        self._rows(orows, ocols, exact=True)
                    with fast:
                        self._rows(orows, ocols, exact=False)
            else:
                self._rows(orows, ocols, exact=False)
        b.ret_void()
        return str(self.module)

    def _has_nan(self, plane: Any) -> Any:
        b = self.b
        seen = iu.entry_alloca(b, iu.I8, "seen")
        b.store(ir.Constant(iu.I8, 0), seen)
        with iu.for_range(b, iu.i64(0), plane, name="k") as k:
            value = b.load(at(b, self.x, k, self.ty), typ=self.ty)
            flag = b.zext(b.fcmp_unordered("uno", value, value), iu.I8)
            b.store(b.or_(b.load(seen, typ=iu.I8), flag), seen)
        return b.icmp_unsigned("!=", b.load(seen, typ=iu.I8), ir.Constant(iu.I8, 0))

    def _rows(self, orows: Any, ocols: Any, exact: bool) -> None:
        self.exact = exact
        with iu.for_range(self.b, iu.i64(0), orows, name="i") as i:
            self._row(i, ocols)

    def _row(self, i: Any, ocols: Any) -> None:
        """The windows of output row ``i``: those wholly inside the image (every one, in rows
        whose windows lie inside) take straight-line code the vectoriser can work on; the
        others loop over their clipped extent."""
        b, (s0, s1), (p0, p1), (w0, w1) = self.b, self.spec.stride, self.spec.pad, self.spec.ws
        r0 = b.sub(b.mul(i, iu.i64(s0)), iu.i64(p0))
        rows = (smax(b, r0, iu.i64(0)), smin(b, b.add(r0, iu.i64(w0)), self.rows))
        inside = b.and_(b.icmp_signed(">=", r0, iu.i64(0)),
                        b.icmp_signed("<=", b.add(r0, iu.i64(w0)), self.rows))
        j_lo, j_hi = valid_range(b, iu.i64(-p1), s1, b.sub(self.cols, iu.i64(w1 - 1)), ocols)
        j_lo, j_hi = b.select(inside, j_lo, ocols), b.select(inside, j_hi, ocols)

        def window(j: Any, whole: bool) -> None:
            c0 = b.sub(b.mul(j, iu.i64(s1)), iu.i64(p1))
            out = b.add(b.mul(i, ocols), j)
            if whole:
                self._body(r0, c0, (r0, b.add(r0, iu.i64(w0))), (c0, b.add(c0, iu.i64(w1))),
                           out, True)
                return
            cols = (smax(b, c0, iu.i64(0)), smin(b, b.add(c0, iu.i64(w1)), self.cols))
            self._body(r0, c0, rows, cols, out, False)

        for start, stop, whole in ((iu.i64(0), j_lo, False), (j_lo, j_hi, True),
                                   (j_hi, ocols, False)):
            with iu.for_range(b, start, stop, name="j") as j:
                window(j, whole)

    def _unrolled(self) -> bool:
        return self.spec.ws[0] * self.spec.ws[1] <= MAX_UNROLLED

    def _cells(self, rows: tuple, cols: tuple, visit: Any, whole: bool,
               backward: bool = False) -> None:
        """``visit(index)`` for every image cell of the window in row-major order (or its
        reverse), unrolled for a whole window."""
        b = self.b
        if whole and self._unrolled():
            cells = [(u, v) for u in range(self.spec.ws[0]) for v in range(self.spec.ws[1])]
            for u, v in reversed(cells) if backward else cells:
                line = b.mul(b.add(rows[0], iu.i64(u)), self.cols)
                visit(b.add(line, b.add(cols[0], iu.i64(v))))
            return
        with iu.for_range(b, rows[0], rows[1], name="u") as u:
            if backward:
                u = b.sub(b.add(rows[0], rows[1]), b.add(u, iu.i64(1)))
            with iu.for_range(b, cols[0], cols[1], name="v") as v:
                if backward:
                    v = b.sub(b.add(cols[0], cols[1]), b.add(v, iu.i64(1)))
                visit(b.add(b.mul(u, self.cols), v))

    def _body(self, r0: Any, c0: Any, rows: tuple, cols: tuple, out: Any, whole: bool) -> None:
        spec, b, ty = self.spec, self.b, self.ty
        if spec.mode == "max":
            best, where, found = self._argmax(r0, c0, rows, cols, whole)
            if spec.kind == "pool":
                b.store(best, at(b, self.result, out, ty))
            elif spec.kind == "max_grad" and whole and self._unrolled():
                # Every cell takes its share (the gradient at the arg-max, else 0): stores to
                # fixed places instead of a scatter, which the vectoriser turns into fast code.
                grad = b.load(at(b, self.second, out, ty), typ=ty)

                def share(index: Any) -> None:
                    target = at(b, self.result, index, ty)
                    mine = b.select(b.icmp_signed("==", index, where), grad,
                                    ir.Constant(ty, 0.0))
                    b.store(b.fadd(b.load(target, typ=ty), mine), target)

                self._cells(rows, cols, share, whole)
            elif spec.kind == "max_grad":
                with b.if_then(found):
                    target = at(b, self.result, where, ty)
                    grad = b.load(at(b, self.second, out, ty), typ=ty)
                    b.store(b.fadd(b.load(target, typ=ty), grad), target)
            else:
                picked = b.load(at(b, self.second, smax(b, where, iu.i64(0)), ty), typ=ty)
                b.store(b.select(found, picked, ir.Constant(ty, 0.0)), at(b, self.result, out, ty))
            return
        if spec.kind == "pool":
            total = iu.entry_alloca(b, ty, "total")
            b.store(ir.Constant(ty, 0), total)

            def add(index: Any) -> None:
                value = b.load(at(b, self.x, index, ty), typ=ty)
                current = b.load(total, typ=ty)
                b.store(b.fadd(current, value) if self.is_float else b.add(current, value),
                        total)

            self._cells(rows, cols, add, whole)
            value = b.load(total, typ=ty)
            if spec.mode != "sum":
                value = b.fdiv(value, self._count(r0, c0, rows, cols))
            b.store(value, at(b, self.result, out, ty))
            return
        grad = b.load(at(b, self.second, out, ty), typ=ty)
        if spec.mode != "sum":
            grad = b.fdiv(grad, self._count(r0, c0, rows, cols))

        def spread(index: Any) -> None:
            target = at(b, self.result, index, ty)
            b.store(b.fadd(b.load(target, typ=ty), grad), target)

        self._cells(rows, cols, spread, whole)

    def _count(self, r0: Any, c0: Any, rows: tuple, cols: tuple) -> Any:
        """The divisor of an average: image cells, plus padded ones for 'average_inc_pad'."""
        b, spec = self.b, self.spec
        if spec.mode == "average_inc_pad":
            (p0, p1), (w0, w1) = spec.pad, spec.ws
            r_end = smin(b, b.add(r0, iu.i64(w0)), b.add(self.rows, iu.i64(p0)))
            c_end = smin(b, b.add(c0, iu.i64(w1)), b.add(self.cols, iu.i64(p1)))
            count = b.mul(b.sub(r_end, r0), b.sub(c_end, c0))
        else:
            count = b.mul(b.sub(rows[1], rows[0]), b.sub(cols[1], cols[0]))
        return b.sitofp(count, self.ty)

    def _argmax(self, r0: Any, c0: Any, rows: tuple, cols: tuple, whole: bool
                ) -> tuple[Any, Any, Any]:
        """(maximum, index of the first maximum in the image plane, whether that lies in the
        image). Before any image cell wins, the window's first cell holds the lowest value:
        it is the arg-max when every image cell equals that value. In images with a NaN
        (``self.exact``), the first NaN wins too; elsewhere one comparison per cell, which
        vectorises (a chain of conditions makes branches that mispredict)."""
        b, ty = self.b, self.ty
        best = iu.entry_alloca(b, ty, "best")
        where = iu.entry_alloca(b, iu.I64, "where")
        start = b.add(b.mul(r0, self.cols), c0)
        b.store(_lowest(self.spec.dtype, ty), best)
        b.store(start, where)
        compare = b.icmp_unsigned if self.spec.dtype.startswith("u") else b.icmp_signed

        def visit(index: Any) -> None:
            value = b.load(at(b, self.x, index, ty), typ=ty)
            current = b.load(best, typ=ty)
            if not self.is_float:
                take = compare(">", value, current)
            elif self.exact:
                take = b.or_(b.fcmp_ordered(">", value, current),
                             b.and_(b.fcmp_unordered("uno", value, value),
                                    b.fcmp_ordered("ord", current, current)))
            else:
                take = b.fcmp_ordered(">", value, current)
            b.store(b.select(take, value, current), best)
            b.store(b.select(take, index, b.load(where, typ=iu.I64)), where)

        self._cells(rows, cols, visit, whole)
        index = b.load(where, typ=iu.I64)
        starts_inside = b.and_(b.icmp_signed(">=", r0, iu.i64(0)),
                               b.icmp_signed(">=", c0, iu.i64(0)))
        return (b.load(best, typ=ty), index,
                b.or_(starts_inside, b.icmp_signed("!=", index, start)))
