"""Checkpointed backpropagation through a loop: keep one state every ``k`` steps, recompute
each segment of ``k`` steps just before the reverse loop goes through it (Chen et al. 2016).

``scan_L_op`` asks ``plan(...)`` whether the states of every step would pass the loop's
budget (bytes: ``Scan.checkpoint_budget``, else ``config.scan_checkpoint_budget``). Where the
number of steps and the states' shapes are static, that is decided when the gradient is
built; otherwise the segment length is computed at run time: ``ceil(sqrt(n_steps))`` past
the budget, all the steps (one segment) within it. The gradient is then two loops over
segments instead of one reverse loop over stored states:

1. ``checkpoint_loop``: the forward step again, as a loop over the segments (each an inner
   loop of ``k`` steps) that stacks the states at the end of every segment. Its final states
   are the forward loop's, and ``share_forward`` lets it stand in for that loop;
2. the backward loop over the segments, last first, whose step replays its segment from
   its checkpoint (an inner loop stacking ``k`` states) and runs the ordinary reverse step
   over them (an inner reverse loop), carrying the adjoints of the states and the running
   sums of the constants' gradients from segment to segment.

Every step is computed by the same inner graph on the same values, and the sums run in the
same order, as without checkpoints: the gradient is the same bit for bit before rewrites
(after them the constants' sums are one product per segment instead of one over all steps,
which rounds differently). Peak memory is about ``n_steps / k + k`` states instead of
``n_steps``; the price is one more forward pass (none when one segment covers the loop: the
checkpointing loop then keeps every step's values). The budget is a threshold, not a cap:
past it, ~``2 sqrt(n_steps)`` states are held whatever its value.

References
----------
T. Chen, B. Xu, C. Zhang, C. Guestrin, "Training Deep Nets with Sublinear Memory Cost",
arXiv:1604.06174, 2016.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph.config import config
from symgraph.fgraph import OUTPUT, FunctionGraph
from symgraph.graph import Apply, Constant, Variable, equal_computations, graph_inputs
from symgraph.ops import construct, elemwise, subtensor
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import constant
from symgraph.rewrite.canonicalize import scalar_value
from symgraph.rewrite.engine import GraphRewrite
from symgraph.scan.op import Carry, Const, Out, Scan, ScanParts, Seq
from symgraph.type import TensorType

__all__ = ["checkpoint_loop", "plan", "segment_length", "segmented_grads", "share_forward"]


def budget_of(op: Scan) -> int:
    """The loop's checkpoint budget in bytes (0: never checkpoint)."""
    budget = op.checkpoint_budget
    if budget is None:
        budget = config.scan_checkpoint_budget
    return int(budget or 0)


def segment_length(n_steps: int) -> int:
    """``ceil(sqrt(n_steps))``, at least 1: the segment length of least memory (Chen et al.:
    ``n_steps / k`` checkpoints plus ``k`` recomputed states)."""
    k = 1
    while k * k < n_steps:
        k += 1
    return k


def is_checkpointable(op: Scan, node: Any) -> bool:
    """Loops whose states can all be stacked and whose steps can be replayed exactly."""
    if op.until or op.truncate_gradient >= 0:
        return False
    variables = list(node.inputs) + list(op.inner.variables())
    return all(isinstance(v.type, TensorType) for v in variables)


def plan(op: Scan, node: Any) -> Any | None:
    """None for the ordinary gradient (stored states), else the segment length: an int, or a
    0-d int64 variable computed at run time."""
    budget = budget_of(op)
    if budget <= 0 or not is_checkpointable(op, node):
        return None
    n_steps = node.inputs[0]
    inits = op.split_outer_inputs(node.inputs)[2]
    static_steps = _static_int(n_steps)
    static_bytes = _static_state_bytes(inits)
    if static_steps is not None and static_bytes is not None:
        if static_steps * static_bytes <= budget:
            return None
        return segment_length(static_steps)
    steps = elemwise.cast(n_steps, "int64")
    per_step = _state_bytes(inits)
    root = elemwise.cast(elemwise.ceil(elemwise.sqrt(elemwise.cast(steps, "float64"))), "int64")
    over = elemwise.gt(steps * per_step, constant(budget, dtype="int64"))
    length = elemwise.switch(over, elemwise.maximum(root, 1), elemwise.maximum(steps, 1))
    return length


