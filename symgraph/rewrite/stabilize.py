"""Stabilization: rewrite numerically fragile expressions into equivalent stable ones.

``log(1 + x)``, ``exp(x) - 1``, ``log(1 + exp(x))``, spelled-out sigmoids ``1 / (1 + exp(-x))``,
logs of sigmoids and softmaxes, crossentropies of sigmoids and softmaxes (and the gradients
``grad`` built for them) and ``log(sum(exp(x)))``. Identities are patterns, one per line; the
rules that need analysis of a product or of softmax structure are procedural.
"""

from __future__ import annotations

from typing import Any

from symgraph import dtype as dt
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Variable
from symgraph.ops import elemwise as ew
from symgraph.ops import nnet, reduce
from symgraph.ops.elemwise import (
    add, exp, expm1, log, log1p, mul, reciprocal, sigmoid, softplus, sqr,
)
from symgraph.rewrite.canonicalize import neg_neg
from symgraph.rewrite.engine import NodeRewrite, fit_type, node_rewrite
from symgraph.rewrite.pattern import Pattern, rule, same_variable, scalar_value, variables


# -- log1p / expm1, one pattern per line ----------------------------------------------------------

x, y, g = variables("x y g")

log_one_plus_to_log1p = rule(
    "log_one_plus_to_log1p", Pattern(log(1 + x), log1p(x)),
    doc="The 1 in any position (the other operands are x), possibly a fill.")
log_one_minus_to_log1p = rule("log_one_minus_to_log1p", Pattern(log(1 - x), log1p(-x)))
exp_minus_one_to_expm1 = rule(
    "exp_minus_one_to_expm1",
    Pattern(exp(x) - 1, expm1(x)),
    Pattern((exp(x) + y) - 1, expm1(x) + y),
    Pattern(exp(x) + -1, expm1(x)),
    Pattern(add(exp(x), -1, y), expm1(x) + y),
)

# -- sigmoid and softplus -------------------------------------------------------------------------

# The forms of the logistic function people write, and their gradients.
spelled_out_sigmoid_to_sigmoid = rule(
    "spelled_out_sigmoid_to_sigmoid",
    Pattern(1 / (1 + exp(-x)), sigmoid(x)),
    Pattern(1 / (1 + exp(x)), sigmoid(-x)),
    Pattern(reciprocal(1 + exp(-x)), sigmoid(x)),
    Pattern(reciprocal(1 + exp(x)), sigmoid(-x)),
    Pattern((1 + exp(-x)) ** -1, sigmoid(x)),
    Pattern((1 + exp(x)) ** -1, sigmoid(-x)),
    Pattern(exp(x) / (1 + exp(x)), sigmoid(x)),
    doc="The logistic function spelled out becomes ``sigmoid``, which does not overflow.")
sigmoid_derivative_to_sigmoids = rule(
    "sigmoid_derivative_to_sigmoids",
    Pattern(g / sqr(1 + exp(x)) * exp(x), mul(g, sigmoid(x), sigmoid(-x))),
    Pattern(mul(g / sqr(1 + exp(x)), exp(x), y), mul(g, sigmoid(x), sigmoid(-x), y)),
    Pattern(exp(x) / sqr(1 + exp(x)), sigmoid(x) * sigmoid(-x)),
    Pattern(mul(reciprocal(sqr(1 + exp(x))), exp(x), g), mul(sigmoid(x), sigmoid(-x), g)),
    Pattern(mul(sqr(sigmoid(x)), exp(-x), g), mul(sigmoid(x), sigmoid(-x), g)),
    Pattern(mul(sqr(sigmoid(-x)), exp(x), g), mul(sigmoid(x), sigmoid(-x), g)),
    doc="The derivative of a spelled-out sigmoid, as ``grad`` builds it: "
        "``exp(x) / (1 + exp(x))**2 = sigmoid(x) * sigmoid(-x)`` (also "
        "``sigmoid(x)**2 * exp(-x)``), whose factors neither overflow nor give ``inf / inf``.")
exp_times_sigmoid_to_sigmoid = rule(
    "exp_times_sigmoid_to_sigmoid",
    Pattern(exp(x) * sigmoid(-x), sigmoid(x)),
    Pattern(mul(exp(x), sigmoid(-x), y), sigmoid(x) * y),
    Pattern(exp(-x) * sigmoid(x), sigmoid(-x)),
    Pattern(mul(exp(-x), sigmoid(x), y), sigmoid(-x) * y),
    doc="``exp(x) * sigmoid(-x) = exp(x) / (1 + exp(x)) = sigmoid(x)``: the gradient of "
        "``log(1 + exp(x))``, which is ``inf * 0`` where exp(x) overflows.")
one_minus_sigmoid_to_sigmoid = rule(
    "one_minus_sigmoid_to_sigmoid",
    Pattern((1 - sigmoid(x)) * y, sigmoid(-x) * y),
    Pattern(y / (1 - sigmoid(x)), y / sigmoid(-x)),
    doc="``1 - sigmoid(x) = sigmoid(-x)`` in products and quotients, exact where sigmoid(x) "
        "rounds to 1 (under a log, ``log_one_minus_sigmoid_to_softplus`` does better).")
log1p_of_exp_to_softplus = rule(
    "log1p_of_exp_to_softplus", Pattern(log1p(exp(x)), softplus(x)),
    doc="``log(1 + exp(x))`` after the rule above; softplus does not overflow for large x.")
log_sigmoid_to_softplus = rule(
    "log_sigmoid_to_softplus",
    Pattern(log(sigmoid(-x)), -softplus(x)),
    Pattern(log(sigmoid(x)), -softplus(-x)),
    doc="Finite for very negative x.")
