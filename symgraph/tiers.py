"""Tiered compilation: a function answers at once on a quick tier (its rewritten graph on the
reference backend) while one background thread builds its optimised native code; calls switch
to that code, atomically, when it is ready.

The thread is a daemon and takes one function at a time (LLVM compiles one module at a time
anyway). At interpreter exit, the JIT refuses further compiles and the exit waits for the one
module in progress, never for the queue.
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import weakref
from typing import Any

_JOBS: queue.SimpleQueue[weakref.ref[Any]] = queue.SimpleQueue()
_WORKER: threading.Thread | None = None
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def submit(function: Any) -> None:
    """Build ``function``'s final tier on the background thread (``function._build_final()``);
    a function dropped before its turn is skipped."""
    global _WORKER
    with _LOCK:
        if _WORKER is None or not _WORKER.is_alive():
            _WORKER = threading.Thread(target=_work, name="symgraph-tiers", daemon=True)
            _WORKER.start()
    _JOBS.put(weakref.ref(function))


# While a build runs, the thread holding the GIL hands it over after this many seconds rather
# than CPython's 5 ms: the build is mostly Python (IR building), and calls on the quick tier
# wait for the GIL after every NumPy or BLAS call that released it.
SWITCH_INTERVAL = 0.0002


def _work() -> None:
    while not _STOPPING.is_set():
        function = _JOBS.get()()
        if function is None or _STOPPING.is_set():
            continue
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        try:
            function._build_final()
        finally:
            sys.setswitchinterval(interval)
        del function


@atexit.register
def _stop() -> None:
    _STOPPING.set()
    engine = getattr(sys.modules.get("symgraph.codegen.llvm.jit"), "_ENGINE", None)
    if engine is not None:
        engine.close()
