"""Theano tutorial, "Derivatives in Theano": the gradient of x ** 2 and of the logistic curve,
the Jacobian and the Hessian written with scan, R-operator, L-operator, Hessian times a
vector two ways; and the library's jacobian/hessian macros."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T
from symgraph import function, pp

pytestmark = pytest.mark.theano_programs


def test_gradient_of_square():
    x = T.dscalar('x')
    y = x ** 2
    gy = T.grad(y, x)
    # Theano: '((fill((x ** 2), 1.0) * 2) * (x ** (2 - 1)))' (its Python ints stayed ints)
    assert pp(gy) == '((fill((x ** 2.0), 1.0) * 2.0) * (x ** (2.0 - 1.0)))'
    f = function([x], gy)
    assert repr(f(4)) == "array(8.)"
    assert numpy.allclose(f(94.2), 188.4)
    # Theano: '(2.0 * x)'
    assert pp(f.maker.fgraph.outputs[0]) == '(x * 2.0)'


def test_gradient_of_logistic():
    x = T.dmatrix('x')
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    dlogistic = function([x], gs)
    assert repr(dlogistic([[0, 1], [-1, -2]])) == (
        "array([[0.25      , 0.19661193],\n"
        "       [0.19661193, 0.10499359]])")


def test_jacobian_with_scan():
    x = T.dvector('x')
    y = x ** 2
    J, updates = symgraph.scan(lambda i, y, x: T.grad(y[i], x),
                               sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    f = function([x], J, updates=updates)
    assert repr(f([4, 4])) == "array([[8., 0.],\n       [0., 8.]])"


def test_hessian_with_scan():
    x = T.dvector('x')
    y = x ** 2
    cost = y.sum()
    gy = T.grad(cost, x)
    H, updates = symgraph.scan(lambda i, gy, x: T.grad(gy[i], x),
                               sequences=T.arange(gy.shape[0]), non_sequences=[gy, x])
    f = function([x], H, updates=updates)
    assert repr(f([4, 4])) == "array([[2., 0.],\n       [0., 2.]])"


def test_jacobian_and_hessian_macros():
    x = T.dvector('x')
    f = function([x], symgraph.gradient.jacobian(x ** 2, x))
    assert repr(f([4, 4])) == "array([[8., 0.],\n       [0., 8.]])"
    h = function([x], symgraph.gradient.hessian((x ** 2).sum(), x))
    assert repr(h([4, 4])) == "array([[2., 0.],\n       [0., 2.]])"


def test_r_operator():
    W = T.dmatrix('W')
    V = T.dmatrix('V')
    x = T.dvector('x')
    y = T.dot(x, W)
    JV = T.Rop(y, W, V)
    # CHANGED: on_unused_input='ignore'. The product's R-op, dot(x, V), no longer involves W;
    # Theano's Rop built dot(zeros_like(x), W) + dot(x, V), which kept W in the graph.
    f = symgraph.function([W, V, x], JV, on_unused_input='ignore')
    assert repr(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1])) == "array([2., 2.])"


def test_l_operator():
    W = T.dmatrix('W')
    v = T.dvector('v')
    x = T.dvector('x')
    y = T.dot(x, W)
    VJ = T.Lop(y, W, v)
    f = symgraph.function([v, x], VJ)
    assert repr(f([2, 2], [0, 1])) == "array([[0., 0.],\n       [2., 2.]])"


def test_hessian_times_vector():
    x = T.dvector('x')
    v = T.dvector('v')
    y = T.sum(x ** 2)
    gy = T.grad(y, x)
    vH = T.grad(T.sum(gy * v), x)
    f = symgraph.function([x, v], vH)
    assert repr(f([4, 4], [2, 2])) == "array([4., 4.])"

    Hv = T.Rop(gy, x, v)
    f = symgraph.function([x, v], Hv)
    assert repr(f([4, 4], [2, 2])) == "array([4., 4.])"
