"""Tiered compilation: a function answers at once on a quick tier (its rewritten graph on the
reference backend) while one background thread builds its optimised native code; calls switch
to that code, atomically, when it is ready.

The thread is a daemon and takes one function at a time (LLVM compiles one module at a time
anyway). At interpreter exit, the JIT refuses further compiles and the exit waits for the one
module in progress, never for the queue; the functions still waiting are handed to a detached
process that builds and keeps their native code for the next run (``tier_handoff``).
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import weakref
from typing import Any

from symgraph.config import config

_JOBS: queue.SimpleQueue[weakref.ref[Any]] = queue.SimpleQueue()
_WORKER: threading.Thread | None = None
_LOCK = threading.Lock()
_STOPPING = threading.Event()
_CURRENT: weakref.ref[Any] | None = None  # the function being built
_PENDING = 0  # jobs submitted and not finished (built, skipped or failed)
_IDLE = threading.Condition(_LOCK)


def submit(function: Any) -> None:
    """Build ``function``'s final tier on the background thread (``function._build_final()``);
    a function dropped before its turn is skipped."""
    global _WORKER, _PENDING
    with _LOCK:
        if _WORKER is None or not _WORKER.is_alive():
            _WORKER = threading.Thread(target=_work, name="symgraph-tiers", daemon=True)
            _WORKER.start()
        _PENDING += 1
    _JOBS.put(weakref.ref(function))


def wait_idle(timeout: float | None = None) -> bool:
    """Wait until every build submitted so far has finished (built, skipped or failed);
    False if ``timeout`` seconds passed first. For measurements that background compiles
    would disturb (their allocations, their CPU)."""
    with _IDLE:
        return _IDLE.wait_for(lambda: _PENDING == 0, timeout)


def _finished() -> None:
    global _PENDING
    with _IDLE:
        _PENDING -= 1
        _IDLE.notify_all()


# A build waits this long for the function's first call to finish on the quick tier (the
# build's Python would otherwise take the GIL from it half of the time and delay the first
# result, which is the point of the quick tier), then starts anyway.
FIRST_CALL_WAIT = 0.25

# While a build runs, the thread holding the GIL hands it over after this many seconds rather
# than CPython's 5 ms: the build is mostly Python (IR building), and calls on the quick tier
# wait for the GIL after every NumPy or BLAS call that released it.
SWITCH_INTERVAL = 0.0002


def _work() -> None:
    global _CURRENT
    while not _STOPPING.is_set():
        ref = _JOBS.get()
        function = ref()
        try:
            if function is None or _STOPPING.is_set():
                continue
            _CURRENT = ref
            function._answered.wait(FIRST_CALL_WAIT)
            if _STOPPING.is_set():
                continue
            interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
            try:
                function._build_final()
            finally:
                sys.setswitchinterval(interval)
                _CURRENT = None
        finally:
            del function
            _finished()


def _waiting() -> list[Any]:
    """The functions whose final tier is not built yet (the one in progress first)."""
    refs = [_CURRENT] if _CURRENT is not None else []
    while True:
        try:
            refs.append(_JOBS.get_nowait())
        except queue.Empty:
            break
    functions = [f for f in (ref() for ref in refs) if f is not None]
    return [f for f in functions if not f._final.is_set()]


@atexit.register
def _stop() -> None:
    _STOPPING.set()
    waiting = _waiting()
    engine = getattr(sys.modules.get("symgraph.codegen.llvm.jit"), "_ENGINE", None)
    if engine is not None:
        engine.close()
    # The one in progress may have finished meanwhile, or failed on the closed JIT.
    waiting = [f for f in waiting if f._native_fn is None]
    if waiting and config.tier_handoff:
        from symgraph import tier_handoff

        jobs = [tier_handoff.describe(f.mode, f._spec) for f in waiting]
        tier_handoff.hand_off([job for job in jobs if job is not None])
