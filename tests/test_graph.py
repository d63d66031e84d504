"""Graph IR: types, variables, Apply, traversal, cloning, equality of ops and constants."""

import sys

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import (ancestors, clone_replace, equal_computations, graph_inputs,
                            toposort)
from symgraph.type import TensorType, broadcast_static_shapes


def test_tensor_type_equality_and_broadcastable():
    a = TensorType("float32", (None, 1))
    assert a == TensorType(np.float32, [None, 1])
    assert hash(a) == hash(TensorType("float32", (None, 1)))
    assert a != TensorType("float64", (None, 1))
    assert a.broadcastable == (False, True)
    assert a.ndim == 2
    assert TensorType("float64", (True, False)).shape == (1, None)


def test_tensor_type_rejects_bad_dtype_and_shape():
    with pytest.raises(TypeError, match="complex64"):
        TensorType("complex64", ())
    with pytest.raises(TypeError, match=">= 0"):
        TensorType("float64", (-2,))


def test_filter_names_the_input_and_problem():
    t = TensorType("float32", (None, 3))
    with pytest.raises(TypeError, match="arg x.*float32.*float64"):
        t.filter(np.zeros((2, 3)), name="arg x")
    with pytest.raises(TypeError, match="2-d"):
        t.filter(np.zeros(3, dtype="float32"))
    with pytest.raises(TypeError, match="dimension 1 must be 3"):
        t.filter(np.zeros((2, 4), dtype="float32"))
    assert t.filter([[1, 2, 3]]).dtype == np.float32
    assert t.filter(np.zeros((2, 3), dtype="float64"), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError):
        TensorType("int8", ()).filter(1000)


def test_broadcast_static_shapes():
    assert broadcast_static_shapes((None, 1), (3, 4)) == (3, 4)
    assert broadcast_static_shapes((1, 1), (1, None)) == (1, None)
    with pytest.raises(ValueError):
        broadcast_static_shapes((2,), (3,))


def test_apply_records_the_user_line():
    x = sg.dvector("x")
    y = x + 1  # the line recorded
    filename, lineno = y.owner.tag.trace
    assert filename == __file__
    with open(__file__) as f:
        assert "the line recorded" in f.read().splitlines()[lineno - 1]


def test_op_value_semantics():
    assert sg.ops.elemwise.Elemwise(sg.ops.elemwise.TABLE["add"]) == \
        sg.ops.elemwise.elemwise_op("add")
    d1 = sg.ops.elemwise.DimShuffle(2, (1, 0))
    d2 = sg.ops.elemwise.DimShuffle(2, [1, 0])
    assert d1 == d2 and hash(d1) == hash(d2)
    assert d1 != sg.ops.elemwise.DimShuffle(2, (0, 1))

    class NoProps(sg.Op):
        pass

    assert NoProps() != NoProps()  # identity semantics without __props__


def test_constants_compare_by_value():
    a, b = sg.constant(np.arange(3.0)), sg.constant(np.arange(3.0))
    assert a is not b and a.equals(b)
    assert not a.equals(sg.constant(np.arange(3)))
    assert sg.constant(2.0).type == TensorType(sg.config.floatX, ())


def test_toposort_is_iterative_on_deep_graphs():
    x = sg.dscalar("x")
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = y + 1.0
    order = toposort([y])
    assert len(order) == sys.getrecursionlimit() * 3
    assert order[0].inputs[0] is x
    assert graph_inputs([y])[0] is x
    assert len(ancestors([y])) > len(order)


def test_clone_replace_shares_untouched_nodes():
    x, y, z = sg.dvectors("x y z")
    a = sg.exp(y)
    out = x * 2 + a
    (new,) = clone_replace([out], {x: z})
    assert new is not out
    assert a in ancestors([new])
    assert x not in ancestors([new]) and z in ancestors([new])
    assert equal_computations([new], [z * 2 + a])


def test_equal_computations():
    x, y = sg.dvectors("x y")
    assert equal_computations([sg.exp(x) + 1], [sg.exp(x) + 1])
    assert not equal_computations([sg.exp(x)], [sg.log(x)])
    assert equal_computations([sg.exp(x)], [sg.exp(y)], [x], [y])


def test_variable_has_no_truth_value():
    with pytest.raises(TypeError, match="ifelse"):
        bool(sg.dscalar() > 0)
