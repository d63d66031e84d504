"""The ``Scan`` op: a loop in one canonical form, and ``ScanParts``, its editable description.

Every loop the front end, the gradient or a rewrite builds is a Scan over a frozen inner graph
``[constants, carries, per-step inputs] -> [new carries, per-step outputs, (stop condition)]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Constant, Variable, format_trace
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import as_tensor_variable
from symgraph.scan.inner import InnerGraph, inner_output_shapes
from symgraph.type import TensorType

__all__ = ["Carry", "Const", "Out", "Scan", "ScanParts", "Seq"]


class Scan(Op):
    """A loop: ``n_steps`` applications of a frozen inner graph, threading carried states.

    Layout (the canonical form a code generator compiles)::

        inner inputs   [consts (n_consts), carries (n_carries), xs (n_seqs)]
        inner outputs  [new carries (n_carries), ys (n_ys), cond (if until)]
        outer inputs   [n_steps, consts, carry inits, sequences]
        outer outputs  [final carries, stacked ys, n_done (if until)]

    Step ``t`` (``t = 0 .. n_steps-1``) evaluates the inner graph on the constants, the current
    carries and ``x_i = sequence_i[t]``; the new carries feed step ``t+1`` and ``y_j`` is stored
    in row ``t`` of stacked output ``j``, of shape ``(n_steps, *y_j.shape)``. With ``until``,
    the loop stops after the first step whose condition is true: stacked outputs then have
    ``n_done`` rows, and ``n_done`` (int64, 0-d) is the last output. Taps, ``go_backwards`` and
    the history of a state are all expressed by the front end in this form (a state's history
    is a y that is the same inner variable as its new carry).

    Parameters
    ----------
    inner : InnerGraph
    n_consts, n_carries, n_seqs : int
        How the inner inputs split (see the layout).
    until : bool
        Whether the last inner output is a 0-d stop condition.
    truncate_gradient : int
        Backpropagate through the last ``truncate_gradient`` steps only (-1: all).
    save_residuals : bool
        The gradient stores the per-step values its reverse loop needs (True) or recomputes
        them from the stored states (False, as ``scan_checkpoints`` asks).
    checkpoint_budget : int, optional
        Bytes of states the gradient may store before it checkpoints (see
        ``symgraph.scan.segmented``): None reads ``config.scan_checkpoint_budget`` when the
        gradient is built, 0 never checkpoints.
    name : str, optional
        For printing and error messages; not part of the op's identity.

    Raises
    ------
    TypeError
        From ``make_node``: a wrong number of inputs, a non-integer ``n_steps``, or an outer
        input whose type does not fit its inner placeholder (naming which).
    ValueError
        From ``make_node``: a negative constant ``n_steps``. At run time: a negative
        ``n_steps``, a sequence shorter than ``n_steps``, or a carry whose new value has a
        different shape than its initial state.
    """

    __props__ = ("inner", "n_consts", "n_carries", "n_seqs", "until", "truncate_gradient",
                 "save_residuals", "checkpoint_budget")

    def __init__(self, inner: InnerGraph, n_consts: int, n_carries: int, n_seqs: int,
                 until: bool = False, truncate_gradient: int = -1, save_residuals: bool = True,
                 name: str | None = None, checkpoint_budget: int | None = None) -> None:
        self.inner = inner
        self.n_consts, self.n_carries, self.n_seqs = int(n_consts), int(n_carries), int(n_seqs)
        self.until = bool(until)
        self.truncate_gradient = int(truncate_gradient)
        self.save_residuals = bool(save_residuals)
        self.checkpoint_budget = None if checkpoint_budget is None else int(checkpoint_budget)
        self.name = name
        if self.n_consts + self.n_carries + self.n_seqs != len(inner.inputs):
            raise ValueError(f"Scan: {len(inner.inputs)} inner inputs do not split into "
                             f"{n_consts} consts, {n_carries} carries and {n_seqs} sequences")
        self.n_ys = len(inner.outputs) - self.n_carries - int(self.until)
        if self.n_ys < 0:
            raise ValueError("Scan: fewer inner outputs than carries (and condition)")

    def __str__(self) -> str:
        return f"Scan{{{self.name or 'scan'}{', until' if self.until else ''}}}"

    # -- layout ---------------------------------------------------------------------------
    @property
    def inner_inputs(self) -> list[Any]:
        return list(self.inner.inputs)

    @property
    def inner_outputs(self) -> list[Any]:
        return list(self.inner.outputs)

    def split_inner_inputs(self) -> tuple[list[Any], list[Any], list[Any]]:
        ins, nc, nk = list(self.inner.inputs), self.n_consts, self.n_carries
        return ins[:nc], ins[nc:nc + nk], ins[nc + nk:]

    def split_inner_outputs(self) -> tuple[list[Any], list[Any], Any | None]:
        outs, nk = list(self.inner.outputs), self.n_carries
        return outs[:nk], outs[nk:nk + self.n_ys], outs[-1] if self.until else None

    def split_outer_inputs(self, inputs: Sequence[Any]
                           ) -> tuple[Any, list[Any], list[Any], list[Any]]:
        nc, nk = self.n_consts, self.n_carries
        rest = list(inputs[1:])
        return inputs[0], rest[:nc], rest[nc:nc + nk], rest[nc + nk:]

    def split_outer_outputs(self, outputs: Sequence[Any]
                            ) -> tuple[list[Any], list[Any], Any | None]:
        nk, ny = self.n_carries, self.n_ys
        outs = list(outputs)
        return outs[:nk], outs[nk:nk + ny], outs[-1] if self.until else None

    # -- the op contract ------------------------------------------------------------------
    def make_node(self, n_steps: Any, *inputs: Any) -> Apply:
        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or not dt.is_integer(n_steps.dtype):
            raise TypeError(f"{self}: n_steps must be a 0-d integer, got {n_steps} "
                            f"({n_steps.type})")
        n_steps = elemwise.cast(n_steps, "int64")
        expected = self.n_consts + self.n_carries + self.n_seqs
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected n_steps and {expected} inputs, got "
                            f"{len(inputs)} inputs")
        outer = [_as_variable(v) for v in inputs]
        consts, carries, xs = self.split_inner_inputs()
        nc, nk = self.n_consts, self.n_carries
        for k, (var, ph) in enumerate(zip(outer[:nc], consts)):
            _check_fits(self, f"constant {k}", var.type, ph.type)
        for k, (var, ph) in enumerate(zip(outer[nc:nc + nk], carries)):
            _check_fits(self, f"initial state {k}", var.type, ph.type)
        for k, (var, ph) in enumerate(zip(outer[nc + nk:], xs)):
            _check_sequence(self, k, var, ph)
        static_n = int(n_steps.data) if isinstance(n_steps, Constant) else None
        if static_n is not None and static_n < 0:
            raise ValueError(f"{self}: n_steps is {static_n}; it must be >= 0")
        if self.until:
            static_n = None
        _, ys, _ = self.split_inner_outputs()
        outputs = [ph.type.make_variable() for ph in carries]
        outputs += [TensorType(y.type.dtype, (static_n, *y.type.shape)).make_variable()
                    for y in ys]
        if self.until:
            outputs.append(TensorType("int64", ()).make_variable("n_done"))
        return Apply(self, [n_steps, *outer], outputs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        raise NotImplementedError(
            f"{self} has an inner graph and runs only through a backend: compile it with "
            f"sg.function (the backend links the inner graph once and loops over the steps)")

    def do_constant_folding(self, node: Apply) -> bool:
        return False

    def make_thunk(self, node: Apply, input_cells: list[list[Any]],
                   output_cells: list[list[Any]], backend: Any) -> Any:
        """Link the inner graph once with ``backend`` and loop over the steps in Python (a
        backend that compiles whole loops does so in its own lowering, not here)."""
        loop = Loop(self, node, backend.link(self.inner.fgraph()))

        def thunk() -> None:
            results = loop.run([cell[0] for cell in input_cells])
            for cell, value in zip(output_cells, results):
                cell[0] = value

        return thunk

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        _, consts, inits, seqs = self.split_outer_inputs(list(range(len(node.inputs))))
        shapes = list(input_shapes)
        length = node.outputs[-1] if self.until else node.inputs[0]
        new_carries, ys, _ = self.split_inner_outputs()
        inner_shapes = [shapes[i] for i in consts] + [shapes[i] for i in inits] + \
            [None if shapes[i] is None else tuple(shapes[i])[1:] for i in seqs]
        derived = inner_output_shapes(self.inner, inner_shapes)[self.n_carries:]
        finals, stacked, _ = self.split_outer_outputs(node.outputs)
        result: list[Any] = [shapes[i] if isinstance(out.type, TensorType) else None
                             for i, out in zip(inits, finals)]
        for j, (y, out) in enumerate(zip(ys, stacked)):
            dims = derived[j]
            if y in new_carries:
                dims = shapes[inits[new_carries.index(y)]]
            if dims is None:  # data-dependent: measured from the output itself
                dims = tuple(shape_ops.shape_i(out, d + 1) for d in range(out.ndim - 1))
            result.append((length, *dims))
        if self.until:
            result.append(())
        return result

    # The gradient module builds new Scans from this one's parts: it imports this module, so
    # this one reaches it when a gradient is asked for, not at import (no import cycle).
    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        from symgraph.scan import grad as scan_grad

        return scan_grad.scan_L_op(self, inputs, outputs, output_grads)

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        from symgraph.scan import grad as scan_grad

        return scan_grad.scan_R_op(self, inputs, eval_points)


def _as_variable(value: Any) -> Any:
    return value if isinstance(value, Variable) else as_tensor_variable(value)


def _check_fits(op: Scan, what: str, given: Any, wanted: Any) -> None:
    if given == wanted or given.is_compatible(wanted) or wanted.is_compatible(given):
        return
    raise TypeError(f"{op}: {what} has type {given}, the loop expects {wanted}")


def _check_sequence(op: Scan, k: int, var: Any, placeholder: Any) -> None:
    vtype, ptype = var.type, placeholder.type
    if not isinstance(vtype, TensorType) or vtype.ndim != ptype.ndim + 1 or \
            not TensorType(vtype.dtype, vtype.shape[1:]).is_compatible(ptype):
        raise TypeError(f"{op}: sequence {k} has type {vtype}; each of its entries must be "
                        f"{ptype}")


# ---------------------------------------------------------------------------------------------
# The reference loop
# ---------------------------------------------------------------------------------------------

class Loop:
    """Runs a Scan node step by step over a linked inner graph (``linked.run(values)``)."""

    def __init__(self, op: Scan, node: Apply, linked: Any) -> None:
        self.op = op
        self.node = node
        self.linked = linked

    def run(self, inputs: list[Any]) -> list[Any]:
        op = self.op
        n_steps, consts, carries, seqs = op.split_outer_inputs(inputs)
        n = check_steps(self.node, n_steps, seqs)
        values = list(consts) + list(carries) + [None] * op.n_seqs
        first, stacked, done = op.n_consts + op.n_carries, [None] * op.n_ys, n
        for t in range(n):
            for i, seq in enumerate(seqs):
                values[first + i] = seq[t]
            try:
                outs = self.linked.run(values)
            except Exception as err:
                raise _with_context(err, f"{self._where()}, step {t}") from err
            self._store(t, n, outs, values, stacked)
            if op.until and bool(np.asarray(outs[-1])):
                done = t + 1
                break
        finals = [_owned(v, inputs) for v in values[op.n_consts:first]]
        ys = [self._empty(j, carries) if s is None else s[:done] for j, s in enumerate(stacked)]
        return finals + ys + ([np.asarray(done, dtype="int64")] if op.until else [])

    def _store(self, t: int, n: int, outs: list[Any], values: list[Any],
               stacked: list[Any]) -> None:
        op, nc = self.op, self.op.n_consts
        dtypes = [out.type.dtype for out in op.split_outer_outputs(self.node.outputs)[1]]
        for k in range(op.n_carries):
            new, old = outs[k], values[nc + k]
            if isinstance(old, np.ndarray) and np.shape(new) != old.shape:
                raise ValueError(
                    f"{self._where()}, step {t}: the new value of state {k} "
                    f"({self._inner_name(nc + k)}) has shape {np.shape(new)}, but its initial "
                    f"state has shape {old.shape}; a loop state must keep its shape")
            values[nc + k] = new
        for j in range(op.n_ys):
            y = outs[op.n_carries + j]
            if stacked[j] is None:
                stacked[j] = np.empty((n, *np.shape(y)), dtype=dtypes[j])
            elif np.shape(y) != stacked[j].shape[1:]:
                raise ValueError(f"{self._where()}, step {t}: per-step output {j} has shape "
                                 f"{np.shape(y)}, at step 0 it had {stacked[j].shape[1:]}")
            stacked[j][t] = y

    def _empty(self, j: int, carries: list[Any]) -> np.ndarray:
        """The (0, ...) output of a loop that ran no step: shapes from states or static ones."""
        new_carries, ys, _ = self.op.split_inner_outputs()
        y = ys[j]
        if y in new_carries:
            shape = np.shape(carries[new_carries.index(y)])
        else:
            shape = tuple(0 if s is None else s for s in y.type.shape)
        return np.empty((0, *shape), dtype=y.type.dtype)

    def _where(self) -> str:
        return describe_scan(self.node)

    def _inner_name(self, index: int) -> str:
        var = self.op.inner.inputs[index]
        return var.name or str(var.type)


def scan_title(name: str | None) -> str:
    """How errors name a loop: ``scan 'name'`` with the name the user gave, else
    ``scan(...)``."""
    return f"scan {name!r}" if name else "scan(...)"


def describe_scan(node: Apply) -> str:
    """``scan 'name' (built at file:line: code)`` for error messages: the user's ``scan(...)``
    call (the rewrites pass that line on to the loops they rebuild)."""
    return f"{scan_title(node.op.name)} (built at {format_trace(node.trace)})"


def check_steps(node: Apply, n_steps: Any, seqs: Sequence[Any]) -> int:
    """The number of steps, after checking it is >= 0 and every sequence is long enough.

    Raises
    ------
    ValueError
        Naming the scan, where it was built and, for a short sequence, which one.
    """
    op = node.op
    n = int(n_steps)
    if n < 0:
        raise ValueError(f"{describe_scan(node)}: n_steps is {n}; it must be >= 0")
    for i, seq in enumerate(seqs):
        if len(seq) < n:
            var = node.inputs[1 + op.n_consts + op.n_carries + i]
            raise ValueError(f"{describe_scan(node)}: sequence {i} "
                             f"({var.name or var.type}) has {len(seq)} entries, fewer than "
                             f"the {n} steps")
    return n


def _owned(value: Any, inputs: list[Any]) -> Any:
    """A final state that is (a view of) an input is copied, so outputs never alias inputs."""
    if isinstance(value, np.ndarray) and (value.base is not None or
                                          any(value is v for v in inputs)):
        return value.copy()
    return value


def _with_context(err: Exception, where: str) -> Exception:
    message = f"{where}: {err}"
    try:
        new = type(err)(message)
    except Exception:  # noqa: BLE001 - exotic constructors keep the message, not the class
        new = RuntimeError(message)
    if hasattr(err, "node"):
        new.node = err.node  # type: ignore[attr-defined]
    return new


# ---------------------------------------------------------------------------------------------
# ScanParts: the editable description every builder goes through
# ---------------------------------------------------------------------------------------------

@dataclass
class Const:
    """A loop-invariant input: ``outer`` value, ``inner`` placeholder."""

    outer: Any
    inner: Any


@dataclass
class Carry:
    """A carried state: ``init`` (outer), placeholder ``inner``, ``new`` (inner) value.

    ``output`` is the final-state output of the node this carry was read from (for rewrites).
    """

    init: Any
    inner: Any
    new: Any
    output: Any | None = None


@dataclass
class Seq:
    """A sequence: ``outer`` (steps along axis 0), ``inner`` placeholder for one entry."""

    outer: Any
    inner: Any


@dataclass
class Out:
    """A per-step output ``inner``; ``output`` is the stacked output it was read from."""

    inner: Any
    output: Any | None = None


@dataclass
class ScanParts:
    """A loop as lists of parts; ``apply()`` builds the Scan node.

    ``replacements(node)`` maps the outputs of the node the parts were read from (kept in each
    part's ``output``) to those of a newly built node, so rewrites can edit parts freely.
    """

    n_steps: Any
    consts: list[Const] = field(default_factory=list)
    carries: list[Carry] = field(default_factory=list)
    seqs: list[Seq] = field(default_factory=list)
    ys: list[Out] = field(default_factory=list)
    cond: Any | None = None
    truncate_gradient: int = -1
    save_residuals: bool = True
    name: str | None = None
    n_done: Any | None = None
    checkpoint_budget: int | None = None

    @classmethod
    def from_node(cls, node: Apply) -> ScanParts:
        op: Scan = node.op  # type: ignore[assignment]
        n_steps, consts, inits, seqs = op.split_outer_inputs(node.inputs)
        inner_consts, inner_carries, inner_xs = op.split_inner_inputs()
        new_carries, ys, cond = op.split_inner_outputs()
        finals, stacked, n_done = op.split_outer_outputs(node.outputs)
        return cls(
            n_steps,
            [Const(o, i) for o, i in zip(consts, inner_consts)],
            [Carry(o, i, n, f) for o, i, n, f in zip(inits, inner_carries, new_carries, finals)],
            [Seq(o, i) for o, i in zip(seqs, inner_xs)],
            [Out(y, s) for y, s in zip(ys, stacked)],
            cond, op.truncate_gradient, op.save_residuals, op.name, n_done,
            op.checkpoint_budget)

    def make_op(self) -> Scan:
        inputs = [c.inner for c in self.consts] + [c.inner for c in self.carries] + \
            [s.inner for s in self.seqs]
        outputs = [c.new for c in self.carries] + [y.inner for y in self.ys]
        if self.cond is not None:
            outputs.append(self.cond)
        return Scan(InnerGraph(inputs, outputs), len(self.consts), len(self.carries),
                    len(self.seqs), self.cond is not None, self.truncate_gradient,
                    self.save_residuals, self.name, self.checkpoint_budget)

    def apply(self) -> Apply:
        outer = [c.outer for c in self.consts] + [c.init for c in self.carries] + \
            [s.outer for s in self.seqs]
        return self.make_op().make_node(self.n_steps, *outer)

    def replacements(self, node: Apply) -> dict[Any, Any]:
        op: Scan = node.op  # type: ignore[assignment]
        finals, stacked, n_done = op.split_outer_outputs(node.outputs)
        pairs = {c.output: f for c, f in zip(self.carries, finals) if c.output is not None}
        pairs.update({y.output: s for y, s in zip(self.ys, stacked) if y.output is not None})
        if self.n_done is not None and n_done is not None:
            pairs[self.n_done] = n_done
        return pairs

