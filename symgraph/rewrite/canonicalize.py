"""Canonicalization: put expressions in one normal form and remove useless work.

Constant folding, flattening of add/mul, gathering constants, neutral elements, ``x - x``,
``--x``, ``x / x`` (where x cannot be zero), small integer powers, casts to the same dtype,
composed and identity DimShuffles, ops that only change gradients or types, reversals of
concatenations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.fgraph import FunctionGraph
from symgraph.grad import IdentityMarker
from symgraph.graph import Apply, Constant, Variable
from symgraph.ops import elemwise as ew
from symgraph.ops.basic import TensorConstant
from symgraph.ops.elemwise import ones_like, reciprocal, sqr, sqrt, zeros_like
from symgraph.ops.shape import Join
from symgraph.ops.subtensor import Slice, Subtensor
from symgraph.rewrite.engine import NodeRewrite, node_rewrite
from symgraph.rewrite.pattern import Match, Pattern, rule, scalar_value, variables
from symgraph.type import TensorType

__all__ = ["FOLD_LIMIT", "RULES", "scalar_value"]

FOLD_LIMIT = 1 << 16  # elements: larger results stay computed at run time


def _row(node: Apply) -> str | None:
    return node.op.scalar_op.name if isinstance(node.op, ew.Elemwise) else None


@node_rewrite(name="constant_folding")
def constant_folding(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """A node whose inputs are all constants is computed now, with its ``perform``."""
    if not node.inputs:
        return None
    for i in node.inputs:
        if not isinstance(i, Constant):
            return None
    if not node.op.do_constant_folding(node) or node.op.destroy_map:
        return None
    if not all(isinstance(o.type, TensorType) for o in node.outputs):
        return None
    storage: list[list[Any]] = [[None] for _ in node.outputs]
    try:
        with np.errstate(all="ignore"):
            node.op.perform(node, [i.data for i in node.inputs], storage)
    except Exception:  # the error will surface, with context, when the graph runs
        return None
    values = [np.asarray(cell[0]) for cell in storage]
    if any(v.size > FOLD_LIMIT for v in values):
        return None
    return [TensorConstant(TensorType(o.dtype, v.shape), np.array(v, dtype=o.dtype))
            for o, v in zip(node.outputs, values)]


@node_rewrite("add", "mul")
def flatten_associative(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``(a + b) + c`` -> ``add(a, b, c)`` when the inner sum has no other client.

    Only the root of a chain fires, and it absorbs the whole chain at once, so a chain of N
    additions costs O(N), not O(N²) (the pattern that made Theano's compile super-linear).
    """
    name = _row(node)
    out = node.outputs[0]
    clients = fgraph.clients
    for inp in node.inputs:  # quick reject: nothing to absorb (the same test as below)
        if ew.is_elemwise(inp, name) and inp.dtype == out.dtype and \
                len(clients.get(inp, ())) == 1:
            break
    else:
        return None
    if _absorbed_by_client(fgraph, out, name):
        return None
    flat: list[Variable] = []
    stack = list(reversed(node.inputs))
    changed = False
    while stack:
        inp = stack.pop()
        if ew.is_elemwise(inp, name) and inp.dtype == out.dtype and \
                len(fgraph.clients.get(inp, ())) == 1:
            stack.extend(reversed(inp.owner.inputs))  # type: ignore[union-attr]
            changed = True
        else:
            flat.append(inp)
    if not changed:
        return None
    return [ew.elemwise_op(name)(*flat)]  # type: ignore[arg-type]


def _absorbed_by_client(fgraph: FunctionGraph, var: Variable, name: str | None) -> bool:
    """True when ``var``'s only client is the same associative op, which will absorb it."""
    clients = fgraph.clients.get(var, ())
    if len(clients) != 1:
        return False
    client = clients[0][0]
    return not isinstance(client, str) and _row(client) == name and \
        client.outputs[0].dtype == var.dtype


