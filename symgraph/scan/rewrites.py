"""Loop rewrites: push loop-invariant work out of a Scan, batch per-step work that does not
depend on the carried state over all steps, keep only the outputs and history that are read,
and merge loops that run over the same steps.

``scan_rewrites`` runs them all (also inside nested loops); ``inner_graph_rewrite`` applies a
pipeline of phases to every loop's inner graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from symgraph.fgraph import OUTPUT, FunctionGraph
from symgraph.graph import (
    Apply,
    Constant,
    ancestors,
    clone_graph,
    clone_replace,
    equal_computations,
    graph_inputs,
    pass_origin,
)
from symgraph.ops import blas, construct, elemwise, reduce, subtensor
from symgraph.ops import shape as shape_ops
from symgraph.rewrite.engine import GraphRewrite, NodeRewrite, Phase, node_rewrite, run_pipeline
from symgraph.rewrite.merge import merge_graph
from symgraph.scan.batching import batch_node
from symgraph.scan.inner import InnerGraph, inner_output_shapes
from symgraph.scan.op import Carry, Const, Out, Scan, ScanParts, Seq
from symgraph.type import TensorType

__all__ = [
    "RULES",
    "accumulate_outside",
    "constant_carries",
    "dedupe_scan",
    "drop_unused",
    "inner_graph_rewrite",
    "last_state_only",
    "merge_scans",
    "passthrough_outputs",
    "push_in_elementwise",
    "push_out_invariants",
    "push_out_per_step",
    "scan_rewrites",
]


# ---------------------------------------------------------------------------------------------
# Helpers on parts
# ---------------------------------------------------------------------------------------------

def _scan(node: Apply) -> Scan:
    op = node.op
    assert isinstance(op, Scan)
    return op


def _inner_outputs(parts: ScanParts) -> list[Any]:
    outs = [c.new for c in parts.carries] + [y.inner for y in parts.ys]
    return outs + ([parts.cond] if parts.cond is not None else [])


def _substitute(parts: ScanParts, replace: dict[Any, Any]) -> None:
    """Rewrite every inner output of ``parts`` with ``replace`` applied (simultaneously)."""
    new = clone_replace(_inner_outputs(parts), replace)
    for c in parts.carries:
        c.new = new.pop(0)
    for y in parts.ys:
        y.inner = new.pop(0)
    if parts.cond is not None:
        parts.cond = new.pop(0)


def _rebuild(parts: ScanParts, aliases: Iterable[tuple[Any, Any]] = ()
             ) -> dict[Any, Any]:
    """Build the node; replacements for the old outputs (``aliases`` map a dropped output to
    the part that now computes it)."""
    node = parts.apply()
    pairs = parts.replacements(node)
    op: Scan = node.op  # type: ignore[assignment]
    finals, stacked, _ = op.split_outer_outputs(node.outputs)
    for old, part in aliases:
        if isinstance(part, Carry):
            pairs[old] = finals[parts.carries.index(part)]
        elif isinstance(part, Out):
            pairs[old] = stacked[parts.ys.index(part)]
        else:
            pairs[old] = part
    return pairs


def _inner_nodes(inner: InnerGraph) -> list[Apply]:
    """``inner.nodes()``, remembered: an InnerGraph never changes, and every rule walks it."""
    entry = _NODES.get(id(inner))
    if entry is not None and entry[0] is inner:
        return entry[1]
    nodes = inner.nodes()
    if len(_NODES) >= 64:  # a few loops are rewritten at a time: keep the cache small
        _NODES.clear()
    _NODES[id(inner)] = (inner, nodes)
    return nodes


_NODES: dict[int, tuple[InnerGraph, list[Apply]]] = {}


def _is_used(fgraph: FunctionGraph, var: Any | None) -> bool:
    return var is not None and bool(fgraph.clients.get(var))


def _trimmed(seq: Any, n_steps: Any) -> Any:
    """``seq[:n_steps]``, without the slice when the lengths are statically equal."""
    length = seq.type.shape[0]
    if isinstance(n_steps, Constant) and length is not None and length == int(n_steps.data):
        return seq
    return seq[:n_steps]


# ---------------------------------------------------------------------------------------------
# Pushing work out of the loop
# ---------------------------------------------------------------------------------------------

@node_rewrite(Scan)
def push_out_invariants(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """Inner work that depends only on loop constants is computed once, before the loop."""
    parts = ScanParts.from_node(node)
    invariant = {c.inner for c in parts.consts}
    constant_only: set[Any] = set()
    for inner in _inner_nodes(_scan(node).inner):
        if all(i in invariant or isinstance(i, Constant) or i in constant_only
               for i in inner.inputs):
            target = invariant if any(i in invariant for i in inner.inputs) else constant_only
            target.update(inner.outputs)
    boundary = _boundary(_inner_nodes(_scan(node).inner), invariant, _inner_outputs(parts))
    boundary = [b for b in boundary if b.owner is not None]
    if not boundary:
        return None
    to_outer = {c.inner: c.outer for c in parts.consts}
    outer = clone_replace(boundary, to_outer)
    replace = {}
    for b, o in zip(boundary, outer):
        placeholder = b.type.make_variable(b.name)
        parts.consts.append(Const(o, placeholder))
        replace[b] = placeholder
    _substitute(parts, replace)
    return _rebuild(parts)


def _boundary(nodes: Sequence[Apply], region: set[Any],
              outputs: Sequence[Any]) -> list[Any]:
    """Variables of ``region`` read by nodes outside it or returned by the inner graph."""
    found: list[Any] = []
    for inner in nodes:
        if inner.outputs[0] in region:
            continue
        found += [i for i in inner.inputs if i in region and i not in found]
    found += [o for o in outputs if o in region and o not in found]
    return found


@node_rewrite(Scan)
def push_out_per_step(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """Per-step work that does not depend on the carried state runs once over all steps.

    ``x_t @ W`` inside the loop becomes ``X @ W`` before it, read row by row.
    """
    parts = ScanParts.from_node(node)
    outer: dict[Any, tuple[Any, bool]] = {c.inner: (c.outer, False)
                                                     for c in parts.consts}
    # A sequence is trimmed to the steps (a Subtensor node) only once something batches with
    # it: most calls find nothing to batch, and would build those nodes for nothing.
    untrimmed = {s.inner: s.outer for s in parts.seqs}
    for s in parts.seqs:
        outer[s.inner] = (None, True)
    batched: set[Any] = set()
    for inner in _inner_nodes(_scan(node).inner):
        if not all(i in outer or isinstance(i, Constant) for i in inner.inputs):
            continue
        if not any(i in outer and outer[i][1] for i in inner.inputs):
            continue
        for i in inner.inputs:
            if i in untrimmed and outer[i][0] is None:
                outer[i] = (_trimmed(untrimmed[i], parts.n_steps), True)
        args = [outer.get(i, (i, False)) for i in inner.inputs]
        results = batch_node(inner, [v for v, _ in args], [s for _, s in args])
        if results is None:
            continue
        pass_origin(results, inner)  # errors in the batched work name the step's line
        for var, result in zip(inner.outputs, results):
            outer[var] = (result, True)
            batched.add(var)
    outputs = _inner_outputs(parts)
    heavy = _heavy(_inner_nodes(_scan(node).inner), batched)
    # Elementwise work read back by the loop stays a step's work: batched, it would be
    # written out over all steps and read back row by row (push_in_elementwise's reverse).
    boundary = [b for b in _boundary(_inner_nodes(_scan(node).inner), batched, outputs)
                if b in heavy or b in outputs]
    if not boundary:
        return None
    replace = {}
    for b in boundary:
        placeholder = b.type.make_variable(b.name)
        parts.seqs.append(Seq(outer[b][0], placeholder))
        replace[b] = placeholder
    _substitute(parts, replace)
    return _rebuild(parts)


_HEAVY = (blas.Dot, blas.Matmul, reduce.CAReduce)


def _heavy(nodes: Sequence[Apply], batched: set[Any]) -> set[Any]:
    """Batched variables with a product or a reduction among the work that computes them."""
    heavy: set[Any] = set()
    for inner in nodes:
        if inner.outputs[0] in batched and (isinstance(inner.op, _HEAVY) or
                                            any(i in heavy for i in inner.inputs)):
            heavy.update(inner.outputs)
    return heavy


@node_rewrite(Scan)
def push_in_elementwise(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """A sequence that is an elementwise op of stacked values, through slices of the steps
    axis (``e(a, b)[::-1][:n]``) that nothing else reads, is computed inside the loop from
    the rows of its operands: each operand is read once, where the stacked result was
    written and read back. The gradient of a loop reads ``2 * h * scale`` and ``h ** 2``
    of its forward states this way. Operands broadcast along the steps become constants.
    """
    parts = ScanParts.from_node(node)
    for k, seq in enumerate(parts.seqs):
        found = _elementwise_under_slices(fgraph, seq.outer, node)
        if found is None or found[0].outputs[0].dtype != seq.inner.dtype:
            continue
        elem, views = found
        rows: list[Any] = []
        for operand in elem.inputs:
            if operand.type.shape[0] == 1:  # the same for every step
                value = elemwise.dimshuffle(operand, tuple(range(1, operand.ndim)))
                pass_origin([value], elem)  # the line of the op it serves, not the loop's
                if isinstance(operand, Constant):
                    rows.append(value)
                    continue
                placeholder = value.type.make_variable(operand.name)
                parts.consts.append(Const(value, placeholder))
            else:
                sliced = operand
                for view in views:
                    sliced = view.op.make_node(sliced, *view.inputs[1:]).outputs[0]
                    pass_origin([sliced], view)
                placeholder = TensorType(sliced.type.dtype,
                                         sliced.type.shape[1:]).make_variable(operand.name)
                parts.seqs.append(Seq(sliced, placeholder))
            rows.append(placeholder)
        row = elem.op.make_node(*rows).outputs[0]  # seq.inner's dtype and rank
        pass_origin([row], elem)
        del parts.seqs[k]
        _substitute(parts, {seq.inner: row})
        return _rebuild(parts)
    return None


def _elementwise_under_slices(fgraph: FunctionGraph, var: Any, scan: Apply
                              ) -> tuple[Apply, list[Apply]] | None:
    """``(elementwise node, the slices of axis 0 above it, innermost first)`` when ``var`` is
    such a chain read only by ``scan`` (once), each link read by the next alone."""
    views: list[Apply] = []
    reader: Any = scan
    while True:
        clients = fgraph.clients.get(var, [])
        if len(clients) != 1 or clients[0][0] is not reader:
            return None
        owner = var.owner
        if owner is None:
            return None
        op = owner.op
        if isinstance(op, subtensor.Subtensor) and len(op.idx_list) == 1 and \
                isinstance(op.idx_list[0], subtensor.Slice):
            views.append(owner)
            reader, var = owner, owner.inputs[0]
            continue
        if type(op) is elemwise.Elemwise and not op.inplace_pattern and var.ndim >= 1 and \
                all(i.ndim == var.ndim for i in owner.inputs):
            return owner, views[::-1]
        return None


@node_rewrite(Scan)
def accumulate_outside(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """A state that only sums a per-step term becomes one reduction after the loop.

    ``acc + p_t @ q_t`` (and ``acc + outer(a_t, b_t)``, as weight gradients have) becomes the
    stacked operands contracted over the steps in one product; ``acc + v_t`` for vectors and
    scalars becomes a sum of the stacked terms. The form of PyTensor's ``push_out_add``.
    """
    parts = ScanParts.from_node(node)
    uses = _inner_uses(_scan(node).inner)
    plans = []
    for carry in parts.carries:
        plan = _accumulation(carry, uses)
        if plan is not None and _same_shape_every_step(node, [v for v, _ in plan[1]]):
            plans.append((carry, plan))
    if not plans:
        return None
    seq_of = {s.inner: s for s in parts.seqs}
    slots: list[Any] = []
    for carry, (kind, operands) in plans:
        parts.carries.remove(carry)
        for operand in operands:
            base = operand[0]
            if base in seq_of and parts.cond is None:
                slots.append(_trimmed(seq_of[base].outer, parts.n_steps))
            else:
                out = Out(base)
                parts.ys.append(out)
                slots.append(out)
    new = parts.apply()
    pairs = parts.replacements(new)
    stacked = new.op.split_outer_outputs(new.outputs)[1]  # type: ignore[attr-defined]
    values = [stacked[parts.ys.index(s)] if isinstance(s, Out) else s for s in slots]
    for carry, (kind, operands) in plans:
        taken = [_oriented(values.pop(0), operand[1]) for operand in operands]
        total = _contract(kind, taken)
        if carry.output is not None:
            pairs[carry.output] = elemwise.add(carry.init, total)
    return pairs


def _same_shape_every_step(node: Apply, operands: list[Any]) -> bool:
    """Whether each operand's shape follows from the loop's input shapes alone (not from the
    values of a step, as a segment of varying length has), so that the steps stack."""
    op = _scan(node)
    _, consts, inits, seqs = op.split_outer_inputs(node.inputs)
    shapes = [_dims(v) for v in consts + inits] + [_dims(v)[1:] for v in seqs]
    probe = InnerGraph(op.inner.inputs, operands)
    return all(dims is not None for dims in inner_output_shapes(probe, shapes))


def _dims(var: Any) -> tuple:
    return tuple(shape_ops.shape_i(var, d) for d in range(var.ndim))


def _inner_uses(inner: InnerGraph) -> dict[Any, int]:
    uses: dict[Any, int] = {}
    for apply in _inner_nodes(inner):
        for i in apply.inputs:
            uses[i] = uses.get(i, 0) + 1
    for out in inner.outputs:
        uses[out] = uses.get(out, 0) + 1
    return uses


def _accumulation(carry: Carry, uses: dict[Any, int]) -> tuple[str, list] | None:
    """``(kind, operands)`` when ``carry.new = carry.inner + term`` and nothing else reads
    either; each operand is ``(inner variable, transposed?)``."""
    add = carry.new.owner
    if add is None or not elemwise.is_elemwise(carry.new, "add") or len(add.inputs) != 2 or \
            uses.get(carry.inner) != 1 or uses.get(carry.new) != 1:
        return None
    terms = [i for i in add.inputs if i is not carry.inner]
    if len(terms) != 1 or carry.inner not in add.inputs:
        return None
    term = terms[0]
    if term.type.dtype != carry.new.type.dtype or term.ndim != carry.inner.ndim or \
            term.type.shape != carry.new.type.shape:
        return None
    owner = term.owner
    if owner is not None and isinstance(owner.op, (blas.Dot, blas.Matmul)) and \
            all(i.ndim == 2 for i in owner.inputs):
        return "matrix", [_operand(i) for i in owner.inputs]
    outer = _outer_product(term)
    if outer is not None:
        return "outer", [(v, False) for v in outer]
    if term.ndim <= 1:
        return "sum", [(term, False)]
    return None


def _operand(var: Any) -> tuple[Any, bool]:
    node = var.owner
    if node is not None and isinstance(node.op, elemwise.DimShuffle) and \
            node.op.new_order == (1, 0):
        return node.inputs[0], True
    return var, False


def _outer_product(term: Any) -> list[Any] | None:
    """``[a, b]`` for ``a[:, None] * b[None, :]`` (how the gradient of a vector product looks)."""
    if term.ndim != 2 or not elemwise.is_elemwise(term, "mul") or len(term.owner.inputs) != 2:
        return None
    column, row = term.owner.inputs  # type: ignore[union-attr]
    patterns = []
    for var in (column, row):
        node = var.owner
        if node is None or not isinstance(node.op, elemwise.DimShuffle):
            return None
        patterns.append((node.op.new_order, node.inputs[0]))
    if patterns[0][0] == ("x", 0) and patterns[1][0] == (0, "x"):
        patterns.reverse()
    if patterns[0][0] != (0, "x") or patterns[1][0] != ("x", 0):
        return None
    return [patterns[0][1], patterns[1][1]]


def _oriented(stacked: Any, transposed: bool) -> Any:
    return elemwise.dimshuffle(stacked, (0, 2, 1)) if transposed else stacked


def _contract(kind: str, operands: list[Any]) -> Any:
    """The sum over steps (axis 0) of the per-step term, as one product where it is one."""
    if kind == "sum":
        return reduce.sum(operands[0], axis=0)
    first, second = operands
    if kind == "outer":  # sum_t a_t b_t^T = A^T B
        return blas.dot(elemwise.dimshuffle(first, (1, 0)), second)
    return blas.tensordot(first, second, axes=([0, 2], [0, 1]))


# ---------------------------------------------------------------------------------------------
# Keeping only what is read
# ---------------------------------------------------------------------------------------------

@node_rewrite(Scan)
def drop_unused(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """Outputs nobody reads, states no read output depends on, and unread inputs go."""
    parts = ScanParts.from_node(node)
    ys = [y for y in parts.ys if _is_used(fgraph, y.output)]
    live = [c for c in parts.carries if _is_used(fgraph, c.output)]
    needed = set(_live_inputs([y.inner for y in ys] + [c.new for c in live] +
                              ([parts.cond] if parts.cond is not None else [])))
    while True:
        more = [c for c in parts.carries if c not in live and c.inner in needed]
        if not more:
            break
        live += more
        needed |= set(_live_inputs([c.new for c in more]))
    carries = [c for c in parts.carries if c in live]
    consts = [c for c in parts.consts if c.inner in needed]
    seqs = [s for s in parts.seqs if s.inner in needed]
    if (len(ys), len(carries), len(consts), len(seqs)) == (
            len(parts.ys), len(parts.carries), len(parts.consts), len(parts.seqs)):
        return None
    if not ys and not carries and not (parts.cond is not None and _is_used(
            fgraph, parts.n_done)):
        return None  # nothing read: the node goes away with its clients
    parts.ys, parts.carries, parts.consts, parts.seqs = ys, carries, consts, seqs
    return _rebuild(parts)


def _live_inputs(outputs: list[Any]) -> list[Any]:
    return [v for v in graph_inputs(outputs) if v.owner is None and not isinstance(v, Constant)]


def _reads_last_only(fgraph: FunctionGraph, var: Any) -> list[Any] | None:
    """The ``var[-1]`` variables, if every client of ``var`` takes its last entry."""
    reads: list[Any] = []
    for client, _ in fgraph.clients.get(var, []):
        if client == OUTPUT or not isinstance(client.op, subtensor.Subtensor) or \
                client.op.idx_list != (-1,) or len(client.inputs) != 1:
            return None
        reads.append(client.outputs[0])
    return reads or None


@node_rewrite(Scan)
def last_state_only(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """``h[-1]`` of a state's history is its final value: the history need not be stored.

    A per-step output read only as ``y[-1]`` becomes a state (when its shape is known), so
    only its last value is kept.
    """
    parts = ScanParts.from_node(node)
    carry_of_new = {c.new: c for c in parts.carries}
    reads_of: list[tuple[list[Any], Carry]] = []
    promoted: list[tuple[Out, list[Any]]] = []
    for y in parts.ys:
        reads = _reads_last_only(fgraph, y.output) if y.output is not None else None
        if reads is None:
            continue
        carry = carry_of_new.get(y.inner)
        if carry is not None and carry.output is not None:
            reads_of.append((reads, carry))
        elif carry is None and parts.cond is None:
            promoted.append((y, reads))
    shapes = _outer_y_shapes(node, parts) if promoted else []
    for y, reads in promoted:
        shape = shapes[parts.ys.index(y)]
        if shape is None:
            continue
        init = construct.zeros(list(shape), dtype=y.inner.dtype)
        state = Carry(init, y.inner.type.make_variable(y.inner.name), y.inner)
        parts.carries.append(state)
        parts.ys.remove(y)
        reads_of.append((reads, state))
    if not reads_of:
        return None
    aliases = [(r, carry) for reads, carry in reads_of for r in reads]
    if len(parts.carries) == _scan(node).n_carries:  # nothing promoted: read the final states
        return {r: carry.output for r, carry in aliases}
    return _rebuild(parts, aliases)


def _outer_y_shapes(node: Apply, parts: ScanParts) -> list[tuple | None]:
    def dims(var: Any, skip: int) -> tuple:
        # a random generator carried by the loop has no shape (no ndim)
        return tuple(shape_ops.shape_i(var, d) for d in range(skip, getattr(var, "ndim", skip)))

    shapes = [dims(c.outer, 0) for c in parts.consts] + \
        [dims(c.init, 0) for c in parts.carries] + [dims(s.outer, 1) for s in parts.seqs]
    derived = inner_output_shapes(_scan(node).inner, shapes)
    return derived[len(parts.carries):len(parts.carries) + len(parts.ys)]


@node_rewrite(Scan)
def passthrough_outputs(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """A per-step output that is a sequence's entry is that sequence (``seq[:n_steps]``)."""
    parts = ScanParts.from_node(node)
    if parts.cond is not None:
        return None
    seq_of = {s.inner: s.outer for s in parts.seqs}
    pairs = {y.output: _trimmed(seq_of[y.inner], parts.n_steps) for y in parts.ys
             if y.output is not None and y.inner in seq_of and _is_used(fgraph, y.output)}
    pairs = {old: new for old, new in pairs.items() if old.type.is_compatible(new.type)
             or new.type.is_compatible(old.type)}
    return pairs or None  # type: ignore[return-value]


