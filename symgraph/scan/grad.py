"""Differentiating loops: the gradient of a Scan is a reverse Scan (backpropagation through
time) over the stored states; its tangent (``R_op``) is a Scan carrying tangents forwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from symgraph import dtype as dt
from symgraph.grad import Rop, grad
from symgraph.graph import Apply, Constant, clone_replace, graph_inputs, toposort
from symgraph.ops import elemwise, subtensor
from symgraph.ops import shape as shape_ops
from symgraph.rewrite.canonicalize import scalar_value
from symgraph.scan import segmented
from symgraph.scan.op import Carry, Const, Out, Scan, ScanParts, Seq
from symgraph.type import TensorType

__all__ = ["scan_L_op", "scan_R_op"]


def _is_float(var: Any) -> bool:
    return isinstance(var.type, TensorType) and dt.is_float(var.type.dtype)


def _nonzero(g: Any) -> Any:
    """``g``, or None when it is missing or a fill of zeros (unused outputs get those)."""
    if g is None or getattr(g, "type", None) is None:
        return None
    return None if scalar_value(g) == 0 else g


# ---------------------------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------------------------

@dataclass
class _Backward:
    """The reverse step: its outputs, placeholders and what feeds each placeholder."""

    adjoints: dict[int, Any] = field(default_factory=dict)      # carry k -> a_k
    out_seeds: dict[int, Any] = field(default_factory=dict)     # y j -> gy_j
    consts: dict[Any, Any] = field(default_factory=dict)   # forward C -> backward
    states: dict[Any, Any] = field(default_factory=dict)   # forward S -> per step
    xs: dict[Any, Any] = field(default_factory=dict)       # forward X -> per step
    residuals: dict[Any, Any] = field(default_factory=dict)
    grads: dict[Any, Any] = field(default_factory=dict)    # forward input -> grad


def scan_L_op(op: Scan, inputs: Sequence[Any], outputs: Sequence[Any],
              output_grads: Sequence[Any]) -> list[Any]:
    """Gradients of a Scan node's inputs: ``[None (n_steps), consts, inits, sequences]``."""
    node = outputs[0].owner
    assert node is not None
    parts = ScanParts.from_node(node)
    finals_g, ys_g, _ = op.split_outer_outputs([_nonzero(g) for g in output_grads])
    if not op.until:
        _seed_last_rows(parts, finals_g, ys_g)
    if all(g is None for g in finals_g + ys_g):
        return [None] * len(inputs)
    back = _reverse_step(op, parts, ys_g)
    if not back.grads:
        return [None] * len(inputs)
    length = None if _histories_held(parts, ys_g) else segmented.plan(op, node)
    if length is not None:  # checkpoints: segments of `length` steps, replayed
        reverse = segmented.Reverse(back, finals_g, ys_g, _assemble_grads, _Feeds)
        return segmented.segmented_grads(op, node, parts, reverse, length)
    steps = node.outputs[-1] if op.until else node.inputs[0]
    kept = steps if op.truncate_gradient < 0 else elemwise.minimum(
        steps, op.truncate_gradient)
    feeds = _per_step_feeds(node, parts, back, ys_g, steps, kept)
    return _assemble_grads(op, node, parts, back, finals_g, feeds, steps, kept)


def _seed_last_rows(parts: ScanParts, finals_g: list[Any], ys_g: list[Any]) -> None:
    """The gradient of ``h[-1]`` for a state's history ``h`` seeds the final state's adjoint
    instead of a ``(n_steps, ...)`` array of zeros with one row set (``h[-1]`` is the final
    state), so that a loss on the last state holds no per-step seed."""
    for j, (y, g) in enumerate(zip(parts.ys, ys_g)):
        last = _last_row(g)
        if last is None:
            continue
        owners = [k for k, c in enumerate(parts.carries) if c.new is y.inner]
        if not owners or last.type.ndim != y.inner.type.ndim:
            continue
        k = owners[0]
        last = elemwise.cast(last, parts.carries[k].inner.type.dtype)
        finals_g[k] = last if finals_g[k] is None else elemwise.add(finals_g[k], last)
        ys_g[j] = None


def _histories_held(parts: ScanParts, ys_g: list[Any]) -> bool:
    """Whether the loss reads a float state at every step: the forward then holds
    ``n_steps`` states anyway, and checkpointing would not change the order of memory."""
    seeded = {y.inner for y, g in zip(parts.ys, ys_g) if g is not None}
    return any(c.new in seeded for c in parts.carries if _is_float(c.inner))


