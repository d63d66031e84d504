"""Fusion: maximal elementwise groups become one Composite; numbers unchanged."""

import numpy as np

import symgraph as sg
from symgraph.ops.composite import Composite
from tests.rewrite.helpers import assert_same_results, op_names

RNG = np.random.default_rng(1)


def composites(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, Composite)]


def test_benchmark_expression_is_one_loop():
    x, y, z = sg.fvectors("x", "y", "z")
    out = sg.tanh(x * y + z) * sg.exp(-x * x) + 0.5 * sg.log1p(abs(y))
    values = [RNG.normal(size=100).astype("float32") for _ in range(3)]
    f = assert_same_results([x, y, z], out, values, rtol=1e-6)
    assert op_names(f)[0] == "Composite" and len(f.fgraph.apply_nodes) == 1


def test_shared_subexpression_becomes_a_second_output():
    x, y = sg.dmatrices("x", "y")
    e = sg.exp(x) * y
    out = [e + 1.0, sg.dot(e, y.T), sg.tanh(e)]
    f = assert_same_results([x, y], out, [RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))])
    nodes = composites(f)
    assert nodes and any(len(n.outputs) > 1 for n in nodes)


def test_broadcast_producer_is_not_fused_into_a_larger_loop():
    x = sg.dmatrix("x")
    b = sg.dvector("b")
    out = x * sg.exp(b)  # exp(b) must be computed once per column, not per element
    f = assert_same_results([x, b], out, [RNG.normal(size=(4, 3)), RNG.normal(size=3)])
    names = op_names(f)
    assert names.count("exp") == 1 and "Composite" not in names[:names.index("exp")]


def test_producer_of_unknown_static_length_is_fused():
    """A member whose static shape leaves a length unknown that the group knows (a loop's
    sequence row beside its state) joins the group when only the group reads it: one kernel;
    read outside the group too, it stays apart."""
    x = sg.tensor("x", "float64", shape=(None, 3))
    y = sg.dmatrix("y")
    f = assert_same_results([x, y], x * (1.0 - y),
                            [RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))])
    assert len(f.fgraph.apply_nodes) == 1 and op_names(f)[0] == "Composite"
    g = assert_same_results([x, y], [x * (1.0 - y), 1.0 - y],
                            [RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))])
    assert len(g.fgraph.apply_nodes) == 2


def test_no_cycle_through_a_non_elementwise_node():
    x = sg.dmatrix("x")
    a = sg.exp(x)
    b = sg.dot(a, a)  # depends on a, and feeds the same elementwise chain
    out = sg.tanh(a + b)
    assert_same_results([x], out, [RNG.normal(size=(3, 3))])


def test_composite_inner_graph_prints():
    x, y = sg.dvectors("x", "y")
    f = sg.function([x, y], sg.exp(x) * y + 1.0)
    text = sg.debugprint(f, file="str")
    assert "Composite" in text and "Inner graphs" in text and "exp" in text


def test_gradient_graphs_fuse_and_match():
    x = sg.dmatrix("x")
    w = sg.dmatrix("w")
    h = sg.tanh(sg.dot(x, w))
    cost = (h * h).mean()
    grads = sg.grad(cost, [w])
    values = [RNG.normal(size=(5, 3)), RNG.normal(size=(3, 2))]
    f = assert_same_results([x, w], [cost] + grads, values)
    assert composites(f)


def test_elementwise_producer_is_fused_into_its_reduction():
    from symgraph.ops.fused_reduce import FusedCAReduce

    x, y = sg.dmatrices("x", "y")
    out = (sg.exp(x) * y).sum(axis=1) + ((x - y) ** 2).mean()
    f = assert_same_results([x, y], out, [RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))])
    fused = [n for n in f.fgraph.toposort() if isinstance(n.op, FusedCAReduce)]
    assert len(fused) == 2
    assert {row.name for n in fused for row, _, _ in n.op.program.steps} >= {"exp", "sqr"}


def test_producer_with_another_client_is_not_fused_into_the_reduction():
    from symgraph.ops.fused_reduce import FusedCAReduce

    x = sg.dmatrix("x")
    e = sg.exp(x)
    f = assert_same_results([x], [e.sum(), e * 2], [RNG.normal(size=(3, 4))])
    assert not [n for n in f.fgraph.toposort() if isinstance(n.op, FusedCAReduce)]
