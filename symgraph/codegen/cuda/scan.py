"""``Scan`` on the GPU: the inner graph is linked once with a device boundary, so carries,
sequences (row views) and per-step outputs never leave the GPU; every step's kernels are queued
on the stream and the host never waits for them. Only ``until`` needs the condition back on the
host after each step (one small transfer per step).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.codegen.cuda import launch, placement
from symgraph.codegen.cuda.array import DeviceArray
from symgraph.codegen.cuda.rules import Lowering, Rule, Thunk, tensors_only
from symgraph.graph import Apply
from symgraph.scan.op import Scan, check_steps, scan_title


def _inner_tensors(op: Scan) -> bool:
    return all(getattr(v.type, "ndim", None) is not None for v in op.inner.inputs +
               op.inner.outputs)


def lower_scan(node: Apply) -> Lowering | None:
    if not tensors_only(node) or not _inner_tensors(node.op):
        return None

    def build(ctx: Any, node: Apply, ins: list[list[Any]], outs: list[list[Any]]) -> Thunk:
        loop = DeviceLoop(ctx, node)

        def thunk() -> None:
            for cell, value in zip(outs, loop.run([cell[0] for cell in ins])):
                cell[0] = value

        return thunk

    return Lowering(build, frozenset({0}), note="scan: loop on the host, steps on the GPU")


class DeviceLoop:
    """Runs a Scan node whose values all live on the device."""

    def __init__(self, ctx: Any, node: Apply) -> None:
        self.ctx, self.device, self.node, self.op = ctx, ctx.device, node, node.op
        self.linked = ctx.backend.link(self.op.inner.fgraph(), boundary=placement.DEVICE)
        self.y_dtypes = [o.type.dtype for o in self.op.split_outer_outputs(node.outputs)[1]]

    def run(self, inputs: list[Any]) -> list[Any]:
        op = self.op
        n_steps, consts, carries, seqs = op.split_outer_inputs(inputs)
        n = check_steps(self.node, n_steps, seqs)
        first = op.n_consts + op.n_carries
        values = list(consts) + list(carries) + [None] * op.n_seqs
        stacked: list[DeviceArray | None] = [None] * op.n_ys
        done = n
        for t in range(n):
            for i, seq in enumerate(seqs):
                values[first + i] = seq.index_view((t,))
            outs = self.linked.run(values)
            self._store(t, n, outs, values, stacked)
            if op.until and bool(np.asarray(_host(outs[-1]))):
                done = t + 1
                break
        finals = [v.copy() if any(v is x for x in inputs) else v
                  for v in values[op.n_consts:first]]
        ys = [self._empty(j, carries) if s is None else s.index_view((slice(0, done),))
              for j, s in enumerate(stacked)]
        counts = [self.device.to_device(np.asarray(done, dtype="int64"))] if op.until else []
        return finals + ys + counts

    def _store(self, t: int, n: int, outs: list[Any], values: list[Any],
               stacked: list[DeviceArray | None]) -> None:
        op, nc = self.op, self.op.n_consts
        for k in range(op.n_carries):
            new, old = outs[k], values[nc + k]
            if new.shape != old.shape:
                raise ValueError(f"{scan_title(op.name)}, step {t}: the new value of state {k} "
                                 f"has shape {new.shape}, but its initial state has shape "
                                 f"{old.shape}; a loop state must keep its shape")
            values[nc + k] = new
        for j in range(op.n_ys):
            y = self.device.to_device(outs[op.n_carries + j])
            if stacked[j] is None:
                stacked[j] = self.device.empty((n, *y.shape), self.y_dtypes[j])
            elif y.shape != stacked[j].shape[1:]:
                raise ValueError(f"{scan_title(op.name)}, step {t}: per-step output {j} has "
                                 f"shape {y.shape}, at step 0 it had {stacked[j].shape[1:]}")
            launch.copy_into(self.device, y, stacked[j].index_view((t,)))

    def _empty(self, j: int, carries: list[Any]) -> DeviceArray:
        new_carries, ys, _ = self.op.split_inner_outputs()
        y = ys[j]
        if y in new_carries:
            shape = carries[new_carries.index(y)].shape
        else:
            shape = tuple(0 if s is None else s for s in y.type.shape)
        return self.device.empty((0, *shape), self.y_dtypes[j])


def _host(value: Any) -> Any:
    return value.get() if isinstance(value, DeviceArray) else value


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    Scan: lower_scan,
}
