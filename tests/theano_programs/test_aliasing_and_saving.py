"""Theano tutorial, "Understanding memory aliasing" and "Loading and saving": borrow on
shared variables, get_value and set_value, In/Out with borrow; pickling shared variables and
models, and saving their values with numpy for the long term."""

import pickle

import numpy
import pytest
import symgraph
import symgraph.tensor as T
from symgraph import In, Out, function, shared

pytestmark = pytest.mark.theano_programs


def test_borrowing_when_creating_shared_variables():
    np_array = numpy.ones(2, dtype='float32')
    s_default = shared(np_array)
    s_false = shared(np_array, borrow=False)
    s_true = shared(np_array, borrow=True)
    np_array += 1  # the in-place change reaches only the borrowing one
    assert s_default.get_value().tolist() == [1.0, 1.0]
    assert s_false.get_value().tolist() == [1.0, 1.0]
    assert s_true.get_value().tolist() == [2.0, 2.0]


def test_borrowing_when_accessing_values():
    s = shared(numpy.ones(3))
    v_false = s.get_value(borrow=False)
    v_true = s.get_value(borrow=True)
    v_internal = s.get_value(borrow=True, return_internal_type=True)
    assert v_false is not v_true and isinstance(v_internal, numpy.ndarray)
    # the tutorial's idiom to change a value in place
    s.set_value(s.get_value(borrow=True) * 2, borrow=True)
    assert s.get_value().tolist() == [2.0, 2.0, 2.0]


def test_borrowing_for_inputs_and_outputs():
    x = T.matrix()
    y = 2 * x
    f1 = function([x], y)
    f2 = function([In(x, borrow=True)], Out(y, borrow=True))
    value = numpy.ones((2, 2), dtype=symgraph.config.floatX)
    assert numpy.array_equal(f1(value), f2(value))


class Model(object):
    """A small model that pickles its parameters' values, not the shared variables (the
    tutorial's __getstate__ / __setstate__ recipe)."""

    def __init__(self, n_in, n_out):
        self.W = shared(numpy.zeros((n_in, n_out)), name='W')
        self.b = shared(numpy.zeros(n_out), name='b')

    def __getstate__(self):
        return (self.W.get_value(), self.b.get_value())

    def __setstate__(self, state):
        W, b = state
        self.W = shared(W, name='W')
        self.b = shared(b, name='b')


def test_loading_and_saving(tmp_path):
    x = T.dvector('x')
    W = shared(numpy.arange(6.).reshape(2, 3), name='W')
    obj = [W, T.dot(x, W)]
    path = tmp_path / 'obj.save'
    f = open(path, 'wb')
    pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    f.close()

    f = open(path, 'rb')
    loaded_W, loaded_y = pickle.load(f)
    f.close()
    assert numpy.array_equal(loaded_W.get_value(), W.get_value())
    loaded_x = loaded_y.owner.inputs[0]
    assert function([loaded_x], loaded_y)([1., 1.]).tolist() == [3., 5., 7.]

    # several objects, one after the other in one file
    f = open(tmp_path / 'objects.save', 'wb')
    for o in [W, x, obj]:
        pickle.dump(o, f, protocol=pickle.HIGHEST_PROTOCOL)
    f.close()
    f = open(tmp_path / 'objects.save', 'rb')
    loaded_objects = [pickle.load(f) for _ in range(3)]
    f.close()
    assert loaded_objects[0].name == 'W' and loaded_objects[1].name == 'x'

    model = Model(2, 3)
    model.W.set_value(numpy.ones((2, 3)))
    copy = pickle.loads(pickle.dumps(model))
    assert numpy.array_equal(copy.W.get_value(), numpy.ones((2, 3)))

    # long term: the values, with numpy
    numpy.savez(tmp_path / 'params.npz', **{p.name: p.get_value() for p in [model.W, model.b]})
    saved = numpy.load(tmp_path / 'params.npz')
    model.W.set_value(saved['W'] * 0)
    model.W.set_value(saved['W'])
    assert numpy.array_equal(model.W.get_value(), numpy.ones((2, 3)))


def test_pickling_a_compiled_function():
    state = shared(0)
    inc = T.iscalar('inc')
    accumulator = function([inc], state, updates=[(state, state + inc)])
    accumulator(5)
    loaded = pickle.loads(pickle.dumps(accumulator))
    assert int(loaded(1)) == 5
