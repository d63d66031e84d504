"""Theano tutorial, "Extending Theano" (Python ops only): DoubleOp with make_node, perform,
infer_shape, grad and R_op; checked the ways the tutorial tests it (results, shape graph
without the op, verify_grad, Rop); the exercise's ops with two inputs and two outputs; and
as_op."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T
from symgraph.compile.ops import as_op

pytestmark = pytest.mark.theano_programs


class DoubleOp(symgraph.Op):
    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))

    def __str__(self):
        return self.__class__.__name__

    def make_node(self, x):
        x = symgraph.tensor.as_tensor_variable(x)
        return symgraph.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        z = output_storage[0]
        z[0] = x * 2

    def infer_shape(self, node, i0_shapes):
        return i0_shapes

    def grad(self, inputs, output_grads):
        return [output_grads[0] * 2]

    def R_op(self, inputs, eval_points):
        # None means no differentiable path through that input
        if eval_points[0] is None:
            return eval_points
        return self.grad(inputs, eval_points)


class ProdOp(symgraph.Op):
    __props__ = ()

    def make_node(self, x, y):
        x = T.as_tensor_variable(x)
        y = T.as_tensor_variable(y)
        outdim = x.ndim
        output = (T.TensorType(dtype=symgraph.scalar.upcast(x.dtype, y.dtype),
                               broadcastable=[False] * outdim)())
        return symgraph.Apply(self, inputs=[x, y], outputs=[output])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        z = output_storage[0]
        z[0] = x * y

    def infer_shape(self, node, i0_shapes):
        return [i0_shapes[0]]

    def grad(self, inputs, output_grads):
        return [output_grads[0] * inputs[1], output_grads[0] * inputs[0]]


class SumDiffOp(symgraph.Op):
    __props__ = ()

    def make_node(self, x, y):
        x = T.as_tensor_variable(x)
        y = T.as_tensor_variable(y)
        outdim = x.ndim
        output1 = (T.TensorType(dtype=symgraph.scalar.upcast(x.dtype, y.dtype),
                                broadcastable=[False] * outdim)())
        output2 = (T.TensorType(dtype=symgraph.scalar.upcast(x.dtype, y.dtype),
                                broadcastable=[False] * outdim)())
        return symgraph.Apply(self, inputs=[x, y], outputs=[output1, output2])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        z1, z2 = output_storage
        z1[0] = x + y
        z2[0] = x - y

    def infer_shape(self, node, i0_shapes):
        return [i0_shapes[0], i0_shapes[0]]

    def grad(self, inputs, output_grads):
        og1, og2 = output_grads
        if og1 is None:
            og1 = T.zeros_like(og2)
        if og2 is None:
            og2 = T.zeros_like(og1)
        return [og1 + og2, og1 - og2]


def test_double_op():
    x = symgraph.tensor.matrix()
    f = symgraph.function([x], DoubleOp()(x))
    inp = numpy.random.rand(5, 4)
    out = f(inp)
    assert numpy.allclose(inp * 2, out)

    # infer_shape: the shape of the output without running the op
    g = symgraph.function([x], DoubleOp()(x).shape)
    assert list(g(numpy.asarray(numpy.random.rand(5, 4), dtype=symgraph.config.floatX))) == [5, 4]
    assert not any(isinstance(n.op, DoubleOp) for n in g.maker.fgraph.apply_nodes)

    # CHANGED: the tutorial calls theano.tests.unittest_tools.verify_grad(op, pt); symgraph has
    # no theano.tests, and gradient.verify_grad (Theano's too) wants an rng.
    symgraph.gradient.verify_grad(DoubleOp(), [numpy.random.rand(5, 7, 2)],
                                  rng=numpy.random.RandomState(42))

    # R_op returns eval_points * 2, which does not involve x
    v = T.matrix()
    rop = symgraph.function([v], T.Rop(DoubleOp()(x), x, v))
    assert numpy.allclose(rop(numpy.ones((5, 4))), 2)


def test_exercise_ops():
    x = T.dmatrix()
    y = T.dmatrix()
    a, b = numpy.random.rand(5, 4), numpy.random.rand(5, 4)
    f = symgraph.function([x, y], ProdOp()(x, y))
    assert numpy.allclose(f(a, b), a * b)
    s, d = SumDiffOp()(x, y)
    f = symgraph.function([x, y], [s, d])
    out = f(a, b)
    assert numpy.allclose(out[0], a + b) and numpy.allclose(out[1], a - b)
    rng = numpy.random.RandomState(43)
    symgraph.gradient.verify_grad(ProdOp(), [a, b], rng=rng)
    symgraph.gradient.verify_grad(lambda x, y: SumDiffOp()(x, y)[0], [a, b], rng=rng)
    symgraph.gradient.verify_grad(lambda x, y: SumDiffOp()(x, y)[1], [a, b], rng=rng)


def test_as_op():
    @as_op(itypes=[T.dmatrix, T.dmatrix], otypes=[T.dmatrix])
    def numpy_dot(a, b):
        return numpy.dot(a, b)

    x = T.dmatrix()
    y = T.dmatrix()
    f = symgraph.function([x, y], numpy_dot(x, y))
    a, b = numpy.random.rand(3, 4), numpy.random.rand(4, 2)
    assert numpy.allclose(f(a, b), a.dot(b))
