"""Targeted tests of ``ifelse``: real laziness, type checks, static and inferred shapes,
gradients, and Theano semantics."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import Apply, toposort
from symgraph.op import Op, call_infer_shape
from symgraph.ops.basic import as_tensor_variable
from symgraph.ops.ifelse import IfElse
from symgraph.ops.shape import Shape_i


class CountingOp(Op):
    """``x + 1`` that counts its runs (no ``__props__``: each instance is its own op)."""

    def __init__(self) -> None:
        self.calls = 0

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        self.calls += 1
        output_storage[0][0] = np.asarray(inputs[0] + 1, dtype=node.outputs[0].dtype)


class ExplodingOp(Op):
    """An op that must never run."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        raise AssertionError("ExplodingOp ran: the branch not taken was evaluated")


# -- laziness ---------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, then_calls, else_calls", [(1, 1, 0), (0, 0, 1)])
def test_only_the_branch_taken_runs(condition, then_calls, else_calls):
    c, x = sg.iscalar("c"), sg.dvector("x")
    then_op, else_op = CountingOp(), CountingOp()
    f = sg.function([c, x], sg.ifelse(c, then_op(x), else_op(x) * 2.0), mode="py")
    result = f(condition, np.array([1.0, 2.0]))
    expected = np.array([2.0, 3.0]) if condition else np.array([4.0, 6.0])
    np.testing.assert_array_equal(result, expected)
    assert (then_op.calls, else_op.calls) == (then_calls, else_calls)


def test_a_failing_op_in_the_branch_not_taken_does_not_run():
    c, x = sg.bscalar("c"), sg.dvector("x")
    f = sg.function([c, x], sg.ifelse(c, sg.exp(x), ExplodingOp()(x)), mode="py")
    np.testing.assert_allclose(f(1, np.zeros(2)), np.ones(2))
    with pytest.raises(AssertionError, match="ExplodingOp ran"):
        f(0, np.zeros(2))


def test_several_outputs_sharing_a_branch_stay_lazy():
    c, x = sg.iscalar("c"), sg.dvector("x")
    shared_op, else_op = CountingOp(), CountingOp()
    shared_value = shared_op(x)
    outs = sg.ifelse(c, [shared_value, shared_value * 3.0, x], [x, else_op(x), x * 0.0])
    f = sg.function([c, x], outs, mode="py")
    a, b, d = f(0, np.array([1.0]))
    np.testing.assert_array_equal(a, [1.0])
    np.testing.assert_array_equal(b, [2.0])
    np.testing.assert_array_equal(d, [0.0])
    assert (shared_op.calls, else_op.calls) == (0, 1)
    a, b, d = f(5, np.array([1.0]))
    np.testing.assert_array_equal(b, [6.0])
    assert (shared_op.calls, else_op.calls) == (1, 1)


def test_nested_ifelse_evaluates_one_leaf():
    c1, c2, x = sg.iscalar("c1"), sg.iscalar("c2"), sg.dscalar("x")
    ops = [CountingOp() for _ in range(3)]
    inner = sg.ifelse(c2, ops[0](x), ops[1](x) * 10.0)
    f = sg.function([c1, c2, x], sg.ifelse(c1, inner, ops[2](x) * 100.0), mode="py")
    assert float(f(1, 0, 1.0)) == 20.0
    assert [op.calls for op in ops] == [0, 1, 0]
    assert float(f(0, 1, 1.0)) == 200.0
    assert [op.calls for op in ops] == [0, 1, 1]


def test_condition_computed_by_the_graph_and_reused_in_a_branch():
    x = sg.dvector("x")
    total = x.sum()
    counting = CountingOp()
    f = sg.function([x], sg.ifelse(sg.gt(total, 0.0), total, counting(total)), mode="py")
    assert float(f(np.array([1.0, 2.0]))) == 3.0
    assert float(f(np.array([-1.0, -2.0]))) == -2.0
    assert counting.calls == 1


def test_needed_inputs_asks_for_the_condition_first():
    c, x, y = sg.iscalar("c"), sg.dvector("x"), sg.dvector("y")
    node = sg.ifelse(c, [x, y], [y, x])[0].owner
    op = node.op
    assert op.needed_inputs(node, {}) == [0]
    assert op.needed_inputs(node, {0: np.int32(1)}) == [1, 2]
    assert op.needed_inputs(node, {0: np.int32(0)}) == [3, 4]
    assert op.needed_inputs(node, {0: np.int32(0), 3: np.zeros(1)}) == [4]