@node_rewrite("add", "mul")
def gather_constants(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """Several constant operands of add/mul become one, computed now."""
    constants = [i for i in node.inputs if isinstance(i, Constant)]
    if len(constants) < 2:
        return None
    out = node.outputs[0]
    combine = np.add if _row(node) == "add" else np.multiply
    value = np.asarray(constants[0].data, dtype=out.dtype)
    for c in constants[1:]:
        value = combine(value, np.asarray(c.data, dtype=out.dtype)).astype(out.dtype)
    folded = TensorConstant(TensorType(out.dtype, value.shape), value)
    others = [i for i in node.inputs if not isinstance(i, Constant)]
    return [ew.elemwise_op(_row(node))(*others, folded) if others else folded]  # type: ignore


# -- identities, one pattern per line ----------------------------------------------------------

(x,) = variables("x")


def _cannot_be_zero(m: Match) -> bool:
    """x is a non-zero constant or a function with only positive values."""
    value = scalar_value(m.x)
    return (value is not None and value != 0) or \
        (m.x.owner is not None and isinstance(m.x.owner.op, ew.Elemwise) and
         m.x.owner.op.scalar_op.positive)


def _has_the_type(m: Match) -> bool:
    """x already has the result's type: the dropped operand did not broadcast it (a fill of a
    larger shape stays, as the fill is cheaper than what would replace it)."""
    return m.x.type == m.root.type


drop_neutral_elements = rule(
    "drop_neutral_elements",
    Pattern(x + 0, x, when=_has_the_type),
    Pattern(x * 1, x, when=_has_the_type),
    doc="Neutral elements of add and mul disappear (with the other operands, if any).",
)
sub_self = rule("sub_self", Pattern(x - x, lambda m: zeros_like(m.x), doc="x - x -> 0"))
neg_neg = rule("neg_neg", Pattern(-(-x), x))
div_self = rule("div_self", Pattern(x / x, lambda m: ones_like(m.x, dtype=m.root.dtype),
                                    when=_cannot_be_zero, doc="x / x -> 1 where x != 0"))
# x ** c for the exponents with a cheaper elementwise form.
pow_by_constant = rule(
    "pow_by_constant",
    Pattern(x ** 0, lambda m: ones_like(m.x), doc="x ** 0 -> 1"),
    Pattern(x ** 1, x),
    Pattern(x ** 2, sqr(x)),
    Pattern(x ** 3, x * sqr(x)),
    Pattern(x ** -1, reciprocal(x)),
    Pattern(x ** -2, reciprocal(sqr(x))),
    Pattern(x ** 0.5, sqrt(x)),
    Pattern(x ** -0.5, reciprocal(sqrt(x))),
)
log_of_exp = rule("log_of_exp", Pattern(ew.log(ew.exp(x)), x))


@node_rewrite(ew.Elemwise)
def cast_to_same_dtype(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """A cast to the dtype the value already has, or an ``identity``, is removed."""
    if node.op.scalar_op.kind not in ("cast", "identity"):
        return None
    (x,) = node.inputs
    return [x] if x.dtype == node.outputs[0].dtype else None


@node_rewrite(ew.DimShuffle)
def compose_dimshuffles(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x.dimshuffle(a).dimshuffle(b)`` -> one DimShuffle; an identity pattern -> ``x``."""
    (x,) = node.inputs
    op = node.op
    if op.new_order == tuple(range(op.input_ndim)):
        return [x]
    inner = x.owner
    if inner is None or not isinstance(inner.op, ew.DimShuffle):
        return None
    order = tuple("x" if o == "x" else inner.op.new_order[o] for o in op.new_order)
    # Dimensions the inner shuffle dropped stay dropped, with the same run-time length check.
    return [ew.dimshuffle(inner.inputs[0], order)]


@node_rewrite(IdentityMarker)
def drop_identity_markers(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``disconnected_grad(x)``, ``zero_grad(x)``, ``unbroadcast(x)`` ... -> ``x``: they
    change gradients or types, never values."""
    return [node.inputs[0]]


_REVERSED = (Slice(None, None, -1),)


@node_rewrite(Subtensor)
def reverse_join(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``join(0, a, b)[::-1]`` -> ``join(0, b[::-1], a[::-1])`` (along another axis, the
    parts keep their order): the concatenation copies anyway, so it copies in reversed order
    and the result is C-contiguous where the reversed view had a negative stride (which a
    matrix product must copy again: ``[h0, h[:-1]][::-1]``, the previous states of a scan's
    gradient). Only when the reversal is the concatenation's one reader."""
    if tuple(node.op.idx_list) != _REVERSED or len(node.inputs) != 1:
        return None
    joined = node.inputs[0]
    owner = joined.owner
    if owner is None or not isinstance(owner.op, Join) or joined in fgraph.outputs:
        return None
    if len(fgraph.clients.get(joined, [])) != 1:
        return None
    parts = [p[::-1] for p in owner.inputs]
    if owner.op.axis == 0:
        parts.reverse()
    out = Join(owner.op.axis)(*parts)
    return [out] if out.type == node.outputs[0].type else None


RULES: tuple[NodeRewrite, ...] = (
    constant_folding, flatten_associative, gather_constants, drop_neutral_elements, sub_self,
    neg_neg, div_self, pow_by_constant, log_of_exp, cast_to_same_dtype, compose_dimshuffles,
    drop_identity_markers, reverse_join,
)
