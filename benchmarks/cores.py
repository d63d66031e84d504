"""Which cores a benchmark process is pinned to: the ``count`` least busy of those this
process may use, judged from /proc/stat over a short interval (other work on a shared machine
then disturbs the timings least), or the first ``count`` where /proc/stat is unreadable."""

from __future__ import annotations

import os
import time


def _busy() -> dict[int, int]:
    """Jiffies each core spent not idle (user, nice, system, irq, softirq, steal)."""
    busy = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                values = [int(v) for v in fields[:8]]
                busy[int(name[3:])] = sum(values) - values[3] - values[4]  # less idle, iowait
    return busy


def quietest(count: int, interval: float = 0.5) -> set[int] | None:
    """The ``count`` allowed cores that were least busy over ``interval`` seconds; None where
    this system has no CPU affinity."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    try:
        before = _busy()
        time.sleep(interval)
        after = _busy()
    except (OSError, ValueError):
        return set(allowed[:count])
    load = {c: after.get(c, 0) - before.get(c, 0) for c in allowed}
    return set(sorted(allowed, key=lambda c: (load[c], c))[:count])
