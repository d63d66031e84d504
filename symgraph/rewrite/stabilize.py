"""Stabilization: rewrite numerically fragile expressions into equivalent stable ones.

``log(1 + x)``, ``exp(x) - 1``, ``log(1 + exp(x))``, logs of sigmoids and softmaxes,
crossentropies of softmaxes (and the gradients ``grad`` built for them) and
``log(sum(exp(x)))``.
"""

from __future__ import annotations

from collections.abc import Sequence

from symgraph import dtype as dt
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Variable
from symgraph.ops import elemwise as ew
from symgraph.ops import nnet, reduce
from symgraph.rewrite.canonicalize import neg_neg, scalar_value
from symgraph.rewrite.engine import NodeRewrite, node_rewrite


def _fit(new: Variable, old: Variable, fillers: Sequence[Variable] = ()) -> Variable | None:
    """``new`` given ``old``'s type: cast to its dtype, broadcast by the operands it replaced.

    ``fillers`` are the operands that disappeared (the ``1`` of ``1 + x``, possibly a fill of
    a larger shape); broadcasting against them restores the shape they contributed. ``None``
    when the types still differ.
    """
    if new.dtype != old.dtype:
        new = ew.cast(new, old.dtype)
    for filler in fillers:
        if new.type.shape == old.type.shape:
            break
        new = ew.second(filler, new)
    return new if new.type == old.type else None


def _without(operands: Sequence[Variable], index: int) -> Variable | None:
    """The sum of the operands other than ``operands[index]`` (``None`` if there is none)."""
    rest = [v for i, v in enumerate(operands) if i != index]
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else ew.add(*rest)


def _index_of_constant(operands: Sequence[Variable], value: float) -> int | None:
    for i, operand in enumerate(operands):
        if scalar_value(operand) == value:
            return i
    return None


# -- log1p / expm1 ----------------------------------------------------------------------------

