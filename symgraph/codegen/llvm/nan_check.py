"""The NaN guard in native code: after each step of a guarded entry point, its float outputs
go through ``i64 sg_nan_check_<dtype>(ptr data, i64 n)``, which returns the flat index of the
first NaN or Inf (or -1). The check runs block by block: each block's test is a branch-free
OR over ``x - x`` being unordered (NaN for NaN and for +-Inf), which LLVM vectorises; only a
block that holds a bad value is scanned again for its first one."""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.irgen import Gen, Slot
from symgraph.codegen.llvm.jit import engine

BLOCK = 512  # elements per vectorised test
CHECKED_DTYPES = {"float32": iu.F32, "float64": iu.F64}


def nan_check_ir(dtype: str) -> tuple[str, str]:
    """The module text and symbol of the check for ``dtype``."""
    ty = CHECKED_DTYPES[dtype]
    module = ir.Module(name=f"sg_nan_check_{dtype}")
    symbol = f"sg_nan_check_{dtype}"
    fn = ir.Function(module, ir.FunctionType(iu.I64, [iu.PTR, iu.I64]), name=symbol)
    data, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def is_bad(index: Any) -> Any:
        x = b.load(b.gep(data, [index], source_etype=ty, inbounds=True), typ=ty)
        diff = b.fsub(x, x)
        return b.fcmp_unordered("uno", diff, diff)

    blocks = b.sdiv(b.add(n, iu.i64(BLOCK - 1)), iu.i64(BLOCK))
    with iu.for_range(b, iu.i64(0), blocks, "block") as block:
        start = b.mul(block, iu.i64(BLOCK))
        end = b.select(b.icmp_signed("<", b.add(start, iu.i64(BLOCK)), n),
                       b.add(start, iu.i64(BLOCK)), n)
        before = b.block
        head = fn.append_basic_block("test.head")
        body = fn.append_basic_block("test.body")
        done = fn.append_basic_block("test.end")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(iu.I64, "i")
        acc = b.phi(iu.I8, "acc")
        i.add_incoming(start, before)
        acc.add_incoming(ir.Constant(iu.I8, 0), before)
        b.cbranch(b.icmp_signed("<", i, end), body, done)
        b.position_at_end(body)
        acc_next = b.or_(acc, b.zext(is_bad(i), iu.I8))
        i_next = b.add(i, iu.i64(1), flags=("nsw",))
        i.add_incoming(i_next, body)
        acc.add_incoming(acc_next, body)
        b.branch(head)
        b.position_at_end(done)
        with b.if_then(b.icmp_unsigned("!=", acc, ir.Constant(iu.I8, 0))):
            with iu.for_range(b, start, end, "scan") as k:
                with b.if_then(is_bad(k)):
                    b.ret(k)
    b.ret(iu.i64(-1))
    return str(module), symbol


def nan_check_address(dtype: str) -> int:
    """The address of the compiled check for ``dtype``: call it inside ``jit.pinning()``
    and keep what that collects, or the code is unloaded at once."""
    text, symbol = nan_check_ir(dtype)
    return engine().compile(text, [symbol]).addresses[symbol]


def emit_nan_guard(code: Any, step: Any, words: tuple[int, int, int]) -> None:
    """After ``step``: check its float outputs held in C-contiguous memory (not views: their
    values were checked where they were made, or are the caller's); on a NaN or Inf,
    store the step's index, the output's position and the flat index in ``words`` and bail
    (the call then runs on the guarded reference schedule, which raises)."""
    g: Gen = code.gen
    views = getattr(step.node.op, "view_map", None) or {}
    for k, var in enumerate(step.node.outputs):
        dtype = getattr(var.type, "dtype", None)
        # A view holds values already checked where they were made (or an argument's).
        if dtype not in CHECKED_DTYPES or var not in code.slots or k in views:
            continue
        slot = code.slot(var)
        check_word = code.address_word(("nan check", dtype),
                                       lambda d=dtype: nan_check_address(d))

        def build(gen: Gen, args: list[Any], ndim: int = slot.ndim, dtype: str = dtype,
                  check_word: int = check_word) -> None:
            own = Slot(gen.word_arg(args[0]), ndim, dtype)
            b = gen.b
            dims, strides = gen.dims(own), gen.strides(own)
            count, contiguous, expected = iu.i64(1), ir.Constant(iu.I1, 1), iu.i64(own.itemsize)
            for d in reversed(range(ndim)):
                fits = b.or_(b.icmp_signed("==", strides[d], expected),
                             b.icmp_signed("<=", dims[d], iu.i64(1)))
                contiguous = b.and_(contiguous, fits)
                expected = b.mul(expected, dims[d])
                count = b.mul(count, dims[d])
            with b.if_then(contiguous):
                found = gen.call_address(check_word, iu.I64, [(iu.PTR, gen.data(own)),
                                                              (iu.I64, count)])
                with b.if_then(b.icmp_signed(">=", found, iu.i64(0))):
                    gen.store(words[0], args[1])
                    gen.store(words[1], args[2])
                    gen.store(words[2], found)
                    gen.bail_if(ir.Constant(iu.I1, 1))

        fn = g.outlined(("nan guard", dtype, slot.ndim, check_word), [iu.I64] * 3, build,
                        "nan_guard")
        g.call_status(fn, [iu.i64(slot.word), iu.i64(step.index), iu.i64(k)])
