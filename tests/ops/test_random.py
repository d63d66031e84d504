"""Targeted tests of ``sg.random``: the generator type and shared generators, purity of the
``RandomVariable`` op, ``RandomStream`` state handling and seeding, sizes, errors, moments."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import symgraph as sg
from symgraph.op import call_infer_shape
from symgraph.ops.random import RandomGeneratorType, RandomStream, RandomVariable
from symgraph.ops.shape import Shape_i


def _state(generator):
    return copy.deepcopy(generator.bit_generator.state)


def _stream_generator(seed, k=0):
    """The generator NumPy gives the k-th draw of ``RandomStream(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(k + 1)[k])


# -- type and shared generators ---------------------------------------------------------------

def test_generator_type_equality_filter_and_variables():
    assert RandomGeneratorType() == RandomGeneratorType()
    assert hash(RandomGeneratorType()) == hash(RandomGeneratorType())
    assert RandomGeneratorType() != sg.TensorType("float64", ())
    generator = np.random.default_rng(0)
    assert RandomGeneratorType().filter(generator) is generator
    with pytest.raises(TypeError, match=r"rng input: expected a numpy.random.Generator, got "
                                        r"RandomState"):
        RandomGeneratorType().filter(np.random.RandomState(0), name="rng input")
    var = RandomGeneratorType().make_variable("r")
    assert var.name == "r" and var.type == RandomGeneratorType()


def test_shared_generator_copies_unless_borrowed():
    generator = np.random.default_rng(3)
    shared = sg.shared(generator, name="g")
    assert isinstance(shared, sg.SharedVariable) and shared.type == RandomGeneratorType()
    assert shared.get_value(borrow=True) is not generator
    assert shared.get_value() is not shared.get_value(borrow=True)
    assert _state(shared.get_value())["state"] == _state(generator)["state"]
    assert sg.shared(generator, borrow=True).get_value(borrow=True) is generator
    with pytest.raises(TypeError, match="shared variable 'g'.*numpy.random.Generator"):
        shared.set_value(np.zeros(3))


# -- the op is pure ---------------------------------------------------------------------------

def test_perform_does_not_touch_the_input_generator():
    rng = sg.shared(np.random.default_rng(7))
    node = RandomVariable("normal", "float64", 1).make_node(rng, (4,), 0.0, 1.0)
    generator = np.random.default_rng(7)
    before = _state(generator)
    storage = [[None], [None]]
    node.op.perform(node, [generator, np.array([4]), np.float64(0.0), np.float64(1.0)], storage)
    assert _state(generator) == before
    next_generator, draw = storage[0][0], storage[1][0]
    assert next_generator is not generator and _state(next_generator) != before
    np.testing.assert_array_equal(draw, np.random.default_rng(7).normal(0.0, 1.0, 4))


def test_without_an_update_every_call_gives_the_same_draw():
    rng = sg.shared(np.random.default_rng(1))
    draw = RandomVariable("uniform", "float64", 1)(rng, (3,), 0.0, 1.0)
    f = sg.function([], draw, mode="py")
    first, second = f(), f()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, np.random.default_rng(1).uniform(0, 1, 3))


def test_next_rng_as_an_explicit_update_follows_numpy_sequence():
    rng = sg.shared(np.random.default_rng(5))
    node = RandomVariable("normal", "float64", 1).make_node(rng, (2,), 0.0, 1.0)
    f = sg.function([], node.outputs[1], updates={rng: node.outputs[0]}, mode="py")
    reference = np.random.default_rng(5)
    for _ in range(3):
        np.testing.assert_array_equal(f(), reference.normal(size=2))
    assert _state(rng.get_value()) == _state(reference)


def test_op_equality_default_output_and_no_gradient():
    assert RandomVariable("normal", "float32", 2) == RandomVariable("normal", "float32", 2)
    assert RandomVariable("normal", "float32", 2) != RandomVariable("normal", "float64", 2)
    rng = sg.shared(np.random.default_rng(0))
    loc = sg.dscalar("loc")
    draw = RandomVariable("normal", "float64", 1)(rng, (3,), loc, 1.0)
    assert draw.owner.outputs[1] is draw
    assert draw.owner.op.L_op(draw.owner.inputs, draw.owner.outputs, [None, None]) == \
        [None] * 4
    with pytest.raises(sg.DisconnectedInputError):
        sg.grad(draw.sum(), loc)


