"""FunctionGraph: clients, replace with type checks, pruning, features, cloning."""

import pytest

import symgraph as sg
from symgraph.fgraph import OUTPUT, FunctionGraph, MissingInputError
from symgraph.graph import format_trace


def test_clients_and_nodes():
    x, y = sg.dvectors("x y")
    e = sg.exp(x)
    out = e * y + e
    fg = FunctionGraph([x, y], [out])
    fg.check_integrity()
    (x2, _), (out2,) = fg.inputs, fg.outputs
    assert x2 is not x  # cloned by default
    assert len(fg.apply_nodes) == 3
    exp_var = [n for n in fg.apply_nodes if n.op.scalar_op.name == "exp"][0].outputs[0]
    assert len(fg.clients[exp_var]) == 2
    assert fg.clients[out2] == [(OUTPUT, 0)]


def test_replace_prunes_and_logs():
    x = sg.dvector("x")
    out = sg.log(sg.exp(x))
    fg = FunctionGraph([x], [out], clone=False)
    log_calls = []

    class Log:
        def on_change_input(self, fgraph, node, i, old, new, reason):
            log_calls.append(reason)

    fg.attach_feature(Log())
    fg.replace(out, x, reason="log_of_exp")
    assert fg.outputs == [x]
    assert fg.apply_nodes == set()
    assert log_calls == ["log_of_exp"]
    fg.check_integrity()


def test_replace_checks_types():
    x = sg.dvector("x")
    m = sg.dmatrix("m")
    fg = FunctionGraph([x, m], [sg.exp(x) + m.sum()], clone=False)
    with pytest.raises(TypeError, match="cannot replace"):
        fg.replace(fg.outputs[0], m)
    with pytest.raises(TypeError, match="float32"):
        fg.replace(fg.outputs[0], sg.fvector())


def test_replace_inner_node_keeps_integrity():
    x, y = sg.dvectors("x y")
    a = x + y
    out = sg.exp(a) * a
    fg = FunctionGraph([x, y], [out], clone=False)
    fg.replace(a, x * y, reason="test")
    fg.check_integrity()
    assert all(n.op.scalar_op.name != "add" for n in fg.apply_nodes)
    f = sg.function([x, y], out, givens={a: x * y})
    assert abs(f([2.0], [3.0])[0] - 6.0 * 2.718281828459045 ** 6) < 1e-6


def test_missing_input_is_reported():
    x, y = sg.dvectors("x y")
    with pytest.raises(MissingInputError, match="y"):
        FunctionGraph([x], [x + y])


def test_clone_is_independent():
    x = sg.dvector("x")
    fg = FunctionGraph([x], [sg.exp(x)])
    twin, memo = fg.clone()
    assert twin.outputs[0] is not fg.outputs[0]
    twin.replace(twin.outputs[0], twin.inputs[0])
    assert fg.outputs[0].owner is not None


def test_nodes_a_rewrite_makes_take_the_replaced_nodes_line_and_op():
    from symgraph.graph import rewriting, user_op

    x = sg.dvector("x")
    fg = FunctionGraph([x], [sg.log(1 + x)])  # the user's line
    log_node = fg.outputs[0].owner
    with rewriting():  # as in the rewrite engine: new nodes record no line of their own
        new = sg.log1p(sg.neg(sg.neg(fg.inputs[0])))
    assert new.owner.trace is None
    fg.replace(fg.outputs[0], new, reason="test")
    assert len(fg.apply_nodes) == 3
    for node in fg.apply_nodes:
        assert "the user's line" in format_trace(node.trace)
        assert user_op(node) == log_node.op  # the op the user wrote
    # A node with a line of its own (one the user built) keeps it.
    y = sg.dvector("y")
    fg2 = FunctionGraph([y], [sg.sin(y)], clone=False)
    other = sg.exp(y)  # its own line
    fg2.replace(fg2.outputs[0], other, reason="test")
    assert "its own line" in format_trace(other.owner.trace)
    assert user_op(other.owner) == other.owner.op


def test_pickling_is_flat_and_keeps_the_graph():
    import pickle
    import sys

    import numpy as np

    x, w = sg.dvector("x"), sg.shared(np.arange(3.0), name="w")
    out = x
    for k in range(sys.getrecursionlimit() + 100):  # deeper than pickle could recurse
        out = sg.tanh(out * w) if k % 3 else out + 1.0
    fgraph = FunctionGraph([x, w], [out, out.sum()], update_mapping={1: 1})
    copy = pickle.loads(pickle.dumps(fgraph))
    assert len(copy.apply_nodes) == len(fgraph.apply_nodes)
    assert copy.update_mapping == {1: 1}
    assert [str(n.op) for n in copy.toposort()] == [str(n.op) for n in fgraph.toposort()]
    assert all(o.owner.outputs[o.index] is o for o in copy.outputs)
    assert copy.clients[copy.outputs[0]][-1] == (OUTPUT, 0)
    values = [np.array([0.5, -1.0, 2.0]), np.arange(3.0)]
    run = sg.codegen.get_backend("py")
    for a, b in zip(run.link(fgraph).run(values), run.link(copy).run(values)):
        np.testing.assert_array_equal(a, b)
