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


def _work() -> None:
    while not _STOPPING.is_set():
        function = _JOBS.get()()
        if function is not None and not _STOPPING.is_set():
            function._build_final()
        del function


@atexit.register
def _stop() -> None:
    _STOPPING.set()
    jit = sys.modules.get("symgraph.codegen.llvm.jit")
    if jit is not None and jit._ENGINE is not None:
        jit._ENGINE.close()
