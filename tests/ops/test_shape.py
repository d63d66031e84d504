"""Shape-family specifics: static shape inference, NumPy/Theano semantics, errors, and
property tests of reshape, concatenate, stack, split, tile and repeat against NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.fgraph import FunctionGraph
from symgraph.graph import toposort
from symgraph.ops import construct as cons
from symgraph.ops import shape as sh


def run(inputs, outputs, *values):
    return sg.function(inputs, outputs, mode="py", on_unused_input="ignore")(*values)


def compute_infer_shape(var, inputs, *values):
    """The shape infer_shape gives for ``var``, evaluated on ``values``."""
    node = var.owner
    input_shapes = [tuple(sh.shape_i(v, d) for d in range(v.ndim)) for v in node.inputs]
    shape = node.op.infer_shape(None, node, input_shapes)[var.index]
    return tuple(int(d) for d in run(inputs, [sg.as_tensor_variable(d) for d in shape],
                                     *values)) if shape else ()


X34 = np.arange(12.0).reshape(3, 4)


# -- reshape -----------------------------------------------------------------------------------
def test_reshape_static_shape_from_constants_and_shape_vectors():
    x = sg.matrix("x")
    n = sg.lscalar("n")
    assert sh.reshape(x, (n, 3)).type.shape == (None, 3)
    assert sh.reshape(sg.tensor("s", shape=(3, 4)), (2, -1)).type.shape == (2, 6)
    like = sg.tensor("y", shape=(6, None))
    assert sh.reshape(x, like.shape).type.shape == (6, None)
    assert sh.reshape(x, sh.concatenate([like.shape, [2]])).type.shape == (6, None, 2)


def test_reshape_minus_one_and_symbolic_entries_match_numpy():
    x, a, b = sg.matrix("x"), sg.lscalar("a"), sg.lscalar("b")
    y = sh.reshape(x, (a, b))
    for av, bv in [(2, -1), (-1, 3), (6, 2)]:
        got = run([x, a, b], y, X34, av, bv)
        np.testing.assert_array_equal(got, X34.reshape(av, bv))
        assert compute_infer_shape(y, [x, a, b], X34, av, bv) == X34.reshape(av, bv).shape


def test_reshape_with_an_int_vector_needs_ndim_when_length_unknown():
    x, s = sg.matrix("x"), sg.lvector("s")
    with pytest.raises(ValueError, match="ndim"):
        sh.reshape(x, s)
    y = sh.reshape(x, s, ndim=3)
    assert y.ndim == 3
    np.testing.assert_array_equal(run([x, s], y, X34, [2, 2, 3]), X34.reshape(2, 2, 3))
    assert compute_infer_shape(y, [x, s], X34, [2, -1, 3]) == (2, 2, 3)


def test_reshape_errors():
    x = sg.matrix("x")
    with pytest.raises(TypeError, match="shape"):
        sh.reshape(x, sg.vector("f", shape=(2,)))
    with pytest.raises(TypeError, match=r"newshape\[1\]"):
        sh.reshape(x, (2, 1.5))
    with pytest.raises(ValueError, match="one entry may be -1"):
        sh.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="cannot reshape"):
        sh.reshape(sg.tensor("s", shape=(3, 4)), (5, 2))
    with pytest.raises(TypeError, match="ndim"):
        sh.reshape(x, (2, 6), ndim=3)
    with pytest.raises(ValueError, match=r"cannot reshape an array of shape \(3, 4\)"):
        run([x], sh.reshape(x, (5, -1)), X34)
    a = sg.lscalar("a")
    with pytest.raises(ValueError, match="one entry may be -1"):
        run([x, a], sh.reshape(x, (a, -1)), X34, -1)


def test_reshape_method_forms_and_gradient():
    x = sg.matrix("x")
    for y in (x.reshape(2, 6), x.reshape((2, 6)), x.reshape([2, 6])):
        np.testing.assert_array_equal(run([x], y, X34), X34.reshape(2, 6))
    g = sg.grad(sg.sum(x.reshape((6, 2)) * np.arange(12.0).reshape(6, 2)), x)
    np.testing.assert_array_equal(run([x], g, X34), np.arange(12.0).reshape(3, 4))


def test_flatten_follows_theano():
    x = sg.tensor3("x")
    value = np.arange(24.0).reshape(2, 3, 4)
    assert sh.flatten(sg.tensor("t", shape=(None, 3, 4)), 2).type.shape == (None, 12)
    np.testing.assert_array_equal(run([x], sh.flatten(x, 2), value), value.reshape(2, 12))
    np.testing.assert_array_equal(run([x], x.flatten(3), value), value)
    np.testing.assert_array_equal(run([x], x.ravel(), value), value.ravel())
    for bad in (0, 4):
        with pytest.raises(ValueError, match="ndim"):
            sh.flatten(x, bad)


# -- dimension shuffles ------------------------------------------------------------------------
def test_transpose_squeeze_expand_dims_match_numpy():
    x = sg.tensor3("x")
    value = np.arange(24.0).reshape(2, 3, 4)
    cases = [(sh.transpose(x), value.T), (x.transpose(2, 0, 1), value.transpose(2, 0, 1)),
             (sh.transpose(x, (-1, 0, 1)), np.transpose(value, (-1, 0, 1))),
             (sh.expand_dims(x, -1), np.expand_dims(value, -1)),
             (sh.expand_dims(x, (0, 2)), np.expand_dims(value, (0, 2)))]
    for y, expected in cases:
        np.testing.assert_array_equal(run([x], y, value), expected)
    with pytest.raises(ValueError, match="permutation"):
        sh.transpose(x, (0, 0, 1))
    with pytest.raises(ValueError, match="out of range"):
        sh.transpose(x, (0, 1, 3))
    with pytest.raises(ValueError, match="repeated"):
        sh.expand_dims(x, (1, 1))
    with pytest.raises(ValueError, match="out of range"):
        sh.expand_dims(x, 5)


def test_squeeze_static_and_runtime():
    t = sg.tensor("t", shape=(1, None, 1))
    assert sh.squeeze(t).type.shape == (None,)
    assert sh.squeeze(sg.matrix("m")).ndim == 2  # unknown lengths are not dropped
    assert t.squeeze(-1).type.shape == (1, None)
    with pytest.raises(ValueError, match="static length 3"):
        sh.squeeze(sg.tensor("s", shape=(3, 1)), 0)
    x = sg.matrix("x")
    y = sh.squeeze(x, 1)
    np.testing.assert_array_equal(run([x], y, np.ones((3, 1))), np.ones(3))
    with pytest.raises(ValueError, match="not 1"):
        run([x], y, np.ones((3, 2)))


# -- join, stack, split ------------------------------------------------------------------------
def test_concatenate_static_shapes_and_dtypes():
    a, b = sg.tensor("a", shape=(2, None)), sg.tensor("b", shape=(3, 4))
    assert sh.concatenate([a, b]).type.shape == (5, 4)
    c = sg.tensor("c", shape=(3, None))
    assert sh.concatenate([c, b], axis=-1).type.shape == (3, None)
    assert sh.concatenate([c, b, b], axis=0).type.shape == (9, 4)
    f32, i32 = sg.fvector("f"), sg.ivector("i")
    assert sh.concatenate([f32, i32]).dtype == np.concatenate(
        [np.ones(1, "float32"), np.ones(1, "int32")]).dtype.name
    assert sh.concatenate([f32, [1.0, 2.0]]).dtype == "float64"
    assert sh.concatenate([sg.matrix("m")]).ndim == 2
    assert sh.concatenate([c, b], axis=sg.constant(1)).type.shape == (3, None)


def test_concatenate_errors():
    x, v = sg.matrix("x"), sg.vector("v")
    with pytest.raises(TypeError, match=r"input 1 .*1-d"):
        sh.concatenate([x, v])
    with pytest.raises(TypeError, match="0-d|rank"):
        sh.concatenate([sg.scalar("s"), sg.scalar("t")])
    with pytest.raises(ValueError, match="out of range"):
        sh.concatenate([x, x], axis=2)
    with pytest.raises(ValueError, match="at least one"):
        sh.concatenate([])
    with pytest.raises(ValueError, match="static lengths"):
        sh.concatenate([sg.tensor("a", shape=(2, 3)), sg.tensor("b", shape=(2, 4))])
    with pytest.raises(TypeError, match="known when the graph is built"):
        sh.concatenate([x, x], axis=sg.lscalar("k"))
    y = sg.matrix("y")
    with pytest.raises(ValueError):
        run([x, y], sh.concatenate([x, y]), np.ones((2, 3)), np.ones((2, 4)))


def test_stack_of_scalars_is_what_lists_become():
    a, n = sg.scalar("a"), sg.lscalar("n")
    v = sg.as_tensor_variable([a, 2.0, a * 3])
    assert v.type.shape == (3,) and v.dtype == a.dtype
    np.testing.assert_array_equal(run([a], v, 1.5), [1.5, 2.0, 4.5])
    w = sg.as_tensor_variable([[n, 1], [2, n]])
    assert w.type.shape == (2, 2) and w.dtype == "int64"
    np.testing.assert_array_equal(run([n], w, 7), [[7, 1], [2, 7]])
    assert sh.stack([sg.iscalar("i"), 3]).dtype == "int32"  # Python ints are weak
    with pytest.raises(ValueError, match="at least one"):
        sh.stack([])
    with pytest.raises(TypeError, match="input 1"):
        sh.stack([sg.vector("v"), sg.matrix("m")])


def test_stack_gradient_reaches_scalars():
    a, b = sg.scalar("a"), sg.scalar("b")
    cost = sg.sum(sh.stack([a, b]) * np.array([2.0, 5.0]))
    ga, gb = sg.grad(cost, [a, b])
    np.testing.assert_array_equal(run([a, b], [ga, gb], 1.0, 1.0), [2.0, 5.0])


def test_split_semantics_and_errors():
    x = sg.matrix("x")
    pieces = sh.split(x, [1, 2], 2, axis=0)
    assert [p.type.shape for p in pieces] == [(1, None), (2, None)]
    got = run([x], pieces, X34)
    np.testing.assert_array_equal(got[0], X34[:1])
    np.testing.assert_array_equal(got[1], X34[1:])
    assert len(sh.split(x, [3], 1)) == 1
    with pytest.raises(ValueError, match="n_splits"):
        sh.split(x, [1, 2], 3)
    with pytest.raises(ValueError, match="add up"):
        sh.split(sg.tensor("s", shape=(3, 4)), [1, 1], 2)
    with pytest.raises(ValueError, match="negative"):
        sh.split(x, [-1, 4], 2)
    with pytest.raises(TypeError, match="splits_size"):
        sh.split(x, sg.vector("f", shape=(2,)), 2)
    sizes = sg.lvector("sizes")
    with pytest.raises(ValueError, match="cannot split"):
        run([x, sizes], sh.split(x, sizes, 2), X34, [1, 1])


def test_split_gradient_with_an_unused_piece():
    x = sg.vector("x")
    first, _ = sh.split(x, [2, 3], 2)
    g = sg.grad(sg.sum(first * 3.0), x)
    np.testing.assert_array_equal(run([x], g, np.ones(5)), [3, 3, 0, 0, 0])


# -- alloc and friends -------------------------------------------------------------------------
def test_zeros_ones_full_dtypes_and_shapes():
    x, n = sg.matrix("x"), sg.lscalar("n")
    assert cons.zeros((2, 3)).dtype == sg.config.floatX
    assert cons.ones(4, dtype="int8").type == sg.TensorType("int8", (4,))
    assert cons.zeros(x.shape).type.shape == (None, None)
    assert cons.zeros((n, 3)).type.shape == (None, 3)
    with sg.config.change_flags(floatX="float32"):
        assert cons.ones((2,)).dtype == "float32"
        assert cons.full((2,), 3).dtype == "float32"
    assert cons.full((2,), sg.iscalar("i")).dtype == "int32"
    np.testing.assert_array_equal(run([x], cons.ones(x.shape), X34), np.ones((3, 4)))
    np.testing.assert_array_equal(run([n], cons.full((n, 2), 7.5), 3), np.full((3, 2), 7.5))
    assert cons.zeros(()).ndim == 0


def test_alloc_checks_shapes():
    v = sg.vector("v")
    with pytest.raises(TypeError, match=r"shape\[1\]"):
        cons.alloc(v, 2, 3.0)
    with pytest.raises(TypeError, match="more than"):
        cons.alloc(sg.matrix("m"), 3)
    with pytest.raises(ValueError, match="cannot broadcast"):
        cons.alloc(sg.tensor("t", shape=(3,)), 2, 4)
    with pytest.raises(ValueError, match="cannot broadcast"):
        cons.alloc(v, -1, 3)
    y = cons.alloc(v, 2, 3)
    np.testing.assert_array_equal(run([v], y, np.arange(3.0)), np.tile(np.arange(3.0), (2, 1)))
    # Only dimensions of static length 1 broadcast (Theano's rule), even if 1 at run time.
    with pytest.raises(ValueError, match="static length 1"):
        run([v], y, np.ones(1))
    n = sg.lscalar("n")
    with pytest.raises(ValueError, match="cannot allocate"):
        run([n], cons.zeros((n,)), -2)


def test_alloc_gradient_sums_back_to_the_value():
    r = sg.tensor("r", shape=(1, None))
    g = sg.grad(sg.sum(cons.alloc(r, 2, 3, 4) * 2.0), r)
    np.testing.assert_array_equal(run([r], g, np.ones((1, 4))), np.full((1, 4), 12.0))


def test_broadcast_to_and_tile_match_numpy():
    x = sg.tensor("x", shape=(None, 1))
    value = np.arange(3.0).reshape(3, 1)
    np.testing.assert_array_equal(run([x], cons.broadcast_to(x, (2, 3, 5)), value),
                                  np.broadcast_to(value, (2, 3, 5)))
    with pytest.raises(ValueError, match="dimensions"):
        cons.broadcast_to(sg.matrix("m"), (3,))
    m, n = sg.matrix("m"), sg.lscalar("n")
    for reps, numpy_reps in [(2, 2), ((2, 1), (2, 1)), ((1, 3, 2), (1, 3, 2)),
                             ((n, 2), (3, 2)), (n, 3)]:
        np.testing.assert_array_equal(run([m, n], cons.tile(m, reps), X34, 3),
                                      np.tile(X34, numpy_reps))
    assert cons.tile(sg.tensor("t", shape=(2, 3)), (2, 2)).type.shape == (4, 6)


def test_specify_shape():
    x = sg.matrix("x")
    y = sh.specify_shape(x, (3, None))
    assert y.type.shape == (3, None)
    assert run([x], y, X34).shape == (3, 4)
    with pytest.raises(ValueError, match=r"expected shape \(3, \?\)"):
        run([x], y, np.ones((2, 4)))
    n = sg.lscalar("n")
    z = sh.specify_shape(x, (n, 4))
    assert z.type.shape == (None, 4)
    with pytest.raises(ValueError, match="expected shape"):
        run([x, n], z, X34, 2)
    assert sh.specify_shape(x, sg.tensor("t", shape=(3, 4)).shape).type.shape == (3, 4)
    with pytest.raises(TypeError, match="2 dimensions"):
        sh.specify_shape(x, (3,))
    with pytest.raises(ValueError, match="static shape"):
        sh.specify_shape(sg.tensor("t", shape=(2, 4)), (3, 4))


# -- arange, eye, diag, repeat -----------------------------------------------------------------
@pytest.mark.parametrize("args, dtype", [
    ((5,), "int64"), ((sg.iscalar("i"),), "int64"), ((sg.bscalar("b"), 3), "int64"),
    ((2.5,), None), ((sg.fscalar("f"),), "float32"), ((0, 1, sg.dscalar("d")), "float64"),
])
def test_arange_dtypes(args, dtype):
    assert cons.arange(*args).dtype == (dtype or sg.config.floatX)


def test_arange_values_lengths_and_errors():
    assert cons.arange(1, 10, 3).type.shape == (3,)
    assert cons.arange(5, 1).type.shape == (0,)
    a, b, s = sg.lscalars("a b s")
    y = cons.arange(a, b, s)
    for values in [(0, 10, 3), (10, 0, -4), (3, 3, 1), (5, 1, 1)]:
        np.testing.assert_array_equal(run([a, b, s], y, *values), np.arange(*values))
        assert compute_infer_shape(y, [a, b, s], *values) == np.arange(*values).shape
    with pytest.raises(ValueError, match="step"):
        cons.arange(0, 5, 0)
    with pytest.raises(ValueError, match="step"):
        run([a, b, s], y, 0, 5, 0)
    with pytest.raises(TypeError, match="stop"):
        cons.arange(0, sg.vector("v"))


def test_eye_matches_numpy():
    n, m, k = sg.lscalars("n m k")
    y = cons.eye(n, m, k)
    for values in [(3, 3, 0), (2, 4, 1), (4, 2, -3), (2, 2, 5)]:
        np.testing.assert_array_equal(run([n, m, k], y, *values), np.eye(*values))
    assert cons.eye(3).type == sg.TensorType(sg.config.floatX, (3, 3))
    assert cons.eye(2, 5, dtype="int32").type == sg.TensorType("int32", (2, 5))
    with pytest.raises(TypeError, match="k"):
        cons.eye(3, 3, 0.5)
    with pytest.raises(ValueError):
        run([n, m, k], y, -1, 2, 0)


def test_diag_both_ways_and_static_lengths():
    v, x = sg.vector("v"), sg.matrix("x")
    for k in (-2, 0, 1, 5):
        np.testing.assert_array_equal(run([x], cons.diag(x, k), X34), np.diag(X34, k))
        np.testing.assert_array_equal(run([v], cons.diag(v, k), np.arange(3.0)),
                                      np.diag(np.arange(3.0), k))
    assert cons.diag(sg.tensor("t", shape=(3, 4)), 2).type.shape == (2,)
    assert cons.diag(sg.tensor("u", shape=(3,)), -1).type.shape == (4, 4)
    with pytest.raises(TypeError, match="1-d or 2-d"):
        cons.diag(sg.tensor3("t3"))
    g = sg.grad(sg.sum(cons.diag(x, -1) * np.array([1.0, 2.0])), x)
    expected = np.zeros((3, 4))
    expected[1, 0], expected[2, 1] = 1.0, 2.0
    np.testing.assert_array_equal(run([x], g, X34), expected)


def test_repeat_semantics_and_errors():
    x = sg.matrix("x")
    np.testing.assert_array_equal(run([x], cons.repeat(x, 2), X34), np.repeat(X34, 2))
    np.testing.assert_array_equal(run([x], cons.repeat(x, [2], axis=1), X34),
                                  np.repeat(X34, [2], axis=1))
    assert cons.repeat(sg.tensor("t", shape=(3, 2)), [1, 2, 0], axis=0).type.shape == (3, 2)
    assert cons.repeat(sg.tensor("t", shape=(3, 2)), 4, axis=1).type.shape == (3, 8)
    with pytest.raises(ValueError, match="3 repeats"):
        cons.repeat(sg.tensor("t", shape=(2, 2)), [1, 2, 3], axis=0)
    with pytest.raises(ValueError, match="negative"):
        cons.repeat(x, -1, axis=0)
    with pytest.raises(TypeError, match="repeats"):
        cons.repeat(x, 1.5, axis=0)
    with pytest.raises(ValueError, match="out of range"):
        cons.repeat(x, 2, axis=2)
    counts = sg.lvector("counts")
    with pytest.raises(ValueError, match="repeats for an axis"):
        run([x, counts], cons.repeat(x, counts, axis=0), X34, [1, 2])


# -- infer_shape on built graphs ---------------------------------------------------------------
def test_infer_shape_of_every_node_needs_no_data():
    x, n = sg.matrix("x"), sg.lscalar("n")
    out = cons.tile(cons.repeat(sh.flatten(x), n), (2,))
    fgraph = FunctionGraph([x, n], [out], clone=False)
    for node in toposort(fgraph.outputs):
        for shape in node.op.infer_shape(None, node, [
                tuple(sh.shape_i(v, d) for d in range(v.ndim)) for v in node.inputs]):
            assert all(isinstance(d, int) or d.dtype == "int64" for d in shape)
    assert compute_infer_shape(out, [x, n], X34, 2) == (48,)


# -- property tests against NumPy --------------------------------------------------------------
SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@settings(max_examples=25, deadline=None)
@given(SHAPES, st.data())
def test_reshape_round_trip(shape, data):
    size = int(np.prod(shape))
    target = data.draw(st.permutations([d for d in shape]).map(tuple))
    minus = data.draw(st.integers(-1, len(target) - 1))
    spec = tuple(-1 if i == minus else d for i, d in enumerate(target))
    x = sg.tensor("x", shape=(None,) * len(shape))
    value = np.arange(float(size)).reshape(shape)
    y = sh.reshape(sh.reshape(x, spec), x.shape)
    middle = run([x], sh.reshape(x, spec), value)
    np.testing.assert_array_equal(middle, value.reshape(spec))
    np.testing.assert_array_equal(run([x], y, value), value)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.integers(1, 3),
       st.integers(0, 1))
def test_concatenate_split_round_trip(lengths, width, axis):
    parts = [np.random.default_rng(i).normal(size=(n, width) if axis == 0 else (width, n))
             for i, n in enumerate(lengths)]
    inputs = [sg.matrix(f"p{i}") for i in range(len(parts))]
    joined = sh.concatenate(inputs, axis=axis)
    pieces = sh.split(joined, lengths, len(lengths), axis=axis)
    results = run(inputs, [joined, *pieces], *parts)
    np.testing.assert_array_equal(results[0], np.concatenate(parts, axis=axis))
    for got, expected in zip(results[1:], parts):
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=25, deadline=None)
@given(SHAPES, st.integers(1, 3), st.data())
def test_stack_matches_numpy(shape, count, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    values = [np.full(shape, float(i)) for i in range(count)]
    inputs = [sg.tensor(f"t{i}", shape=(None,) * len(shape)) for i in range(count)]
    np.testing.assert_array_equal(run(inputs, sh.stack(inputs, axis=axis), *values),
                                  np.stack(values, axis=axis))


@settings(max_examples=25, deadline=None)
@given(SHAPES, st.data())
def test_tile_and_repeat_match_numpy(shape, data):
    value = np.arange(float(np.prod(shape))).reshape(shape)
    x = sg.tensor("x", shape=(None,) * len(shape))
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    counts = data.draw(st.lists(st.integers(0, 3), min_size=shape[axis], max_size=shape[axis]))
    got = run([x], [cons.tile(x, reps), cons.repeat(x, counts, axis=axis)], value)
    np.testing.assert_array_equal(got[0], np.tile(value, reps))
    np.testing.assert_array_equal(got[1], np.repeat(value, counts, axis=axis))