def _static_int(var: Any) -> int | None:
    if isinstance(var, Constant):
        return int(var.data)
    value = scalar_value(var)
    return None if value is None else int(value)


def _static_state_bytes(inits: list[Any]) -> int | None:
    total = 0
    for init in inits:
        if any(d is None for d in init.type.shape):
            return None
        size = 1
        for d in init.type.shape:
            size *= d
        total += size * np.dtype(init.type.dtype).itemsize
    return total


def _state_bytes(inits: list[Any]) -> Any:
    total: Any = constant(0, dtype="int64")
    for init in inits:
        size: Any = constant(np.dtype(init.type.dtype).itemsize, dtype="int64")
        for d in range(init.ndim):
            size = size * shape_ops.shape_i(init, d)
        total = total + size
    return total


# ---------------------------------------------------------------------------------------------
# The two loops over segments
# ---------------------------------------------------------------------------------------------

@dataclass
class Reverse:
    """What ``grad.py`` hands over: the reverse step and the seeds of the outputs."""

    back: Any             # grad._Backward
    finals_g: list[Any]   # seeds of the final states (None: zero)
    ys_g: list[Any]       # seeds of the stacked outputs (None: zero)
    assemble: Any         # grad._assemble_grads
    feeds_type: Any       # grad._Feeds


def segmented_grads(op: Scan, node: Any, parts: ScanParts, rev: Reverse,
                    k: Any) -> list[Any]:
    """Gradients of ``node``'s inputs, ``[None, consts, inits, sequences]``, by segments of
    ``k`` steps."""
    steps = elemwise.cast(node.inputs[0], "int64")
    k_var = constant(k, dtype="int64") if isinstance(k, int) else k
    n_seg = elemwise.int_div(steps + (k_var - 1), k_var)  # as share_forward rebuilds it
    wanted, residuals = _wanted(parts, rev.back)
    extra = [parts.carries[kk].new for kk in wanted] + residuals
    starts, kept = _checkpoints(parts, steps, k_var, n_seg, extra)
    return _backward(op, parts, rev, steps, k_var, n_seg, starts, kept)


def _placeholder(var: Any, name: str | None = None) -> Variable:
    return var.type.make_variable(name or getattr(var, "name", None))


def _segment(index: Any, steps: Any, k: Any) -> tuple[Any, Any]:
    """First step and number of steps of segment ``index``."""
    start = index * k
    return start, elemwise.minimum(k, steps - start)


def _checkpoints(parts: ScanParts, steps: Any, k: Any, n_seg: Any,
                 extra: list[Any]) -> tuple[list[Any], list[Any]]:
    """For each state, its value at the start of every segment, ``(n_seg, *shape)``; and for
    each of ``extra``, its values at every step of every segment, ``(n_seg, rows, *shape)``,
    which has rows only when one segment covers the whole loop."""
    result = checkpoint_loop(parts, steps, k, n_seg, extra)
    stacked = result.op.split_outer_outputs(result.outputs)[1]  # type: ignore[attr-defined]
    nk = len(parts.carries)
    starts = [shape_ops.concatenate([shape_ops.expand_dims(c.init, 0), rows[:-1]])
              for c, rows in zip(parts.carries, stacked[:nk])]
    return starts, list(stacked[nk:])


def checkpoint_loop(parts: ScanParts, steps: Any, k: Any, n_seg: Any,
                    extra: list[Any]) -> Apply:
    """The forward loop as a loop over its ``n_seg`` segments (each an inner loop of ``k``
    steps), stacking the states at the end of every segment. Its final states are the
    forward loop's: ``share_forward`` lets it stand in for that loop. ``k`` is its last
    constant.

    When one segment covers the loop (``k >= n_steps``: the states fit the budget), it also
    keeps the values of the inner variables ``extra`` at every step, which the reverse pass
    then reads instead of replaying the segment: below the budget, checkpointing costs no
    second forward pass. Otherwise those outputs have no rows.
    """
    body = _Body(parts, steps, None)
    k_inner = _placeholder(k)
    index = TensorType("int64", ()).make_variable("segment")
    start, length = _segment(index, body.steps, k_inner)
    states = [_placeholder(c.inner) for c in parts.carries]
    inner = body.replay(start, length, states, ys=extra)
    finals = inner.outputs[:len(parts.carries)]
    histories = inner.op.split_outer_outputs(inner.outputs)[1]  # type: ignore[attr-defined]
    whole = elemwise.switch(elemwise.ge(k_inner, body.steps), length, 0)
    loop = ScanParts(n_seg, name=f"checkpoints_of_{parts.name or 'scan'}", checkpoint_budget=0)
    loop.consts = body.consts() + [Const(k, k_inner)]
    loop.carries = [Carry(c.init, s, f) for c, s, f in zip(parts.carries, states, finals)]
    loop.carries.append(Carry(constant(0, dtype="int64"), index, index + 1))
    loop.ys = [Out(f) for f in finals]  # a new state: an empty loop knows its shape
    loop.ys += [Out(h[:whole]) for h in histories]
    return loop.apply()


