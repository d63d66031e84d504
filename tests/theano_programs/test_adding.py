"""Theano tutorial, "Baby steps - Algebra": adding two scalars, two matrices, and the exercise
a ** 2 + b ** 2 + 2 * a * b, with the imports renamed."""

import numpy
import pytest
from symgraph import function
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs


def test_adding_two_scalars():
    x = T.dscalar('x')
    y = T.dscalar('y')
    z = x + y
    f = function([x, y], z)
    assert repr(f(2, 3)) == "array(5.)"
    assert numpy.allclose(f(16.3, 12.1), 28.4)
    assert type(x) is T.TensorVariable
    assert x.type == T.dscalar
    assert T.dscalar.ndim == 0
    assert z.owner is not None and z.owner.inputs == [x, y]


def test_adding_two_matrices():
    x = T.dmatrix('x')
    y = T.dmatrix('y')
    z = x + y
    f = function([x, y], z)
    assert repr(f([[1, 2], [3, 4]], [[10, 20], [30, 40]])) == (
        "array([[11., 22.],\n"
        "       [33., 44.]])")
    assert repr(f(numpy.array([[1, 2], [3, 4]]), numpy.array([[10, 20], [30, 40]]))) == (
        "array([[11., 22.],\n"
        "       [33., 44.]])")


def test_exercise_square_of_a_sum():
    a = T.vector()
    b = T.vector()
    out = a ** 2 + b ** 2 + 2 * a * b
    f = function([a, b], out)
    assert repr(f([0, 1, 2], [1, 2, 3])) == "array([ 1.,  9., 25.])"