def test_reparametrised_draw_is_differentiable():
    srng = RandomStream(0)
    loc, scale = sg.dscalars("loc scale")
    noise = srng.normal(size=(5,))
    g = sg.grad((loc + scale * noise).sum(), [loc, scale])
    f = sg.function([loc, scale], g + [noise], mode="py", no_default_updates=True)
    g_loc, g_scale, eps = f(0.0, 2.0)
    assert float(g_loc) == 5.0
    assert float(g_scale) == pytest.approx(float(eps.sum()))


# -- RandomStream -----------------------------------------------------------------------------

def test_two_calls_give_different_draws_that_follow_numpy():
    srng = RandomStream(11)
    f = sg.function([], srng.normal(size=(4,)), mode="py")
    reference = _stream_generator(11)
    first, second = f(), f()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, reference.normal(size=4))
    np.testing.assert_array_equal(second, reference.normal(size=4))


def test_same_seed_same_sequence_other_seed_other_sequence():
    def run(seed):
        srng = RandomStream(seed)
        f = sg.function([], [srng.uniform(size=(3,)), srng.integers(100, size=(3,))], mode="py")
        return [np.concatenate([a.astype(float) for a in f()]) for _ in range(3)]

    np.testing.assert_array_equal(run(4), run(4))
    assert not np.array_equal(run(4)[0], run(5)[0])


def test_draws_of_one_stream_are_independent():
    srng = RandomStream(2)
    a, b = srng.normal(size=(6,)), srng.normal(size=(6,))
    va, vb = sg.function([], [a, b], mode="py")()
    assert not np.array_equal(va, vb)
    np.testing.assert_array_equal(vb, _stream_generator(2, 1).normal(size=6))


def test_no_default_updates_repeats_the_draw():
    srng = RandomStream(3)
    draw = srng.uniform(size=(3,))
    frozen = sg.function([], draw, mode="py", no_default_updates=True)
    before = frozen()
    np.testing.assert_array_equal(frozen(), before)
    advancing = sg.function([], draw, mode="py")
    np.testing.assert_array_equal(advancing(), before)
    # The advancing function moved the shared state on; the frozen one reads it, unchanged.
    after = frozen()
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(frozen(), after)


def test_eval_advances_the_stream():
    draw = RandomStream(8).normal(size=(2,))
    assert not np.array_equal(draw.eval(), draw.eval())


def test_seed_reseeds_every_generator_like_a_new_stream():
    def draws(stream):
        return [stream.normal(size=(2,)), stream.uniform(size=(2,))]

    srng = RandomStream(1)
    f = sg.function([], draws(srng), mode="py")
    f()
    srng.seed(9)
    got = f()
    expected = sg.function([], draws(RandomStream(9)), mode="py")()
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert [s for s, _ in srng.updates()] == [s for s, _ in srng.state_updates]
    assert all(s.default_update is u for s, u in srng.updates())


def test_dtype_none_means_floatx():
    with sg.change_flags(floatX="float32"):
        srng = RandomStream(0)
        normal, uniform = srng.normal(size=(2,)), srng.uniform(size=(2,))
    assert normal.dtype == uniform.dtype == "float32"
    value = sg.function([], normal, mode="py")()
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, _stream_generator(0).normal(size=2).astype("float32"))
    assert RandomStream(0).normal(size=(2,), dtype="float64").dtype == "float64"
    assert RandomStream(0).binomial(size=(2,)).dtype == "int64"
    assert RandomStream(0).integers(3, dtype="int16").dtype == "int16"


# -- sizes and shapes -------------------------------------------------------------------------

def test_size_forms_give_the_expected_static_shape():
    srng = RandomStream(0)
    assert srng.normal(size=(2, 3)).type.shape == (2, 3)
    assert srng.normal(size=4).type.shape == (4,)
    assert srng.normal().type.shape == ()
    x = sg.tensor("x", shape=(5, None))
    assert srng.normal(size=x.shape).type.shape == (5, None)
    assert srng.normal(np.zeros((2, 1)), np.ones(3)).type.shape == (2, 3)


