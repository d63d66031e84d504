"""The Scan op itself: the frozen inner graph's identity, node checks, shape inference, the
reference loop's errors, printing, and other backends against "py"."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen import BACKENDS
from symgraph.graph import toposort
from symgraph.op import call_infer_shape
from symgraph.ops.shape import Shape_i
from symgraph.scan import Scan, ScanParts, scan, until
from symgraph.scan.inner import InnerGraph
from symgraph.scan.op import Carry, Const, Out, Seq

RAW = sg.Mode("py", rewrites=False)


def step_graph(scale: float):
    h, x = sg.dvector("h"), sg.dvector("x")
    return InnerGraph([h, x], [sg.tanh(h * scale + x)])


def test_inner_graphs_compare_by_structure_not_identity():
    a, b, c = step_graph(0.5), step_graph(0.5), step_graph(0.25)
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert Scan(a, 0, 1, 1) == Scan(b, 0, 1, 1)
    assert Scan(a, 0, 1, 1) != Scan(a, 1, 0, 1)
    assert Scan(a, 0, 1, 1, name="x") == Scan(b, 0, 1, 1, name="y")  # names do not count


def test_inner_graph_refuses_free_variables_and_bad_inputs():
    h, w = sg.dvector("h"), sg.dvector("w")
    with pytest.raises(ValueError, match="uses w .* neither an inner input"):
        InnerGraph([h], [h * w])
    with pytest.raises(ValueError, match="listed twice"):
        InnerGraph([h, h], [h])
    with pytest.raises(ValueError, match="ownerless placeholder"):
        InnerGraph([h * 2], [h])


def test_equal_loops_merge():
    X, h0 = sg.dmatrix("X"), sg.dvector("h0")
    one, _ = scan(lambda x, h: sg.tanh(h + x), sequences=X, outputs_info=h0)
    two, _ = scan(lambda x, h: sg.tanh(h + x), sequences=X, outputs_info=h0)
    f = sg.function([X, h0], [one, two], mode="py")
    assert sum(isinstance(n.op, Scan) for n in f.fgraph.apply_nodes) == 1


def test_make_node_checks_types_and_counts():
    op = Scan(step_graph(0.5), 0, 1, 1)
    with pytest.raises(TypeError, match="n_steps must be a 0-d integer"):
        op.make_node(sg.dscalar(), sg.dvector(), sg.dmatrix())
    with pytest.raises(TypeError, match="expected n_steps and 2 inputs"):
        op.make_node(3, sg.dvector())
    with pytest.raises(TypeError, match="initial state 0 has type .*float32"):
        op.make_node(3, sg.fvector(), sg.dmatrix())
    with pytest.raises(TypeError, match="sequence 0 has type .* entries must be"):
        op.make_node(3, sg.dvector(), sg.dvector())
    node = op.make_node(3, sg.dvector(), sg.dmatrix())
    assert [o.type.shape for o in node.outputs] == [(None,)]


def test_static_shapes_and_infer_shape_match_the_values():
    X, h0 = sg.dmatrix("X"), sg.dvector("h0")
    (hs, ys), _ = scan(lambda x, h: [h + x, sg.concatenate([x, x])], sequences=X,
                       outputs_info=[h0, None], n_steps=4)
    node = hs.owner
    assert hs.type.shape == (4, None) and ys.type.shape == (4, None)
    shapes = call_infer_shape(node.op, None, node,
                              [tuple(Shape_i(d)(v) for d in range(v.ndim)) for v in node.inputs])
    flat = [sg.as_tensor_variable(d) for shape in shapes for d in shape]
    values = sg.function([X, h0], list(node.outputs) + flat, mode=RAW)(
        np.ones((6, 3)), np.zeros(3))
    outputs, dims = values[:len(node.outputs)], values[len(node.outputs):]
    inferred = [tuple(int(d) for d in dims[:1]), tuple(int(d) for d in dims[1:3]),
                tuple(int(d) for d in dims[3:5])]
    assert inferred == [o.shape for o in outputs] == [(3,), (4, 3), (4, 6)]


def test_shape_of_an_until_loop_is_the_number_of_steps_done():
    limit = sg.dscalar("limit")
    values, _ = scan(lambda p: (p + 1.0, until(p + 1.0 >= limit)),
                     outputs_info=sg.constant(0.0), n_steps=20)
    f = sg.function([limit], [values.shape[0], values.owner.outputs[-1]], mode="py")
    assert [int(v) for v in f(5.0)] == [5, 5]


@pytest.mark.parametrize("mode", ["py", "llvm"])
@pytest.mark.parametrize("name", [None, "rnn"])
def test_scan_errors_name_the_scan_and_point_at_its_call(name, mode):
    W, h0 = sg.dmatrix("W"), sg.dvector("h0")
    hs, _ = scan(lambda h: sg.tanh(sg.dot(W, h)), outputs_info=h0, n_steps=3,
                 name=name)  # the line of the scan call
    f = sg.function([W, h0], hs, mode=mode)  # the rewrites rebuild the loop
    with pytest.raises(ValueError) as info:
        f(np.ones((3, 4)), np.ones(4))
    message = str(info.value)
    title = "scan 'rnn'" if name else "scan(...)"
    assert message.startswith(f"{title} (built at "), message
    assert "test_op.py" in message and "hs, _ = scan(" in message and "step 0" in message
    assert "sg.function(" not in message


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_errors_in_work_moved_out_of_a_loop_name_the_steps_op_and_line(mode):
    X, W = sg.dmatrix("X"), sg.dmatrix("W")
    ys, _ = scan(lambda x: sg.dot(W, x),  # the step's product
                 sequences=X)
    f = sg.function([X, W], ys, mode=mode)  # x_t @ W.T for every t: one product, before
    with pytest.raises(ValueError, match="not aligned") as info:
        f(np.ones((2, 3)), np.ones((4, 5)))
    message = str(info.value)
    assert message.startswith("Dot (compiled as Gemm"), message
    assert "the step's product" in message


def test_perform_says_a_backend_is_needed():
    op = Scan(step_graph(0.5), 0, 1, 1)
    node = op.make_node(2, sg.dvector(), sg.dmatrix())
    with pytest.raises(NotImplementedError, match="runs only through a backend"):
        op.perform(node, [np.int64(2), np.zeros(2), np.zeros((2, 2))], [[None]])


def test_errors_inside_the_step_name_the_loop_and_the_step():
    X, h0 = sg.dmatrix("X"), sg.dvector("h0")
    hs, _ = scan(lambda x, h: h + x, sequences=X, outputs_info=h0, name="adder")
    f = sg.function([X, h0], hs, mode=RAW)
    with pytest.raises(ValueError, match=r"scan 'adder' \(built at .*test_op.py.*\), step 0"):
        f(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match="n_steps is -1"):
        scan(lambda h: h, outputs_info=h0, n_steps=-1)
    k = sg.lscalar("k")
    negative = sg.function([h0, k], scan(lambda h: h, outputs_info=h0, n_steps=k)[0], mode=RAW)
    with pytest.raises(ValueError, match="n_steps is -2"):
        negative(np.ones(2), -2)


def test_scan_parts_build_the_canonical_form_by_hand():
    c, h0, xs = sg.dscalar("c"), sg.dvector("h0"), sg.dmatrix("xs")
    ci, hi, xi = sg.dscalar("c_in"), sg.dvector("h_in"), sg.dvector("x_in")
    new = hi * ci + xi
    parts = ScanParts(sg.constant(3, dtype="int64"), [Const(c, ci)], [Carry(h0, hi, new)],
                      [Seq(xs, xi)], [Out(new), Out(xi * 2.0)])
    node = parts.apply()
    op = node.op
    assert (op.n_consts, op.n_carries, op.n_seqs, op.n_ys, op.until) == (1, 1, 1, 2, False)
    final, history, doubled = sg.function([c, h0, xs], node.outputs, mode=RAW)(
        2.0, np.ones(2), np.arange(8.0).reshape(4, 2))
    expected, h = [], np.ones(2)
    for t in range(3):
        h = h * 2.0 + np.arange(8.0).reshape(4, 2)[t]
        expected.append(h)
    np.testing.assert_allclose(history, expected)
    np.testing.assert_allclose(final, expected[-1])
    np.testing.assert_allclose(doubled, np.arange(6.0).reshape(3, 2) * 2)
    round_trip = ScanParts.from_node(node)
    assert round_trip.make_op() == op


def test_debugprint_shows_the_inner_graph():
    x0 = sg.dvector("x0")
    out, _ = scan(lambda h: sg.exp(h), outputs_info=x0, n_steps=2, name="expo")
    text = sg.debugprint(out, file="str")
    assert "Scan{expo}" in text
    inner = text.split("Inner graphs:")[1]
    assert "Elemwise{exp}" in inner and ">" in inner


@pytest.mark.skipif("llvm" not in BACKENDS, reason="no llvm backend registered")
def test_llvm_backend_runs_loops_like_py():
    X, h0, W = sg.dmatrix("X"), sg.dvector("h0"), sg.dmatrix("W")
    hs, _ = scan(lambda x, h, W: sg.tanh(sg.dot(h, W) + x), sequences=X, outputs_info=h0,
                 non_sequences=W)
    outputs = [hs] + sg.grad((hs ** 2).sum(), [W, h0])
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=(3, 3))]
    want = sg.function([X, h0, W], outputs, mode="py")(*values)
    got = sg.function([X, h0, W], outputs, mode="llvm")(*values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_every_node_of_a_gradient_graph_is_built_from_known_ops():
    X, h0 = sg.dmatrix("X"), sg.dvector("h0")
    hs, _ = scan(lambda x, h: sg.tanh(h + x), sequences=X, outputs_info=h0)
    g = sg.grad(hs.sum(), X)
    names = {type(n.op).__name__ for n in toposort([g])}
    assert "Scan" in names
    assert sum(isinstance(n.op, Scan) and n.op.name == "grad_of_scan"
               for n in toposort([g])) == 1
