"""Elementwise specifics: dtype promotion, weak Python scalars, broadcasting, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.ops.elemwise import TABLE, Elemwise

PROMOTIONS = [
    ("float32", "float32", "float32"), ("float32", "float64", "float64"),
    ("int8", "int16", "int16"), ("int32", "float32", "float64"), ("uint8", "int8", "int16"),
    ("int64", "uint64", "float64"), ("bool", "int8", "int8"), ("float16", "float32", "float32"),
    ("bool", "bool", "bool"),
]


@pytest.mark.parametrize("a, b, expected", PROMOTIONS)
def test_binary_promotion_follows_numpy(a, b, expected):
    x, y = sg.tensor("x", a, (None,)), sg.tensor("y", b, (None,))
    z = x + y
    assert z.dtype == expected
    values = [np.ones(2, dtype=a), np.ones(2, dtype=b)]
    assert sg.function([x, y], z)(*values).dtype == expected


@pytest.mark.parametrize("dtype, scalar, expected", [
    ("float32", 2.5, "float32"), ("int8", 3, "int8"), ("int32", 2.5, "float64"),
    ("float16", 1.0, "float16"), ("uint8", True, "uint8"),
])
def test_python_scalars_are_weak(dtype, scalar, expected):
    x = sg.tensor("x", dtype, (None,))
    assert (x * scalar).dtype == expected
    assert (scalar * x).dtype == expected


@pytest.mark.parametrize("dtype, expected", [
    ("int8", "float32"), ("uint16", "float32"), ("int32", "float64"), ("int64", "float64"),
    ("float16", "float16"), ("float32", "float32"), ("bool", "float32"),
])
def test_float_functions_upgrade_integers_like_theano(dtype, expected):
    assert sg.exp(sg.tensor("x", dtype, ())).dtype == expected
    divisor = sg.tensor("y", dtype, ())  # a Python int would promote bool to int64
    assert sg.true_divide(sg.tensor("x", dtype, ()), divisor).dtype == expected


def test_float16_is_computed_in_float32():
    x = sg.tensor("x", "float16", (None,))
    f = sg.function([x], sg.exp(x) * 3)
    value = np.array([0.1, 1.7], dtype="float16")
    got = f(value)
    assert got.dtype == np.float16
    expected = (np.exp(value.astype("float32")).astype("float16").astype("float32") * 3)
    np.testing.assert_allclose(got, expected.astype("float16"), rtol=1e-3)


def test_bitwise_ops_reject_floats_naming_the_input():
    with pytest.raises(TypeError, match="and_: input 1"):
        sg.and_(sg.bvector(), sg.dvector("y"))
    with pytest.raises(TypeError, match="invert"):
        sg.invert(sg.dvector())


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_bool_add_and_mul_are_logical_like_numpy(mode):
    x, y = sg.tensor("x", "bool", (None,)), sg.tensor("y", "bool", (None,))
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    outputs = [x + y, x * y, x + y + x, (x + y) * x, x + True, x * False]
    assert [out.dtype for out in outputs] == ["bool"] * len(outputs)
    got = sg.function([x, y], outputs, mode=mode)(a, b)
    for value, expected in zip(got, [a + b, a * b, a + b + a, (a + b) * a, a + True, a * False]):
        assert value.dtype == expected.dtype == np.bool_
        np.testing.assert_array_equal(value, expected)


def test_bool_minus_bool_raises_like_numpy_naming_the_op():
    x, y = sg.tensor("x", "bool", (None,)), sg.tensor("y", "bool", (None,))
    with pytest.raises(TypeError):
        np.array([True]) - np.array([True])
    for make in (lambda: x - y, lambda: x - True, lambda: True - x, lambda: sg.sub(x, y)):
        with pytest.raises(TypeError, match="^sub: .*bool"):
            make()
    # A bool with an integer promotes to the integer, so the subtraction is fine (NumPy too).
    assert (x - sg.tensor("i", "int8", (None,))).dtype == "int8"
    assert (x - 1).dtype == (np.array([True]) - 1).dtype.name


def test_wrong_arity_and_static_shape_mismatch():
    with pytest.raises(TypeError, match="takes 2 inputs"):
        Elemwise(TABLE["sub"])(sg.dvector(), sg.dvector(), sg.dvector())
    a = sg.tensor("a", "float64", (2, 3))
    with pytest.raises(ValueError, match="axis 1"):
        a + sg.tensor("b", "float64", (2, 4))


def test_runtime_broadcast_requires_static_one():
    x = sg.dmatrix("x")
    y = sg.dmatrix("y")
    f = sg.function([x, y], x + y)
    with pytest.raises(ValueError, match="broadcastable"):
        f(np.ones((3, 4)), np.ones((1, 4)))
    row = sg.tensor("row", "float64", (1, None))
    g = sg.function([x, row], x + row)
    np.testing.assert_array_equal(g(np.ones((3, 4)), np.ones((1, 4))), 2 * np.ones((3, 4)))


def test_numpy_array_on_the_left_builds_a_graph():
    x = sg.dvector("x")
    z = np.array([1.0, 2.0]) + x
    assert isinstance(z, sg.Variable)
    np.testing.assert_array_equal(z.eval({x: [1.0, 1.0]}), [2.0, 3.0])


def test_comparisons_build_graphs_and_equality_is_identity():
    x = sg.dvector("x")
    assert (x < 1).dtype == "bool"
    assert (x == x) is True
    assert sg.eq(x, 1.0).dtype == "bool"


@st.composite
def broadcastable_shapes(draw):
    rank = draw(st.integers(0, 4))
    shape = [draw(st.integers(1, 4)) for _ in range(rank)]
    shapes = []
    for _ in range(draw(st.integers(2, 3))):
        extra = draw(st.integers(0, rank))
        own = [1 if draw(st.booleans()) else s for s in shape[extra:]]
        shapes.append(tuple(own))
    return shapes


@settings(max_examples=60, deadline=None)
@given(broadcastable_shapes(), st.integers(0, 2**31))
def test_broadcasting_matches_numpy(shapes, seed):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=s) for s in shapes]
    variables = [sg.tensor(f"x{i}", "float64", tuple(1 if d == 1 else None for d in s))
                 for i, s in enumerate(shapes)]
    out = variables[0]
    for v in variables[1:]:
        out = out * 2.0 + sg.tanh(v)
    expected = values[0]
    for v in values[1:]:
        expected = expected * 2.0 + np.tanh(v)
    got = sg.function(variables, out)(*values)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    grads = sg.grad(out.sum(), variables)
    for g, value in zip(sg.function(variables, grads)(*values), values):
        assert g.shape == value.shape