def _last_row(g: Any) -> Any | None:
    """``v`` when ``g`` is ``inc_subtensor(zeros, v)[-1]`` (or ``set_subtensor``), else None."""
    node = getattr(g, "owner", None)
    if node is None or not isinstance(node.op, subtensor.IncSubtensor):
        return None
    if tuple(node.op.idx_list) != (-1,) or scalar_value(node.inputs[0]) != 0:
        return None
    return node.inputs[1]


def _reverse_step(op: Scan, parts: ScanParts, ys_g: list[Any]) -> _Backward:
    """The VJP of one step, rewritten over backward placeholders."""
    back = _Backward()
    known: dict[Any, Any] = {}
    for k, carry in enumerate(parts.carries):
        if _is_float(carry.inner):
            back.adjoints[k] = carry.inner.type.make_variable(f"d{carry.inner.name or 'h'}")
            _add_seed(known, carry.new, back.adjoints[k])
    for j, (y, g) in enumerate(zip(parts.ys, ys_g)):
        if g is not None and _is_float(y.inner):
            back.out_seeds[j] = y.inner.type.make_variable(f"dy{j}")
            _add_seed(known, y.inner, back.out_seeds[j])
    wrt = [c.inner for c in parts.consts] + [c.inner for c in parts.carries] + \
        [s.inner for s in parts.seqs]
    wrt = [w for w in wrt if _is_float(w)]
    if not known or not wrt:
        return back
    grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                 return_disconnected="none")
    raw = {w: g for w, g in zip(wrt, grads) if g is not None}
    if not raw:
        return back
    stored = _residuals(op, list(raw.values()))
    back.consts = {c.inner: c.inner.type.make_variable(c.inner.name) for c in parts.consts}
    back.states = {c.inner: c.inner.type.make_variable(c.inner.name) for c in parts.carries}
    back.xs = {s.inner: s.inner.type.make_variable(s.inner.name) for s in parts.seqs}
    back.residuals = {r: r.type.make_variable(f"residual{i}") for i, r in enumerate(stored)}
    replace = {**back.consts, **back.states, **back.xs, **back.residuals}
    keys = list(raw)
    back.grads = dict(zip(keys, clone_replace([raw[w] for w in keys], replace)))
    return back


def _add_seed(known: dict[Any, Any], var: Any, seed: Any) -> None:
    if isinstance(var, Constant):
        return
    known[var] = elemwise.add(known[var], seed) if var in known else seed


def _residuals(op: Scan, vjp_outputs: list[Any]) -> list[Any]:
    """Forward values the reverse step reads that change from step to step, to be stored.

    With ``save_residuals=False`` only those that depend on a state that cannot be stored
    (a random generator) are; the others are recomputed from the stored states.
    """
    forward_nodes = set(op.inner.nodes())
    _, carries, xs = op.split_inner_inputs()
    varying = set(carries) | set(xs)
    unstackable = {c for c in carries if not isinstance(c.type, TensorType)}
    for node in op.inner.nodes():
        if any(i in varying for i in node.inputs):
            varying.update(node.outputs)
        if any(i in unstackable for i in node.inputs):
            unstackable.update(node.outputs)
    inputs = set(op.inner.inputs)
    read: list[Any] = [v for v in vjp_outputs if v in varying]
    for node in toposort(vjp_outputs):
        if node in forward_nodes:
            continue
        read += [i for i in node.inputs if i in varying and i not in read]
    stored = []
    for var in read:
        if var in inputs or not isinstance(var.type, TensorType):
            continue
        if op.save_residuals or var in unstackable:
            stored.append(var)
    return list(dict.fromkeys(stored))


@dataclass
class _Feeds:
    """Forward-ordered sequences (at least ``steps`` rows) for the backward placeholders."""

    sequences: dict[Any, Any] = field(default_factory=dict)  # placeholder -> seq
    exact: set[Any] = field(default_factory=set)  # placeholders whose seq has steps rows