def test_perform_receives_none_for_the_other_branch():
    c, x, y = sg.iscalar("c"), sg.dvector("x"), sg.dvector("y")
    node = sg.ifelse(c, x, y).owner
    storage = [[None]]
    node.op.perform(node, [np.int32(0), None, np.array([7.0])], storage)
    np.testing.assert_array_equal(storage[0][0], [7.0])


# -- semantics --------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, taken", [(np.nan, "then"), (-0.0, "else"), (True, "then"),
                                              (2, "then"), (0, "else")])
def test_nonzero_condition_is_true(condition, taken):
    value = np.asarray(condition)
    c = sg.tensor("c", dtype=value.dtype.name, shape=())
    f = sg.function([c], sg.ifelse(c, 1.0, 2.0), mode="py")
    assert float(f(value)) == (1.0 if taken == "then" else 2.0)


def test_branches_of_different_shapes():
    c, x, y = sg.iscalar("c"), sg.dmatrix("x"), sg.dmatrix("y")
    f = sg.function([c, x, y], sg.ifelse(c, x, y), mode="py")
    assert f(0, np.ones((2, 3)), np.ones((4, 1))).shape == (4, 1)
    assert f(1, np.ones((2, 3)), np.ones((4, 1))).shape == (2, 3)


def test_list_branches_return_a_list_and_single_values_a_variable():
    c, x = sg.iscalar("c"), sg.dvector("x")
    assert isinstance(sg.ifelse(c, [x], [x * 2.0]), list)
    assert isinstance(sg.ifelse(c, (x,), (x,)), list)
    assert isinstance(sg.ifelse(c, x, x * 2.0), sg.Variable)


def test_name_labels_the_outputs():
    c, x = sg.iscalar("c"), sg.dvector("x")
    assert sg.ifelse(c, x, x, name="pick").name == "pick"
    assert [o.name for o in sg.ifelse(c, [x, x], [x, x], name="p")] == ["p[0]", "p[1]"]


def test_python_numbers_take_the_other_branch_dtype():
    c, x = sg.iscalar("c"), sg.fvector("x")
    out = sg.ifelse(c, x.sum(), 0)
    assert out.dtype == x.sum().dtype
    assert sg.ifelse(c, 1.5, sg.fscalar("y")).dtype == "float32"
    i = sg.ifelse(c, sg.bscalar("b"), 3)
    assert i.dtype == "int8"
    f = sg.function([c], sg.ifelse(c, 1, 2.5), mode="py")
    assert f(1).dtype == np.float64 and float(f(1)) == 1.0


def test_static_shape_keeps_agreeing_dimensions():
    c = sg.iscalar("c")
    x = sg.tensor("x", shape=(3, 4, None))
    y = sg.tensor("y", shape=(3, 5, None))
    assert sg.ifelse(c, x, y).type.shape == (3, None, None)
    assert IfElse(1) == IfElse(1) and IfElse(1) != IfElse(2)
    assert hash(IfElse(2)) == hash(IfElse(2))


def test_works_through_variable_eval():
    x = sg.dscalar("x")
    lazy = sg.ifelse(sg.gt(x, 0.0), sg.log(x), x)
    assert float(lazy.eval({x: -1.0})) == -1.0
    assert float(lazy.eval({x: np.e})) == pytest.approx(1.0)


# -- errors -----------------------------------------------------------------------------------

def test_branch_dtype_mismatch_names_position_and_types():
    c, x, y = sg.iscalar("c"), sg.dvector("x"), sg.fvector("y")
    with pytest.raises(TypeError, match=r"position 1.*float64.*float32"):
        sg.ifelse(c, [x, x], [x, y])


def test_branch_rank_mismatch_raises():
    c, x, m = sg.iscalar("c"), sg.dvector("x"), sg.dmatrix("m")
    with pytest.raises(TypeError, match=r"position 0.*TensorType\(float64, \(\?,\)\).*"
                                        r"TensorType\(float64, \(\?, \?\)\)"):
        sg.ifelse(c, x, m)
    with pytest.raises(TypeError, match="position 0"):
        sg.ifelse(c, x, 0.0)


def test_condition_must_be_0d():
    x = sg.dvector("x")
    with pytest.raises(TypeError, match="condition must be a 0-d"):
        sg.ifelse(x, x, x)


def test_branch_structure_errors():
    c, x = sg.iscalar("c"), sg.dvector("x")
    with pytest.raises(TypeError, match="both be lists"):
        sg.ifelse(c, [x], x)
    with pytest.raises(TypeError, match="then_branch has 2 values, else_branch 1"):
        sg.ifelse(c, [x, x], [x])
    with pytest.raises(TypeError, match="empty"):
        sg.ifelse(c, [], [])
    with pytest.raises(TypeError, match="branch values"):
        IfElse(2).make_node(c, x, x)


