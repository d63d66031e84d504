"""Theano tutorial, "Graph structures" and "Shape information": walking a graph through
owner, op and inputs; a function that only needs a shape does not compute the values;
specify_shape; shapes of a join; and the FAQ's update of a subset of a lookup table."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs


def test_navigating_the_graph():
    x = T.dmatrix('x')
    y = x * 2.
    assert isinstance(y.owner, symgraph.Apply)
    assert 'mul' in str(y.owner.op)  # Theano: Elemwise{mul,no_inplace}
    assert len(y.owner.inputs) == 2 and y.owner.inputs[0] is x
    two = y.owner.inputs[1]
    # the constant 2.0 broadcast to a (1, 1) matrix
    assert two.broadcastable == (True, True)
    assert type(two.owner.inputs[0]) is T.TensorConstant
    assert float(two.owner.inputs[0].data) == 2.0

    y = T.dmatrix('y')
    e = x + y
    assert e.owner.inputs == [x, y] and e.owner.outputs == [e]


def test_shape_only_functions_do_not_compute_values():
    x = T.matrix('x')
    f = symgraph.function([x], (x ** 2).shape)
    assert list(f(numpy.ones((3, 4)))) == [3, 4]
    ops = [str(node.op) for node in f.maker.fgraph.apply_nodes]
    assert not any('pow' in op or 'sqr' in op for op in ops), ops

    x_specify = T.specify_shape(x, (2, 2))
    f = symgraph.function([x], (x_specify ** 2).shape)
    assert list(f(numpy.ones((2, 2)))) == [2, 2]
    with pytest.raises(Exception):
        symgraph.function([x], x_specify ** 2)(numpy.ones((3, 3)))


def test_shape_of_a_join():
    x = T.matrix('x')
    y = T.matrix('y')
    z = T.join(0, x, y)
    xv = numpy.random.rand(5, 4)
    yv = numpy.random.rand(3, 4)
    f = symgraph.function([x, y], z.shape)
    assert list(f(xv, yv)) == [8, 4]
    g = symgraph.function([x, y], z)
    assert g(xv, yv).shape == (8, 4)
    with pytest.raises(ValueError):
        g(xv, numpy.random.rand(3, 3))


def test_updating_a_subset_of_a_lookup_table():
    floatX = symgraph.config.floatX
    rng = numpy.random.RandomState(0)
    lookup_table = symgraph.shared(rng.normal(size=(6, 3)).astype(floatX))
    vector_of_indices = T.ivector('indices')
    target = T.matrix('target')
    lr = 0.5
    subset = lookup_table[vector_of_indices]
    cost = ((subset - target) ** 2).sum()
    g = symgraph.grad(cost, subset)
    updates = T.inc_subtensor(subset, -g * lr)
    f = symgraph.function([vector_of_indices, target], cost,
                          updates=[(lookup_table, updates)])
    before = lookup_table.get_value()
    f(numpy.array([1, 4], dtype='int32'), numpy.zeros((2, 3), dtype=floatX))
    after = lookup_table.get_value()
    # gradient step 0.5 * 2 * (row - 0): the rows used are now zero, the others untouched
    assert numpy.allclose(after[[1, 4]], 0)
    assert numpy.array_equal(after[[0, 2, 3, 5]], before[[0, 2, 3, 5]])

    set_updates = T.set_subtensor(subset, subset - g * lr)
    f2 = symgraph.function([vector_of_indices, target], cost,
                           updates=[(lookup_table, set_updates)])
    f2(numpy.array([0], dtype='int32'), numpy.ones((1, 3), dtype=floatX))
    assert numpy.allclose(lookup_table.get_value()[0], 1)
