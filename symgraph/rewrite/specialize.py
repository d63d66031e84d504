"""Specialization: replace general ops by the faster special cases a backend has kernels for.

Matrix products become BLAS-shaped ``Gemm``/``Gemv`` nodes that absorb the scalings and
additions around them, rank-1 accumulations become ``Ger``, and squares become ``sqr``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symgraph import dtype as dt
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.ops import blas, nnet, reduce
from symgraph.ops import elemwise as ew
from symgraph.ops.basic import constant
from symgraph.ops.elemwise import mul, sqr
from symgraph.rewrite.canonicalize import scalar_value
from symgraph.rewrite.engine import NodeRewrite, node_rewrite
from symgraph.rewrite.fusion import MAX_KERNEL_INPUTS
from symgraph.rewrite.pattern import Pattern, rule, variables

SCALED_PRODUCTS = (blas.Gemm, blas.Gemv)


# -- helpers ----------------------------------------------------------------------------------

def _only_client_is(fgraph: FunctionGraph, var: Variable, node: Apply) -> bool:
    """``node`` is the one reader of ``var`` (which is not a graph output either)."""
    clients = fgraph.clients.get(var, [])
    return len(clients) == 1 and clients[0][0] is node


def _scalar_of(var: Variable) -> Variable | None:
    """The 0-d value of ``var`` when it is one number broadcast over every axis, else None."""
    if any(s != 1 for s in var.type.shape):
        return None
    if isinstance(var, Constant):
        return constant(np.asarray(var.data).reshape(()), dtype=var.dtype)
    node = var.owner
    if node is not None and isinstance(node.op, ew.DimShuffle) and node.inputs[0].ndim == 0:
        return node.inputs[0]
    return var if var.ndim == 0 else ew.dimshuffle(var, ())


def _times(a: Variable, b: Variable) -> Variable:
    """``a * b`` for 0-d factors, folding ones and constants so alpha/beta stay readable."""
    if scalar_value(a) == 1:
        return b
    if scalar_value(b) == 1:
        return a
    if isinstance(a, Constant) and isinstance(b, Constant):
        return constant(np.asarray(a.data * b.data, dtype=a.dtype))
    return ew.mul(a, b)


def _negated(a: Variable) -> Variable:
    if isinstance(a, Constant):
        return constant(np.negative(a.data), dtype=a.dtype)
    return ew.neg(a)


def _number(value: float, dtype: str) -> Variable:
    return constant(value, dtype=dtype)


def _zero_beta(var: Variable) -> bool:
    return scalar_value(var) == 0


def _scaled_product(fgraph: FunctionGraph, var: Variable, node: Apply) -> Apply | None:
    """The Gemm/Gemv node computing ``var`` if ``node`` is its only client."""
    owner = var.owner
    if owner is None or not isinstance(owner.op, SCALED_PRODUCTS) or owner.op.inplace:
        return None
    return owner if _only_client_is(fgraph, var, node) else None


def _sum_of(terms: Sequence[Variable]) -> Variable | None:
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else ew.add(*terms)


def _drop_one(terms: Sequence[Variable], term: Variable) -> list[Variable]:
    """``terms`` without one occurrence of ``term`` (a term may appear several times)."""
    index = next(i for i, v in enumerate(terms) if v is term)
    return [v for i, v in enumerate(terms) if i != index]


def _with_rest(new: Variable, rest: Sequence[Variable], old: Variable) -> list[Variable] | None:
    total = _sum_of([new, *rest])
    return [total] if total is not None and total.type == old.type else None


# -- matrix products --------------------------------------------------------------------------

@node_rewrite(blas.Dot, blas.Matmul)
def dot_to_gemm(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``dot(x, y)`` of float32/float64 matrices -> ``Gemm(0, 1, x, y, 0)``."""
    a, b = node.inputs
    if a.ndim != 2 or b.ndim != 2 or a.dtype not in blas.BLAS_DTYPES:
        return None
    zeros = constant(np.zeros((1, 1), dtype=a.dtype))
    new = blas.Gemm()(zeros, _number(1, a.dtype), a, b, _number(0, a.dtype))
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite(blas.Dot, blas.Matmul)
def dot_to_gemv(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``dot(A, v)`` -> ``Gemv(0, 1, A, v, 0)``; ``dot(v, A)`` -> ``Gemv(0, 1, A.T, v, 0)``."""
    a, b = node.inputs
    if a.dtype not in blas.BLAS_DTYPES or {a.ndim, b.ndim} != {1, 2}:
        return None
    matrix, vector = (a, b) if a.ndim == 2 else (ew.dimshuffle(b, (1, 0)), a)
    zeros = constant(np.zeros((1,), dtype=a.dtype))
    new = blas.Gemv()(zeros, _number(1, a.dtype), matrix, vector, _number(0, a.dtype))
    return [new] if new.type == node.outputs[0].type else None


@node_rewrite("mul", "neg")
def scale_into_gemm(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``c * Gemm(z, a, x, y, b)`` -> ``Gemm(z, c*a, x, y, c*b)`` for a scalar ``c``, and
    ``-Gemm(...)`` -> ``Gemm(z, -a, x, y, -b)`` (likewise for Gemv)."""
    out = node.outputs[0]
    for i, operand in enumerate(node.inputs):
        product = _scaled_product(fgraph, operand, node)
        if product is None or operand.dtype != out.dtype:
            continue
        z, alpha, x, y, beta = product.inputs
        if ew.is_elemwise(out, "neg"):
            alpha, beta = _negated(alpha), beta if _zero_beta(beta) else _negated(beta)
        else:
            factors = [_scalar_of(v) for j, v in enumerate(node.inputs) if j != i]
            if any(f is None or f.dtype != out.dtype for f in factors):
                return None
            for factor in factors:
                alpha = _times(alpha, factor)  # type: ignore[arg-type]
                beta = beta if _zero_beta(beta) else _times(beta, factor)  # type: ignore
        new = type(product.op)()(z, alpha, x, y, beta)
        new.owner.copy_tag_from(product)  # errors name the dot the product came from
        return [new] if new.type == out.type else None
    return None


def _accumulator(term: Variable) -> tuple[Variable, Variable | None]:
    """``(w, c)`` for a term ``c * w`` with a scalar ``c`` (``c`` is None for a plain ``w``)."""
    if ew.is_elemwise(term, "mul") and len(term.owner.inputs) == 2:  # type: ignore[union-attr]
        for w, c in (term.owner.inputs, reversed(term.owner.inputs)):  # type: ignore
            scalar = _scalar_of(c)
            if scalar is not None and scalar.dtype == term.dtype and w.dtype == term.dtype:
                return w, scalar
    return term, None


def _absorb_terms(fgraph: FunctionGraph, node: Apply
                  ) -> tuple[Apply, Variable, Variable, bool, list[Variable]] | None:
    """``(Gemm/Gemv node with beta 0, accumulator term, alpha, negate the term?, other terms)``
    for an addition or subtraction involving the product."""
    out = node.outputs[0]
    operands = list(node.inputs)
    for i, operand in enumerate(operands):
        product = _scaled_product(fgraph, operand, node)
        if product is None or not _zero_beta(product.inputs[4]) or operand.dtype != out.dtype:
            continue
        others = [v for j, v in enumerate(operands) if j != i]
        candidates = [v for v in others if v.dtype == out.dtype and v.ndim == out.ndim]
        if not candidates:
            continue
        # A full-size accumulator computed here can later be overwritten in place; prefer it.
        full = [v for v in candidates if v.type.shape == out.type.shape]
        owned = [v for v in full if v.owner is not None]
        w = (owned or full or candidates)[0]
        rest = _drop_one(others, w)
        if rest and not owned:
            # The product would start from a copy of w (an input, a constant or a broadcast
            # row: never overwritten), while the other terms leave an elementwise add, and
            # its kernel, anyway: adding w there costs one more operand instead of a pass
            # (x_t W + h U + b in a loop body: no copy of the row x_t W a step).
            continue
        alpha = product.inputs[1]
        if ew.is_elemwise(out, "sub"):
            # w - G: the product is subtracted; G - w: the accumulator is.
            return (product, w, _negated(alpha), False, rest) if i == 1 else \
                (product, w, alpha, True, rest)
        return product, w, alpha, False, rest
    return None


@node_rewrite("add", "mul")
def split_wide_fold(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``add(x1, ..., xn)`` with more than ``MAX_KERNEL_INPUTS`` operands -> the same left
    fold in links of at most that many, ``add(add(x1..x32), x33..x63) ...`` (likewise mul).

    Both compute ``((x1 + x2) + x3) + ...`` in the same order, so the results are the same
    bit for bit. Wide sums come from gradients (a variable read by N nodes gets N terms):
    one kernel of N operands costs LLVM time growing faster than N, and absorbing its
    products into Gemm one at a time (``add_into_gemm``) N² steps; links of bounded width
    share one kernel and keep both linear.
    """
    inputs = node.inputs
    if len(inputs) <= MAX_KERNEL_INPUTS:
        return None
    op = node.op
    acc = op(*inputs[:MAX_KERNEL_INPUTS])
    for start in range(MAX_KERNEL_INPUTS, len(inputs), MAX_KERNEL_INPUTS - 1):
        acc = op(acc, *inputs[start:start + MAX_KERNEL_INPUTS - 1])
    return [acc] if acc.type == node.outputs[0].type else None


@node_rewrite("add", "sub")
def add_into_gemm(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``Gemm(0, a, x, y, 0) + b * z`` -> ``Gemm(z, a, x, y, b)`` (likewise ``z - ...`` and
    Gemv); ``z`` may be broadcast (a bias row)."""
    found = _absorb_terms(fgraph, node)
    if found is None:
        return None
    product, term, alpha, negate, rest = found
    w, scale = _accumulator(term)
    beta = scale if scale is not None else _number(1, w.dtype)
    if negate:
        beta = _negated(beta)
    _, _, x, y, _ = product.inputs
    new = type(product.op)()(w, alpha, x, y, beta)
    new.owner.copy_tag_from(product)  # errors name the dot the product came from
    return _with_rest(new, rest, node.outputs[0])


def _outer_factors(term: Variable) -> tuple[Variable, Variable, Variable | None] | None:
    """``(x, y, scale)`` when ``term`` is ``outer(x, y)`` times scalars (as ``sg.outer``
    builds it: a column times a row), else None."""
    if not ew.is_elemwise(term, "mul"):
        return None
    column = row = None
    scale: Variable | None = None
    for factor in term.owner.inputs:  # type: ignore[union-attr]
        owner = factor.owner
        pattern = owner.op.new_order if owner is not None and isinstance(
            owner.op, ew.DimShuffle) and owner.inputs[0].ndim == 1 else None
        if pattern == (0, "x") and column is None:
            column = owner.inputs[0]  # type: ignore[union-attr]
        elif pattern == ("x", 0) and row is None:
            row = owner.inputs[0]  # type: ignore[union-attr]
        else:
            scalar = _scalar_of(factor)
            if scalar is None:
                return None
            scale = scalar if scale is None else _times(scale, scalar)
    if column is None or row is None:
        return None
    return column, row, scale


@node_rewrite("add", "sub")
def outer_accumulation_to_ger(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``A + c * outer(x, y)`` -> ``Ger(A, c, x, y)`` (``A - ...`` with ``-c``)."""
    out = node.outputs[0]
    if out.ndim != 2 or out.dtype not in blas.BLAS_DTYPES:
        return None
    operands = list(node.inputs)
    for i, term in enumerate(operands):
        factors = _outer_factors(term) if _only_client_is(fgraph, term, node) else None
        if factors is None or term.dtype != out.dtype:
            continue
        x, y, scale = factors
        others = [v for j, v in enumerate(operands) if j != i]
        matrices = [v for v in others if v.ndim == 2 and v.dtype == out.dtype]
        if not matrices or x.dtype != out.dtype or y.dtype != out.dtype:
            return None
        a = matrices[0]
        alpha = scale if scale is not None else _number(1, out.dtype)
        if ew.is_elemwise(out, "sub"):
            if i == 0:
                return None  # outer(x, y) - A is not an accumulation into A
            alpha = _negated(alpha)
        new = blas.Ger()(a, alpha, x, y)
        return _with_rest(new, _drop_one(others, a), out)
    return None


# -- squares ----------------------------------------------------------------------------------

(x, y) = variables("x y")

# Also where canonicalize could not (its pow_by_constant excluded, or run before a cast).
pow_two_to_sqr = rule("pow_two_to_sqr", Pattern(x ** 2, sqr(x)))
# So that sum(x * x) becomes sum(sqr(x)).
mul_self_to_sqr = rule("mul_self_to_sqr", Pattern(x * x, sqr(x)), Pattern(mul(x, x, y), sqr(x) * y))


@node_rewrite(reduce.CAReduce)
def scalar_out_of_sum(fgraph: FunctionGraph, node: Apply) -> list[Variable] | None:
    """``sum(c * X)`` -> ``c * sum(X)`` for a scalar ``c``: one multiplication, not one per
    element (float sums only, whose dtype the factor cannot change)."""
    op, (prod,) = node.op, node.inputs
    out = node.outputs[0]
    if op.kind != "add" or not dt.is_float(out.dtype) or not ew.is_elemwise(prod, "mul"):
        return None
    operands = prod.owner.inputs  # type: ignore[union-attr]
    scalars = [_scalar_of(v) for v in operands]
    body = [v for v, s in zip(operands, scalars) if s is None]
    factors = [s for s in scalars if s is not None]
    if not factors or not body or any(f.dtype != out.dtype for f in factors):
        return None
    inner = body[0] if len(body) == 1 else ew.mul(*body)
    if inner.type.shape != prod.type.shape or inner.dtype != prod.dtype:
        return None  # a factor broadcast the body: summing without it would change the count
    new = ew.mul(op(inner), *factors)
    return [new] if new.type == out.type else None


def _row_max_of(shift: Variable, x: Variable) -> tuple[Variable, Apply, bool] | None:
    """``(M, the DimShuffle node, guarded)`` when ``shift`` is ``max(x, 1)`` kept as a column
    (``DimShuffle{0,x}``), or that column with an infinite maximum replaced by 0
    (``logsumexp``'s ``switch(isinf(c), 0, c)``: ``guarded``); else None."""
    guarded = False
    if ew.is_elemwise(shift, "switch"):
        cond, zero, column = shift.owner.inputs  # type: ignore[union-attr]
        if not ew.is_elemwise(cond, "isinf") or cond.owner.inputs[0] is not column or \
                scalar_value(zero) != 0:  # type: ignore[union-attr]
            return None
        shift, guarded = column, True
    owner = shift.owner
    if owner is None or not isinstance(owner.op, ew.DimShuffle) or \
            owner.op.new_order != (0, "x"):
        return None
    largest = owner.inputs[0]
    top = largest.owner
    if top is None or top.inputs[0] is not x:
        return None
    if isinstance(top.op, nnet.SoftmaxStats) and largest is top.outputs[0]:
        return largest, owner, guarded  # made from the same x (another sum of the maximum)
    if not isinstance(top.op, reduce.CAReduce) or top.op.kind != "maximum" or \
            top.op.axis != (1,):
        return None
    return largest, owner, guarded


@node_rewrite(reduce.CAReduce)
def max_and_sum_exp_to_stats(fgraph: FunctionGraph, node: Apply) -> dict | None:
    """``m = max(x, 1)`` and ``sum(exp(x - m[:, None]), 1)`` of a float matrix -> both from
    one ``SoftmaxStats(x)``, which reads ``x`` once (the softmax denominator); a second such
    sum of the same shift (after the first became statistics) takes the same ``s``. With
    ``logsumexp``'s shift (an infinite ``m`` replaced by 0) the sum becomes
    ``switch(isinf(m), exp(m), s)``: ``sum(exp(x))`` is then inf (``m = +inf``) or 0 (-inf)."""
    op, (e,) = node.op, node.inputs
    out = node.outputs[0]
    if op.kind != "add" or op.axis != (1,) or not ew.is_elemwise(e, "exp") or \
            not _only_client_is(fgraph, e, node):
        return None
    shifted = e.owner.inputs[0]  # type: ignore[union-attr]
    if not ew.is_elemwise(shifted, "sub") or not _only_client_is(fgraph, shifted, e.owner):
        return None
    x, shift = shifted.owner.inputs  # type: ignore[union-attr]
    if x.type.ndim != 2 or x.type.dtype not in ("float32", "float64") or \
            out.dtype != x.type.dtype or e.dtype != x.type.dtype:
        return None
    found = _row_max_of(shift, x)
    if found is None:
        return None
    largest, column, guarded = found
    made = isinstance(largest.owner.op, nnet.SoftmaxStats)  # type: ignore[union-attr]
    # Other readers of the maximum keep the max kernel's result (its sign of a zero maximum
    # follows NumPy; the statistics' need not).
    if not made and not _only_client_is(fgraph, largest, column):
        return None
    m, total = largest.owner.outputs if made else nnet.SoftmaxStats()(x)  # type: ignore
    if guarded:
        total = ew.switch(ew.isinf(m), ew.exp(m), total)
    return {out: total} if made else {out: total, largest: m}


RULES: tuple[NodeRewrite, ...] = (
    split_wide_fold, dot_to_gemm, dot_to_gemv, mul_self_to_sqr, scale_into_gemm, add_into_gemm,
    outer_accumulation_to_ger, pow_two_to_sqr, scalar_out_of_sum, max_and_sum_exp_to_stats,
)