# -- shapes -----------------------------------------------------------------------------------

def _shapes_of(node):
    shapes = [tuple(Shape_i(d)(v) for d in range(v.ndim)) for v in node.inputs]
    return shapes, call_infer_shape(node.op, None, node, shapes)


def test_infer_shape_keeps_a_dimension_both_branches_share():
    c, x = sg.iscalar("c"), sg.dmatrix("x")
    node = sg.ifelse(c, x, x * 2.0).owner
    rows, cols = Shape_i(0)(x), Shape_i(1)(x)
    (same,) = call_infer_shape(node.op, None, node, [(), (rows, cols), (rows, cols)])
    assert same[0] is rows and same[1] is cols
    # Equal expressions built separately are recognised as the same dimension too.
    twins = (Shape_i(0)(x), Shape_i(1)(x))
    (equal,) = call_infer_shape(node.op, None, node, [(), (rows, cols), twins])
    assert equal[0] is rows and equal[1] is cols


def test_infer_shape_chooses_between_different_dimensions_lazily():
    c, x, y = sg.iscalar("c"), sg.dmatrix("x"), sg.dmatrix("y")
    node = sg.ifelse(c, x, y).owner
    _, (out,) = _shapes_of(node)
    assert all(isinstance(d.owner.op, IfElse) for d in out)
    f = sg.function([c, x, y], list(out), mode="py")
    assert [int(d) for d in f(1, np.ones((2, 3)), np.ones((4, 5)))] == [2, 3]
    assert [int(d) for d in f(0, np.ones((2, 3)), np.ones((4, 5)))] == [4, 5]


def test_infer_shape_uses_known_static_dimensions():
    c = sg.iscalar("c")
    x, y = sg.tensor("x", shape=(3, None)), sg.tensor("y", shape=(3, None))
    _, (out,) = _shapes_of(sg.ifelse(c, x, y).owner)
    assert out[0] == 3


# -- gradients --------------------------------------------------------------------------------

@pytest.mark.parametrize("condition", [0, 1])
def test_gradient_flows_to_the_branch_taken_only(condition):
    c, x, y = sg.iscalar("c"), sg.dvector("x"), sg.dvector("y")
    cost = (sg.ifelse(c, x * x, 3.0 * y)).sum()
    gx, gy = sg.grad(cost, [x, y])
    f = sg.function([c, x, y], [gx, gy], mode="py")
    xv, yv = np.array([1.0, -2.0]), np.array([5.0, 6.0])
    got_x, got_y = f(condition, xv, yv)
    np.testing.assert_allclose(got_x, 2 * xv if condition else np.zeros(2))
    np.testing.assert_allclose(got_y, np.zeros(2) if condition else np.full(2, 3.0))


def test_gradient_with_branches_of_different_shapes():
    c, x, y = sg.iscalar("c"), sg.dmatrix("x"), sg.dmatrix("y")
    gx, gy = sg.grad(sg.ifelse(c, x, y).sum(), [x, y])
    f = sg.function([c, x, y], [gx, gy], mode="py")
    got_x, got_y = f(0, np.ones((2, 3)), np.ones((4, 1)))
    np.testing.assert_array_equal(got_x, np.zeros((2, 3)))
    np.testing.assert_array_equal(got_y, np.ones((4, 1)))


def test_condition_gets_no_gradient():
    c, x = sg.dscalar("c"), sg.dscalar("x")
    with pytest.raises(sg.DisconnectedInputError):
        sg.grad(sg.ifelse(c, x, 2.0 * x), c)


def test_rop_selects_the_branch_tangent():
    c, x, y = sg.iscalar("c"), sg.dvector("x"), sg.dvector("y")
    v = sg.dvector("v")
    out = sg.ifelse(c, x * 2.0, y)
    tangent = sg.Rop(out, x, v)
    f = sg.function([c, x, y, v], tangent, mode="py", on_unused_input="ignore")
    ones, vv = np.ones(2), np.array([1.0, 3.0])
    np.testing.assert_allclose(f(1, ones, ones, vv), 2 * vv)
    np.testing.assert_allclose(f(0, ones, ones, vv), np.zeros(2))


def test_gradient_graph_has_no_ifelse_on_the_condition():
    c, x = sg.iscalar("c"), sg.dvector("x")
    g = sg.grad(sg.ifelse(c, x, x * 2.0).sum(), x)
    ifelse_nodes = [n for n in toposort([g]) if isinstance(n.op, IfElse)]
    assert ifelse_nodes, "the gradient should choose with ifelse"
    assert all(n.inputs[0] is c for n in ifelse_nodes)
