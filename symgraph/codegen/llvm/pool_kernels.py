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
from symgraph.codegen.llvm.conv_kernels import at, entry, loads, smax, smin, zero_fill

POOL_KINDS = ("pool", "max_grad", "max_grad_grad", "average_grad")


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
        (s0, s1), (p0, p1) = spec.stride, spec.pad
        with iu.for_range(b, iu.i64(0), images, name="n") as n:
            self.x = at(b, x, b.mul(n, plane), self.ty)
            self.second = at(b, second, b.mul(n, pooled if spec.kind != "max_grad_grad"
                                              else plane), self.ty)
            self.result = at(b, result, b.mul(n, plane if to_input else pooled), self.ty)
            with iu.for_range(b, iu.i64(0), orows, name="i") as i:
                r0 = b.sub(b.mul(i, iu.i64(s0)), iu.i64(p0))
                rlo, rhi = smax(b, r0, iu.i64(0)), smin(b, b.add(r0, iu.i64(spec.ws[0])), rows)
                with iu.for_range(b, iu.i64(0), ocols, name="j") as j:
                    c0 = b.sub(b.mul(j, iu.i64(s1)), iu.i64(p1))
                    clo = smax(b, c0, iu.i64(0))
                    chi = smin(b, b.add(c0, iu.i64(spec.ws[1])), cols)
                    out = b.add(b.mul(i, ocols), j)
                    self._window(i, (r0, rlo, rhi), (c0, clo, chi), out)
        b.ret_void()
        return str(self.module)

    def _window(self, i: Any, rows: tuple, cols: tuple, out: Any) -> None:
        """One window: the whole of it inside the image takes loops of constant length
        (unrolled), one at the border the clipped ones."""
        b = self.b
        (r0, rlo, rhi), (c0, clo, chi) = rows, cols
        inside = b.and_(b.and_(b.icmp_signed("==", rlo, r0), b.icmp_signed("==", clo, c0)),
                        b.and_(b.icmp_signed("==", rhi, b.add(r0, iu.i64(self.spec.ws[0]))),
                               b.icmp_signed("==", chi, b.add(c0, iu.i64(self.spec.ws[1])))))
        with b.if_else(inside) as (whole, border):
            with whole:
                self._body(r0, c0, (r0, b.add(r0, iu.i64(self.spec.ws[0]))),
                           (c0, b.add(c0, iu.i64(self.spec.ws[1]))), i, out)
            with border:
                self._body(r0, c0, (rlo, rhi), (clo, chi), i, out)

    def _cells(self, rows: tuple, cols: tuple, visit: Any) -> None:
        b = self.b
        with iu.for_range(b, rows[0], rows[1], name="u") as u:
            with iu.for_range(b, cols[0], cols[1], name="v") as v:
                visit(b.add(b.mul(u, self.cols), v))

    def _body(self, r0: Any, c0: Any, rows: tuple, cols: tuple, i: Any, out: Any) -> None:
        spec, b, ty = self.spec, self.b, self.ty
        if spec.mode == "max":
            best, where, found = self._argmax(r0, c0, rows, cols)
            if spec.kind == "pool":
                b.store(best, at(b, self.result, out, ty))
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

            self._cells(rows, cols, add)
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

        self._cells(rows, cols, spread)

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

    def _argmax(self, r0: Any, c0: Any, rows: tuple, cols: tuple) -> tuple[Any, Any, Any]:
        """(maximum, index of the first maximum in the image plane, whether that lies in the
        image). Before any image cell wins, the window's first cell holds the lowest value:
        it is the arg-max when every image cell equals that value."""
        b, ty = self.b, self.ty
        best = iu.entry_alloca(b, ty, "best")
        where = iu.entry_alloca(b, iu.I64, "where")
        found = iu.entry_alloca(b, iu.I1, "found")
        b.store(_lowest(self.spec.dtype, ty), best)
        b.store(b.add(b.mul(r0, self.cols), c0), where)
        b.store(b.and_(b.icmp_signed(">=", r0, iu.i64(0)), b.icmp_signed(">=", c0, iu.i64(0))),
                found)

        def visit(index: Any) -> None:
            value = b.load(at(b, self.x, index, ty), typ=ty)
            current = b.load(best, typ=ty)
            if self.is_float:
                take = b.or_(b.fcmp_ordered(">", value, current),
                             b.and_(b.fcmp_unordered("uno", value, value),
                                    b.fcmp_ordered("ord", current, current)))
            elif self.spec.dtype.startswith("u"):
                take = b.icmp_unsigned(">", value, current)
            else:
                take = b.icmp_signed(">", value, current)
            b.store(b.select(take, value, current), best)
            b.store(b.select(take, index, b.load(where, typ=iu.I64)), where)
            b.store(b.or_(take, b.load(found, typ=iu.I1)), found)

        self._cells(rows, cols, visit)
        return (b.load(best, typ=ty), b.load(where, typ=iu.I64), b.load(found, typ=iu.I1))
