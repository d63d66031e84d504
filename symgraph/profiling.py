"""Profile of a compiled function: calls, time per node and per op class, compile phases."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from typing import Any


@functools.cache
def clock_read_seconds() -> float:
    """An upper bound of one clock read (``clock_gettime``, which the compiled code calls twice
    per profiled node): the best of a few loops of ``time.perf_counter_ns`` from Python, whose
    own call overhead is included."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(2000):
            time.perf_counter_ns()
        best = min(best, (time.perf_counter_ns() - start) / 2000)
    return best * 1e-9


class ProfileStats:
    """Collected by ``function(..., profile=True)``; read it with ``summary()``."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.calls = 0
        self.call_time = 0.0
        self.compile_time = 0.0
        self.phase_time: dict[str, float] = {}
        self.node_time: dict[Any, float] = defaultdict(float)
        self.node_calls: dict[Any, int] = defaultdict(int)
        self.node_notes: dict[Any, str] = {}

    def record_phase(self, phase: str, seconds: float) -> None:
        self.phase_time[phase] = self.phase_time.get(phase, 0.0) + seconds

    def record_node(self, node: Any, seconds: float) -> None:
        self.node_time[node] += seconds
        self.node_calls[node] += 1

    def record_call(self, seconds: float) -> None:
        self.calls += 1
        self.call_time += seconds

    def op_class_time(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for node, seconds in self.node_time.items():
            totals[type(node.op).__name__] += seconds
        return dict(totals)

    def summary(self, top: int = 20) -> str:
        """A text report: totals, compile phases, op classes and the slowest nodes."""
        lines = [f"Function profile{f' {self.name!r}' if self.name else ''}",
                 f"  calls: {self.calls}, total call time {self.call_time * 1e3:.3f} ms"
                 + (f", {self.call_time / self.calls * 1e6:.1f} us/call" if self.calls else ""),
                 f"  compile time: {self.compile_time * 1e3:.2f} ms"]
        for phase, seconds in self.phase_time.items():
            lines.append(f"    {phase:<28} {seconds * 1e3:9.3f} ms")
        node_total = sum(self.node_time.values()) or 1.0
        if self.calls and self.node_time:
            # What the node times leave out, and what timing them adds (issue 18: the profile
            # must not blame a node for its own measurement).
            timing = 2 * clock_read_seconds() * sum(self.node_calls.values())
            lines.append(f"  time in nodes: {node_total * 1e3:.3f} ms of the call time; the "
                         f"rest ({max(self.call_time - node_total, 0.0) * 1e3:.3f} ms) is "
                         f"argument checks, allocation and the call itself")
            lines.append(f"  timing overhead: two clock reads per node call, at most "
                         f"{timing * 1e3:.3f} ms in all ({timing / self.call_time:.1%} of the "
                         f"call time; {clock_read_seconds() * 1e9:.0f} ns per read at most)")
        lines.append("  time per op class:")
        for cls, seconds in sorted(self.op_class_time().items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"    {seconds / node_total:6.1%} {seconds * 1e3:9.3f} ms  {cls}")
        lines.append("  slowest nodes:")
        ranked = sorted(self.node_time.items(), key=lambda kv: -kv[1])[:top]
        for node, seconds in ranked:
            note = self.node_notes.get(node, "")
            lines.append(f"    {seconds / node_total:6.1%} {seconds * 1e3:9.3f} ms "
                         f"{self.node_calls[node]:6d}x  {node.op}{'  ' + note if note else ''}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