def test_symbolic_scalar_sizes():
    srng = RandomStream(6)
    n = sg.lscalar("n")
    m = sg.iscalar("m")
    draw = srng.uniform(size=(n, 3, m))
    assert draw.ndim == 3 and draw.type.shape[1] == 3
    f = sg.function([n, m], draw, mode="py")
    value = f(2, 4)
    assert value.shape == (2, 3, 4)
    np.testing.assert_array_equal(value, _stream_generator(6).uniform(size=(2, 3, 4)))
    assert srng.uniform(size=n).ndim == 1


def test_size_from_a_symbolic_shape_runs_with_the_value_shape():
    srng = RandomStream(6)
    x = sg.dmatrix("x")
    f = sg.function([x], srng.normal(size=x.shape), mode="py")
    assert f(np.zeros((3, 2))).shape == (3, 2)
    assert f(np.zeros((1, 5))).shape == (1, 5)


@pytest.mark.parametrize("from_size", [True, False])
def test_infer_shape_follows_size_or_params(from_size):
    srng = RandomStream(0)
    x = sg.dmatrix("x")
    loc = sg.tensor("loc", shape=(None, 1))
    scale = sg.tensor("scale", shape=(1, None))
    draw = srng.normal(size=x.shape) if from_size else srng.normal(loc, scale)
    node = draw.owner
    shapes = [None] + [tuple(Shape_i(d)(v) for d in range(v.ndim)) for v in node.inputs[1:]]
    rng_shape, draw_shape = call_infer_shape(node.op, None, node, shapes)
    assert rng_shape is None
    f = sg.function([x, loc, scale], [sg.as_tensor_variable(d) for d in draw_shape],
                    mode="py", on_unused_input="ignore")
    dims = f(np.zeros((2, 7)), np.zeros((4, 1)), np.ones((1, 3)))
    assert tuple(int(d) for d in dims) == ((2, 7) if from_size else (4, 3))


def test_params_broadcast_only_along_static_unit_dimensions():
    srng = RandomStream(0)
    loc, scale = sg.dvector("loc"), sg.dvector("scale")
    f = sg.function([loc, scale], srng.normal(loc, scale), mode="py")
    assert f(np.zeros(3), np.ones(3)).shape == (3,)
    with pytest.raises(ValueError, match="do not match on axis 0"):
        f(np.zeros(3), np.ones(1))


def test_params_broadcast_against_a_given_size():
    srng = RandomStream(12)
    loc = sg.tensor("loc", shape=(None, 1))
    f = sg.function([loc], srng.normal(loc, 0.001, size=(2, 3)), mode="py")
    value = f(np.array([[10.0], [-10.0]]))
    np.testing.assert_array_equal(
        value, _stream_generator(12).normal(np.array([[10.0], [-10.0]]), 0.001, (2, 3)))


# -- errors -----------------------------------------------------------------------------------

def test_make_node_errors_name_the_culprit():
    rng = sg.shared(np.random.default_rng(0))
    op = RandomVariable("normal", "float64", 1)
    with pytest.raises(TypeError, match="input 0 \\(rng\\) must be a generator"):
        op.make_node(sg.dvector("r"), (3,), 0.0, 1.0)
    with pytest.raises(TypeError, match="takes 2 parameters, got 1"):
        op.make_node(rng, (3,), 0.0)
    with pytest.raises(TypeError, match="parameter 0 .* has 2 dimensions, more than the "
                                        "draw's 1"):
        op.make_node(rng, (3,), sg.dmatrix("m"), 1.0)
    with pytest.raises(TypeError, match="declares 1"):
        op.make_node(rng, (3, 2), 0.0, 1.0)
    with pytest.raises(TypeError, match="parameter 0 .* has dtype float64"):
        RandomVariable("integers", "int64", 1).make_node(rng, (3,), 0.5, 4)
    with pytest.raises(TypeError, match="not a float dtype"):
        RandomVariable("normal", "int64", 1)
    with pytest.raises(TypeError, match="not an integer dtype"):
        RandomVariable("binomial", "float64", 1)
    with pytest.raises(ValueError, match="unknown distribution 'gamma'"):
        RandomVariable("gamma", "float64", 1)


