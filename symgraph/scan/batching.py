"""Batching rules: one op applied to every step's values at once, for per-step loop work that
does not depend on the carried state (``x_t @ W`` for all ``t`` is ``X @ W``).

A rule takes the inner node and its inputs in the outer graph, each flagged as stacked over
steps (leading axis) or loop-invariant, and returns the stacked outputs, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from symgraph.graph import Apply
from symgraph.ops import blas, composite, elemwise, reduce
from symgraph.scan.op import Scan

Rule = Callable[[Apply, list[Any], list[bool]], "list[Any] | None"]


def _lead(var: Any) -> Any:
    """An invariant input given a broadcastable leading (steps) axis."""
    return elemwise.dimshuffle(var, ("x", *range(var.ndim)))


def _elementwise(node: Any, inputs: list[Any], stacked: list[bool]) -> Any:
    if node.op.destroy_map:
        return None
    args = [v if s else _lead(v) for v, s in zip(inputs, stacked)]
    return list(node.op.make_node(*args).outputs)


def _dimshuffle(node: Any, inputs: list[Any], stacked: list[bool]) -> Any:
    op = node.op
    order = (0, *("x" if o == "x" else o + 1 for o in op.new_order))
    return [elemwise.DimShuffle(op.input_ndim + 1, order)(inputs[0])]


def _reduction(node: Any, inputs: list[Any], stacked: list[bool]) -> Any:
    op = node.op
    return [reduce.CAReduce(op.scalar_op, [a + 1 for a in op.axis], op.dtype)(inputs[0])]


def _swap(var: Any) -> Any:
    return elemwise.dimshuffle(var, (1, 0))


def _dot(node: Any, inputs: list[Any], stacked: list[bool]) -> Any:
    (a, b), (sa, sb) = inputs, stacked
    a_ndim, b_ndim = node.inputs[0].ndim, node.inputs[1].ndim
    if sa and sb:
        return [blas.matmul(a, b)] if a_ndim == b_ndim == 2 else None
    if sa:  # A (T, ..., n) with a constant b: a stack of products
        return [blas.dot(a, b) if a_ndim == 1 else blas.matmul(a, b)]
    if b_ndim == 1:  # a . b_t for every t: B @ a^T
        return [blas.dot(b, _swap(a)) if a_ndim == 2 else blas.dot(b, a)]
    return [blas.matmul(a, b)]


def _matmul(node: Any, inputs: list[Any], stacked: list[bool]) -> Any:
    (a, b), (sa, sb) = inputs, stacked
    a_ndim, b_ndim = node.inputs[0].ndim, node.inputs[1].ndim
    if sa and sb:
        return [blas.matmul(a, b)] if a_ndim == b_ndim >= 2 else None
    if sa:
        return [blas.matmul(a, b)] if b_ndim <= 2 else None
    if a_ndim > 2:
        return None
    if b_ndim == 1:
        return [blas.matmul(b, _swap(a)) if a_ndim == 2 else blas.matmul(b, a)]
    return [blas.matmul(a, b)]


RULES: dict[type, Rule] = {
    elemwise.Elemwise: _elementwise,
    composite.Composite: _elementwise,
    elemwise.DimShuffle: _dimshuffle,
    reduce.CAReduce: _reduction,
    blas.Dot: _dot,
    blas.Matmul: _matmul,
}


def batch_node(node: Any, inputs: Sequence[Any], stacked: Sequence[bool]
               ) -> list[Any] | None:
    """The outputs of ``node`` for every step at once, or None when no rule applies.

    Raises nothing: a rule that fails to build (an unexpected type) counts as no rule.
    """
    if isinstance(node.op, Scan):
        return None
    rule = RULES.get(type(node.op))
    if rule is None or not any(stacked):
        return None
    try:
        outputs = rule(node, list(inputs), list(stacked))
    except (TypeError, ValueError):
        return None
    if outputs is None:
        return None
    for inner, outer in zip(node.outputs, outputs):
        if outer.ndim != inner.ndim + 1 or outer.dtype != inner.dtype:
            return None
    return outputs
