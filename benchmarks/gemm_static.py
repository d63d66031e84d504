"""Matrix products as LLVM kernels compiled for one static shape (gemm_survey.py's "LLVM
(static shape)" column): what symgraph's code generator could emit in place of a BLAS call
for the small products of a training step, measured before deciding whether to.

The kernel is register-blocked the way BLAS micro-kernels are: a block of ``ROWS`` rows of C
by two vectors of columns lives in registers while k runs, each step broadcasting one element
of A per row and loading the two vectors of B's row k (``llvm.fmuladd`` on vectors of 16
float32 or 8 float64, AVX-512's width). Shapes, strides and trip counts are constants, so LLVM
unrolls and schedules freely. Only ``NN`` and ``TN`` products whose m and n divide into blocks
are generated (``A @ B.T`` would need B transposed first); no packing, no cache blocking.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import ctypes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gemm_libs import I64, P, Library, Problem  # noqa: E402

ROWS = 4
VECTORS = 2


def kernel_ir(p: Problem, name: str) -> str:
    """IR text of ``void name(ptr a, ptr b, ptr c)`` computing ``c = op(a) @ b`` for ``p``."""
    scalar = "float" if p.dtype == "float32" else "double"
    width = 16 if p.dtype == "float32" else 8
    vec = f"<{width} x {scalar}>"
    fma = f"llvm.fmuladd.v{width}{'f32' if p.dtype == 'float32' else 'f64'}"
    block = width * VECTORS
    if p.form not in ("NN", "TN") or p.m % ROWS or p.n % block:
        raise NotImplementedError(f"{p.form} {p.m}x{p.n} is not generated")
    m, n, k = p.m, p.n, p.k
    lines = [f"declare {vec} @{fma}({vec}, {vec}, {vec})", "",
             f"define void @{name}(ptr noalias %a, ptr noalias %b, ptr noalias %c) {{",
             "entry:", "  br label %rows", "rows:",
             "  %i = phi i64 [0, %entry], [%i.next, %cols.end]", "  br label %cols", "cols:",
             "  %j = phi i64 [0, %rows], [%j.next, %inner.end]", "  br label %inner", "inner:",
             "  %t = phi i64 [0, %cols], [%t.next, %inner]"]
    accs = [(r, v) for r in range(ROWS) for v in range(VECTORS)]
    for r, v in accs:
        lines.append(f"  %acc{r}_{v} = phi {vec} [zeroinitializer, %cols], "
                     f"[%new{r}_{v}, %inner]")
    lines.append(f"  %brow = mul i64 %t, {n}")
    for v in range(VECTORS):
        lines += [f"  %bcol{v} = add i64 %j, {v * width}",
                  f"  %bat{v} = add i64 %brow, %bcol{v}",
                  f"  %bp{v} = getelementptr {scalar}, ptr %b, i64 %bat{v}",
                  f"  %bv{v} = load {vec}, ptr %bp{v}, align 4"]
    for r in range(ROWS):
        lines.append(f"  %row{r} = add i64 %i, {r}")
        if p.form == "NN":
            lines += [f"  %arow{r} = mul i64 %row{r}, {k}", f"  %aat{r} = add i64 %arow{r}, %t"]
        else:  # A stored k x m
            lines += [f"  %arow{r} = mul i64 %t, {m}", f"  %aat{r} = add i64 %arow{r}, %row{r}"]
        lines += [f"  %ap{r} = getelementptr {scalar}, ptr %a, i64 %aat{r}",
                  f"  %as{r} = load {scalar}, ptr %ap{r}",
                  f"  %ai{r} = insertelement {vec} poison, {scalar} %as{r}, i64 0",
                  f"  %av{r} = shufflevector {vec} %ai{r}, {vec} poison, "
                  f"<{width} x i32> zeroinitializer"]
        for v in range(VECTORS):
            lines.append(f"  %new{r}_{v} = call {vec} @{fma}({vec} %av{r}, {vec} %bv{v}, "
                         f"{vec} %acc{r}_{v})")
    lines += ["  %t.next = add i64 %t, 1", f"  %t.more = icmp slt i64 %t.next, {k}",
              "  br i1 %t.more, label %inner, label %inner.end", "inner.end:"]
    for r, v in accs:
        lines += [f"  %crow{r}_{v} = mul i64 %row{r}, {n}",
                  f"  %ccol{r}_{v} = add i64 %j, {v * width}",
                  f"  %cat{r}_{v} = add i64 %crow{r}_{v}, %ccol{r}_{v}",
                  f"  %cp{r}_{v} = getelementptr {scalar}, ptr %c, i64 %cat{r}_{v}",
                  f"  store {vec} %new{r}_{v}, ptr %cp{r}_{v}, align 4"]
    lines += [f"  %j.next = add i64 %j, {block}", f"  %j.more = icmp slt i64 %j.next, {n}",
              "  br i1 %j.more, label %cols, label %cols.end", "cols.end:",
              f"  %i.next = add i64 %i, {ROWS}", f"  %i.more = icmp slt i64 %i.next, {m}",
              "  br i1 %i.more, label %rows, label %done", "done:", "  ret void", "}"]
    return "\n".join(lines) + "\n"


def library(timer: ctypes.CDLL) -> Library | None:
    """The static-shape kernels as a survey column (compiled by symgraph's JIT on first use
    of each problem), or None without llvmlite."""
    try:
        from symgraph.codegen.llvm.jit import engine
    except ImportError:
        return None
    compiled: dict[tuple, object] = {}

    def run(p: Problem, calls: int) -> tuple[float, float]:
        key = (p.m, p.n, p.k, p.form, p.dtype)
        if key not in compiled:
            name = "static_gemm_{}x{}x{}_{}_{}".format(*key)
            compiled[key] = engine().compile(kernel_ir(p, name), [name])
        code = compiled[key]
        cpu = ctypes.c_double()
        wall = timer.static_kernel(P(code.address), P(p.a.ctypes.data),  # type: ignore
                                   P(p.b.ctypes.data), P(p.c.ctypes.data), I64(calls),
                                   ctypes.byref(cpu))
        return wall, cpu.value
    return Library("LLVM (static shape)", f"{ROWS}x{VECTORS} vectors register-blocked IR, "
                   "benchmarks/gemm_static.py", run, [compiled])


def _check() -> Callable[[], None]:
    """A quick self-test: one product of each form against NumPy."""
    import numpy as np

    from gemm_libs import build_timer

    def check() -> None:
        timer = build_timer()
        lib = library(timer)
        for form in ("NN", "TN"):
            for dtype in ("float32", "float64"):
                p = Problem(8, 64, 5, form, dtype)
                lib.time(p, 1)
                np.testing.assert_allclose(p.c, p.op_a @ p.op_b, rtol=1e-4, atol=1e-4)
        print("static-shape kernels equal NumPy's products")
    return check


if __name__ == "__main__":
    _check()()
