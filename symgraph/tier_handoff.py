"""Handing unfinished background compiles to a process of their own at interpreter exit.

A tiered function answers on its quick tier while its native code compiles in the background
(``tiers``). A short program exits before that compile has finished, so nothing is kept on
the disk and the next run of the same program starts on the quick tier again. At exit, the
functions still waiting for their native code are described as plain data (the rewritten
graph exactly as the whole-function cache stored it, the mode, how the function is called
and the config flags) in an authenticated entry of the compile cache, and a detached process
at low priority (``python -m symgraph.tier_handoff``) builds their entry points, which
``entry_cache`` keeps: the next process loads them with no planning, IR or LLVM.

The exit waits for none of it (it spawns the process and returns). Only graphs the
whole-function cache holds are handed over; a function called with ``profile`` or a NaN guard,
or one whose graph the cache could not key, is not. Shared variables are described by their
position and container class only, never by their values. ``config.tier_handoff`` (default
on) switches it off.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import sys
from pathlib import Path
from typing import Any

from symgraph.codegen import diskcache
from symgraph.config import config

MAGIC = b"SGHND1\n"
SUFFIX = ".jobs"
CACHE = diskcache.DiskCache("handoff", MAGIC, (SUFFIX,))
# At most this many functions per exiting process: a test run can leave many behind, and the
# point is the next run of a program, not every graph it ever made.
MAX_JOBS = 16


def describe(mode: Any, spec: Any) -> dict[str, Any] | None:
    """A function's final-tier build as plain data, or None when it cannot be handed over."""
    from symgraph import function_cache

    if spec.graph_identity is None or spec.profile or getattr(mode, "nan_guard", False):
        return None
    stored = function_cache.stored(spec.graph_identity)
    if stored is None:
        return None
    key, graph = stored
    return {"key": key, "graph": graph, "mode": mode, "n_args": spec.n_args,
            "n_containers": len(spec.containers), "n_outputs": spec.n_outputs,
            "pattern": list(spec.container_pattern()),
            "classes": [type(c) for c in spec.all_containers()],
            "single": spec.single, "trust_input": spec.trust_input, "name": spec.name}


def hand_off(jobs: list[dict[str, Any]]) -> bool:
    """Store ``jobs`` in the compile cache and start the detached process that builds them;
    False (nothing started) when the cache is not on the disk or the process cannot start."""
    import subprocess

    if not jobs or not CACHE.is_on_disk():
        return False
    flags = {name: getattr(config, name) for name in config.flags() if name in _FLAG_NAMES}
    try:
        data = pickle.dumps({"flags": flags, "jobs": jobs[:MAX_JOBS]},
                            protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - e.g. a mode holding something unpicklable
        return False
    key = secrets.token_hex(16)
    CACHE.store(key, SUFFIX, data)
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(config.compiledir),
               PYTHONPATH=os.pathsep.join(filter(None, [package_root,
                                                         os.environ.get("PYTHONPATH")])))
    try:
        subprocess.Popen([sys.executable, "-m", "symgraph.tier_handoff", key,
                          str(config.compiledir)], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        return False
    return True


# The flags a build reads (the rest name where things go, or are Theano's).
_FLAG_NAMES = ("floatX", "optimizer", "num_threads", "warn_fallback", "cache_lock_wait")


def wait(compiledir: str | os.PathLike[str], timeout: float = 600.0) -> bool:
    """Wait until no handoff process works for the cache in ``compiledir`` (each names its
    directory on its command line): what a benchmark's "next run" or a test waits for.
    False if ``timeout`` seconds passed first, or where ``pgrep`` is missing."""
    import subprocess
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = subprocess.run(["pgrep", "-f", f"symgraph.tier_handoff .* {compiledir}"],
                                   capture_output=True, check=False)
        except OSError:
            return False
        if found.returncode != 0:
            return True
        time.sleep(0.1)
    return False


def build(key: str) -> int:
    """The detached process's work: build and keep the entry points of the jobs stored under
    ``key``; returns how many were kept."""
    from symgraph import function_cache
    from symgraph.codegen.contract import CallSpec
    from symgraph.codegen.llvm import entry_cache

    data = CACHE.load(key, SUFFIX, lambda payload: payload[:1] == b"\x80")
    with contextlib.suppress(OSError):
        CACHE.path(key, SUFFIX).unlink()
    if data is None:
        return 0
    work = pickle.loads(data)  # authenticated: written by this user's symgraph
    for name, value in work["flags"].items():
        setattr(config, name, value)
    kept = 0
    for job in work["jobs"]:
        fgraph = pickle.loads(job["graph"])
        made: dict[int, Any] = {}  # one object per first occurrence, as the pattern says
        for k, first in enumerate(job["pattern"]):
            if first not in made:
                made[first] = job["classes"][k].__new__(job["classes"][k])
        containers = [made[first] for first in job["pattern"]]
        n = job["n_containers"]
        spec = CallSpec(n_args=job["n_args"], containers=tuple(containers[:n]),
                        n_outputs=job["n_outputs"], update_containers=tuple(containers[n:]),
                        single=job["single"], trust_input=job["trust_input"], name=job["name"],
                        graph_identity=function_cache.identity_of(job["key"], job["graph"]))
        before = entry_cache.STATS.stored
        try:
            job["mode"].link(fgraph).native_entry(spec)
        except Exception:  # noqa: BLE001 - the process that needs it compiles it itself
            continue
        kept += entry_cache.STATS.stored - before
    return kept


if __name__ == "__main__":  # python -m symgraph.tier_handoff KEY COMPILEDIR
    if hasattr(os, "nice"):
        os.nice(10)
    config.compiledir = sys.argv[2]
    build(sys.argv[1])