def test_stream_argument_errors():
    srng = RandomStream(0)
    with pytest.raises(TypeError, match="not a float dtype"):
        srng.normal(size=(2,), dtype="int32")
    with pytest.raises(TypeError, match="length unknown until run time"):
        srng.normal(size=sg.lvector("s"))
    with pytest.raises(TypeError, match="size entry 1 .* must be an int"):
        srng.normal(size=(2, sg.dscalar("f")))
    with pytest.raises(TypeError, match="size must be a tuple of ints"):
        srng.normal(size=sg.tensor("s", dtype="float64", shape=(2,)))
    with pytest.raises(TypeError, match="a must be a vector or an int"):
        srng.choice(sg.dmatrix("a"))
    with pytest.raises(TypeError, match="p must be a vector"):
        srng.choice(5, p=sg.dmatrix("p"))
    with pytest.raises(TypeError, match="permutation: x must be an int"):
        srng.permutation(2.5)


def test_invalid_parameters_raise_value_error_at_run_time():
    srng = RandomStream(0)
    scale = sg.dscalar("scale")
    f = sg.function([scale], srng.normal(0.0, scale, size=(2,)), mode="py")
    with pytest.raises(ValueError, match="scale"):
        f(-1.0)
    g = sg.function([], srng.choice(3, size=(5,), replace=False), mode="py")
    with pytest.raises(ValueError):
        g()


# -- distributions: NumPy equivalence and moments ---------------------------------------------

N = 20000


def _sample(draw):
    return sg.function([], draw, mode="py")()


def test_normal_moments():
    value = _sample(RandomStream(21).normal(2.0, 3.0, size=(N,)))
    assert abs(value.mean() - 2.0) < 5 * 3.0 / np.sqrt(N)
    assert abs(value.std() - 3.0) < 0.1


def test_uniform_bounds_and_moments():
    value = _sample(RandomStream(22).uniform(-1.0, 3.0, size=(N,)))
    assert value.min() >= -1.0 and value.max() < 3.0
    assert abs(value.mean() - 1.0) < 5 * (4 / np.sqrt(12)) / np.sqrt(N)
    assert abs(value.var() - 16 / 12) < 0.05


def test_binomial_moments():
    value = _sample(RandomStream(23).binomial(10, 0.3, size=(N,)))
    assert value.dtype == np.int64 and value.min() >= 0 and value.max() <= 10
    assert abs(value.mean() - 3.0) < 5 * np.sqrt(2.1 / N)
    assert abs(value.var() - 2.1) < 0.15


def test_integers_range_and_one_bound_form():
    value = _sample(RandomStream(24).integers(2, 7, size=(N,)))
    assert set(np.unique(value)) == {2, 3, 4, 5, 6}
    assert abs(value.mean() - 4.0) < 5 * np.sqrt(2.0 / N)
    one_bound = _sample(RandomStream(25).integers(5, size=(10,)))
    np.testing.assert_array_equal(one_bound, _stream_generator(25).integers(5, size=10))


def test_choice_frequencies_follow_p():
    p = np.array([0.5, 0.3, 0.2])
    value = _sample(RandomStream(26).choice(sg.as_tensor_variable(np.array([10, 20, 30])),
                                            size=(N,), p=p))
    assert value.dtype == np.int64
    for v, prob in zip((10, 20, 30), p):
        assert abs(np.mean(value == v) - prob) < 5 * np.sqrt(prob * (1 - prob) / N)


def test_choice_without_replacement_gives_distinct_values():
    value = _sample(RandomStream(27).choice(50, size=(50,), replace=False))
    np.testing.assert_array_equal(np.sort(value), np.arange(50))
    assert not np.array_equal(value, np.arange(50))


def test_permutation_is_a_permutation():
    value = _sample(RandomStream(28).permutation(30))
    np.testing.assert_array_equal(np.sort(value), np.arange(30))
    rows = np.arange(12.0).reshape(6, 2)
    shuffled = _sample(RandomStream(28).permutation(sg.as_tensor_variable(rows)))
    assert shuffled.shape == (6, 2)
    np.testing.assert_array_equal(np.sort(shuffled[:, 0]), rows[:, 0])
    np.testing.assert_array_equal(shuffled[:, 1] - shuffled[:, 0], np.ones(6))
