"""Theano tutorial, "Broadcasting": a row and a column added to a matrix, their broadcastable
patterns, a vector padded on the left, and a TensorType built from a pattern."""

import numpy as np
import pytest
import symgraph
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs


def test_rows_and_columns_broadcast():
    r = T.row()
    assert r.broadcastable == (True, False)
    mtr = T.matrix()
    assert mtr.broadcastable == (False, False)
    f_row = symgraph.function([r, mtr], [r + mtr])
    R = np.arange(3).reshape(1, 3)
    M = np.arange(9).reshape(3, 3)
    assert repr(f_row(R, M)) == ("[array([[ 0.,  2.,  4.],\n"
                                 "       [ 3.,  5.,  7.],\n"
                                 "       [ 6.,  8., 10.]])]")

    c = T.col()
    assert c.broadcastable == (False, True)
    f_col = symgraph.function([c, mtr], [c + mtr])
    C = np.arange(3).reshape(3, 1)
    assert repr(f_col(C, M)) == ("[array([[ 0.,  1.,  2.],\n"
                                 "       [ 4.,  5.,  6.],\n"
                                 "       [ 8.,  9., 10.]])]")


def test_vectors_are_padded_on_the_left():
    v = T.vector()
    mtr = T.matrix()
    assert (v + mtr).broadcastable == (False, False)
    assert v.dimshuffle('x', 0).broadcastable == (True, False)
    out = symgraph.function([v, mtr], v + mtr)(np.array([1., 2.]), np.zeros((3, 2)))
    assert out.tolist() == [[1., 2.]] * 3


def test_tensor_type_from_a_pattern():
    dtensor5 = T.TensorType('float64', (False,) * 5)
    x = dtensor5()
    z = dtensor5('z')
    assert x.ndim == z.ndim == 5 and x.broadcastable == (False,) * 5
    row_type = T.TensorType('float64', (True, False))
    assert row_type().broadcastable == (True, False)
    assert row_type == T.drow