@node_rewrite("log")
def log_one_plus_to_log1p(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``log(1 + x)`` -> ``log1p(x)``, the 1 in any position and possibly a fill."""
    (arg,) = node.inputs
    if not ew.is_elemwise(arg, "add"):
        return None
    operands = arg.owner.inputs  # type: ignore[union-attr]
    one = _index_of_constant(operands, 1)
    x = None if one is None else _without(operands, one)
    if x is None:
        return None
    new = _fit(ew.log1p(ew.cast(x, arg.dtype)), node.outputs[0], [operands[one]])  # type: ignore
    return None if new is None else [new]


@node_rewrite("log")
def log_one_minus_to_log1p(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``log(1 - x)`` -> ``log1p(-x)``."""
    (arg,) = node.inputs
    if not ew.is_elemwise(arg, "sub") or scalar_value(arg.owner.inputs[0]) != 1:  # type: ignore
        return None
    one, x = arg.owner.inputs  # type: ignore[union-attr]
    new = _fit(ew.log1p(ew.neg(ew.cast(x, arg.dtype))), node.outputs[0], [one])
    return None if new is None else [new]


def _split_exp(terms: Sequence[Variable]) -> tuple[Variable, Variable | None] | None:
    """``(x, sum of the other terms)`` for terms of which one is ``exp(x)``."""
    for i, e in enumerate(terms):
        if ew.is_elemwise(e, "exp"):
            return e.owner.inputs[0], _without(terms, i)  # type: ignore[union-attr]
    return None


def _expm1_operands(node: Apply) -> tuple[Variable, Variable, Variable | None] | None:
    """``(x, the constant, other terms)`` for ``exp(x) + rest - 1`` or ``exp(x) + -1 + rest``."""
    operands = node.inputs
    if ew.is_elemwise(node.outputs[0], "sub"):
        total, c = operands
        if scalar_value(c) != 1:
            return None
        terms = total.owner.inputs if ew.is_elemwise(total, "add") else [total]  # type: ignore
        found = _split_exp(terms)
        return None if found is None else (found[0], c, found[1])
    minus_one = _index_of_constant(operands, -1)
    if minus_one is None:
        return None
    found = _split_exp([v for i, v in enumerate(operands) if i != minus_one])
    return None if found is None else (found[0], operands[minus_one], found[1])


@node_rewrite("sub", "add")
def exp_minus_one_to_expm1(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``exp(x) - 1`` (or ``exp(x) + -1``, among other terms) -> ``expm1(x)``."""
    found = _expm1_operands(node)
    if found is None:
        return None
    x, constant, rest = found
    out = node.outputs[0]
    new = ew.cast(ew.expm1(x), out.dtype)
    if rest is not None:
        new = ew.add(new, rest)
    fitted = _fit(new, out, [constant])
    return None if fitted is None else [fitted]


# -- sigmoid and softplus ---------------------------------------------------------------------

@node_rewrite("log1p")
def log1p_of_exp_to_softplus(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``log1p(exp(x))`` (``log(1 + exp(x))`` after the rule above) -> ``softplus(x)``, which
    does not overflow for large x."""
    (arg,) = node.inputs
    if not ew.is_elemwise(arg, "exp"):
        return None
    new = ew.softplus(arg.owner.inputs[0])  # type: ignore[union-attr]
    return [new] if new.type == node.outputs[0].type else None


def _negated(x: Variable) -> Variable:
    return x.owner.inputs[0] if ew.is_elemwise(x, "neg") else ew.neg(x)  # type: ignore


@node_rewrite("log")
def log_sigmoid_to_softplus(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``log(sigmoid(x))`` -> ``-softplus(-x)``, finite for very negative x."""
    (arg,) = node.inputs
    if not ew.is_elemwise(arg, "sigmoid"):
        return None
    new = ew.neg(ew.softplus(_negated(arg.owner.inputs[0])))  # type: ignore[union-attr]
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite("log", "log1p")
def log_one_minus_sigmoid_to_softplus(fgraph: FunctionGraph,
                                      node: Apply) -> list[Variable] | None:
    """``log(1 - sigmoid(x))`` (or ``log1p(-sigmoid(x))``) -> ``-softplus(x)``."""
    (arg,) = node.inputs
    if ew.is_elemwise(node.outputs[0], "log1p"):
        sig = arg.owner.inputs[0] if ew.is_elemwise(arg, "neg") else None  # type: ignore
        fillers: list[Variable] = []
    elif ew.is_elemwise(arg, "sub") and scalar_value(arg.owner.inputs[0]) == 1:  # type: ignore
        fillers, sig = [arg.owner.inputs[0]], arg.owner.inputs[1]  # type: ignore[union-attr]
    else:
        return None
    if sig is None or not ew.is_elemwise(sig, "sigmoid"):
        return None
    new = _fit(ew.neg(ew.softplus(sig.owner.inputs[0])), node.outputs[0], fillers)  # type: ignore
    return None if new is None else [new]


# -- softmax, log-softmax and crossentropy ----------------------------------------------------

def _softmax_input(var: Variable, last_axis: bool = False) -> Variable | None:
    """``x`` when ``var`` is ``softmax(x)`` (along the last axis, if asked), else ``None``."""
    node = var.owner
    if node is None or not isinstance(node.op, nnet.Softmax):
        return None
    if last_axis and node.op.axis != var.ndim - 1:
        return None
    return node.inputs[0]


@node_rewrite("log")
def log_softmax_from_softmax(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``log(softmax(x))`` -> ``log_softmax(x)``."""
    (arg,) = node.inputs
    x = _softmax_input(arg)
    if x is None:
        return None
    new = nnet.LogSoftmax(arg.owner.op.axis)(x)  # type: ignore[union-attr]
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite(nnet.CrossentropyCategorical1Hot)
def crossentropy_of_softmax_to_fused(fgraph: FunctionGraph,
                                     node: Apply) -> list[Variable] | None:
    """``crossentropy_categorical_1hot(softmax(x), t)`` -> ``SoftmaxCrossentropy(x, t)``."""
    p, t = node.inputs
    x = _softmax_input(p, last_axis=True)
    if x is None:
        return None
    new = nnet.SoftmaxCrossentropy()(ew.cast(x, p.dtype), t)
    return [new] if new.type == node.outputs[0].type else None


def _log_softmax_input(var: Variable) -> Variable | None:
    """``x`` when ``var`` is ``log_softmax(x)`` or ``log(softmax(x))`` along the last axis."""
    node = var.owner
    if node is not None and isinstance(node.op, nnet.LogSoftmax):
        return node.inputs[0] if node.op.axis == var.ndim - 1 else None
    if ew.is_elemwise(var, "log"):
        return _softmax_input(node.inputs[0], last_axis=True)  # type: ignore[union-attr]
    return None


@node_rewrite(reduce.CAReduce)
def onehot_crossentropy_of_softmax_to_fused(fgraph: FunctionGraph,
                                            node: Apply) -> list[Variable] | None:
    """``sum(t * log_softmax(x), axis=-1)`` -> ``-SoftmaxCrossentropy(x, t)``.

    This is the dense-label form ``categorical_crossentropy(softmax(x), t)`` builds (its
    leading minus meets the new one and ``neg_neg`` removes both).
    """
    op, (prod,) = node.op, node.inputs
    if op.kind != "add" or op.dtype is not None or op.axis != (prod.ndim - 1,):
        return None
    if not ew.is_elemwise(prod, "mul") or len(prod.owner.inputs) != 2:  # type: ignore[union-attr]
        return None
    for log_sm, t in (prod.owner.inputs, reversed(prod.owner.inputs)):  # type: ignore
        x = _log_softmax_input(log_sm)
        if x is None or t.ndim != x.ndim or not dt.is_float(t.dtype):
            continue
        new = ew.neg(nnet.SoftmaxCrossentropy()(ew.cast(x, log_sm.dtype), t))
        return [new] if new.type == node.outputs[0].type else None
    return None


def _softmax_grad_parts(node: Apply) -> tuple[Variable, Variable, list[Variable]] | None:
    """``(G, sm, other factors)`` when ``node`` is ``(G - sum(G * sm, axis)) * sm * ...``.

    That is the gradient ``Softmax.L_op`` builds for an output gradient ``G``.
    """
    operands = list(node.inputs)
    for i, sm in enumerate(operands):
        if _softmax_input(sm) is None:
            continue
        for j, diff in enumerate(operands):
            g = _softmax_grad_input(diff, sm) if j != i else None
            if g is not None:
                return g, sm, [v for k, v in enumerate(operands) if k not in (i, j)]
    return None


def _softmax_grad_input(diff: Variable, sm: Variable) -> Variable | None:
    """``G`` when ``diff`` is ``G - sum(G * sm, axis, keepdims=True)`` for softmax ``sm``."""
    if not ew.is_elemwise(diff, "sub"):
        return None
    g, kept = diff.owner.inputs  # type: ignore[union-attr]
    axis = sm.owner.op.axis  # type: ignore[union-attr]
    axes = tuple(range(sm.ndim)) if axis is None else (axis,)
    expected = tuple("x" if i in axes else i - sum(a < i for a in axes) for i in range(sm.ndim))
    if kept.owner is None or not isinstance(kept.owner.op, ew.DimShuffle) or \
            kept.owner.op.new_order != expected:
        return None
    total = kept.owner.inputs[0]
    if total.owner is None or not isinstance(total.owner.op, reduce.CAReduce):
        return None
    if total.owner.op.kind != "add" or total.owner.op.axis != axes:
        return None
    prod = total.owner.inputs[0]
    if not ew.is_elemwise(prod, "mul") or set(prod.owner.inputs) != {g, sm} or \
            len(prod.owner.inputs) != 2:  # type: ignore[union-attr]
        return None
    return g


def _times(new: Variable, factors: list[Variable]) -> Variable:
    return ew.mul(new, *factors) if factors else new


@node_rewrite("mul")
def crossentropy_softmax_grad_to_fused(fgraph: FunctionGraph,
                                       node: Apply) -> list[Variable] | None:
    """The gradient through softmax of ``crossentropy_categorical_1hot(softmax(x), t)``
    -> ``SoftmaxCrossentropyGrad(gy, softmax(x), t)``, i.e. ``gy * (softmax(x) - onehot)``.

    The gradient as built divides by the probability of the true class, which is 0 (or
    denormal) for large logits; the fused form never divides.
    """
    parts = _softmax_grad_parts(node)
    if parts is None:
        return None
    g, sm, others = parts
    g_node = g.owner
    if g_node is None or not isinstance(g_node.op, nnet.CrossentropyCategorical1HotGrad):
        return None
    gy, p, t = g_node.inputs
    if p is not sm or _softmax_input(sm, last_axis=True) is None:
        return None
    new = _times(nnet.SoftmaxCrossentropyGrad()(gy, sm, t), others)
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite("mul")
def log_softmax_grad_to_stable(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """The gradient through softmax of ``log(softmax(x))``: ``G = H / sm`` gives
    ``(G - sum(G * sm)) * sm`` -> ``H - sm * sum(H)``, which never divides by ``sm``.
    """
    parts = _softmax_grad_parts(node)
    if parts is None:
        return None
    g, sm, others = parts
    if not ew.is_elemwise(g, "true_divide") or g.owner.inputs[1] is not sm:  # type: ignore
        return None
    h = g.owner.inputs[0]  # type: ignore[union-attr]
    axis = sm.owner.op.axis  # type: ignore[union-attr]
    new = _times(ew.sub(h, ew.mul(sm, reduce.sum(h, axis=axis, keepdims=True))), others)
    fitted = _fit(new, node.outputs[0])
    return None if fitted is None else [fitted]


# -- log-sum-exp ------------------------------------------------------------------------------

def _is_shifted_by_max(x: Variable) -> bool:
    """``x`` is ``y - m`` with ``m`` computed from a max (already a stable log-sum-exp)."""
    if not ew.is_elemwise(x, "sub"):
        return False
    shift = x.owner.inputs[1]  # type: ignore[union-attr]
    while shift.owner is not None and not isinstance(shift.owner.op, reduce.CAReduce):
        shift = shift.owner.inputs[-1]
    return shift.owner is not None and shift.owner.op.kind == "maximum"


def _stable_logsumexp(x: Variable, axes: tuple[int, ...]) -> Variable:
    shift = reduce.max(x, axis=axes, keepdims=True)
    # An infinite maximum would give inf - inf: shifting by 0 there keeps -inf and +inf.
    shift = ew.switch(ew.isinf(shift), 0, shift)
    total = reduce.sum(ew.exp(ew.sub(x, shift)), axis=axes)
    dropped = ew.dimshuffle(shift, [i for i in range(x.ndim) if i not in axes])
    return ew.add(ew.log(total), dropped)


@node_rewrite("log")
def log_sum_exp_to_logsumexp(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``log(sum(exp(x), axes))`` -> ``m + log(sum(exp(x - m), axes))``, ``m = max(x, axes)``.

    Also through a ``keepdims`` DimShuffle. Notes: over an empty axis the maximum raises
    ``ValueError`` at run time, where the original gave ``-inf``.
    """
    (arg,) = node.inputs
    keep = arg.owner if arg.owner is not None and isinstance(arg.owner.op, ew.DimShuffle) \
        else None
    total = keep.inputs[0] if keep is not None else arg
    if total.owner is None or not isinstance(total.owner.op, reduce.CAReduce):
        return None
    op, (e,) = total.owner.op, total.owner.inputs
    if op.kind != "add" or op.dtype is not None or not ew.is_elemwise(e, "exp"):
        return None
    x = e.owner.inputs[0]  # type: ignore[union-attr]
    if _is_shifted_by_max(x) or not op.axis:
        return None
    new = _stable_logsumexp(x, op.axis)
    if keep is not None:
        new = keep.op(new)
    return [new] if new.type == node.outputs[0].type else None


RULES: tuple[NodeRewrite, ...] = (
    log_sigmoid_to_softplus, log_one_minus_sigmoid_to_softplus, log_softmax_from_softmax,
    log_sum_exp_to_logsumexp, log_one_plus_to_log1p, log_one_minus_to_log1p,
    log1p_of_exp_to_softplus, exp_minus_one_to_expm1, crossentropy_of_softmax_to_fused,
    onehot_crossentropy_of_softmax_to_fused, crossentropy_softmax_grad_to_fused,
    log_softmax_grad_to_stable, neg_neg,
)
