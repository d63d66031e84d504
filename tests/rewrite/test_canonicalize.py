"""Canonicalize rules: structure after rewriting and equal numbers before and after."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.fgraph import FunctionGraph
from symgraph.rewrite import canonicalize, shapes
from symgraph.rewrite.engine import Phase
from tests.rewrite.helpers import assert_same_results, op_names

RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 2.0, size=(3, 4))
Y = RNG.uniform(0.5, 2.0, size=(3, 4))


def canonicalized(outputs, inputs):
    fg = FunctionGraph(inputs, outputs)
    log = []

    class Log:
        def on_change_input(self, fgraph, node, i, old, new, reason):
            log.append(reason)

    fg.attach_feature(Log())
    Phase("canonicalize", canonicalize.RULES + shapes.RULES)(fg)
    return fg, log


def test_constant_folding():
    x = sg.dmatrix("x")
    out = x * (sg.constant(2.0) * sg.exp(sg.constant(0.0)))
    fg, log = canonicalized([out], [x])
    assert "constant_folding" in log
    assert [n.op.scalar_op.name for n in fg.toposort()] == ["mul"]
    assert_same_results([x], out, [X])


def test_flatten_and_gather_constants():
    x, y = sg.dmatrices("x", "y")
    out = ((x + 1.0) + y) + 2.0
    fg, log = canonicalized([out], [x, y])
    assert "flatten_associative" in log and "gather_constants" in log
    (node,) = fg.toposort()[-1:]
    assert node.op.scalar_op.name == "add" and len(node.inputs) == 3
    assert_same_results([x, y], out, [X, Y])


@pytest.mark.parametrize("build, rule", [
    (lambda x: x * 1.0, "drop_neutral_elements"),
    (lambda x: 0.0 + x, "drop_neutral_elements"),
    (lambda x: -(-x), "neg_neg"),
    (lambda x: sg.log(sg.exp(x)), "log_of_exp"),
    (lambda x: x.astype("float64"), None),
    (lambda x: x.T.T, "compose_dimshuffles"),
])
def test_identities_disappear(build, rule):
    x = sg.dmatrix("x")
    out = build(x)
    fg, log = canonicalized([out], [x])
    assert fg.outputs[0] is fg.inputs[0]
    if rule:
        assert rule in log
    assert_same_results([x], out, [X])


def test_sub_self_and_div_self():
    x = sg.dmatrix("x")
    fg, log = canonicalized([x - x], [x])
    assert "sub_self" in log
    assert_same_results([x], x - x, [X])
    e = sg.exp(x)
    fg, log = canonicalized([e / e], [x])
    assert "div_self" in log and "exp" not in [getattr(n.op, "scalar_op", None) and
                                               n.op.scalar_op.name for n in fg.toposort()]
    assert_same_results([x], e / e, [X])
    # x / x is NOT rewritten for an x that may be zero: 0/0 must stay nan.
    fg, log = canonicalized([x / x], [x])
    assert "div_self" not in log
    zero = np.zeros((1, 1))
    assert np.isnan(sg.function([x], x / x)(zero)).all()


@pytest.mark.parametrize("exponent, row", [(2, "sqr"), (0.5, "sqrt"), (-1, "reciprocal"),
                                           (3, "sqr")])
def test_small_integer_powers(exponent, row):
    x = sg.dmatrix("x")
    out = x ** exponent
    fg, log = canonicalized([out], [x])
    assert "pow_by_constant" in log
    rows = [n.op.scalar_op.name for n in fg.toposort() if hasattr(n.op, "scalar_op")]
    assert "pow" not in rows and row in rows
    assert_same_results([x], out, [X])


def test_shape_is_answered_without_computing_the_value():
    x, y = sg.dmatrices("x", "y")
    big = sg.dot(sg.exp(x), y.T)
    f = assert_same_results([x, y], big.shape, [X, Y])
    names = op_names(f)
    assert "Dot" not in names and "exp" not in names
    g = assert_same_results([x, y], big.shape[1] * 2, [X, Y])
    assert "Dot" not in op_names(g)


def test_sum_of_sum_and_reshape_of_reshape():
    x = sg.dmatrix("x")
    out = sg.exp(x).sum(axis=1).sum()
    fg, log = canonicalized([out], [x])
    assert "sum_of_sum" in log
    assert sum(type(n.op).__name__ == "CAReduce" for n in fg.toposort()) == 1
    assert_same_results([x], out, [X])
    r = x.reshape((12,)).reshape((4, 3))
    fg, log = canonicalized([r], [x])
    assert "reshape_of_reshape" in log
    assert sum(type(n.op).__name__ == "Reshape" for n in fg.toposort()) == 1
    assert_same_results([x], r, [X])


def test_no_rule_changes_a_type():
    x = sg.fmatrix("x")
    out = x * 1.0 + (x ** 2) - x / x
    fg, _ = canonicalized([out], [x])
    assert fg.outputs[0].type == out.type


def test_reversed_concatenation_copies_in_reversed_order():
    """``join(0, a, b)[::-1]`` becomes one concatenation of the reversed parts in reversed
    order (a C-contiguous result), along another axis the parts keep their order; a
    concatenation read elsewhere too is left alone."""
    a, b = sg.dmatrices("a", "b")
    values = [RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3))]
    for axis in (0, 1):
        parts = [a, b] if axis == 0 else [a.T, b.T]
        joined = sg.concatenate(parts, axis=axis)[::-1]
        f = assert_same_results([a, b], joined, values)
        nodes = f.fgraph.toposort()
        assert [type(n.op).__name__ for n in nodes].count("Join") == 1
        join = next(n for n in nodes if type(n.op).__name__ == "Join")
        assert join.outputs[0] in f.fgraph.outputs  # no reversed view after it
        assert f(*values).flags.c_contiguous or axis == 1
    both = sg.concatenate([a, b])
    f = assert_same_results([a, b], [both[::-1], both.sum()], values)
    assert "Subtensor" in [type(n.op).__name__ for n in f.fgraph.toposort()]


def rows(fg):
    return [n.op.scalar_op.name for n in fg.toposort() if hasattr(n.op, "scalar_op")]


def test_a_fill_shaped_by_another_operand_is_dropped():
    """``second(sqr(x), v) * x`` (a mean's gradient times x; sqr(x) is read elsewhere too)
    -> ``v * x``: x shapes the result anyway, so the kernel no longer reads sqr(x); with no
    operand of that shape the fill stays."""
    x = sg.dmatrix("x")
    v = sg.dscalar("v")
    square = sg.sqr(x)
    filled = sg.second(square, v.dimshuffle("x", "x"))
    outputs = [filled * x, square.sum()]
    fg, log = canonicalized(outputs, [x, v])
    assert "useless_fill" in log and "second" not in rows(fg)
    assert_same_results([x, v], outputs, [X, 0.25])
    outputs = [filled * v.dimshuffle("x", "x"), square.sum()]
    fg, log = canonicalized(outputs, [x, v])
    assert "useless_fill" not in log and "second" in rows(fg)
    assert_same_results([x, v], outputs, [X, 0.25])