log_one_minus_sigmoid_to_softplus = rule(
    "log_one_minus_sigmoid_to_softplus",
    Pattern(log(1 - sigmoid(x)), -softplus(x)),
    Pattern(log1p(-sigmoid(x)), -softplus(x)),
    doc="Finite for very positive x.")


def _positive_key(var: Variable) -> tuple[str, Variable, int] | None:
    """``("sigmoid", a, sign)`` for ``sigmoid(sign * a)`` (``1 - sigmoid(a)`` is
    ``sigmoid(-a)``), ``("positive", var, 1)`` for another function with only positive values,
    else ``None``."""
    node = var.owner
    if node is None or not isinstance(node.op, ew.Elemwise):
        return None
    row = node.op.scalar_op.name
    if row == "sub" and scalar_value(node.inputs[0]) == 1:
        key = _positive_key(node.inputs[1])
        return None if key is None or key[0] != "sigmoid" else (key[0], key[1], -key[2])
    if row == "sigmoid":
        arg, sign = node.inputs[0], 1
        while ew.is_elemwise(arg, "neg"):
            arg, sign = arg.owner.inputs[0], -sign  # type: ignore[union-attr]
        return "sigmoid", arg, sign
    return ("positive", var, 1) if node.op.scalar_op.positive else None


def _same_key(a: tuple[str, Variable, int], b: tuple[str, Variable, int]) -> bool:
    return a[0] == b[0] and a[2] == b[2] and same_variable(a[1], b[1])


@node_rewrite("mul")
def cancel_positive_divisors(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``(a / s) * s * r`` -> ``a * r`` for ``s`` with only positive values (a sigmoid,
    ``1 - sigmoid(x)`` counting as ``sigmoid(-x)``, an exp...), also through sums, negations
    and products: ``(a / s + b) * s`` -> ``a + b * s``.

    The gradients of ``log(sigmoid(x))`` and of the crossentropy of a sigmoid take this form
    (``g / p * p * (1 - p)``); dividing first gives ``inf * 0`` where ``s`` underflows.
    """
    operands = node.inputs
    keys = [_positive_key(v) for v in operands]
    if all(k is None for k in keys):
        return None  # no factor to cancel against (the common case)
    for i, operand in enumerate(operands):
        if _row_of(operand) not in _DIVIDING:
            continue
        others = operands[:i] + operands[i + 1:]
        new = _cancelled(operand, others, keys[:i] + keys[i + 1:])
        if new is not None:
            fitted = fit_type(new, node.outputs[0], others)
            return None if fitted is None else [fitted]
    return None


_DIVIDING = frozenset({"true_divide", "neg", "add", "sub", "mul"})  # may hold a divisor


def _row_of(var: Variable) -> str | None:
    op = var.owner.op if var.owner is not None else None
    return op.scalar_op.name if isinstance(op, ew.Elemwise) else None


def _cancelled(term: Variable, factors: list[Variable], keys: list[Any],
               depth: int = 0) -> Variable | None:
    """``term * prod(factors)`` with one divisor in ``term`` cancelled against a factor;
    ``None`` when no divisor cancels."""
    node = term.owner
    if node is None or depth > 6 or not isinstance(node.op, ew.Elemwise):
        return None
    row = node.op.scalar_op.name
    if row == "true_divide":
        a, s = node.inputs
        key = _positive_key(s)
        for k, other in enumerate(keys):
            if key is not None and other is not None and _same_key(key, other):
                rest = factors[:k] + factors[k + 1:]
                return mul(a, *rest) if rest else a
        return None
    if row == "neg":
        inner = _cancelled(node.inputs[0], factors, keys, depth + 1)
        return None if inner is None else ew.neg(inner)
    if row in ("add", "sub"):
        parts = [_cancelled(t, factors, keys, depth + 1) for t in node.inputs]
        if all(p is None for p in parts):
            return None
        return ew.elemwise_op(row)(*[mul(t, *factors) if p is None else p
                                     for t, p in zip(node.inputs, parts)])
    if row == "mul":
        for i, inner in enumerate(node.inputs):
            found = _cancelled(inner, factors, keys, depth + 1)
            if found is not None:
                return mul(found, *[v for j, v in enumerate(node.inputs) if j != i])
    return None


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
    return [new]


@node_rewrite(nnet.CrossentropyCategorical1Hot)
def crossentropy_of_softmax_to_fused(fgraph: FunctionGraph,
                                     node: Apply) -> list[Variable] | None:
    """``crossentropy_categorical_1hot(softmax(x), t)`` -> ``SoftmaxCrossentropy(x, t)``."""
    p, t = node.inputs
    x = _softmax_input(p, last_axis=True)
    if x is None:
        return None
    new = nnet.SoftmaxCrossentropy()(ew.cast(x, p.dtype), t)
    return [new]


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
        return [new]
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
    return [new]


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
    return [_times(ew.sub(h, ew.mul(sm, reduce.sum(h, axis=axis, keepdims=True))), others)]


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
    return [new]


RULES: tuple[NodeRewrite, ...] = (
    spelled_out_sigmoid_to_sigmoid, sigmoid_derivative_to_sigmoids, exp_times_sigmoid_to_sigmoid,
    one_minus_sigmoid_to_sigmoid, cancel_positive_divisors,
    log_sigmoid_to_softplus, log_one_minus_sigmoid_to_softplus, log_softmax_from_softmax,
    log_sum_exp_to_logsumexp, log_one_plus_to_log1p, log_one_minus_to_log1p,
    log1p_of_exp_to_softplus, exp_minus_one_to_expm1, crossentropy_of_softmax_to_fused,
    onehot_crossentropy_of_softmax_to_fused, crossentropy_softmax_grad_to_fused,
    log_softmax_grad_to_stable, neg_neg,
)