def _per_step_feeds(node: Apply, parts: ScanParts, back: _Backward, ys_g: list[Any],
                    steps: Any, kept: Any) -> _Feeds:
    """Histories of states and residuals (from this node, or a twin storing more), inputs."""
    used = set(graph_inputs(list(back.grads.values())))
    history = _Histories(parts)
    wanted_states = [k for k, c in enumerate(parts.carries) if back.states[c.inner] in used]
    for k in wanted_states:
        if not isinstance(parts.carries[k].inner.type, TensorType):
            raise NotImplementedError(
                f"the gradient of {node.op} needs the state {parts.carries[k].inner} of type "
                f"{parts.carries[k].inner.type} at every step, which cannot be stored")
    residuals = [r for r, ph in back.residuals.items() if ph in used]
    missing = [v for v in [parts.carries[k].new for k in wanted_states] + residuals
               if not history.available(v)]
    if missing:
        history.stored.update(_stored_twin(node, list(dict.fromkeys(missing))))
    feeds = _Feeds()
    for k in wanted_states:
        placeholder = back.states[parts.carries[k].inner]
        feeds.sequences[placeholder] = history.before(k)
        feeds.exact.add(placeholder)
    for r in residuals:
        feeds.sequences[back.residuals[r]] = history.of(r)
        feeds.exact.add(back.residuals[r])
    for seq in parts.seqs:
        if back.xs[seq.inner] in used:
            feeds.sequences[back.xs[seq.inner]] = seq.outer
    for j, seed in back.out_seeds.items():
        feeds.sequences[seed] = ys_g[j]
        feeds.exact.add(seed)
    return feeds


class _Histories:
    """Forward-ordered values of inner variables at every step, from the stacked outputs.

    A state's value before each step is its initial value followed by the values its new
    carry took; a carry whose new value is another carry (a tap register) reads that one's.
    """

    def __init__(self, parts: ScanParts) -> None:
        self.parts = parts
        self.stored: dict[Any, Any] = {y.inner: y.output for y in parts.ys
                                                 if y.output is not None}
        self.carry_of = {c.inner: k for k, c in enumerate(parts.carries)}

    def available(self, var: Any) -> bool:
        seen = set()
        while var not in self.stored:
            k = self.carry_of.get(var)
            if k is None or k in seen:
                return False
            seen.add(k)
            var = self.parts.carries[k].new
        return True

    def of(self, var: Any) -> Any:
        if var in self.stored:
            return self.stored[var]
        return self.before(self.carry_of[var])

    def before(self, k: int) -> Any:
        carry = self.parts.carries[k]
        return shape_ops.concatenate([shape_ops.expand_dims(carry.init, 0),
                                      self.of(carry.new)[:-1]])


def _stored_twin(node: Apply, extra: list[Any]) -> dict[Any, Any]:
    """The same loop also stacking ``extra`` inner values; merging rewrites fuse the two."""
    twin = ScanParts.from_node(node)
    for var in extra:
        twin.ys.append(Out(var))
    new = twin.apply()
    stacked = new.op.split_outer_outputs(new.outputs)[1]  # type: ignore[attr-defined]
    return dict(zip(extra, stacked[len(stacked) - len(extra):]))


def _window(seq: Any, steps: Any, kept: Any, exact: bool,
            truncated: bool) -> Any:
    """Rows ``steps-kept .. steps-1`` of ``seq``, last first (the backward loop's order)."""
    if not truncated:
        return seq[::-1] if exact else seq[:steps][::-1]
    return seq[steps - kept:steps][::-1]