def share_forward(fgraph: FunctionGraph) -> int:
    """A loop of which only the final states (or ``h[-1]`` of their histories) are read gives
    way to the checkpointing loop a gradient built from it (``checkpoint_loop``: the same
    steps, segment by segment, with the same final states), so that the forward pass runs
    once. Runs before any other rewrite, while both loops are as built."""
    loops = [n for n in fgraph.toposort() if isinstance(n.op, Scan)]
    candidates = [n for n in loops if (_scan(n).name or "").startswith("checkpoints_of_")]
    changes = 0
    for node in loops:
        reads = _final_reads(fgraph, node)
        if reads is None:
            continue
        for other in candidates:
            if other in fgraph.apply_nodes and _builds_from(node, other):
                shared = _scan(other).split_outer_outputs(other.outputs)[0]
                pairs = [(var, shared[k]) for var, k in reads]
                fgraph.replace_all(pairs, reason="share_forward")
                changes += 1
                break
    return changes


def _final_reads(fgraph: FunctionGraph, node: Apply) -> list[tuple[Any, int]] | None:
    """``(variable, carry index)`` for every read of ``node``: a final state, or ``h[-1]`` of
    a state's history ``h``; None if it has any other reader or stops early."""
    op = _scan(node)
    if op.until:
        return None
    finals, stacked, _ = op.split_outer_outputs(node.outputs)
    reads = [(f, k) for k, f in enumerate(finals) if fgraph.clients.get(f)]
    new_carries, ys, _ = op.split_inner_outputs()
    for y, out in zip(ys, stacked):
        for client, _ in fgraph.clients.get(out, []):
            if client == OUTPUT or not isinstance(client.op, subtensor.Subtensor) or \
                    tuple(client.op.idx_list) != (-1,) or len(client.inputs) != 1 or \
                    y not in new_carries:
                return None
            reads.append((client.outputs[0], new_carries.index(y)))
    return reads


share_forward_pass = GraphRewrite("scan_share_forward", share_forward)


def _scan(node: Apply) -> Scan:
    assert isinstance(node.op, Scan)
    return node.op


def _builds_from(node: Apply, other: Apply) -> bool:
    """Whether ``other`` is ``checkpoint_loop`` of ``node`` (same structure, same inputs)."""
    op = _scan(other)
    if op.n_consts < 1 or op.n_carries != _scan(node).n_carries + 1:
        return False
    k = op.split_outer_inputs(other.inputs)[1][-1]
    segment_loops = [n for n in op.inner.nodes() if isinstance(n.op, Scan)]
    if len(segment_loops) != 1:
        return False
    replay = _scan(segment_loops[0])
    extra = list(replay.inner.outputs[replay.n_carries:])
    parts = ScanParts.from_node(node)
    steps = elemwise.cast(node.inputs[0], "int64")
    expected = checkpoint_loop(parts, steps, k, elemwise.int_div(steps + (k - 1), k), extra)
    return expected.op == op and equal_computations(list(expected.inputs),
                                                     list(other.inputs))


