"""function(): inputs, outputs, updates, givens, shared variables, errors, eval, profiling."""

import importlib.util

import numpy as np
import pytest

import symgraph as sg


def test_single_and_multiple_outputs():
    x, y = sg.dvectors("x y")
    f = sg.function([x, y], x + y)
    g = sg.function([x, y], [x + y, x * y])
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_array_equal(f(a, b), a + b)
    out = g(a, b)
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_array_equal(out[1], a * b)


def test_keyword_arguments_by_input_name():
    x, y = sg.dscalars("x y")
    f = sg.function([x, y], x - y)
    assert f(y=1.0, x=3.0) == 2.0
    with pytest.raises(TypeError, match="no input named 'z'; its named inputs: 'x', 'y'"):
        f(1.0, z=2.0)


def test_updates_are_applied_after_all_outputs():
    w = sg.shared(np.array([1.0, 2.0]), name="w")
    v = sg.shared(np.array([10.0, 20.0]), name="v")
    x = sg.dvector("x")
    # Both updates read the *old* values, and the output sees the old w.
    f = sg.function([x], w * 1.0, updates=[(w, w + x), (v, v + w)])
    out = f(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(out, [1.0, 2.0])
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])
    np.testing.assert_array_equal(v.get_value(), [11.0, 22.0])
    f(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(w.get_value(), [3.0, 4.0])


def test_updates_as_dict_and_type_check():
    w = sg.shared(np.zeros(2), name="w")
    f = sg.function([], [], updates={w: w + 1.0})
    f()
    np.testing.assert_array_equal(w.get_value(), [1.0, 1.0])
    with pytest.raises(TypeError, match="float32"):
        sg.function([], [], updates=[(w, (w + 1).astype("float32"))])
    with pytest.raises(TypeError, match="not a shared variable"):
        sg.function([], [], updates=[(sg.dvector(), w)])


def test_shared_get_set_value_copies():
    value = np.arange(3.0)
    w = sg.shared(value)
    value[0] = 100.0
    assert w.get_value()[0] == 0.0
    got = w.get_value()
    got[1] = 50.0
    assert w.get_value()[1] == 1.0
    w.set_value(np.ones(5))  # shapes of shared variables may change
    assert w.get_value().shape == (5,)
    with pytest.raises(TypeError, match="float64.*complex64"):
        w.set_value(np.ones(3, dtype="complex64"))
    with pytest.raises(TypeError, match="1-d"):
        w.set_value(np.ones((2, 2)))
    assert sg.shared(0.5).dtype == sg.config.floatX


def test_givens_replace_inputs_and_intermediates():
    x, y = sg.dscalars("x y")
    a = x * 2
    out = a + y
    f = sg.function([x, y], out, givens={a: x * 10})
    assert f(1.0, 1.0) == 11.0
    z = sg.dscalar("z")
    g = sg.function([z, y], out, givens=[(x, z + 1)])
    assert g(1.0, 0.0) == 4.0
    with pytest.raises(TypeError, match="cannot replace"):
        sg.function([x], out, givens={y: sg.dvector()})


def test_shared_variable_in_givens():
    w = sg.shared(np.array(3.0), name="w")
    x = sg.dscalar("x")
    f = sg.function([x], w * x, givens={w: x})
    assert f(2.0) == 4.0


def test_on_unused_input():
    x, y = sg.dscalars("x y")
    with pytest.raises(sg.UnusedInputError, match="y"):
        sg.function([x, y], x + 1)
    with pytest.warns(UserWarning, match="y"):
        sg.function([x, y], x + 1, on_unused_input="warn")
    f = sg.function([x, y], x + 1, on_unused_input="ignore")
    assert f(1.0, 5.0) == 2.0


# The "llvm" backend checks arguments in its native entry point; the same errors either way.
# (tests/codegen/test_llvm_native.py has the checks only that entry point makes.)
@pytest.mark.parametrize("mode", [None, pytest.param("llvm", marks=pytest.mark.skipif(
    importlib.util.find_spec("llvmlite") is None, reason="needs llvmlite"))])
def test_input_errors_name_the_input(mode):
    x = sg.dmatrix("x")
    y = sg.ivector("y")
    f = sg.function([x, y], x.sum() + y.sum(), name="loss", mode=mode)
    with pytest.raises(TypeError, match="'loss' expects 2 inputs"):
        f(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="input 0 \\('x'\\).*2-d"):
        f(np.zeros(3), np.zeros(3, dtype="int32"))
    with pytest.raises(TypeError, match="input 1 \\('y'\\).*int32.*float64"):
        f(np.zeros((2, 2)), np.zeros(3))
    with pytest.raises(TypeError, match="shared variable"):
        sg.function([sg.shared(1.0)], [], mode=mode)
    with pytest.raises(TypeError, match="root"):
        sg.function([x + 1], x, mode=mode)


def test_runtime_shape_error_names_op_shapes_and_line():
    x, y = sg.dvectors("x y")
    z = x * y  # the failing line
    f = sg.function([x, y], z)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    message = str(info.value)
    assert "Elemwise{mul}" in message
    assert "(3,)" in message and "(4,)" in message
    assert "test_function.py" in message and "the failing line" in message


@pytest.mark.parametrize("mode", ["py", pytest.param("llvm", marks=pytest.mark.skipif(
    importlib.util.find_spec("llvmlite") is None, reason="needs llvmlite"))])
@pytest.mark.parametrize("build", [
    lambda x, y, c: sg.dot(x, y),
    lambda x, y, c: sg.dot(x, y) * 2.0 + c,
    lambda x, y, c: sg.exp(c) - sg.dot(x, y),
], ids=["dot", "scaled_and_added", "accumulated_in_place"])
def test_error_in_a_dot_compiled_as_gemm_names_the_dot_and_its_line(build, mode):
    x, y, c = sg.dmatrices("x y c")
    f = sg.function([x, y, c], build(x, y, c), mode=mode, on_unused_input="ignore")
    assert "Gemm" in sg.debugprint(f, file="str")
    with pytest.raises(ValueError, match="not aligned") as info:
        f(np.ones((2, 3)), np.ones((4, 2)), np.ones((2, 2)))
    message = str(info.value)
    assert message.startswith("Dot (compiled as Gemm{"), message
    assert f"test_function.py:{build.__code__.co_firstlineno}" in message  # the dot's line
    assert "sg.function(" not in message


@pytest.mark.parametrize("build, values, op, shape", [
    # NumPy's MemoryError for a huge request; its ValueError ("array is too big") for a size
    # past what an array can have is a MemoryError too.
    (lambda n, x: sg.zeros((n, n)), [10**7], "Alloc", (10**7, 10**7)),
    (lambda n, x: sg.zeros((n, 2**20)), [2**40], "Alloc", (2**40, 2**20)),
    (lambda n, x: x.repeat(n), [10**15], "Repeat", (3 * 10**15,)),
    (lambda n, x: x.repeat(n, axis=0), [10**18], "Repeat", (3 * 10**18,)),
    (lambda n, x: sg.eye(n), [2**40], "Eye", (2**40, 2**40)),
], ids=["zeros", "zeros_too_big", "repeat", "repeat_too_big", "eye_too_big"])
def test_huge_allocation_raises_memory_error_naming_node_shape_and_bytes(build, values, op,
                                                                         shape):
    n, x = sg.lscalar("n"), sg.dvector("x")
    f = sg.function([n, x], build(n, x), mode="py", on_unused_input="ignore")
    with pytest.raises(MemoryError) as info:
        f(*values, np.ones(3))
    message = str(info.value)
    assert message.startswith(op) and f"shape {shape} and dtype float64" in message
    assert f"{int(np.prod(shape, dtype=object)) * 8} bytes" in message
    assert f"test_function.py:{build.__code__.co_firstlineno}" in message  # the user's line
    assert info.value.node.op.__class__.__name__.startswith(op)


def test_allow_input_downcast():
    x = sg.fvector("x")
    f = sg.function([x], x * 2, allow_input_downcast=True)
    assert f(np.ones(2)).dtype == np.float32
    with pytest.raises(TypeError):
        sg.function([x], x * 2)(np.ones(2))


def test_output_is_not_an_input_buffer():
    x = sg.dvector("x")
    f = sg.function([x], x)
    a = np.ones(3)
    out = f(a)
    out[0] = 5.0
    assert a[0] == 1.0


def test_eval_and_cache():
    x = sg.dvector("x")
    y = x * 3
    np.testing.assert_array_equal(y.eval({x: [1.0, 2.0]}), [3.0, 6.0])
    np.testing.assert_array_equal(y.eval({"x": [1.0]}), [3.0])
    assert len(y.tag.eval_cache) == 1
    assert sg.constant(2.0).eval() == 2.0


def test_profile_summary():
    x = sg.dvector("x")
    f = sg.function([x], sg.exp(x) + 1, profile=True, name="prof")
    f(np.ones(10))
    f(np.ones(10))
    assert f.profile.calls == 2
    text = f.profile.summary()
    op_class = type(f.fgraph.toposort()[0].op).__name__
    assert "'prof'" in text and op_class in text and "calls: 2" in text
    assert any(phase.startswith("rewrite:") for phase in f.profile.phase_time)


def test_mode_errors():
    with pytest.raises(ValueError, match="unknown mode"):
        sg.function([], sg.constant(1.0), mode="nope")
    with pytest.raises(TypeError):
        sg.function([], sg.constant(1.0), mode=3)


def test_function_without_inputs_and_with_constants():
    f = sg.function([], sg.constant(np.arange(3)) * 2)
    np.testing.assert_array_equal(f(), [0, 2, 4])


def test_trust_input_skips_checks():
    x = sg.dvector("x")
    f = sg.function([x], x + 1, trust_input=True)
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