@node_rewrite(Scan)
def constant_carries(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """A state whose new value is itself never changes: it is a loop constant."""
    parts = ScanParts.from_node(node)
    fixed = [c for c in parts.carries if c.new is c.inner]
    if not fixed:
        return None
    aliases = []
    for c in fixed:
        parts.carries.remove(c)
        parts.consts.append(Const(c.init, c.inner))
        if c.output is not None:
            aliases.append((c.output, c.init))
    return _rebuild(parts, aliases)


# ---------------------------------------------------------------------------------------------
# Duplicates and merging
# ---------------------------------------------------------------------------------------------

@dataclass
class _Dedupe:
    parts: ScanParts
    aliases: list[tuple[Any, Any]] = field(default_factory=list)
    changed: bool = False


def _dedupe_inputs(state: _Dedupe) -> None:
    """Constants and sequences with the same outer variable share one placeholder."""
    parts, replace = state.parts, {}
    for kind in ("consts", "seqs"):
        kept: dict[Any, Any] = {}
        survivors = []
        for part in getattr(parts, kind):
            twin = kept.get(part.outer)
            if twin is None:
                kept[part.outer] = part
                survivors.append(part)
            else:
                replace[part.inner] = twin.inner
        setattr(parts, kind, survivors)
    if replace:
        _substitute(parts, replace)
        state.changed = True


def _dedupe_carries(state: _Dedupe) -> None:
    """States with the same initial value and the same update are one state.

    The classes are refined to a fixed point: two states stay together while their updates
    are equal computations once every state is replaced by its class representative.
    """
    parts = state.parts
    groups: dict[Any, list[Carry]] = {}
    for c in parts.carries:
        groups.setdefault((id(c.init), c.inner.type), []).append(c)
    classes = [g for g in groups.values()]
    if all(len(g) == 1 or _distinct_roots(g) for g in classes):
        return  # no two states can be one: the first refinement would split every class
    while True:
        rep_of = {c.inner: g[0].inner for g in classes for c in g}
        news = dict(zip([id(c) for c in parts.carries],
                        clone_replace([c.new for c in parts.carries], rep_of)))
        refined: list[list[Carry]] = []
        for group in classes:
            buckets: list[list[Carry]] = []
            for c in group:
                home = next((b for b in buckets if equal_computations(
                    [news[id(b[0])]], [news[id(c)]])), None)
                if home is None:
                    buckets.append([c])
                else:
                    home.append(c)
            refined += buckets
        if len(refined) == len(classes):
            break
        classes = refined
    replace = {}
    dropped: set[int] = set()
    for group in classes:
        for c in group[1:]:
            dropped.add(id(c))
            replace[c.inner] = group[0].inner
            if c.output is not None:
                state.aliases.append((c.output, group[0]))
    if replace:
        parts.carries = [c for c in parts.carries if id(c) not in dropped]
        _substitute(parts, replace)
        state.changed = True


def _distinct_roots(group: list[Carry]) -> bool:
    """True when no two updates of ``group`` can be equal computations whatever the states are
    replaced by: each is computed by a node, and those differ in op, output or arity (what
    ``equal_computations`` compares first, and what replacing the states leaves as it is)."""
    keys = set()
    for c in group:
        node = c.new.owner
        if node is None:
            return False
        keys.add((node.op, c.new.index, len(node.inputs)))
    return len(keys) == len(group)


def _dedupe_outputs(state: _Dedupe) -> None:
    """Per-step outputs computing the same value are one output."""
    parts, survivors = state.parts, list[Out]()
    for y in parts.ys:
        twin = next((s for s in survivors if s.inner is y.inner or
                     equal_computations([s.inner], [y.inner])), None)
        if twin is None:
            survivors.append(y)
        else:
            state.changed = True
            if y.output is not None:
                state.aliases.append((y.output, twin))
    parts.ys = survivors


def _merge_inner(parts: ScanParts) -> None:
    """Common subexpressions of the inner graph are computed once."""
    inner_in = [c.inner for c in parts.consts] + [c.inner for c in parts.carries] + \
        [s.inner for s in parts.seqs]
    graph = FunctionGraph(inner_in, _inner_outputs(parts), clone=True)
    merge_graph(graph)
    mapping = dict(zip(inner_in, graph.inputs))
    for part in parts.consts + parts.carries + parts.seqs:
        part.inner = mapping[part.inner]
    outs = list(graph.outputs)
    for c in parts.carries:
        c.new = outs.pop(0)
    for y in parts.ys:
        y.inner = outs.pop(0)
    if parts.cond is not None:
        parts.cond = outs.pop(0)


def dedupe_parts(parts: ScanParts) -> _Dedupe:
    state = _Dedupe(parts)
    _dedupe_inputs(state)
    _dedupe_carries(state)
    _dedupe_outputs(state)
    return state


@node_rewrite(Scan)
def dedupe_scan(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """Repeated inputs, states and outputs of one loop are kept once."""
    state = dedupe_parts(ScanParts.from_node(node))
    if not state.changed:
        return None
    _merge_inner(state.parts)
    return _rebuild(state.parts, state.aliases)


def _mergeable(a: Apply, b: Apply) -> bool:
    op_a, op_b = a.op, b.op
    if op_a.until or op_b.until:  # type: ignore[attr-defined]
        return False
    if (op_a.truncate_gradient, op_a.save_residuals,  # type: ignore[attr-defined]
            op_a.checkpoint_budget) != (op_b.truncate_gradient,  # type: ignore[attr-defined]
                                        op_b.save_residuals,  # type: ignore[attr-defined]
                                        op_b.checkpoint_budget):  # type: ignore[attr-defined]
        return False
    n_a, n_b = a.inputs[0], b.inputs[0]
    return n_a is n_b or equal_computations([n_a], [n_b])


def _depends(node: Apply, other: Apply) -> bool:
    return bool(set(other.outputs) & set(ancestors(node.inputs)))


def _combine(a: Apply, b: Apply) -> tuple[ScanParts, list[tuple[Any, Any]]]:
    pa, pb = ScanParts.from_node(a), ScanParts.from_node(b)
    shared = set(a.op.inner.inputs) & set(b.op.inner.inputs)  # type: ignore[attr-defined]
    if shared:  # a twin built from the same inner graph: give it its own placeholders
        ins = list(b.op.inner.inputs)  # type: ignore[attr-defined]
        new_in, new_out, _ = clone_graph(ins, _inner_outputs(pb))
        mapping = dict(zip(ins, new_in))
        for part in pb.consts + pb.carries + pb.seqs:
            part.inner = mapping[part.inner]
        for c in pb.carries:
            c.new = new_out.pop(0)
        for y in pb.ys:
            y.inner = new_out.pop(0)
    name = pa.name if pa.name == pb.name else f"{pa.name or 'scan'}+{pb.name or 'scan'}"
    merged = ScanParts(pa.n_steps, pa.consts + pb.consts, pa.carries + pb.carries,
                       pa.seqs + pb.seqs, pa.ys + pb.ys, None, pa.truncate_gradient,
                       pa.save_residuals, name, checkpoint_budget=pa.checkpoint_budget)
    state = dedupe_parts(merged)
    _merge_inner(state.parts)
    return state.parts, state.aliases


def merge_scans(fgraph: FunctionGraph) -> int:
    """Loops over the same number of steps, neither reading the other, become one loop."""
    changes = 0
    if sum(isinstance(n.op, Scan) for n in fgraph.apply_nodes) > 1:
        merge_graph(fgraph)  # equal inputs computed twice become one variable first
    while True:
        scans = [n for n in fgraph.toposort() if isinstance(n.op, Scan)]
        pair = next(((a, b) for i, a in enumerate(scans) for b in scans[i + 1:]
                     if _mergeable(a, b) and not _depends(a, b) and not _depends(b, a)), None)
        if pair is None:
            return changes
        parts, aliases = _combine(*pair)
        fgraph.replace_all(list(_rebuild(parts, aliases).items()), reason="merge_scans")
        changes += 1


# ---------------------------------------------------------------------------------------------
# The pass
# ---------------------------------------------------------------------------------------------

RULES: tuple[NodeRewrite, ...] = (
    constant_carries, dedupe_scan, last_state_only, drop_unused, passthrough_outputs,
    accumulate_outside, push_out_invariants, push_out_per_step, push_in_elementwise,
)


class ScanPass(GraphRewrite):
    """All loop rewrites to a fixed point: the rules, then merging, also in nested loops.

    Excluding ``"scan"`` skips it; excluding a rule's name (``"push_out_per_step"``,
    ``"merge_scans"``, ...) skips that rule.
    """

    def __init__(self, name: str = "scan", rules: tuple[NodeRewrite, ...] = RULES,
                 max_rounds: int = 20) -> None:
        super().__init__(name, lambda fgraph: self._run(fgraph, frozenset()))
        self.rules = rules
        self.max_rounds = max_rounds

    def __call__(self, fgraph: FunctionGraph, excluding: frozenset[str] = frozenset()) -> int:
        if self.name in excluding:
            return 0
        return self._run(fgraph, frozenset(excluding))

    def _run(self, fgraph: FunctionGraph, excluding: frozenset[str]) -> int:
        if not any(isinstance(n.op, Scan) for n in fgraph.apply_nodes):
            return 0
        phase = Phase(self.name, self.rules)
        total = 0
        for _ in range(self.max_rounds):
            changes = phase(fgraph, excluding)
            if "merge_scans" not in excluding:
                changes += merge_scans(fgraph)
            changes += _rewrite_inner_graphs(fgraph, lambda g: self._run(g, excluding),
                                             nested_only=True)
            total += changes
            if not changes:
                break
        return total


def _rewrite_inner_graphs(fgraph: FunctionGraph, rewrite: Callable[[FunctionGraph], Any],
                          nested_only: bool = False) -> int:
    """Apply ``rewrite`` to a copy of each loop's inner graph (of those holding loops, with
    ``nested_only``); rebuild the loops that changed."""
    changes = 0
    for node in [n for n in fgraph.toposort() if isinstance(n.op, Scan)]:
        op = _scan(node)
        if nested_only and not any(isinstance(n.op, Scan) for n in _inner_nodes(op.inner)):
            continue
        inner = op.inner.fgraph()
        rewrite(inner)
        graph = InnerGraph(inner.inputs, inner.outputs)
        if graph == op.inner:
            continue
        new_op = Scan(graph, op.n_consts, op.n_carries, op.n_seqs, op.until,
                      op.truncate_gradient, op.save_residuals, op.name, op.checkpoint_budget)
        new = new_op.make_node(*node.inputs)
        fgraph.replace_all(list(zip(node.outputs, new.outputs)), reason="scan_inner")
        changes += 1
    return changes


def inner_graph_rewrite(phases: Callable[[], Sequence[tuple[str, Any]]],
                        name: str = "scan_inner") -> GraphRewrite:
    """A pass running the ``(phase name, pass)`` list ``phases()`` inside every loop.

    ``phases`` is called when the pass runs, so it may return a pipeline that contains this
    pass itself (nested loops are then rewritten too). Excluded names are honoured inside.
    """

    class _Inner(GraphRewrite):
        def __call__(self, fgraph: FunctionGraph,
                     excluding: frozenset[str] = frozenset()) -> int:
            if self.name in excluding:
                return 0
            return _rewrite_inner_graphs(
                fgraph, lambda g: run_pipeline(g, phases(), excluding))

    return _Inner(name, lambda fgraph: 0)


scan_rewrites = ScanPass()