class _Body:
    """The outer values a segment loop's step reads (constants, whole sequences, seeds, the
    number of steps and the segment length) as placeholders of that step."""

    def __init__(self, parts: ScanParts, steps: Any, k: Any) -> None:
        self.parts = parts
        self.pairs: list[tuple[Any, Any]] = []
        self.consts_ = [self.bind(c.outer) for c in parts.consts]
        self.seqs_ = [self.bind(s.outer) for s in parts.seqs]
        self.steps = self.bind(steps)
        self.k = None if k is None else self.bind(k)

    def bind(self, outer: Any) -> Any:
        if isinstance(outer, Constant):
            return outer
        for value, ph in self.pairs:
            if value is outer:
                return ph
        ph = _placeholder(outer)
        self.pairs.append((outer, ph))
        return ph

    def consts(self) -> list[Const]:
        return [Const(outer, ph) for outer, ph in self.pairs]

    def replay(self, start: Any, length: Any, states: list[Any], ys: list[Any],
               n_steps: Any = None) -> Any:
        """The forward loop over ``length`` steps from ``start`` (or the first ``n_steps`` of
        them), states ``states``, stacking the inner values ``ys``."""
        parts = self.parts
        loop = ScanParts(length if n_steps is None else n_steps,
                         name=f"{parts.name or 'scan'}_segment", checkpoint_budget=0)
        loop.consts = [Const(ph, c.inner) for ph, c in zip(self.consts_, parts.consts)]
        loop.carries = [Carry(s, c.inner, c.new) for s, c in zip(states, parts.carries)]
        loop.seqs = [Seq(ph[start:start + length], s.inner)
                     for ph, s in zip(self.seqs_, parts.seqs)]
        loop.ys = [Out(y) for y in ys]
        return loop.apply()


def _backward(op: Scan, parts: ScanParts, rev: Reverse, steps: Any, k: Any, n_seg: Any,
              starts: list[Any], kept: list[Any]) -> list[Any]:
    back = rev.back
    body = _Body(parts, steps, k)
    index = TensorType("int64", ()).make_variable("segment")
    start, length = _segment(index, body.steps, body.k)
    states = [_placeholder(c.inner) for c in parts.carries]
    seed_phs = {j: body.bind(rev.ys_g[j]) for j in back.out_seeds}
    adjoint_phs = {kk: _placeholder(back.adjoints[kk]) for kk in back.adjoints}
    wanted, residuals = _wanted(parts, back)
    # the rows the checkpointing loop kept (all of the segment, or none) and the replay of
    # the others
    rows_kept = [_placeholder(rows[0], "kept") for rows in kept]
    done = shape_ops.shape_i(rows_kept[0], 0) if rows_kept else 0
    replayed = body.replay(start, length, states,
                           [parts.carries[kk].new for kk in wanted] + residuals,
                           n_steps=length - done)
    stacked = replayed.op.split_outer_outputs(replayed.outputs)[1]  # type: ignore[attr-defined]
    stacked = [shape_ops.concatenate([r, _rows_like(h, r)]) for r, h in zip(rows_kept, stacked)]
    feeds = rev.feeds_type()
    for kk, history in zip(wanted, stacked):
        ph = back.states[parts.carries[kk].inner]
        feeds.sequences[ph] = shape_ops.concatenate(
            [shape_ops.expand_dims(states[kk], 0), history[:-1]])
        feeds.exact.add(ph)
    for r, history in zip(residuals, stacked[len(wanted):]):
        feeds.sequences[back.residuals[r]] = history
        feeds.exact.add(back.residuals[r])
    used = _used(back)
    for s, ph in zip(parts.seqs, body.seqs_):
        if back.xs[s.inner] in used:
            feeds.sequences[back.xs[s.inner]] = ph[start:start + length]
    for j, seed in back.out_seeds.items():
        feeds.sequences[seed] = seed_phs[j][start:start + length]
        feeds.exact.add(seed)
    segment_parts = ScanParts(length, name=parts.name)
    segment_parts.consts = [Const(ph, c.inner) for ph, c in zip(body.consts_, parts.consts)]
    segment_parts.carries = [Carry(s, c.inner, c.new) for s, c in zip(states, parts.carries)]
    segment_parts.seqs = [Seq(ph[start:start + length], s.inner)
                          for ph, s in zip(body.seqs_, parts.seqs)]
    finals_g = [adjoint_phs.get(kk) for kk in range(len(parts.carries))]
    # the sums of the constants' gradients run on from segment to segment, in the order
    # (and so to the same rounding) of the reverse loop without checkpoints
    sums = {c.inner: _placeholder(c.inner, f"acc_{c.inner.name or 'c'}")
            for c in parts.consts if c.inner in back.grads}
    grads = rev.assemble(op, None, segment_parts, back, finals_g, feeds, length, length, sums)
    loop = _Loop(index, n_seg, k, steps, states, list(zip(kept, rows_kept)))
    return _outer_loop(op, parts, body, loop, starts, adjoint_phs, sums, rev, grads)


