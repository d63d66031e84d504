"""``scan`` with Theano's vocabulary (taps, outputs_info, non_sequences, until, updates) and
``map``/``reduce``/``foldl``/``foldr``, all lowered to one canonical ``Scan`` node.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from symgraph import dtype as dt
from symgraph.graph import Constant, Variable, ancestors, clone_replace, graph_inputs, toposort
from symgraph.ops import elemwise
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import SharedVariable, TensorConstant, as_tensor_variable, constant
from symgraph.scan.op import Carry, Const, Out, ScanParts, Seq, scan_title
from symgraph.type import TensorType

__all__ = ["Until", "foldl", "foldr", "map", "reduce", "scan", "until"]


class Until:
    """The stop condition of a loop step, as returned by ``fn``: ``return h, sg.until(h > 9)``."""

    def __init__(self, condition: Any) -> None:
        cond = as_tensor_variable(condition)
        if cond.ndim != 0:
            raise TypeError(f"until: the condition must be 0-d, got {cond} ({cond.type})")
        if cond.dtype != "bool":
            cond = elemwise.neq(cond, constant(0, dtype=cond.dtype))
        self.condition = cond


def until(condition: Any) -> Until:
    """Stop the loop after the step where ``condition`` (a 0-d tensor) is true (Theano's).

    The step at which it holds is the last one computed and its outputs are kept.

    Raises
    ------
    TypeError
        If ``condition`` is not 0-d.
    """
    return Until(condition)


@dataclass
class _SeqSpec:
    var: Any
    taps: list[int]


@dataclass
class _OutSpec:
    initial: Any | None
    taps: list[int]
    slots: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)


def scan(fn: Callable[..., Any], sequences: Any = None, outputs_info: Any = None,
         non_sequences: Any = None, n_steps: Any = None, truncate_gradient: int = -1,
         go_backwards: bool = False, mode: Any = None, name: str | None = None,
         profile: bool = False, allow_gc: Any = None, strict: bool = False,
         return_list: bool = False, checkpoint: bool | int | None = None
         ) -> tuple[Any, dict[Any, Any]]:
    """Apply ``fn`` repeatedly, threading states and stepping through sequences (Theano's).

    At step ``t``, ``fn`` receives, in this order: the entries ``u[t + tap]`` of each sequence
    for each of its taps; the previous values ``h[t + tap]`` of each output that has an initial
    state, for each of its (negative) taps; then the non-sequences. It returns the outputs of
    the step, optionally with a dict of shared-variable updates and/or ``sg.until(cond)``, in
    any order: ``h``, ``[h, y]``, ``(h, updates)``, ``([h, y], sg.until(h > 9))``, ...

    Parameters
    ----------
    fn : callable
        Builds one step from symbolic arguments.
    sequences : tensor, dict or list of them
        Iterated along axis 0. ``dict(input=u, taps=[-1, 0, 2])`` passes ``u[t-1]``, ``u[t]``,
        ``u[t+2]`` (default taps ``[0]``); the first step is the first ``t`` for which every tap
        is in range.
    outputs_info : list of (None, tensor or dict)
        One entry per output of ``fn``. ``None``: the output is not fed back. A tensor: the
        initial state, fed back as ``h[t-1]``. ``dict(initial=h0, taps=[-2, -1])``: ``h0`` has a
        leading axis holding the ``k`` previous values (``h0[-k:]``, ``k = -min(taps)``).
    non_sequences : list of tensors
        Passed unchanged to every step: ``fn`` receives these variables themselves, so that
        what it builds from them keeps their dependences (``sg.grad(y[i], x)`` with ``y`` and
        ``x`` passed, the Theano tutorial's Jacobian), and they become constants of the loop.
    n_steps : int or 0-d integer tensor, optional
        Number of steps (the maximum one with ``until``); by default the number of steps the
        sequences allow. Required without sequences.
    truncate_gradient : int
        Backpropagate through the last ``truncate_gradient`` steps only (-1: all; Theano's
        truncated BPTT: earlier steps get no gradient).
    go_backwards : bool
        Iterate over the sequences from their end (outputs are in the order computed).
    name : str, optional
    strict : bool
        Refuse variables that ``fn`` uses without receiving them as arguments or computing
        them from its non_sequences (shared variables and other free variables); constants
        are always allowed.
    return_list : bool
        Return a list even for a single output.
    checkpoint : bool or int, optional
        How the gradient stores the loop's states: None follows
        ``config.scan_checkpoint_budget``; an int is this loop's budget in bytes; True always
        checkpoints (one state every ~sqrt(n_steps) steps, the others recomputed); False or 0
        never does. See Notes.
    mode, profile, allow_gc
        Accepted for Theano compatibility; the mode is chosen by ``function``.

    Returns
    -------
    outputs : tensor or list of tensors
        For each output of ``fn``, its values at every step stacked along a new leading axis:
        ``(n_steps, *shape)`` (fewer rows if ``until`` stopped early; the initial states are
        not included).
    updates : dict
        ``{shared_variable: value after the last step}`` for every shared variable ``fn``
        updates, explicitly or through a ``default_update`` (random streams); pass it to
        ``sg.function(..., updates=updates)``.

    Raises
    ------
    TypeError
        When an output of ``fn`` and its initial state differ in dtype or rank (naming the
        output and the expected type); when a sequence is 0-d; when ``fn`` returns something
        other than tensors, an update dict and ``until``; with ``strict``, for a free variable.
    ValueError
        When the number of outputs of ``fn`` and of ``outputs_info`` differ; when an initial
        state's static shape does not match its output's; for invalid taps; without
        sequences and without ``n_steps``. At run time: a state changing shape, sequences
        shorter than ``n_steps``.

    Notes
    -----
    The gradient is backpropagation through time: a reverse loop over the stored states.
    When the states of every step would take more than the checkpoint budget, it stores one
    state every ``k ~ sqrt(n_steps)`` steps and recomputes each segment of ``k`` steps just
    before backpropagating through it (Chen et al., "Training Deep Nets with Sublinear Memory
    Cost", 2016): about twice the states' size times ``sqrt(n_steps)`` of memory for one more
    forward pass. The gradient is the same, bit for bit. Loops with ``until``,
    ``truncate_gradient`` or a random generator among their states are not checkpointed.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> from symgraph.scan import scan
    >>> A, k = sg.dvector("A"), sg.iscalar("k")
    >>> powers, _ = scan(lambda prior, A: prior * A, outputs_info=sg.ones_like(A),
    ...                  non_sequences=A, n_steps=k)
    >>> sg.function([A, k], powers[-1])(np.array([1.0, 2.0, 3.0]), 3)
    array([ 1.,  8., 27.])
    """
    outputs, updates = _build(fn, sequences, outputs_info, non_sequences, n_steps,
                              truncate_gradient, go_backwards, name, strict, True,
                              _checkpoint_budget(checkpoint))
    if len(outputs) == 1 and not return_list:
        return outputs[0], updates
    return outputs, updates


def _build(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any,
           n_steps: Any, truncate_gradient: int, go_backwards: bool, name: str | None,
           strict: bool, save_residuals: bool, checkpoint_budget: int | None = None
           ) -> tuple[list[Any], dict[Any, Any]]:
    seqs = _sequence_specs(sequences, go_backwards)
    outs_given = outputs_info is not None
    outs = _output_specs(outputs_info)
    non_seqs = _as_list(non_sequences)
    non_seqs = [v if isinstance(v, Variable) else as_tensor_variable(v) for v in non_seqs]
    steps = _n_steps(seqs, n_steps)
    seq_parts = _sequence_parts(seqs)
    for k, spec in enumerate(outs):
        _make_slots(k, spec, None)
    step = _call(fn, seq_parts, outs, non_seqs)
    retypes = _weak_init_dtypes(outs, step.outputs)
    if retypes:  # Python-number initial states take the dtype fn computes (called again)
        for k, dtype in retypes.items():
            _make_slots(k, outs[k], dtype)
        step = _call(fn, seq_parts, outs, non_seqs)
    if outs_given and len(step.outputs) != len(outs):
        raise ValueError(f"{scan_title(name)}: fn returned {len(step.outputs)} outputs but "
                         f"outputs_info has {len(outs)} entries; give one entry per output "
                         f"(None for outputs that are not fed back)")
    if not outs_given:
        outs = [_OutSpec(None, []) for _ in step.outputs]
    _check_outputs(name, outs, step.outputs)
    parts = _assemble(steps, seq_parts, outs, non_seqs, step, strict, name)
    parts.truncate_gradient, parts.save_residuals = int(truncate_gradient), save_residuals
    parts.checkpoint_budget = checkpoint_budget
    node = parts.apply()
    n_carries = len(node.op.split_inner_inputs()[1])  # type: ignore[attr-defined]
    stacked = node.outputs[n_carries:n_carries + len(step.outputs)]
    finals = node.outputs[:n_carries]
    n_tap_carries = sum(len(s.slots) for s in outs)
    updates = {s: finals[n_tap_carries + i] for i, s in enumerate(step.stateful)}
    return list(stacked), updates


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

def _checkpoint_budget(checkpoint: bool | int | None) -> int | None:
    """scan's ``checkpoint`` as the op's budget: None (the config's), 0 (never), bytes."""
    if checkpoint is None:
        return None
    if isinstance(checkpoint, bool):
        return 1 if checkpoint else 0
    if not isinstance(checkpoint, int) or checkpoint < 0:
        raise TypeError(f"scan: checkpoint must be None, a bool or a number of bytes >= 0, "
                        f"got {checkpoint!r}")
    return int(checkpoint)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _check_taps(taps: Any, what: str, negative: bool) -> list[int]:
    taps = [taps] if isinstance(taps, int) else list(taps)
    if not taps or any(not isinstance(t, int) for t in taps) or len(set(taps)) != len(taps):
        raise ValueError(f"scan: {what}: taps must be a non-empty list of distinct ints, got "
                         f"{taps}")
    if negative and builtins.any(t >= 0 for t in taps):
        raise ValueError(f"scan: {what}: the taps of an output must be negative (previous "
                         f"steps), got {taps}")
    return taps


def _sequence_specs(sequences: Any, go_backwards: bool) -> list[_SeqSpec]:
    specs = []
    for i, item in enumerate(_as_list(sequences)):
        taps: Any = [0]
        if isinstance(item, Mapping):
            if "input" not in item:
                raise ValueError(f"scan: sequence {i} is a dict without an 'input' entry")
            taps = item.get("taps", [0]) if item.get("taps") is not None else [0]
            item = item["input"]
        var = as_tensor_variable(item)
        if var.ndim == 0:
            raise TypeError(f"scan: sequence {i} ({var}) is 0-d; sequences are iterated along "
                            f"their first axis")
        if go_backwards:
            reversed_var = var[::-1]
            reversed_var.name = f"{var.name}[::-1]" if var.name else None
            var = reversed_var
        specs.append(_SeqSpec(var, _check_taps(taps, f"sequence {i}", negative=False)))
    return specs


def _output_specs(outputs_info: Any) -> list[_OutSpec]:
    specs = []
    for k, item in enumerate(_as_list(outputs_info)):
        if item is None:
            specs.append(_OutSpec(None, []))
            continue
        if isinstance(item, Mapping):
            initial = item.get("initial")
            if initial is None:
                if item.get("taps"):
                    raise ValueError(f"scan: outputs_info[{k}] has taps but no initial value")
                specs.append(_OutSpec(None, []))
                continue
            taps = _check_taps(item.get("taps", [-1]), f"outputs_info[{k}]", negative=True)
        else:
            initial, taps = item, [-1]
        specs.append(_OutSpec(as_tensor_variable(initial), taps))
    return specs


def _n_steps(seqs: list[_SeqSpec], n_steps: Any) -> Any:
    if n_steps is not None:
        n = as_tensor_variable(n_steps)
        if n.ndim != 0 or not dt.is_integer(n.dtype):
            raise TypeError(f"scan: n_steps must be an int or a 0-d integer tensor, got {n}")
        return elemwise.cast(n, "int64")
    if not seqs:
        raise ValueError("scan: give sequences or n_steps (how many steps to run)")
    lengths = []
    for i, spec in enumerate(seqs):
        span = max(max(spec.taps), 0) - min(min(spec.taps), 0)
        static = spec.var.type.shape[0]
        if static is not None:
            if static <= span:
                raise ValueError(f"scan: sequence {i} has {static} entries; its taps "
                                 f"{spec.taps} need at least {span + 1}")
            lengths.append(constant(static - span, dtype="int64"))
        else:
            length = shape_ops.shape_i(spec.var, 0)
            lengths.append(length - span if span else length)
    if all(isinstance(n, Constant) for n in lengths):
        return constant(min(int(n.data) for n in lengths), dtype="int64")
    result = lengths[0]
    for n in lengths[1:]:
        result = elemwise.minimum(result, n)
    return result


def _placeholder(var: Any, name: str | None) -> Any:
    return var.type.make_variable(name)


def _sequence_parts(seqs: list[_SeqSpec]) -> list[Seq]:
    """One Seq per (sequence, tap): ``u[start + tap:]`` with ``start = -min(taps, 0)``."""
    parts = []
    for spec in seqs:
        start = -min(min(spec.taps), 0)
        base = spec.var.name or "seq"
        for tap in spec.taps:
            offset = start + tap
            outer = spec.var[offset:] if offset else spec.var
            if offset:
                outer.name = f"{base}[{offset}:]"
            inner = TensorType(spec.var.dtype, spec.var.type.shape[1:]).make_variable(
                f"{base}[t{tap:+d}]" if tap else f"{base}[t]")
            parts.append(Seq(outer, inner))
    return parts


def _make_slots(k: int, spec: _OutSpec, dtype: str | None) -> None:
    """Placeholders for the previous values an output keeps: ``h[t-K] .. h[t-1]``."""
    if spec.initial is None:
        return
    initial = spec.initial
    if dtype is not None:
        initial = spec.initial = constant(initial.data, dtype=dtype)
    depth = -min(spec.taps)
    if spec.taps == [-1]:
        spec.inits = [initial]
        state_type = initial.type
    else:
        if initial.ndim == 0:
            raise ValueError(f"scan: outputs_info[{k}] has taps {spec.taps}: its initial value "
                             f"needs a leading axis of length >= {depth}, got a 0-d {initial}")
        known = initial.type.shape[0]
        if known is not None and known < depth:
            raise ValueError(f"scan: outputs_info[{k}] has taps {spec.taps}: its initial value "
                             f"needs a leading axis of length >= {depth}, got static shape "
                             f"{initial.type.shape}")
        spec.inits = [initial[j - depth] for j in range(depth)]
        state_type = TensorType(initial.dtype, initial.type.shape[1:])
    spec.slots = [state_type.make_variable(f"output{k}[t{j - depth:+d}]") for j in range(depth)]


def _weak_init_dtypes(outs: list[_OutSpec], outputs: list[Any]) -> dict[int, str]:
    result = {}
    for k, (spec, out) in enumerate(zip(outs, outputs)):
        init = spec.initial
        if init is None or not isinstance(out.type, TensorType):
            continue
        if isinstance(init, TensorConstant) and init.weak and init.dtype != out.dtype:
            result[k] = out.dtype
    return result


# ---------------------------------------------------------------------------------------------
# Calling fn
# ---------------------------------------------------------------------------------------------

@dataclass
class _Step:
    outputs: list[Any]
    updates: dict[SharedVariable, Any]
    cond: Any | None
    stateful: list[SharedVariable] = field(default_factory=list)


def _call(fn: Callable[..., Any], seqs: list[Seq], outs: list[_OutSpec],
          non_seqs: list[Any]) -> _Step:
    # fn gets the outer non_sequences themselves, as in Theano, so that what it builds from
    # them (T.grad(y[i], x) with y and x passed) depends on them; _assemble lifts them.
    args: list[Any] = [s.inner for s in seqs]
    for spec in outs:
        depth = len(spec.slots)
        args.extend(spec.slots[depth + tap] for tap in spec.taps)
    args.extend(non_seqs)
    outputs, updates, cond = _parse_result(fn(*args))
    return _Step(outputs, updates, cond)


def _is_update_pairs(item: Any) -> bool:
    return isinstance(item, (list, tuple)) and bool(item) and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], SharedVariable)
        for p in item)


def _parse_result(result: Any) -> tuple[list[Any], dict[Any, Any], Any | None]:
    """Split what ``fn`` returned into outputs, updates and the stop condition."""
    items = list(result) if isinstance(result, tuple) else [result]
    structured = isinstance(result, tuple) and builtins.any(
        isinstance(i, (Mapping, Until)) or _is_update_pairs(i) for i in items)
    if not structured:
        items = [result]
    outputs: list[Any] = []
    updates: dict[Any, Any] = {}
    cond = None
    for item in items:
        if isinstance(item, Until):
            cond = item.condition
        elif isinstance(item, Mapping):
            updates.update(item)
        elif _is_update_pairs(item):
            updates.update(dict(item))
        elif isinstance(item, (list, tuple)):
            for sub in item:
                if isinstance(sub, Until):
                    cond = sub.condition
                else:
                    outputs.append(sub)
        elif item is not None:
            outputs.append(item)
    converted = []
    for k, out in enumerate(outputs):
        try:
            converted.append(out if isinstance(out, Variable) else as_tensor_variable(out))
        except TypeError as err:
            raise TypeError(f"scan: output {k} of fn is a {type(out).__name__}; fn must return "
                            f"tensors, a dict of updates and/or sg.until(...)") from err
    for target in updates:
        if not isinstance(target, SharedVariable):
            raise TypeError(f"scan: fn returned an update of {target}, which is not a shared "
                            f"variable")
    return converted, updates, cond


def _check_outputs(name: str | None, outs: list[_OutSpec], outputs: list[Any]) -> None:
    where = scan_title(name)
    for k, (spec, out) in enumerate(zip(outs, outputs)):
        if not isinstance(out.type, TensorType):
            raise TypeError(f"{where}: output {k} of fn has type {out.type}; outputs must be "
                            f"tensors")
        if not spec.slots:
            continue
        want = spec.slots[0].type
        label = f"output {k} of fn ({out.type})"
        init = f"its initial state (outputs_info[{k}], {want})"
        if out.dtype != want.dtype:
            raise TypeError(f"{where}: {label} has dtype {out.dtype} but {init} has dtype "
                            f"{want.dtype}; cast one of them with .astype({out.dtype!r})")
        if out.ndim != want.ndim:
            raise TypeError(f"{where}: {label} has {out.ndim} dimensions but {init} has "
                            f"{want.ndim}; the state must keep its shape from step to step")
        if not want.is_compatible(out.type):
            raise ValueError(f"{where}: {label} has static shape {out.type.shape} but {init} "
                             f"has static shape {want.shape}; the state must keep its shape")


# ---------------------------------------------------------------------------------------------
# Assembling the canonical form
# ---------------------------------------------------------------------------------------------

def _stateful_shared(step: _Step) -> dict[SharedVariable, Any]:
    """Shared variables updated at every step: explicit updates, then default updates."""
    updates = dict(step.updates)
    frontier = list(step.outputs) + list(updates.values()) + \
        ([step.cond] if step.cond is not None else [])
    while frontier:
        found = [v for v in graph_inputs(frontier) if isinstance(v, SharedVariable) and
                 v.default_update is not None and v not in updates]
        for var in found:
            updates[var] = var.default_update  # type: ignore[assignment]
        frontier = [var.default_update for var in found]
    return updates


def _assemble(steps: Any, seq_parts: list[Seq], outs: list[_OutSpec],
              non_seqs: list[Any], step: _Step,
              strict: bool, name: str | None) -> ScanParts:
    updates = _stateful_shared(step)
    step.stateful = list(updates)
    for shared_var, expr in updates.items():
        if not (shared_var.type.is_compatible(expr.type) or expr.type.is_compatible(
                shared_var.type)):
            raise TypeError(f"{scan_title(name)}: the update of {shared_var} "
                            f"({shared_var.type}) has type {expr.type}")
    state_inner: dict[Any, Any] = {s: _placeholder(s, s.name) for s in updates}
    targets = list(step.outputs) + list(updates.values())
    cond_at = len(targets)
    if step.cond is not None:
        targets.append(step.cond)
    targets = clone_replace(targets, state_inner)
    placeholders = [s.inner for s in seq_parts] + [p for spec in outs for p in spec.slots] + \
        list(state_inner.values())
    consts, targets = _lift_free_variables(targets, placeholders, non_seqs, strict, name)
    outputs = targets[:len(step.outputs)]
    news = targets[len(step.outputs):cond_at]
    used = set(ancestors(targets))
    parts = ScanParts(steps, name=name)
    parts.consts = consts
    for spec, out in zip(outs, outputs):
        for j, slot in enumerate(spec.slots):
            new = spec.slots[j + 1] if j + 1 < len(spec.slots) else out
            parts.carries.append(Carry(spec.inits[j], slot, new))
    parts.carries += [Carry(s, state_inner[s], new) for s, new in zip(updates, news)]
    parts.seqs = [s for s in seq_parts if s.inner in used]
    parts.ys = [Out(out) for out in outputs]
    parts.cond = targets[cond_at] if step.cond is not None else None
    return parts


def _lift_free_variables(targets: list[Any], placeholders: list[Any], non_seqs: list[Any],
                         strict: bool, name: str | None) -> tuple[list[Const], list[Any]]:
    """The non_sequences fn used, then the variables it used without computing them from its
    arguments (its closure, or the outer graph behind a non_sequence, as in
    ``T.grad(y[i], x)``), become constants of the loop. What fn computes from the
    non_sequences stays in the step, as it would from per-step arguments."""
    given = [v for v in non_seqs if not isinstance(v, Constant)]
    blockers = list(placeholders) + given
    inside = set(blockers)
    order = toposort(targets, blockers=blockers)
    for node in order:  # constant subgraphs stay inside, where rewrites can fold them
        if builtins.any(i in inside for i in node.inputs) or all(
                isinstance(i, Constant) or i in inside for i in node.inputs):
            inside.update(node.outputs)
    free: list[Any] = []
    for node in order:
        if node.outputs[0] in inside:
            free += [i for i in node.inputs if i not in inside and not isinstance(i, Constant)
                     and i not in free]
    free += [t for t in targets if t not in inside and not isinstance(t, Constant)
             and t not in free]
    if strict:
        loose = [v for v in free if builtins.any(not isinstance(r, Constant)
                                                 for r in graph_inputs([v]))]
        if loose:
            raise ValueError(f"{scan_title(name)} (strict): fn uses {loose}, which it did not "
                             f"receive; pass them as non_sequences")
    reached = {i for node in order for i in node.inputs} | set(targets)
    used = [v for k, v in enumerate(given) if v in reached and v not in given[:k]]
    consts = [Const(v, _placeholder(v, v.name)) for v in used + free]
    replaced = clone_replace(targets, {c.outer: c.inner for c in consts})
    return consts, replaced


# ---------------------------------------------------------------------------------------------
# map, reduce, foldl, foldr
# ---------------------------------------------------------------------------------------------

def map(fn: Callable[..., Any], sequences: Any, non_sequences: Any = None,
        truncate_gradient: int = -1, go_backwards: bool = False, mode: Any = None,
        name: str | None = None) -> tuple[Any, dict[Any, Any]]:
    """``fn`` applied to every entry of the sequences: ``scan`` without fed-back outputs.

    Returns ``(outputs, updates)`` as ``scan`` does.
    """
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, name=name)


def reduce(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
           non_sequences: Any = None, go_backwards: bool = False, mode: Any = None,
           name: str | None = None) -> tuple[Any, dict[Any, Any]]:
    """Like Python's ``functools.reduce``: ``scan`` keeping only the value of the last step.

    Returns ``(outputs, updates)`` where each output is the last entry of the corresponding
    ``scan`` output (only the final state is stored once rewritten).
    """
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                            non_sequences=non_sequences, go_backwards=go_backwards, name=name)
    if isinstance(outputs, list):
        return [o[-1] for o in outputs], updates
    return outputs[-1], updates


def foldl(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, dict[Any, Any]]:
    """``reduce`` from the first entry of the sequences to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, name=name)


def foldr(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, dict[Any, Any]]:
    """``reduce`` from the last entry of the sequences to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, name=name)
