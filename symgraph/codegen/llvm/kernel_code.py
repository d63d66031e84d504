"""Compiled kernels, one per kernel specification: shared by every function that uses one
while any holds it (the JIT unloads it with the last), built on first use.

While a function is planned, each kernel it needs is started (``start_kernel``) on a
background compile thread: llvmlite runs one LLVM call at a time in a process, but releases
the GIL in it, so LLVM compiles kernels while this thread goes on planning and building the
entry point's IR in Python. ``compile_kernel`` then waits for the kernel it asks for.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from concurrent.futures import Future

from symgraph.codegen.llvm.jit import (Code, add_llvm_wait, engine, keep_while_pinning, pin,
                                       pinning_active)
from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir
from symgraph.op import EmitError

# Compile kernels on the background thread (False: each at once, on the asking thread).
BACKGROUND = True
_KERNELS: weakref.WeakValueDictionary[KernelSpec, Code] = weakref.WeakValueDictionary()
_UNBUILDABLE: dict[KernelSpec, EmitError] = {}
# Kernels compiling in the background, kept alive by the build that started them.
_PENDING: weakref.WeakValueDictionary[KernelSpec, Future] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()
_QUEUE: list[tuple[Future, str, str]] = []
_WORKER: threading.Thread | None = None


def compile_kernel(spec: KernelSpec) -> Code:
    """The compiled kernel of ``spec`` (shared while anything holds it; ``EmitError`` when it
    cannot be built). Kernels are ``void kernel(i64 *shape, ptr *data, i64 *strides)``."""
    code = _KERNELS.get(spec)
    if code is not None:
        return pin(code)
    future = _PENDING.get(spec)
    if future is not None:
        asked = time.perf_counter()
        try:
            code = future.result()
        finally:
            add_llvm_wait(time.perf_counter() - asked)
        _KERNELS[spec] = code
        return pin(code)
    text, symbol = _kernel_text(spec)
    code = engine().compile(text, [symbol])
    _KERNELS[spec] = code
    return code


def start_kernel(spec: KernelSpec) -> None:
    """Make sure ``spec``'s kernel can be built (``EmitError`` if not) and start compiling it
    in the background; ``compile_kernel(spec)`` gets it. Outside ``pinning()`` (nothing would
    own the result) it is compiled at once."""
    if not BACKGROUND or not pinning_active():
        compile_kernel(spec)
        return
    found = _KERNELS.get(spec)
    if found is not None:
        pin(found)
        return
    future = _PENDING.get(spec)
    if future is None:
        text, symbol = _kernel_text(spec)
        future = Future()
        with _LOCK:
            _PENDING[spec] = future
            _QUEUE.append((future, text, symbol))
            _wake()
    keep_while_pinning(future)


def _kernel_text(spec: KernelSpec) -> tuple[str, str]:
    failed = _UNBUILDABLE.get(spec)
    if failed is not None:
        raise failed
    jit = engine()
    try:
        if not jit.has_f16c and "float16" in spec.operand_dtypes():
            raise EmitError("float16 needs the F16C instructions on this CPU")
        return kernel_ir(spec, jit.has_gomp)
    except NotImplementedError as err:
        failed = err if isinstance(err, EmitError) else EmitError(str(err))
        _UNBUILDABLE[spec] = failed
        raise failed from None


_WORK = threading.Condition(_LOCK)


def _wake() -> None:
    """(Under ``_LOCK``) start the compile thread if needed and tell it there is work."""
    global _WORKER
    if _WORKER is None:
        _WORKER = threading.Thread(target=_work, name="symgraph-kernels", daemon=True)
        _WORKER.start()
    _WORK.notify()


def _after_fork() -> None:
    """A forked child has no compile thread: start afresh (what was pending is lost)."""
    global _WORKER, _LOCK, _WORK
    _WORKER = None
    _LOCK = threading.Lock()
    _WORK = threading.Condition(_LOCK)
    _QUEUE.clear()
    _PENDING.clear()


os.register_at_fork(after_in_child=_after_fork)


def _work() -> None:
    while True:
        with _LOCK:
            while not _QUEUE:
                _WORK.wait()
            job = _QUEUE.pop(0)
        _compile_job(*job)
        del job  # hold nothing while idle: the code belongs to whoever asked for it


def _compile_job(future: Future, text: str, symbol: str) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(engine().compile(text, [symbol]))
    except BaseException as err:  # handed to the thread that asks for the kernel
        future.set_exception(err)
