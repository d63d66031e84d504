"""A user's elementwise op defined from its scalar definition (``sg.scalar_op``): it fuses and
compiles natively on LLVM and CUDA like a built-in row, differentiates, pickles, and falls back
to its NumPy reference (saying so) only when it has no kernel rule."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph import function_cache
from symgraph.ops import elemwise as ew
from symgraph.ops.composite import Composite


def _softsign_reference(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.abs(x))


def _softsign_rule(e, x):
    return e.div(x, e.add(e.constant(1.0), e.call("fabs", x)))


softsign = sg.scalar_op(
    "test_softsign", _softsign_reference, output_dtype="float",
    grad="g / sqr(1.0 + abs(x))", emit=_softsign_rule,
    doc="softsign, x / (1 + |x|)", domain="every real number",
    reference="Bergstra et al. (2009), 'Quadratic polynomials learn better image features'")


def _op_names(f):
    names = []
    for node in f.fgraph.toposort():
        if isinstance(node.op, Composite):
            names += [row.name for row, _, _ in node.op.program.steps]
        elif isinstance(node.op, ew.Elemwise):
            names.append(node.op.scalar_op.name)
    return names


def test_it_is_a_public_function_with_a_written_docstring():
    assert softsign.__name__ == "test_softsign"
    assert softsign.__doc__.startswith("Elementwise softsign, x / (1 + |x|).\n")
    assert "g / sqr(1.0 + abs(x))" in softsign.__doc__
    assert "Bergstra" in softsign.__doc__


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_it_fuses_and_runs_natively_on_llvm(dtype):
    x = sg.vector("x", dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sg.PerformFallbackWarning)
        f = sg.function([x], sg.tanh(softsign(x)) * 2 + 1, profile=True)
    fused = [n for n in f.fgraph.toposort() if isinstance(n.op, Composite)]
    assert len(fused) == 1 and "test_softsign" in _op_names(f)
    assert set(f.profile.node_notes.values()) == {"kernel"}
    values = np.linspace(-5, 5, 101).astype(dtype)
    expected = np.tanh(_softsign_reference(values.astype("float64"))) * 2 + 1
    # float32: tanh(.) * 2 + 1 cancels near 0, so compare at float32's absolute resolution.
    tolerance = dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-14)
    np.testing.assert_allclose(f(values), expected, **tolerance)
    assert f(values).dtype == dtype


def test_integers_compute_in_float_as_the_dtype_rule_says():
    i = sg.ivector("i")
    f = sg.function([i], softsign(i))
    out = f(np.array([-3, 0, 4], dtype="int32"))
    assert out.dtype == "float64"
    np.testing.assert_allclose(out, _softsign_reference(np.array([-3.0, 0.0, 4.0])))


def test_its_gradient_passes_verify_grad():
    sg.verify_grad(softsign, [np.array([-2.5, -0.3, 0.7, 4.0])], rng=np.random.default_rng(1))


def test_py_mode_runs_the_reference():
    x = sg.dmatrix("x")
    values = np.arange(-6.0, 6.0).reshape(3, 4)
    got = sg.function([x], softsign(x), mode="py")(values)
    np.testing.assert_array_equal(got, _softsign_reference(values))


def test_it_pickles_by_name():
    x = sg.dvector("x")
    f = sg.function([x], softsign(x) * 3)
    g = pickle.loads(pickle.dumps(f))
    values = np.array([-1.0, 0.5, 8.0])
    np.testing.assert_array_equal(g(values), f(values))


def test_graphs_with_it_are_not_kept_in_the_function_cache():
    x = sg.dvector("x")
    assert function_cache.graph_key([x], [softsign(x)], ()) is None
    assert function_cache.graph_key([x], [sg.tanh(x)], ()) is not None


def test_it_emits_as_cuda_c():
    from symgraph.codegen.cuda import elementwise as cuda_ew
    from symgraph.ops.composite import ScalarProgram

    step = (ew.USER_ROWS["test_softsign"], (0,), "float32")
    program = ScalarProgram(("float32",), (step,), (1,))
    kernel = cuda_ew.elementwise_kernel(cuda_ew.ElementwiseSpec(program, ("float32",), 1))
    assert "fabsf(v0)" in kernel.code


def test_it_runs_on_the_cuda_emulator(tmp_path):
    from tests.codegen.cuda_support import emulated_backend, installed_as_cuda

    backend = emulated_backend()
    x = sg.fvector("x")
    with installed_as_cuda(backend, str(tmp_path)):
        f = sg.function([x], softsign(x) * 2, mode="cuda", profile=True)
        values = np.array([-8.0, -1.0, 0.0, 3.0, 64.0], dtype="float32")
        np.testing.assert_allclose(f(values), 2 * _softsign_reference(values), rtol=1e-6)
    assert "perform on the host (no CUDA rule)" not in set(f.profile.node_notes.values())


def test_without_emit_it_runs_its_reference_and_says_so():
    halve = sg.scalar_op("test_halve_no_emit", lambda x: x / 2, output_dtype="same",
                         grad="g / 2")
    x = sg.dvector("x")
    with pytest.warns(sg.PerformFallbackWarning, match="test_halve_no_emit|Composite|Elemwise"):
        # The final tier says so as it builds (a tiered build would say it on its thread).
        f = sg.function([x], halve(x) + 1, tier="final")
    np.testing.assert_array_equal(f(np.array([2.0, 4.0])), [2.0, 3.0])


def test_names_are_unique_and_rules_known():
    with pytest.raises(ValueError, match="built-in"):
        sg.scalar_op("exp", np.exp)
    with pytest.raises(ValueError, match="another definition"):
        sg.scalar_op("test_softsign", _softsign_reference)
    # The same definition again (a re-run script) gives the same op.
    again = sg.scalar_op(
        "test_softsign", _softsign_reference, output_dtype="float",
        grad="g / sqr(1.0 + abs(x))", emit=_softsign_rule, doc="softsign, x / (1 + |x|)",
        domain="every real number",
        reference="Bergstra et al. (2009), 'Quadratic polynomials learn better image features'")
    x = sg.dvector("x")
    assert again(x).owner.op == softsign(x).owner.op
    with pytest.raises(ValueError, match="output_dtype"):
        sg.scalar_op("test_bad_rule", np.exp, output_dtype="complex")


def test_a_wrong_number_of_inputs_is_a_type_error():
    with pytest.raises(TypeError):
        softsign(sg.dvector("a"), sg.dvector("b"))
