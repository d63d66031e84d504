"""Canonicalization: put expressions in one normal form and remove useless work.

Constant folding, flattening of add/mul, gathering constants, neutral elements, ``x - x``,
``--x``, ``x / x`` (where x cannot be zero), small integer powers, casts to the same dtype,
composed and identity DimShuffles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.ops import elemwise as ew
from symgraph.ops.basic import TensorConstant
from symgraph.ops.composite import is_rank_padding
from symgraph.rewrite.engine import NodeRewrite, node_rewrite
from symgraph.type import TensorType

FOLD_LIMIT = 1 << 16  # elements: larger results stay computed at run time


def scalar_value(var: Variable) -> Any:
    """The value of a constant all of whose elements are equal, else ``None``.

    Looks through rank padding and through fills (``second(x, c)``, as ``zeros_like`` builds).
    """
    owner = var.owner
    while owner is not None:  # through is_rank_padding(owner) or is_elemwise(var, "second")
        op = owner.op
        if isinstance(op, ew.DimShuffle):
            if not is_rank_padding(owner):
                break
        elif not (isinstance(op, ew.Elemwise) and op.scalar_op.kind == "fill"):
            break
        var = owner.inputs[-1]
        owner = var.owner
    if not isinstance(var, Constant):
        return None
    # A constant's data never changes: its answer is kept on it (rules ask again and again).
    cached = var.__dict__.get("_scalar_value", _UNKNOWN)
    if cached is not _UNKNOWN:
        return cached
    value = _scalar_of_data(var.data)
    var.__dict__["_scalar_value"] = value
    return value


_UNKNOWN = object()


def _scalar_of_data(value: Any) -> Any:
    data = np.asarray(value)
    if data.size == 0:
        return None
    first = data.reshape(-1)[0]
    if data.size > 1 and not np.all(data == first):
        return None
    return first.item()


def _same_type(new: Variable, old: Variable) -> bool:
    return new.type == old.type


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
    new = ew.elemwise_op(name)(*flat)  # type: ignore[arg-type]
    return [new] if _same_type(new, out) else None


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
    new = ew.elemwise_op(_row(node))(*others, folded) if others else folded  # type: ignore
    return [new] if _same_type(new, out) else None


@node_rewrite("add", "mul")
def drop_neutral_elements(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x * 1`` -> ``x`` and ``x + 0`` -> ``x`` (when that keeps the type)."""
    neutral = 0 if _row(node) == "add" else 1
    keep = [i for i in node.inputs if scalar_value(i) != neutral]
    if len(keep) == len(node.inputs) or not keep:
        return None
    new = keep[0] if len(keep) == 1 else ew.elemwise_op(_row(node))(*keep)  # type: ignore
    return [new] if _same_type(new, node.outputs[0]) else None


@node_rewrite("sub")
def sub_self(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x - x`` -> zeros."""
    x, y = node.inputs
    if x is not y:
        return None
    new = ew.zeros_like(x)
    return [new] if _same_type(new, node.outputs[0]) else None


def cancel_inverse(name: str, outer: str, inner: str, doc: str) -> NodeRewrite:
    """A rule rewriting ``outer(inner(x))`` to ``x`` (when that keeps the type)."""

    def transform(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
        (x,) = node.inputs
        if ew.is_elemwise(x, inner) and _same_type(x.owner.inputs[0], node.outputs[0]):
            return [x.owner.inputs[0]]  # type: ignore[union-attr]
        return None

    transform.__doc__ = doc
    return NodeRewrite(name, transform, (outer,))


neg_neg = cancel_inverse("neg_neg", "neg", "neg", "``-(-x)`` -> ``x``.")


@node_rewrite("true_divide")
def div_self(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x / x`` -> 1 where x cannot be zero (a non-zero constant or a positive function)."""
    x, y = node.inputs
    if x is not y:
        return None
    value = scalar_value(x)
    if not ((value is not None and value != 0) or
            (x.owner is not None and isinstance(x.owner.op, ew.Elemwise) and
             x.owner.op.scalar_op.positive)):
        return None
    new = ew.ones_like(x, dtype=node.outputs[0].dtype)
    return [new] if _same_type(new, node.outputs[0]) else None


_POWERS = {0: None, 1: "x", 2: "sqr", -1: "reciprocal", 0.5: "sqrt", 3: "cube", -2: "inv_sqr",
           -0.5: "rsqrt"}


@node_rewrite("pow")
def pow_by_constant(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``x ** c`` for c in {0, ±0.5, ±1, 2, 3, -2} -> cheaper elementwise forms."""
    x, exponent = node.inputs
    c = scalar_value(exponent)
    out = node.outputs[0]
    if c is None or c not in _POWERS or x.dtype != out.dtype or x.type.shape != out.type.shape:
        return None
    if c == 0:
        new = ew.ones_like(x)
    elif c == 1:
        new = x
    elif c == 2:
        new = ew.sqr(x)
    elif c == 3:
        new = ew.mul(x, ew.sqr(x))
    elif c == -1:
        new = ew.reciprocal(x)
    elif c == -2:
        new = ew.reciprocal(ew.sqr(x))
    elif c == 0.5:
        new = ew.sqrt(x)
    else:
        new = ew.reciprocal(ew.sqrt(x))
    return [new] if _same_type(new, out) else None


log_of_exp = cancel_inverse("log_of_exp", "log", "exp", "``log(exp(x))`` -> ``x`` for float x.")


@node_rewrite(ew.Elemwise)
def cast_to_same_dtype(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """A cast to the dtype the value already has, or an ``identity``, is removed."""
    if node.op.scalar_op.kind not in ("cast", "identity"):
        return None
    (x,) = node.inputs
    return [x] if _same_type(x, node.outputs[0]) else None


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
    new = ew.dimshuffle(inner.inputs[0], order)
    return [new] if _same_type(new, node.outputs[0]) else None


RULES: tuple[NodeRewrite, ...] = (
    constant_folding, flatten_associative, gather_constants, drop_neutral_elements, sub_self,
    neg_neg, div_self, pow_by_constant, log_of_exp, cast_to_same_dtype, compose_dimshuffles,
)
