"""Theano tutorial, "More examples": the logistic function (two ways), several outputs at once,
default values with In, an accumulator in a shared variable (updates, givens, copies)."""

import numpy
import pytest
import symgraph
from symgraph import function, In, shared
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs

LOGISTIC = ("array([[0.5       , 0.73105858],\n"
            "       [0.26894142, 0.11920292]])")


def test_logistic_function():
    x = T.dmatrix('x')
    s = 1 / (1 + T.exp(-x))
    logistic = function([x], s)
    assert repr(logistic([[0, 1], [-1, -2]])) == LOGISTIC

    s2 = (1 + T.tanh(x / 2)) / 2
    logistic2 = function([x], s2)
    assert repr(logistic2([[0, 1], [-1, -2]])) == LOGISTIC


def test_computing_more_than_one_thing():
    a, b = T.dmatrices('a', 'b')
    diff = a - b
    abs_diff = abs(diff)
    diff_squared = diff ** 2
    f = function([a, b], [diff, abs_diff, diff_squared])
    out = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    assert isinstance(out, list) and len(out) == 3
    assert repr(out[0]) == "array([[ 1.,  0.],\n       [-1., -2.]])"
    assert repr(out[1]) == "array([[1., 0.],\n       [1., 2.]])"
    assert repr(out[2]) == "array([[1., 0.],\n       [1., 4.]])"


def test_default_values():
    x, y = T.dscalars('x', 'y')
    z = x + y
    f = function([x, In(y, value=1)], z)
    assert repr(f(33)) == "array(34.)"
    assert repr(f(33, 2)) == "array(35.)"

    x, y, w = T.dscalars('x', 'y', 'w')
    z = (x + y) * w
    f = function([x, In(y, value=1), In(w, value=2, name='w_by_name')], z)
    assert repr(f(33)) == "array(68.)"
    assert repr(f(33, 2)) == "array(70.)"
    assert repr(f(33, 0, 1)) == "array(33.)"
    assert repr(f(33, w_by_name=1)) == "array(34.)"
    assert repr(f(33, w_by_name=1, y=0)) == "array(33.)"


def test_shared_accumulator():
    state = shared(0)
    inc = T.iscalar('inc')
    accumulator = function([inc], state, updates=[(state, state + inc)])

    assert repr(state.get_value()) == "array(0)"
    assert repr(accumulator(1)) == "array(0)"
    assert repr(state.get_value()) == "array(1)"
    assert repr(accumulator(300)) == "array(1)"
    assert repr(state.get_value()) == "array(301)"

    state.set_value(-1)
    assert repr(accumulator(3)) == "array(-1)"
    assert repr(state.get_value()) == "array(2)"

    decrementor = function([inc], state, updates=[(state, state - inc)])
    assert repr(decrementor(2)) == "array(2)"
    assert repr(state.get_value()) == "array(0)"

    fn_of_state = state * 2 + inc
    # foo stands in for the shared variable, so it must have its type
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert repr(skip_shared(1, 3)) == "array(7)"
    assert repr(state.get_value()) == "array(0)"


def test_copying_functions():
    state = shared(0)
    inc = T.iscalar('inc')
    accumulator = function([inc], state, updates=[(state, state + inc)])
    accumulator(10)
    assert repr(state.get_value()) == "array(10)"

    new_state = shared(0)
    new_accumulator = accumulator.copy(swap={state: new_state})
    assert repr(new_accumulator(100)) == "array(0)"
    assert repr(new_state.get_value()) == "array(100)"
    assert repr(state.get_value()) == "array(10)"

    null_accumulator = accumulator.copy(delete_updates=True)
    assert repr(null_accumulator(9000)) == "array(10)"
    assert repr(state.get_value()) == "array(10)"


def test_shared_broadcastable_pattern():
    # A shared variable broadcasts along no dimension unless told to.
    bias = symgraph.shared(numpy.zeros((1, 3)))
    assert bias.broadcastable == (False, False)
    row_bias = symgraph.shared(numpy.zeros((1, 3)), broadcastable=(True, False))
    assert row_bias.broadcastable == (True, False)
    m = T.dmatrix('m')
    f = function([m], m + row_bias)
    assert f(numpy.ones((2, 3))).shape == (2, 3)