def _assemble_grads(op: Scan, node: Apply, parts: ScanParts, back: _Backward,
                    finals_g: list[Any], feeds: _Feeds, steps: Any,
                    kept: Any, const_inits: dict[Any, Any] | None = None) -> list[Any]:
    """The reverse loop and the gradients it gives; ``const_inits`` (inner constant ->
    outer value) starts the constants' gradient sums elsewhere than at zero."""
    truncated = op.truncate_gradient >= 0
    bw = ScanParts(kept, name=f"grad_of_{op.name or 'scan'}", save_residuals=op.save_residuals)
    used = set(graph_inputs(list(back.grads.values())))
    bw.consts = [Const(c.outer, back.consts[c.inner]) for c in parts.consts
                 if back.consts[c.inner] in used]
    adjoint_at = {}
    for k, a in back.adjoints.items():
        carry = parts.carries[k]
        init = finals_g[k] if finals_g[k] is not None else elemwise.zeros_like(carry.init)
        new = back.grads.get(carry.inner)
        adjoint_at[k] = len(bw.carries)
        bw.carries.append(Carry(init, a, new if new is not None else elemwise.zeros_like(a)))
    const_at = {}
    for c in parts.consts:
        g = back.grads.get(c.inner)
        if g is not None:
            acc = c.inner.type.make_variable(f"acc_{c.inner.name or 'c'}")
            const_at[c.inner] = len(bw.carries)
            start = (const_inits or {}).get(c.inner)
            if start is None:
                start = elemwise.zeros_like(c.outer)
            bw.carries.append(Carry(start, acc, elemwise.add(acc, g)))
    for ph, seq in feeds.sequences.items():
        bw.seqs.append(Seq(_window(seq, steps, kept, ph in feeds.exact, truncated), ph))
    seq_at = {}
    for s in parts.seqs:
        g = back.grads.get(s.inner)
        if g is not None:
            seq_at[s.inner] = len(bw.ys)
            bw.ys.append(Out(g))
    result = bw.apply()
    finals, stacked, _ = result.op.split_outer_outputs(result.outputs)  # type: ignore[attr-defined]
    grads: list[Any] = [None]
    grads += [finals[const_at[c.inner]] if c.inner in const_at else None for c in parts.consts]
    for k, carry in enumerate(parts.carries):
        g = finals[adjoint_at[k]] if k in adjoint_at else None
        if g is not None and truncated:
            g = elemwise.switch(elemwise.lt(kept, steps), elemwise.zeros_like(g), g)
        grads.append(g)
    for s in parts.seqs:
        if s.inner not in seq_at:
            grads.append(None)
            continue
        forward = stacked[seq_at[s.inner]][::-1]
        region = elemwise.zeros_like(s.outer)[steps - kept:steps]
        grads.append(subtensor.set_subtensor(region, forward))
    return grads


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------

def scan_R_op(op: Scan, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
    """Tangents of a Scan node's outputs: a loop carrying states and their tangents."""
    node = op.make_node(*inputs)
    parts = ScanParts.from_node(node)
    _, const_points, init_points, seq_points = op.split_outer_inputs(list(eval_points))
    tangents: dict[Any, Any] = {}
    jvp = ScanParts(parts.n_steps, list(parts.consts), list(parts.carries), list(parts.seqs),
                    list(parts.ys), parts.cond, -1, parts.save_residuals,
                    f"rop_of_{op.name or 'scan'}")
    for const, point in zip(parts.consts, const_points):
        if point is not None and _is_float(const.inner):
            tangents[const.inner] = const.inner.type.make_variable(f"d{const.inner.name or 'c'}")
            jvp.consts.append(Const(point, tangents[const.inner]))
    for seq, point in zip(parts.seqs, seq_points):
        if point is not None and _is_float(seq.inner):
            tangents[seq.inner] = seq.inner.type.make_variable(f"d{seq.inner.name or 'x'}")
            jvp.seqs.append(Seq(point, tangents[seq.inner]))
    float_carries = [c for c in parts.carries if _is_float(c.inner)]
    for c in float_carries:
        tangents[c.inner] = c.inner.type.make_variable(f"d{c.inner.name or 'h'}")
    float_ys = [y for y in parts.ys if _is_float(y.inner)]
    targets = [c.new for c in float_carries] + [y.inner for y in float_ys]
    if not targets:
        return [None] * len(node.outputs)
    wrt = list(tangents)
    results = Rop(targets, wrt, [tangents[w] for w in wrt])
    points = {c.inner: p for c, p in zip(parts.carries, init_points)}
    carry_at, y_at = {}, {}
    for c, t in zip(float_carries, results[:len(float_carries)]):
        point = points[c.inner]
        init = point if point is not None else elemwise.zeros_like(c.init)
        carry_at[c.inner] = len(jvp.carries)
        jvp.carries.append(Carry(init, tangents[c.inner], t))
    for y, t in zip(float_ys, results[len(float_carries):]):
        y_at[y.inner] = len(jvp.ys)
        jvp.ys.append(Out(t))
    new = jvp.apply()
    finals, stacked, _ = new.op.split_outer_outputs(new.outputs)  # type: ignore[attr-defined]
    out: list[Any] = [finals[carry_at[c.inner]] if c.inner in carry_at else None
                      for c in parts.carries]
    out += [stacked[y_at[y.inner]] if y.inner in y_at else None for y in parts.ys]
    if op.until:
        out.append(None)
    return out
