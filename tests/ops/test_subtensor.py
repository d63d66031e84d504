"""Targeted and property tests for indexing: getitem, set/inc_subtensor, take, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.graph import toposort
from symgraph.op import call_infer_shape
from symgraph.ops import subtensor
from symgraph.ops.shape import Shape_i
from symgraph.ops.subtensor import (
    SCALAR,
    AdvancedIncSubtensor,
    AdvancedSubtensor,
    IncSubtensor,
    Slice,
    Subtensor,
)
from symgraph.type import TensorType

PROPERTY = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def run(inputs, output, *values):
    return sg.function(inputs, output, mode="py", on_unused_input="ignore")(*values)


def inferred_shape(inputs, output, values):
    """The output's shape as its node's ``infer_shape`` computes it from the input shapes."""
    node = output.owner
    shapes = [tuple(Shape_i(d)(v) for d in range(v.ndim)) for v in node.inputs]
    (dims,) = call_infer_shape(node.op, None, node, shapes)
    dims = [sg.as_tensor_variable(d) for d in dims]
    if not dims:
        return ()
    return tuple(int(d) for d in run(inputs, dims, *values))


def assert_static_fits(var, value):
    assert var.ndim == value.ndim
    for want, got in zip(var.type.shape, value.shape):
        assert want is None or want == got, (var.type, value.shape)


# ---------------------------------------------------------------------------------------------
# Basic indexing
# ---------------------------------------------------------------------------------------------

def test_basic_indexing_matches_numpy_and_is_subtensor():
    x = sg.tensor3("x")
    value = np.arange(60.0).reshape(3, 4, 5)
    for index in [1, (slice(None), -1), (Ellipsis, 2), (None, 1, Ellipsis, None),
                  (slice(-1, None, -2), slice(1, 3)), (), (slice(10, 20),)]:
        out = x[index]
        assert isinstance(out.owner.op, Subtensor)
        np.testing.assert_array_equal(run([x], out, value), value[index])


def test_static_shapes_of_basic_indexing():
    x = sg.tensor("x", shape=(4, 5))
    assert x[1:3].type.shape == (2, 5)
    assert x[::-2, None].type.shape == (2, 1, 5)
    assert x[1].type.shape == (5,)
    assert x[-10:].type.shape == (4, 5)
    y = sg.matrix("y")
    assert y[1:3].type.shape == (None, None)
    assert y[:, None].type.shape == (None, 1, None)
    assert sg.tensor("b", shape=(1, 3))[:].type.shape == (1, 3)


def test_symbolic_scalar_indices_and_int32():
    x = sg.matrix("x")
    i = sg.iscalar("i")
    start, stop, step = sg.lscalars("a b s")
    value = np.arange(30.0).reshape(5, 6)
    out = x[i, start:stop:step]
    assert out.owner.op.idx_list == (SCALAR, Slice(SCALAR, SCALAR, SCALAR))
    for args in [(1, 0, 6, 2), (-1, -1, -7, -2), (4, 5, 1, -1), (2, 3, 3, 1)]:
        got = run([x, i, start, stop, step], out, value, *args)
        expected = value[args[0], args[1]:args[2]:args[3]]
        np.testing.assert_array_equal(got, expected)
        assert inferred_shape([x, i, start, stop, step], out, [value, *args]) == expected.shape


def test_infer_shape_folds_known_dimensions():
    x = sg.matrix("x")
    i = sg.lvector("i")
    out = x[1:, i]
    dims = out.owner.op.infer_shape(None, out.owner, [(np.int64(5), 7), (3,)])
    assert tuple(dims[0]) == (4, 3)
    m = sg.tensor("m", dtype="bool", shape=(None,))
    masked = x[m]
    (count, cols), = masked.owner.op.infer_shape(None, masked.owner, [(3, 7), (3,)])
    assert cols == 7
    assert run([m], count, np.array([True, False, True])) == 2


def test_constant_scalar_variables_fold_into_the_index():
    x = sg.vector("x")
    out = x[sg.constant(2):]
    assert out.owner.op.idx_list == (Slice(2, None, None),)
    assert len(out.owner.inputs) == 1


def test_out_of_range_int_raises_index_error_at_run_time():
    x = sg.vector("x")
    i = sg.lscalar("i")
    f = sg.function([x], x[5], mode="py")
    with pytest.raises(IndexError):
        f(np.zeros(3))
    g = sg.function([x, i], x[i], mode="py")
    with pytest.raises(IndexError):
        g(np.zeros(3), -4)
    assert g(np.arange(3.0), -3) == 0.0


def test_too_many_indices_and_two_ellipses():
    x = sg.matrix("x")
    with pytest.raises(IndexError, match="too many indices"):
        x[1, 2, 3]
    with pytest.raises(IndexError, match="ellipsis"):
        x[..., 1, ...]


def test_invalid_index_kinds_raise_type_error_that_is_an_index_error():
    x = sg.matrix("x")
    for bad in [1.5, sg.dscalar("f"), [0.5, 1.5], "a", slice(0, 1.5), slice(sg.dvector("v"))]:
        with pytest.raises(TypeError):
            x[bad]
        with pytest.raises(IndexError):
            x[bad]


def test_slice_step_zero():
    x = sg.vector("x")
    with pytest.raises(ValueError, match="zero"):
        x[::0]
    s = sg.lscalar("s")
    f = sg.function([x, s], x[::s], mode="py")
    with pytest.raises(ValueError):
        f(np.zeros(3), 0)


def test_make_node_type_errors_name_the_input():
    x = sg.matrix("x")
    op = Subtensor((SCALAR,))
    with pytest.raises(TypeError, match="index input 0"):
        op(x, sg.dscalar("d"))
    with pytest.raises(TypeError, match="index input 0"):
        op(x, sg.lvector("v"))
    with pytest.raises(TypeError, match="expected 1 index inputs"):
        op(x)
    with pytest.raises(TypeError, match="input x"):
        Subtensor((0, 0, 0))(x)
    with pytest.raises(TypeError, match="mask"):
        AdvancedSubtensor((subtensor.Input("mask", 2),))(x, sg.lvector("m").astype("bool"))


def test_op_equality_hash_and_str():
    x = sg.matrix("x")
    a, b = x[1:, 0], x[1:, 0]
    assert a.owner.op == b.owner.op and hash(a.owner.op) == hash(b.owner.op)
    assert x[1:, 1].owner.op != a.owner.op
    assert str(a.owner.op) == "Subtensor{1:, 0}"
    assert str(x[::-1, None].owner.op) == "Subtensor{::-1, newaxis}"
    inc = subtensor.inc_subtensor(x[[0, 1]], 1.0).owner.op
    assert str(inc) == "AdvancedIncSubtensor{inc; [int]}"
    with pytest.raises(ValueError):
        AdvancedSubtensor((0, Slice()))


# ---------------------------------------------------------------------------------------------
# Advanced indexing
# ---------------------------------------------------------------------------------------------

def test_advanced_placement_rules_match_numpy():
    x = sg.tensor4("x")
    value = np.arange(120.0).reshape(2, 3, 4, 5)
    cases = [(slice(None), 0, slice(None), [0, 1]),     # int and array split by a slice
             (0, slice(None), [0, 1]),
             ([0, 1], None, [0, 1]),                     # newaxis separates too
             (slice(None), [0, 1, 2], None, [0, 1, 2]),
             (slice(None), [0, 1, 2], Ellipsis, [0, 1, 2]),   # a zero-length ellipsis
             (slice(None), [0, 1, 2], [0, 1, 2]),        # adjacent: stay in place
             ([[0], [1]], slice(1, 3), [[0, 1, 2]]),
             (slice(None), [[1]], 2)]
    for index in cases:
        out = x[index]
        assert isinstance(out.owner.op, AdvancedSubtensor)
        expected = value[index]
        got = run([x], out, value)
        np.testing.assert_array_equal(got, expected)
        assert_static_fits(out, expected)
        assert inferred_shape([x], out, [value]) == expected.shape


def test_boolean_masks():
    x = sg.matrix("x")
    m = sg.tensor("m", dtype="bool", shape=(None,))
    value = np.arange(12.0).reshape(3, 4)
    mask = np.array([True, False, True])
    out = x[m, 1:]
    assert out.type.shape == (None, None)
    np.testing.assert_array_equal(run([x, m], out, value, mask), value[mask, 1:])
    assert inferred_shape([x, m], out, [value, mask]) == (2, 3)
    assert x[value > 4].type.shape == (7,)
    with pytest.raises(IndexError):
        run([x, m], out, value, np.array([True, False]))


def test_zero_dimensional_booleans():
    x = sg.matrix("x")
    value = np.arange(6.0).reshape(2, 3)
    for index in [True, False, (slice(None), True), ([0, 1], True)]:
        np.testing.assert_array_equal(run([x], x[index], value), value[index])
    assert x[True].type.shape == (1, None, None)


def test_lists_of_symbolic_scalars_and_empty_lists():
    x = sg.vector("x")
    i, j = sg.lscalars("i j")
    value = np.arange(5.0)
    np.testing.assert_array_equal(run([x, i, j], x[[i, j, i]], value, 4, 1), [4.0, 1.0, 4.0])
    empty = x[[]]
    assert empty.type.shape == (0,)
    assert run([x], empty, value).shape == (0,)


def test_index_arrays_that_cannot_broadcast():
    x = sg.matrix("x")
    with pytest.raises(IndexError, match="broadcast"):
        x[[0, 1], [0, 1, 2]]
    i, j = sg.lvectors("i j")
    f = sg.function([x, i, j], x[i, j], mode="py")
    with pytest.raises(IndexError):
        f(np.zeros((3, 3)), [0, 1], [0, 1, 2])


def test_advanced_out_of_range_raises_index_error():
    x = sg.vector("x")
    i = sg.lvector("i")
    with pytest.raises(IndexError):
        run([x, i], x[i], np.zeros(3), np.array([0, 3]))


def test_uint_and_int8_index_arrays():
    x = sg.vector("x")
    value = np.arange(5.0)
    for dtype in ["uint8", "int8", "uint64", "int32"]:
        i = sg.tensor("i", dtype=dtype, shape=(None,))
        np.testing.assert_array_equal(run([x, i], x[i], value, np.array([4, 0], dtype)),
                                      [4.0, 0.0])


# ---------------------------------------------------------------------------------------------
# set_subtensor / inc_subtensor
# ---------------------------------------------------------------------------------------------

def test_inc_accumulates_duplicates_and_set_keeps_last():
    x = sg.vector("x")
    y = sg.vector("y")
    value, update = np.zeros(4), np.array([1.0, 2.0, 4.0])
    inc = subtensor.inc_subtensor(x[[1, 1, 3]], y)
    assert isinstance(inc.owner.op, AdvancedIncSubtensor)
    np.testing.assert_array_equal(run([x, y], inc, value, update), [0.0, 3.0, 0.0, 4.0])
    put = subtensor.set_subtensor(x[[1, 1, 3]], y)
    np.testing.assert_array_equal(run([x, y], put, value, update), [0.0, 2.0, 0.0, 4.0])
    same = subtensor.inc_subtensor(x[[1, 1, 3]], y, set_instead_of_inc=True)
    assert same.owner.op == put.owner.op


def test_set_subtensor_does_not_modify_its_input():
    x = sg.matrix("x")
    value = np.ones((2, 3))
    for out in [subtensor.set_subtensor(x[0], 5.0), subtensor.inc_subtensor(x[[0, 0]], 5.0)]:
        result = run([x], out, value)
        assert result[0, 0] != 1.0
        np.testing.assert_array_equal(value, np.ones((2, 3)))


def test_y_broadcasting_follows_theano():
    x = sg.matrix("x")
    row = sg.tensor("r", shape=(1, None))
    value = np.zeros((3, 4))
    out = subtensor.set_subtensor(x[1:], row)
    np.testing.assert_array_equal(run([x, row], out, value, np.ones((1, 4))),
                                  np.array([[0.0] * 4, [1.0] * 4, [1.0] * 4]))
    # A run-time length of 1 does not broadcast unless the dimension is static 1.
    y = sg.matrix("y")
    f = sg.function([x, y], subtensor.set_subtensor(x[1:], y), mode="py")
    with pytest.raises(ValueError, match="static length 1"):
        f(value, np.ones((1, 4)))
    g = sg.function([x, y], subtensor.inc_subtensor(x[[0, 1]], y), mode="py")
    with pytest.raises(ValueError):
        g(value, np.ones((3, 4)))


def test_set_inc_build_errors():
    x = sg.matrix("x")
    with pytest.raises(TypeError, match="indexed tensor"):
        subtensor.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="dimensions"):
        subtensor.set_subtensor(x[0], sg.matrix("m"))
    with pytest.raises(ValueError):
        subtensor.set_subtensor(sg.tensor("s", shape=(4, 5))[0], sg.tensor("t", shape=(3,)))
    ints = sg.lmatrix("i")
    with pytest.raises(TypeError, match="dtype"):
        subtensor.inc_subtensor(ints[0], sg.dvector("d"))
    with pytest.raises(TypeError):
        subtensor.inc_subtensor(ints[0], 1.5)
    assert subtensor.inc_subtensor(ints[0], 2).dtype == "int64"
    small = sg.fmatrix("f")
    out = subtensor.set_subtensor(small[0], sg.dvector("d"))
    assert out.dtype == "float32"
    assert subtensor.set_subtensor(small[0], 0.1).dtype == "float32"


def test_infer_shape_of_updates_is_input_shape():
    x = sg.matrix("x")
    value = np.zeros((3, 5))
    for out in [subtensor.set_subtensor(x[1], 2.0), subtensor.inc_subtensor(x[:, [0, 0]], 1.0)]:
        assert inferred_shape([x], out, [value]) == (3, 5)


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------

def test_gradient_of_subtensor_scatters_into_zeros():
    x = sg.matrix("x")
    g = sg.grad(x[1:, 0].sum(), x)
    assert any(isinstance(n.op, IncSubtensor) for n in toposort([g]))
    expected = np.zeros((3, 2))
    expected[1:, 0] = 1.0
    np.testing.assert_array_equal(run([x], g, np.ones((3, 2))), expected)


def test_gradient_of_advanced_subtensor_accumulates_duplicates():
    x = sg.vector("x")
    g = sg.grad((x[[0, 0, 2, 0]] * np.array([1.0, 2.0, 3.0, 4.0])).sum(), x)
    assert any(isinstance(n.op, AdvancedIncSubtensor) for n in toposort([g]))
    np.testing.assert_array_equal(run([x], g, np.zeros(4)), [7.0, 0.0, 3.0, 0.0])


def test_gradients_of_set_and_inc():
    x = sg.matrix("x")
    y = sg.tensor("y", shape=(1, None))
    w = np.arange(12.0).reshape(3, 4)
    for set_ in (True, False):
        out = subtensor.inc_subtensor(x[1:, :2], y, set_instead_of_inc=set_)
        gx, gy = sg.grad((out * w).sum(), [x, y])
        got_x, got_y = run([x, y], [gx, gy], np.zeros((3, 4)), np.zeros((1, 2)))
        expected_x = w.copy()
        if set_:
            expected_x[1:, :2] = 0.0
        np.testing.assert_array_equal(got_x, expected_x)
        np.testing.assert_array_equal(got_y, w[1:, :2].sum(axis=0, keepdims=True))


def test_integer_tensors_have_no_gradient_through_indices():
    x = sg.vector("x")
    i = sg.lscalar("i")
    g = sg.grad(x[i:].sum(), i, disconnected_inputs="ignore")
    assert run([x, i], g, np.zeros(3), 1) == 0.0


def test_rop_of_indexing():
    x = sg.vector("x")
    v = sg.vector("v")
    out = subtensor.set_subtensor(x[[0, 2]], x[1:3] * 2.0)
    jv = sg.Rop(out, x, v)
    got = run([x, v], jv, np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(got, [4.0, 2.0, 6.0, 4.0])


# ---------------------------------------------------------------------------------------------
# take
# ---------------------------------------------------------------------------------------------

def test_take_matches_numpy():
    x = sg.tensor3("x")
    value = np.arange(24.0).reshape(2, 3, 4)
    cases = [([[0, -1]], None), ([2, 0, 2], 1), (1, -1), ([3, 3], 2), ([True, False], 0),
             (np.array([], dtype=int), 1), ([], None)]
    for indices, axis in cases:
        out = subtensor.take(x, indices, axis=axis)
        np.testing.assert_array_equal(run([x], out, value), np.take(value, indices, axis=axis))
    i = sg.lmatrix("i")
    out = x.take(i, axis=1)
    index = np.array([[0, 2], [1, 1]])
    np.testing.assert_array_equal(run([x, i], out, value, index), np.take(value, index, 1))


def test_take_errors():
    x = sg.matrix("x")
    with pytest.raises(np.exceptions.AxisError):
        subtensor.take(x, [0], axis=2)
    with pytest.raises(TypeError):
        subtensor.take(x, [0.5])
    with pytest.raises(IndexError):
        run([x], subtensor.take(x, [7]), np.zeros((2, 3)))


def test_public_names_are_exported():
    for name in ["getitem", "set_subtensor", "inc_subtensor", "take"]:
        assert getattr(sg, name) is getattr(subtensor, name)


# ---------------------------------------------------------------------------------------------
# Properties: random indices on random shapes, against NumPy
# ---------------------------------------------------------------------------------------------

def _numpy_or_error(value, index):
    try:
        return value[index], None
    except IndexError as err:
        return None, err


@st.composite
def basic_cases(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))
    items, axis = [], 0
    while axis < len(shape) and draw(st.booleans()):
        n = shape[axis]
        kind = draw(st.sampled_from(["int", "slice", "newaxis"] if n else ["slice", "newaxis"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
            axis += 1
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = st.none() | st.integers(-3, 3).filter(bool)
            items.append(slice(draw(bound), draw(bound), draw(step)))
            axis += 1
        else:
            items.append(None)
    if draw(st.booleans()):  # items after it index the last axes: ints may fall out of range
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return shape, tuple(items), draw(st.booleans())


def _symbolize(index, symbolic):
    """Replace the ints of ``index`` (also in slices) by symbolic scalars fed at run time."""
    variables, values = [], []

    def sym(v):
        if not symbolic or v is None or isinstance(v, bool) or not isinstance(v, int):
            return v
        var = sg.lscalar(f"s{len(variables)}")
        variables.append(var)
        values.append(v)
        return var

    out = []
    for item in index:
        if isinstance(item, slice):
            out.append(slice(sym(item.start), sym(item.stop), sym(item.step)))
        else:
            out.append(sym(item))
    return tuple(out), variables, values


@PROPERTY
@given(basic_cases())
def test_property_basic_indexing(case):
    shape, index, symbolic = case
    value = np.arange(float(np.prod(shape))).reshape(shape)
    expected, error = _numpy_or_error(value, index)
    x = sg.tensor("x", shape=(None,) * len(shape))
    sym_index, variables, values = _symbolize(index, symbolic)
    out = x[sym_index]
    if error is not None:  # an int out of range: an IndexError at run time
        with pytest.raises(IndexError):
            run([x, *variables], out, value, *values)
        return
    assert_static_fits(sg.tensor("x", shape=shape)[index], expected)
    assert isinstance(out.owner.op, Subtensor)
    got = run([x, *variables], out, value, *values)
    np.testing.assert_array_equal(got, expected)
    assert inferred_shape([x, *variables], out, [value, *values]) == expected.shape


@st.composite
def advanced_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    broadcast = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    items, axis, has_mask = [], 0, False
    while axis < len(shape):
        n = shape[axis]
        kind = draw(st.sampled_from(["array", "array", "mask", "int", "slice", "newaxis",
                                     "stop"]))
        if kind == "stop":
            break
        if kind == "array":
            sub = tuple(b if draw(st.booleans()) else 1 for b in broadcast)
            sub = sub[draw(st.integers(0, len(sub))):]
            items.append(rng.integers(-n, n, size=sub))
            axis += 1
        elif kind == "mask" and not has_mask:
            k = draw(st.integers(1, len(shape) - axis))
            mask = rng.random(shape[axis:axis + k]) < 0.5
            items.append(mask)
            has_mask = True
            axis += k
        elif kind == "int":
            items.append(int(rng.integers(-n, n)))
            axis += 1
        elif kind == "slice":
            items.append(slice(draw(st.none() | st.integers(-n, n)), None,
                               draw(st.sampled_from([None, 1, 2, -1]))))
            axis += 1
        else:
            items.append(None)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return shape, tuple(items), draw(st.booleans())


def _symbolize_arrays(index, symbolic):
    variables, values, out = [], [], []
    for item in index:
        if symbolic and isinstance(item, np.ndarray):
            var = sg.tensor(f"a{len(variables)}", dtype=item.dtype.name,
                            shape=(None,) * item.ndim)
            variables.append(var)
            values.append(item)
            out.append(var)
        else:
            out.append(item)
    return tuple(out), variables, values


@PROPERTY
@given(advanced_cases())
def test_property_advanced_indexing(case):
    shape, index, symbolic = case
    value = np.arange(float(np.prod(shape))).reshape(shape)
    expected, error = _numpy_or_error(value, index)
    x = sg.tensor("x", shape=(None,) * len(shape))
    sym_index, variables, values = _symbolize_arrays(index, symbolic)
    if error is not None:  # arrays that do not broadcast with a mask's count, ...
        with pytest.raises(IndexError):
            run([x, *variables], x[sym_index], value, *values)
        return
    out = x[sym_index]
    got = run([x, *variables], out, value, *values)
    np.testing.assert_array_equal(got, expected)
    assert_static_fits(out, expected)
    assert_static_fits(sg.tensor("x", shape=shape)[sym_index], expected)
    assert inferred_shape([x, *variables], out, [value, *values]) == expected.shape


@PROPERTY
@given(advanced_cases(), st.integers(0, 2**16))
def test_property_set_and_inc_with_duplicates(case, seed):
    shape, index, symbolic = case
    value = np.random.default_rng(seed).standard_normal(shape)
    target, error = _numpy_or_error(value, index)
    if error is not None:
        return
    y_value = np.random.default_rng(seed + 1).standard_normal(target.shape)
    x = sg.tensor("x", shape=(None,) * len(shape))
    y = sg.tensor("y", shape=(None,) * target.ndim)
    sym_index, variables, values = _symbolize_arrays(index, symbolic)
    inc = subtensor.inc_subtensor(x[sym_index], y)
    put = subtensor.set_subtensor(x[sym_index], y)
    got_inc, got_set = run([x, y, *variables], [inc, put], value, y_value, *values)
    expected_inc = value.copy()
    np.add.at(expected_inc, index, y_value)
    expected_set = value.copy()
    expected_set[index] = y_value
    np.testing.assert_allclose(got_inc, expected_inc, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got_set, expected_set)


@PROPERTY
@given(advanced_cases())
def test_property_gradient_accumulates_like_add_at(case):
    shape, index, _ = case
    value = np.zeros(shape)
    target, error = _numpy_or_error(value, index)
    if error is not None:
        return
    weights = np.arange(1.0, target.size + 1).reshape(target.shape)
    x = sg.tensor("x", shape=(None,) * len(shape))
    g = sg.grad((x[index] * weights).sum(), x)
    expected = np.zeros(shape)
    np.add.at(expected, index, weights)
    np.testing.assert_array_equal(run([x], g, value), expected)


def test_index_input_types_are_tensor_types():
    x = sg.matrix("x")
    out = x[sg.lvector("i"), 1:]
    assert all(isinstance(v.type, TensorType) for v in out.owner.inputs)
