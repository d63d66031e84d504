"""Loop rewrites, each checked on the structure of the rewritten graph and on its numbers
against the graph as built."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Constant, ancestors, graph_inputs
from symgraph.ops.blas import Dot, Matmul, TensorDot
from symgraph.ops.elemwise import DimShuffle, Elemwise
from symgraph.ops.reduce import CAReduce
from symgraph.rewrite import canonicalize, shapes
from symgraph.rewrite.engine import Phase
from symgraph.rewrite.merge import merge
from symgraph.scan import Scan, reduce, scan, until
from symgraph.scan import rewrites as R

RAW = sg.Mode("py", rewrites=False)


def fgraph_of(inputs, outputs):
    roots = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]
    fg = FunctionGraph(list(inputs) + [r for r in roots if r not in inputs], outputs)
    merge(fg)
    return fg


def rewrite(inputs, outputs, rules=None, excluding=()):
    """The FunctionGraph of ``outputs`` after ``rules`` (default: the whole scan pass)."""
    fg = fgraph_of(inputs, outputs)
    if rules is None:
        R.scan_rewrites(fg, frozenset(excluding))
    else:
        Phase("test", tuple(rules))(fg)
    fg.check_integrity()
    return fg


def same_numbers(inputs, outputs, fg, *values, **kwargs):
    want = sg.function(inputs, outputs, mode=RAW, **kwargs)(*values)
    got = sg.function(fg.inputs[:len(inputs)], fg.outputs, mode=RAW, **kwargs)(*values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def canonical_then(inputs, outputs, rule):
    """Canonicalized first (as the pipeline does: shapes no longer read the loop's inputs),
    then ``rule``."""
    fg = fgraph_of(inputs, outputs)
    Phase("canonicalize", canonicalize.RULES + shapes.RULES)(fg)
    Phase("test", (rule,))(fg)
    fg.check_integrity()
    return fg


def scans(fg):
    return [n for n in fg.toposort() if isinstance(n.op, Scan)]


def inner_ops(node):
    return [type(n.op) for n in node.op.inner.nodes()]


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def elman(X, h0, W, U):
    return scan(lambda x, h, W, U: sg.tanh(sg.dot(x, W) + sg.dot(h, U)), sequences=X,
                outputs_info=h0, non_sequences=[W, U])[0]


def elman_values(rng, batch=True):
    shape = (6, 2, 3) if batch else (6, 3)
    h_shape = (2, 4) if batch else (4,)
    return [rng.normal(size=shape), rng.normal(size=h_shape), rng.normal(size=(3, 4)) * 0.5,
            rng.normal(size=(4, 4)) * 0.5]


def test_push_out_invariants_moves_work_on_constants_before_the_loop(rng):
    h0, W = sg.dvector("h0"), sg.dmatrix("W")
    out, _ = scan(lambda h, W: sg.tanh(sg.dot(h, W.T * 2.0)), outputs_info=h0,
                  non_sequences=W, n_steps=4)
    fg = rewrite([h0, W], [out], [R.push_out_invariants])
    (node,) = scans(fg)
    assert DimShuffle not in inner_ops(node)
    assert sorted(t.__name__ for t in inner_ops(node)) == ["Dot", "Elemwise"]
    outer = [v.owner for v in ancestors(node.inputs) if v.owner is not None]
    assert any(isinstance(n.op, DimShuffle) and n.op.new_order == (1, 0) for n in outer)
    same_numbers([h0, W], [out], fg, rng.normal(size=3), rng.normal(size=(3, 3)))


@pytest.mark.parametrize("batch", [False, True])
def test_push_out_per_step_batches_the_input_product(rng, batch):
    X = sg.dtensor3("X") if batch else sg.dmatrix("X")
    h0 = sg.dmatrix("h0") if batch else sg.dvector("h0")
    W, U = sg.dmatrix("W"), sg.dmatrix("U")
    out = elman(X, h0, W, U)
    fg = rewrite([X, h0, W, U], [out], [R.push_out_invariants, R.push_out_per_step])
    (node,) = scans(fg)
    products = [t for t in inner_ops(node) if t in (Dot, Matmul)]
    assert len(products) == 1  # only h @ U is left in the loop
    batched = [v.owner for v in node.inputs if v.owner is not None and
               isinstance(v.owner.op, (Dot, Matmul))]
    x_in = fg.inputs[0]
    assert batched and any(x_in in ancestors([v]) for n in batched for v in n.inputs)
    same_numbers([X, h0, W, U], [out], fg, *elman_values(rng, batch))


def test_push_out_per_step_keeps_elementwise_work_of_the_recurrence_in_the_loop(rng):
    """Elementwise work that feeds the state stays a step's work (fused with it there);
    batched with a product it moves out with the product; as a per-step output it moves
    out."""
    X, c = sg.dmatrix("X"), sg.dvector("c")
    W = sg.dmatrix("W")
    out, _ = scan(lambda x, acc, c: acc + sg.exp(x) * c, sequences=X,
                  outputs_info=sg.zeros(3), non_sequences=c)
    fg = rewrite([X, c], [out], [R.push_out_per_step])
    (node,) = scans(fg)
    assert sorted(n.op.scalar_op.name for n in node.op.inner.nodes()) == ["add", "exp", "mul"]
    same_numbers([X, c], [out], fg, rng.normal(size=(5, 3)), rng.normal(size=3))
    out, _ = scan(lambda x, acc, W: sg.tanh(acc + sg.dot(sg.exp(x), W)), sequences=X,
                  outputs_info=sg.zeros(3), non_sequences=W)
    fg = rewrite([X, W], [out], [R.push_out_per_step])
    (node,) = scans(fg)
    assert Dot not in inner_ops(node) and not any(
        isinstance(n.op, Elemwise) and n.op.scalar_op.name == "exp"
        for n in node.op.inner.nodes())
    same_numbers([X, W], [out], fg, rng.normal(size=(5, 3)), rng.normal(size=(3, 3)))
    (_, y), _ = scan(lambda x, acc: [acc + x, sg.exp(x) * x], sequences=X,
                     outputs_info=[sg.zeros(3), None])
    fg = rewrite([X], [y], [R.push_out_per_step])
    (node,) = scans(fg)
    assert [n.op.scalar_op.name for n in node.op.inner.nodes()] == ["add"]
    same_numbers([X], [y], fg, rng.normal(size=(5, 3)))


def test_push_in_elementwise_computes_a_sequence_from_the_rows_of_its_operands(rng):
    """``(2 * H * s)[::-1][:n]`` read only by the loop is computed inside it from rows of
    ``H[::-1][:n]``, with the broadcast ``s`` a constant of the loop; read elsewhere too, it
    stays outside."""
    H, X = sg.dmatrix("H"), sg.dmatrix("X")
    s = sg.dscalar("s")
    n = H.shape[0] - 1
    scaled = (2.0 * H * s)[::-1][:n]
    out, _ = scan(lambda d, x, acc: sg.tanh(acc * x + d), sequences=[scaled, X[:n]],
                  outputs_info=sg.zeros(3))
    fg = canonical_then([H, X, s], [out], R.push_in_elementwise)
    (node,) = scans(fg)
    names = [n.op.scalar_op.name for n in node.op.inner.nodes() if isinstance(n.op, Elemwise)]
    assert names.count("mul") == 2 and "tanh" in names  # acc * x and 2 * h * s (flattened)
    assert not any(isinstance(v.owner.op, Elemwise) and v.owner.op.scalar_op.name == "mul"
                   for v in node.inputs[1:] if v.owner is not None)
    values = [rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), 0.7]
    same_numbers([H, X, s], [out], fg, *values)
    out, _ = scan(lambda d, x, acc: sg.tanh(acc * x + d), sequences=[scaled, X[:n]],
                  outputs_info=sg.zeros(3))
    fg = canonical_then([H, X, s], [out, scaled.sum()], R.push_in_elementwise)
    (node,) = scans(fg)
    assert [n.op.scalar_op.name for n in node.op.inner.nodes()
            if isinstance(n.op, Elemwise)].count("mul") == 1  # acc * x alone
    same_numbers([H, X, s], [out, scaled.sum()], fg, *values)


def test_last_state_only_reads_the_final_state(rng):
    X, h0, W, U = sg.dtensor3("X"), sg.dmatrix("h0"), sg.dmatrix("W"), sg.dmatrix("U")
    last = elman(X, h0, W, U)[-1]
    fg = rewrite([X, h0, W, U], [last], [R.last_state_only, R.drop_unused])
    (node,) = scans(fg)
    assert node.op.n_ys == 0 and node.op.n_carries == 1
    assert fg.outputs[0].owner is node  # the final state itself
    same_numbers([X, h0, W, U], [last], fg, *elman_values(rng))


def test_last_state_only_turns_a_per_step_output_into_a_state(rng):
    X, h0 = sg.dmatrix("X"), sg.dvector("h0")
    (_, y), _ = scan(lambda x, h: [h * 0.5 + x, h * x], sequences=X,
                     outputs_info=[h0, None])
    fg = rewrite([X, h0], [y[-1]], [R.last_state_only, R.drop_unused])
    (node,) = scans(fg)
    assert (node.op.n_ys, node.op.n_carries) == (0, 2)
    same_numbers([X, h0], [y[-1]], fg, rng.normal(size=(4, 3)), rng.normal(size=3))


def test_reduce_keeps_only_the_last_state(rng):
    v = sg.dvector("v")
    total, _ = reduce(lambda x, acc: acc * 0.5 + x, v, sg.constant(0.0))
    fg = rewrite([v], [total])
    (node,) = scans(fg)
    assert node.op.n_ys == 0
    same_numbers([v], [total], fg, rng.normal(size=5))


def test_drop_unused_removes_states_and_inputs_nobody_reads(rng):
    X, a0, b0, w = sg.dmatrix("X"), sg.dvector("a0"), sg.dvector("b0"), sg.dvector("w")
    (a, _), _ = scan(lambda x, a, b, w: [a + x, b * w], sequences=X, outputs_info=[a0, b0],
                     non_sequences=w)
    fg = rewrite([X, a0, b0, w], [a], [R.drop_unused])
    (node,) = scans(fg)
    assert (node.op.n_carries, node.op.n_consts, node.op.n_ys) == (1, 0, 1)
    assert w not in ancestors([fg.outputs[0]]) and b0 not in ancestors(fg.outputs)
    same_numbers([X, a0, b0, w], [a], fg, rng.normal(size=(3, 2)), rng.normal(size=2),
                 rng.normal(size=2), rng.normal(size=2), on_unused_input="ignore")


def test_merge_scans_over_the_same_sequence(rng):
    X = sg.dmatrix("X")
    s, _ = scan(lambda x, acc: acc + x, sequences=X, outputs_info=sg.zeros(2))
    p, _ = scan(lambda x, acc: acc * x, sequences=X, outputs_info=sg.ones(2))
    fg = rewrite([X], [s, p], [])
    assert len(scans(fg)) == 2
    R.merge_scans(fg)
    fg.check_integrity()
    (node,) = scans(fg)
    assert node.op.n_seqs == 1 and node.op.n_carries == 2
    same_numbers([X], [s, p], fg, rng.normal(size=(4, 2)))


def test_merge_scans_leaves_dependent_loops_apart(rng):
    X = sg.dmatrix("X")
    s, _ = scan(lambda x, acc: acc + x, sequences=X, outputs_info=sg.zeros(2))
    p, _ = scan(lambda x, acc: acc * x, sequences=s, outputs_info=sg.ones(2))
    fg = rewrite([X], [p], [])
    R.merge_scans(fg)
    assert len(scans(fg)) == 2
    same_numbers([X], [p], fg, rng.normal(size=(4, 2)))


def test_dedupe_scan_keeps_equal_states_and_outputs_once(rng):
    X, h0 = sg.dmatrix("X"), sg.dvector("h0")
    (a, b), _ = scan(lambda x, a, b: [a * 0.5 + x, b * 0.5 + x], sequences=X,
                     outputs_info=[h0, h0])
    fg = rewrite([X, h0], [a, b], [R.dedupe_scan])
    (node,) = scans(fg)
    assert (node.op.n_carries, node.op.n_ys) == (1, 1)
    assert fg.outputs[0] is fg.outputs[1]
    same_numbers([X, h0], [a, b], fg, rng.normal(size=(3, 2)), rng.normal(size=2))


def test_constant_carries_become_loop_constants(rng):
    X, w0 = sg.dmatrix("X"), sg.dvector("w0")
    (y, w), _ = scan(lambda x, w: [x * w, w], sequences=X, outputs_info=[None, w0])
    fg = rewrite([X, w0], [y, w[-1]], [R.constant_carries])
    (node,) = scans(fg)
    assert (node.op.n_carries, node.op.n_consts) == (0, 1)
    same_numbers([X, w0], [y, w[-1]], fg, rng.normal(size=(3, 2)), rng.normal(size=2))


def test_passthrough_outputs_read_the_sequence(rng):
    X = sg.dmatrix("X")
    (y, copy), _ = scan(lambda x: [x * 2.0, x], sequences=X)
    fg = rewrite([X], [y, copy], [R.passthrough_outputs, R.drop_unused])
    (node,) = scans(fg)
    assert node.op.n_ys == 1
    assert fg.outputs[1].owner is None or not isinstance(fg.outputs[1].owner.op, Scan)
    same_numbers([X], [y, copy], fg, rng.normal(size=(3, 2)))


@pytest.mark.parametrize("batch", [False, True])
def test_accumulate_outside_turns_weight_gradients_into_one_product(rng, batch):
    X = sg.dtensor3("X") if batch else sg.dmatrix("X")
    h0 = sg.dmatrix("h0") if batch else sg.dvector("h0")
    W, U, b = sg.dmatrix("W"), sg.dmatrix("U"), sg.dvector("b")
    out, _ = scan(lambda x, h, W, U, b: sg.tanh(sg.dot(x, W) + sg.dot(h, U) + b), sequences=X,
                  outputs_info=h0, non_sequences=[W, U, b])
    grads = sg.grad((out ** 2).sum(), [W, U, b, h0])
    before = [n for n in scans(fgraph_of([X, h0, W, U, b], grads))
              if n.op.name == "grad_of_scan"]
    assert before[0].op.n_carries == 4  # dh and three accumulators
    fg = rewrite([X, h0, W, U, b], grads)
    backward = [n for n in scans(fg) if n.op.name == "grad_of_scan"]
    assert len(backward) == 1 and backward[0].op.n_carries == 1  # only dh is carried
    after_loop = [n for n in fg.toposort() if any(
        i.owner is not None and isinstance(i.owner.op, Scan) for i in n.inputs)]
    products = [n for n in after_loop if isinstance(n.op, (Dot, TensorDot))]
    assert len(products) == 2  # gW and gU: each one product over all steps
    values = elman_values(rng, batch) + [rng.normal(size=4)]
    same_numbers([X, h0, W, U, b], grads, fg, values[0], values[1], values[2], values[3],
                 values[4])


def test_gradient_loops_share_the_forward_loop(rng):
    X, h0, c0, U = sg.dtensor3("X"), sg.dmatrix("h0"), sg.dmatrix("c0"), sg.dmatrix("U")

    def step(x, h, c, U):  # stores gate values for the reverse pass: a second forward loop
        gates = x + sg.dot(h, U)
        f, g = sg.sigmoid(gates[:, :2]), sg.tanh(gates[:, 2:])
        c_new = f * c + (1 - f) * g
        return sg.tanh(c_new) * f, c_new

    (hs, cs), _ = scan(step, sequences=X, outputs_info=[h0, c0], non_sequences=U)
    grads = sg.grad((hs ** 2).sum() + cs[-1].sum(), [U, h0, c0, X])
    fg = fgraph_of([X, h0, c0, U], grads)
    assert len(scans(fg)) == 3  # forward, forward storing residuals, reverse
    fg = rewrite([X, h0, c0, U], grads)
    assert len(scans(fg)) == 2
    values = [rng.normal(size=(5, 3, 4)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2)),
              rng.normal(size=(2, 4))]
    same_numbers([X, h0, c0, U], grads, fg, *values)


def test_nested_loops_are_rewritten_inside(rng):
    W, h0 = sg.dmatrix("W"), sg.dvector("h0")

    def outer(h, W):
        inner, _ = scan(lambda hh, W: sg.tanh(sg.dot(hh, W.T)), outputs_info=h,
                        non_sequences=W, n_steps=2)
        return inner[-1]

    out, _ = scan(outer, outputs_info=h0, non_sequences=W, n_steps=3)
    fg = rewrite([W, h0], [out])
    (node,) = scans(fg)
    nested = [n for n in node.op.inner.nodes() if isinstance(n.op, Scan)]
    assert len(nested) == 1
    assert DimShuffle not in inner_ops(nested[0])  # W.T was pushed out of the inner loop
    assert nested[0].op.n_ys == 0  # only its last state is read
    same_numbers([W, h0], [out], fg, rng.normal(size=(3, 3)), rng.normal(size=3))


def test_inner_graph_rewrite_runs_phases_inside_loops(rng):
    h0 = sg.dvector("h0")
    out, _ = scan(lambda h: h * 1.0 + 0.0, outputs_info=h0, n_steps=3)
    fg = fgraph_of([h0], [out])
    passes = R.inner_graph_rewrite(
        lambda: [("canonicalize", Phase("canonicalize", canonicalize.RULES))])
    assert passes(fg) == 1
    (node,) = scans(fg)
    assert node.op.inner.nodes() == []  # the step is the identity
    assert passes(fg, frozenset({"scan_inner"})) == 0
    same_numbers([h0], [out], fg, rng.normal(size=2))


def test_excluding_a_rule_by_name(rng):
    X, h0, W, U = sg.dmatrix("X"), sg.dvector("h0"), sg.dmatrix("W"), sg.dmatrix("U")
    out = elman(X, h0, W, U)
    fg = rewrite([X, h0, W, U], [out], excluding={"push_out_per_step"})
    (node,) = scans(fg)
    assert inner_ops(node).count(Dot) == 2
    assert R.scan_rewrites(fgraph_of([X], [out]), frozenset({"scan"})) == 0


def test_until_loops_are_rewritten_and_stop_alike(rng):
    v, c = sg.dvector("v"), sg.dvector("c")
    out, _ = scan(lambda x, acc, c: (acc + sg.exp(x) * c.sum(), until(acc > 3.0)),
                  sequences=v, outputs_info=sg.constant(0.0), non_sequences=c)
    fg = rewrite([v, c], [out])
    (node,) = scans(fg)
    assert node.op.until
    # The invariant sum leaves the loop; exp(x) stays a step's work (no work past the stop).
    assert not any(isinstance(n.op, CAReduce) for n in node.op.inner.nodes())
    assert any(t is Elemwise and n.op.scalar_op.name == "exp"
               for n in node.op.inner.nodes() for t in [type(n.op)])
    same_numbers([v, c], [out], fg, np.abs(rng.normal(size=8)), np.ones(2))


def test_rewrites_keep_random_draws_per_step(rng):
    srng = sg.random.RandomStream(seed=11)
    X, W = sg.dmatrix("X"), sg.dmatrix("W")
    out, _ = scan(lambda x, W: sg.dot(x, W.T) + srng.normal(size=(2,)), sequences=X,
                        non_sequences=W)
    fg = rewrite([X, W], [out])
    (node,) = scans(fg)
    assert node.op.n_carries == 1  # the generator's state stays a loop state
    same_numbers([X, W], [out], fg, rng.normal(size=(4, 2)), rng.normal(size=(2, 2)),
                 no_default_updates=True)


def test_last_state_only_promotes_an_output_of_a_loop_that_carries_a_generator(rng):
    # rbm.py's CD-k chain: per-step outputs read as y[-1], and a random generator as a state
    srng = sg.random.RandomStream(seed=5)
    h0 = sg.dmatrix("h0")

    def gibbs(h):
        v = sg.sigmoid(h.sum(axis=1, keepdims=True) * 0.5)
        return [v, sg.cast(srng.binomial(1, v), "float64") + h * 0.0]

    (vs, hs), updates = scan(gibbs, outputs_info=[None, h0], n_steps=3)
    fg = rewrite([h0], [vs[-1], hs[-1]], [R.last_state_only, R.drop_unused])
    (node,) = scans(fg)
    assert node.op.n_ys == 0  # vs became a state: only its last value is kept
    same_numbers([h0], [vs[-1], hs[-1]], fg, np.abs(rng.normal(size=(4, 3))),
                 no_default_updates=True)