def _rows_like(rows: Any, like: Any) -> Any:
    """``rows`` with the trailing dimensions of ``like``: a loop of no step cannot know the
    shape of a per-step value, and makes its stacked output ``(0, 0, ...)``."""
    dims = [shape_ops.shape_i(like, d) for d in range(1, like.ndim)]
    return shape_ops.reshape(rows, [shape_ops.shape_i(rows, 0), *dims])


@dataclass
class _Loop:
    """The backward loop's index and state placeholders, with its outer sizes."""

    index: Any
    n_seg: Any
    k: Any
    steps: Any
    states: list[Any]
    kept: list[tuple[Any, Any]]  # (outer rows kept by the checkpointing loop, placeholder)


def _used(back: Any) -> set[Any]:
    return set(graph_inputs(list(back.grads.values())))


def _wanted(parts: ScanParts, back: Any) -> tuple[list[int], list[Any]]:
    used = _used(back)
    wanted = [kk for kk, c in enumerate(parts.carries) if back.states[c.inner] in used]
    residuals = [r for r, ph in back.residuals.items() if ph in used]
    return wanted, residuals


def _outer_loop(op: Scan, parts: ScanParts, body: _Body, segs: _Loop, starts: list[Any],
                adjoint_phs: dict[int, Any], sums: dict[Any, Any], rev: Reverse,
                grads: list[Any]) -> list[Any]:
    """The loop over segments, last first, carrying adjoints and constant gradients."""
    nc, nk = len(parts.consts), len(parts.carries)
    const_g, carry_g, seq_g = grads[1:1 + nc], grads[1 + nc:1 + nc + nk], grads[1 + nc + nk:]
    loop = ScanParts(segs.n_seg, name=f"grad_of_{op.name or 'scan'}_by_segments",
                     checkpoint_budget=0)
    finals: dict[str, int] = {}
    for kk, ph in adjoint_phs.items():
        init = rev.finals_g[kk] if rev.finals_g[kk] is not None else \
            elemwise.zeros_like(parts.carries[kk].init)
        new = carry_g[kk] if carry_g[kk] is not None else elemwise.zeros_like(ph)
        finals[f"carry{kk}"] = len(loop.carries)
        loop.carries.append(Carry(init, ph, new))
    for i, (c, g) in enumerate(zip(parts.consts, const_g)):
        if g is None:
            continue
        finals[f"const{i}"] = len(loop.carries)
        loop.carries.append(Carry(elemwise.zeros_like(c.outer), sums[c.inner], g))
    loop.carries.append(Carry(segs.n_seg - 1, segs.index, segs.index - 1))
    loop.seqs = [Seq(rows[::-1], s) for rows, s in zip(starts, segs.states)]
    loop.seqs += [Seq(rows[::-1], ph) for rows, ph in segs.kept]
    ys_at = {}
    for i, g in enumerate(seq_g):
        if g is not None:
            ys_at[i] = len(loop.ys)
            loop.ys.append(Out(_padded(g, body.k)))
    loop.consts = body.consts()
    result = loop.apply()
    outs, stacked, _ = result.op.split_outer_outputs(result.outputs)  # type: ignore[attr-defined]
    out: list[Any] = [None]
    out += [outs[finals[f"const{i}"]] if f"const{i}" in finals else None
            for i in range(nc)]
    out += [outs[finals[f"carry{kk}"]] if f"carry{kk}" in finals else None for kk in range(nk)]
    for i, s in enumerate(parts.seqs):
        if i not in ys_at:
            out.append(None)
            continue
        rows = stacked[ys_at[i]][::-1]
        dims = [shape_ops.shape_i(s.outer, d) for d in range(1, s.outer.ndim)]
        flat = shape_ops.reshape(rows, [segs.n_seg * segs.k, *dims])[:segs.steps]
        region = elemwise.zeros_like(s.outer)[:segs.steps]
        out.append(subtensor.set_subtensor(region, flat))
    return out


def _padded(g: Any, k: Any) -> Any:
    """A segment's ``(length, ...)`` gradient rows padded with zeros to ``(k, ...)``."""
    length = shape_ops.shape_i(g, 0)
    dims = [shape_ops.shape_i(g, d) for d in range(1, g.ndim)]
    zeros = construct.zeros([k - length, *dims], dtype=g.dtype)
    return shape_ops.concatenate([g, zeros])
