"""LLVM kernels on random elementwise graphs, layouts (transposed, strided, broadcast), empty
arrays, threads, reductions and the profile's fallback notes; each compared with "py"."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg

pytest.importorskip("llvmlite")

RAW = sg.Mode("py", rewrites=False)
UNARY = ["exp", "log1p", "tanh", "sigmoid", "sqr", "neg", "abs", "sin", "softplus", "erf",
         "expm1", "floor", "sqrt"]
BINARY = ["add", "sub", "mul", "maximum", "minimum", "true_divide", "pow", "mod", "int_div"]


def _random_graph(rng: np.random.Generator, inputs: list) -> object:
    """A random expression over ``inputs``: unary functions kept in their domain by abs."""
    pool = list(inputs)
    for _ in range(int(rng.integers(3, 9))):
        if rng.random() < 0.45:
            name = str(rng.choice(UNARY))
            x = pool[int(rng.integers(len(pool)))]
            if name in ("log1p", "sqrt"):
                x = sg.abs(x)
            pool.append(getattr(sg, name)(x))
        else:
            name = str(rng.choice(BINARY))
            a, b = (pool[int(rng.integers(len(pool)))] for _ in range(2))
            if name in ("true_divide", "mod", "int_div"):
                b = sg.abs(b) + 0.5
            if name == "pow":
                a, b = sg.abs(a) + 0.1, sg.clip(b, -2, 2)
            pool.append(getattr(sg, name)(a, b))
    return pool[-1]


@pytest.mark.parametrize("seed", range(16))
def test_random_elementwise_graphs(seed):
    rng = np.random.default_rng(seed)
    dtype = ["float32", "float64"][seed % 2]
    x = sg.tensor("x", dtype=dtype, shape=(None, None))
    y = sg.tensor("y", dtype=dtype, shape=(1, None))
    z = sg.tensor("z", dtype="int32" if seed % 3 == 0 else dtype, shape=(None, 1))
    out = _random_graph(rng, [x, y, z])
    values = [rng.uniform(-2, 2, (5, 7)).astype(dtype), rng.uniform(-2, 2, (1, 7)).astype(dtype),
              rng.integers(-3, 4, (5, 1)).astype(z.dtype)]
    want = sg.function([x, y, z], out, mode=RAW, on_unused_input="ignore")(*values)
    f = sg.function([x, y, z], out, mode="llvm", on_unused_input="ignore")
    tol = 2e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(f(*[v.copy() for v in values]), want, rtol=tol, atol=tol)
    transposed = [np.asfortranarray(v) for v in values]
    np.testing.assert_allclose(f(*transposed), want, rtol=tol, atol=tol)


def test_transposed_and_strided_views():
    x, y = sg.dmatrices("x", "y")
    f = sg.function([x, y], sg.exp(x) * y - x, mode="llvm")
    a = np.random.default_rng(0).normal(size=(6, 8))
    b = np.random.default_rng(1).normal(size=(8, 6))
    want = np.exp(a.T) * b - a.T
    np.testing.assert_allclose(f(a.T, b), want, rtol=1e-12)
    big = np.zeros((12, 24))
    big[::2, ::4][:, :6] = b[:6, :6]
    view = big[::2, ::4][:6, :6]
    np.testing.assert_allclose(f(a[:6, :6], view), np.exp(a[:6, :6]) * b[:6, :6] - a[:6, :6],
                               rtol=1e-12)


def test_empty_inputs():
    x = sg.dmatrix("x")
    f = sg.function([x], [sg.exp(x) + 1, x.sum(axis=0), x.sum(axis=1), x.prod()], mode="llvm")
    e, s0, s1, p = f(np.zeros((0, 3)))
    assert e.shape == (0, 3) and s1.shape == (0,)
    np.testing.assert_array_equal(s0, np.zeros(3))
    assert p == 1.0
    g = sg.function([x], x.max(axis=0), mode="llvm")
    with pytest.raises(ValueError, match="identity"):
        g(np.zeros((0, 3)))
    h = sg.function([x], sg.argmax(x, axis=0), mode="llvm")
    with pytest.raises(ValueError):
        h(np.zeros((0, 3)))


def test_runtime_broadcast_mismatch_names_the_node():
    x, y = sg.dmatrices("x", "y")
    f = sg.function([x, y], x * y + 1, mode="llvm")
    with pytest.raises(ValueError, match="do not match"):
        f(np.ones((2, 3)), np.ones((1, 3)))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), 2])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_reductions_match_numpy(axis, dtype):
    x = sg.tensor("x", dtype=dtype, shape=(None, None, None))
    outs = [x.sum(axis=axis), x.max(axis=axis), x.min(axis=axis), sg.argmax(x, axis=axis),
            sg.argmin(x, axis=axis), sg.any(x, axis=axis), sg.all(x, axis=axis)]
    rng = np.random.default_rng(5)
    value = (rng.normal(size=(4, 5, 6)) * 3).astype(dtype)
    want = sg.function([x], outs, mode=RAW)(value)
    got = sg.function([x], outs, mode="llvm")(value)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5)
    got_t = sg.function([x], outs, mode="llvm")(np.transpose(value.transpose(2, 1, 0).copy(),
                                                             (2, 1, 0)))
    for g, w in zip(got_t, want):
        np.testing.assert_allclose(g, w, rtol=1e-5)


def test_bool_sum_and_prod_in_bool_are_any_and_all():
    # NumPy's bool + is a logical or: an i1 add (xor) gave sum([True, True]) == False.
    x = sg.tensor("x", dtype="bool", shape=(None, None))
    outs = [x.sum(axis=1, dtype="bool"), sg.prod(x, axis=1, dtype="bool")]
    value = np.array([[True, True, False], [True, True, True], [False, False, False]])
    got = sg.function([x], outs, mode="llvm")(value)
    np.testing.assert_array_equal(got[0], value.sum(axis=1, dtype=bool))
    np.testing.assert_array_equal(got[1], value.prod(axis=1, dtype=bool))


def test_argmax_ties_and_nan_follow_numpy():
    x = sg.dmatrix("x")
    f = sg.function([x], [sg.argmax(x, axis=1), sg.argmin(x, axis=1), sg.argmax(x)],
                    mode="llvm")
    value = np.array([[1.0, 3.0, 3.0, 0.0], [np.nan, 1.0, np.nan, 5.0], [2.0, 2.0, 2.0, 2.0]])
    got = f(value)
    for g, w in zip(got, [value.argmax(1), value.argmin(1), value.argmax()]):
        np.testing.assert_array_equal(g, w)


def test_fused_reduction_with_elementwise_pre_op():
    x = sg.fmatrix("x")
    out = sg.exp(x - 1).sum(axis=1)
    f = sg.function([x], out, mode="llvm", profile=True)
    value = np.random.default_rng(2).normal(size=(64, 33)).astype("float32")
    np.testing.assert_allclose(f(value), np.exp(value - 1).sum(axis=1), rtol=1e-5)
    kinds = {type(n.op).__name__ for n in f.fgraph.toposort()}
    assert "Elemwise" not in kinds and "Composite" not in kinds


def test_threads_give_the_same_results():
    x = sg.fmatrix("x")
    outs = [sg.tanh(x) * 2 + 1, x.sum(axis=1), (x * x).max(axis=1)]
    value = np.random.default_rng(4).normal(size=(600, 700)).astype("float32")
    with sg.change_flags(num_threads=1):
        serial = sg.function([x], outs, mode="llvm")(value)
    with sg.change_flags(num_threads=2):
        parallel = sg.function([x], outs, mode="llvm")(value)
    for s, p in zip(serial, parallel):
        np.testing.assert_allclose(s, p, rtol=1e-6)


def test_profile_notes_fallbacks():
    x = sg.dvector("x")
    f = sg.function([x], sg.cumsum(sg.exp(x)), mode="llvm", profile=True)
    f(np.arange(4.0))
    summary = f.profile.summary()
    assert "CumOp" in summary and "perform (no LLVM rule)" in summary


def test_float16_and_casts():
    x = sg.tensor("x", dtype="float16", shape=(None,))
    out = sg.cast(sg.exp(x) * 2, "float64") + sg.cast(x, "int32")
    value = np.linspace(-3, 3, 11).astype("float16")
    want = sg.function([x], out, mode=RAW)(value)
    np.testing.assert_allclose(sg.function([x], out, mode="llvm")(value), want, rtol=1e-3)
    y = sg.dvector("y")
    g = sg.function([y], sg.cast(y, "float16"), mode="llvm")
    wide = np.array([1 + 2 ** -11, 1 + 3 * 2 ** -12, 65519.0, 65520.0, 6e-8, -2.9802322e-08])
    with np.errstate(over="ignore"):  # 65520 rounds to inf in float16
        want = wide.astype("float16")
    assert np.array_equal(g(wide).view("uint16"), want.view("uint16"))


def test_an_in_place_kernel_is_vectorised_like_an_out_of_place_one():
    """The output written over its input goes through the input's own pointer, so the loop
    vectorises (a 256x256 tanh after a product was 35 times slower before)."""
    from symgraph.codegen.llvm import lowering
    from symgraph.codegen.llvm.jit import engine
    from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir

    x = sg.fmatrix("x")
    plain = lowering.elementwise_spec(sg.tanh(x).owner, inplace_ok=False)
    in_place = KernelSpec(plain.program, plain.ndim, plain.broadcast, plain.out_dtypes,
                          inplace=True, aliases=((0, 0),))
    wide = [f for f in ("avx512f", "avx2", "avx") if f"+{f}" in engine().features.split(",")]
    if not wide:
        pytest.skip("no AVX on this CPU")
    register = "zmm" if wide[0] == "avx512f" else "ymm"
    for spec in (plain, in_place):
        assert register in engine().assembly(kernel_ir(spec, False)[0])
    # With two pointers the vector loop is guarded by overlap checks, which fail at run time
    # when the pointers are equal (the scalar loop ran); through one pointer there are none.
    optimised = engine().optimized_ir(kernel_ir(in_place, False)[0])
    assert "diff.check" not in optimised and "conflict" not in optimised
    m = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
    p = sg.fmatrix("p")
    f = sg.function([p], sg.tanh(sg.dot(p, p)), tier="final")
    assert any("in place" in note for note in f._native.builder_notes.values())
    np.testing.assert_allclose(f(m), np.tanh(m @ m), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_two_d_reductions_of_column_major_operands(dtype):
    """A column-major (or (n, 1)) operand runs the kernel with its dimensions swapped
    (lowering.transposed_spec), so that the loops follow memory; results as NumPy's, float
    sums within their usual accuracy, max/min bit for bit."""
    from symgraph.codegen.llvm import lowering

    rng = np.random.default_rng(4)
    base = rng.standard_normal((37, 530)) * 3
    value = (base > 0) if dtype == "bool" else base.astype(dtype)
    views = [value, value.T, np.asfortranarray(value), value[::-1, ::-2].T,
             value[:, :1], value[:1, :]]
    x = sg.matrix("x", dtype=dtype)
    kinds = [("any", sg.any, np.any), ("all", sg.all, np.all)] if dtype == "bool" else \
        [("sum", sg.sum, np.sum), ("max", sg.max, np.max), ("min", sg.min, np.min)]
    for name, ours, reference in kinds:
        for axis in (0, 1, None):
            out = ours(x, axis=axis)
            f = sg.function([x], out, mode="llvm", tier="final")
            spec = lowering.reduce_spec(out.owner, None)
            swappable = lowering.transposed_spec(spec) is not None
            assert swappable == (axis is not None or name in ("sum", "any", "all"))
            for view in views:
                want = reference(view, axis=axis)
                if name == "sum" and dtype.startswith("float"):
                    np.testing.assert_allclose(f(view), want, rtol=1e-6 if dtype ==
                                               "float32" else 1e-13, atol=1e-4)
                else:
                    np.testing.assert_array_equal(f(view), want)


def test_reductions_with_and_without_a_swapped_kernel_in_one_function():
    """Reductions with a swapped kernel (max, min, sum) beside ones without (argmax, argmin)
    in one function, whose steps are outlined by their shape (code.py): the outline key says
    whether a step has a swapped kernel, so steps with and without never share code."""
    x = sg.fmatrix("x")
    outs = [sg.max(x, axis=1), sg.argmax(x, axis=1), sg.sum(x), sg.min(x, axis=0),
            sg.argmin(x, axis=0)]
    f = sg.function([x], outs, mode="llvm", tier="final")
    value = np.random.default_rng(5).standard_normal((33, 65)).astype("float32")
    for view in (value, value.T, np.asfortranarray(value)):
        got = f(view)
        for g, want in zip(got, [view.max(axis=1), view.argmax(axis=1), view.sum(),
                                 view.min(axis=0), view.argmin(axis=0)]):
            np.testing.assert_allclose(g, want, rtol=1e-6)


def test_only_operands_of_unknown_layout_get_a_swapped_kernel():
    """An argument may be column-major; a buffer a kernel allocated is C order, so its
    reductions compile one kernel, not two."""
    x, y = sg.fmatrix("x"), sg.fmatrix("y")
    f = sg.function([x, y], [sg.sum(x, axis=0), sg.sum(sg.dot(x, y), axis=0)], mode="llvm",
                    tier="final")
    swapped = [step.match.info[1] is not None for step in f._native.program.steps
               if step.note.startswith("reduction kernel")]
    assert swapped == [True, False]
    value = np.random.default_rng(6).standard_normal((40, 40)).astype("float32")
    for got, want in zip(f(value.T, value), [value.T.sum(axis=0), (value.T @ value).sum(axis=0)]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("user_env, expected", [
    ({}, ("PASSIVE", "10000")),
    ({"OMP_WAIT_POLICY": "ACTIVE"}, ("ACTIVE", None)),
    ({"GOMP_SPINCOUNT": "5"}, ("PASSIVE", "5")),
])
def test_idle_workers_spin_briefly_unless_the_user_says_otherwise(user_env, expected):
    """libgomp's workers spin ~0.1 ms (``jit.SPIN_COUNT``) before sleeping, so that the next
    kernel of a step need not wake them; a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = ("import os; from symgraph.codegen.llvm.jit import engine; engine(); "
            "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))")
    out = subprocess.run([sys.executable, "-c", code], env={**env, **user_env},
                         capture_output=True, text=True, check=True).stdout.split()
    assert tuple(None if v == "None" else v for v in out) == expected
