"""The whole-function native entry point of the "llvm" backend: argument checks, fresh outputs,
updates, the memory plan, BLAS calls, indexing, ``perform`` fallbacks and the profile; every
result compared with the reference backend or NumPy."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest

import symgraph as sg

pytest.importorskip("llvmlite")

from symgraph.codegen.llvm import blas, capi

RAW = sg.Mode("py", rewrites=False)


def notes(f) -> list[str]:
    return [step.note for step in f._native.program.steps]


def compare(inputs, outputs, values, tol=1e-12):
    want = sg.function(inputs, outputs, mode=RAW, on_unused_input="ignore")(*values)
    f = sg.function(inputs, outputs, mode="llvm", on_unused_input="ignore")
    got = f(*values)
    if not isinstance(outputs, list):
        got, want = [got], [want]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    assert f.fallbacks == 0
    return f


def test_layout_self_test_passes_here():
    assert isinstance(capi.api(), capi.Api)


def test_every_call_runs_the_entry_point():
    u, v = sg.dscalars("u", "v")
    f = sg.function([u, v], u + v, mode="llvm")
    assert f._native is not None
    for _ in range(3):
        assert f(np.asarray(1.5), np.asarray(2.5)) == 4.0
    assert f.fallbacks == 0


def test_arguments_that_need_converting_are_converted_once_then_run_natively():
    x = sg.fvector("x")
    f = sg.function([x], x * 2, mode="llvm")
    np.testing.assert_array_equal(f([1, 2]), [2.0, 4.0])
    np.testing.assert_array_equal(f(x=np.ones(2, "float32")), [2.0, 2.0])
    assert f.fallbacks == 0


def test_bad_arguments_raise_the_usual_errors():
    # The count, rank and dtype errors: tests/test_function.py, test_input_errors_name_the_input,
    # which runs in this mode too.
    x, y = sg.dmatrix("x"), sg.ivector("y")
    f = sg.function([x, y], x.sum() + y.sum(), name="loss", mode="llvm")
    with pytest.raises(TypeError, match="input 0"):
        f("text", np.zeros(3, dtype="int32"))
    z = sg.tensor("z", dtype="float64", shape=(2, None))
    g = sg.function([z], z * 2, mode="llvm")
    with pytest.raises(TypeError, match="static shape"):
        g(np.zeros((3, 4)))


def test_non_native_layouts_are_accepted():
    x = sg.dvector("x")
    f = sg.function([x], x + 1, mode="llvm")
    swapped = np.arange(4.0).astype(">f8")
    np.testing.assert_array_equal(f(swapped), [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(f(np.arange(8.0)[::-2]), [8.0, 6.0, 4.0, 2.0])


def test_trust_input_runs_natively_and_still_refuses_non_arrays():
    x = sg.dvector("x")
    f = sg.function([x], x + 1, mode="llvm", trust_input=True)
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
    assert f.fallbacks == 0
    np.testing.assert_array_equal(f([0.0, 1.0]), [1.0, 2.0])  # the Python path takes it


def test_outputs_are_fresh_arrays_the_caller_owns():
    x = sg.dmatrix("x")
    f = sg.function([x], [x, x.T, x * 2, sg.constant(np.ones(2))], mode="llvm")
    a = np.ones((2, 3))
    same, transposed, _, constant = f(a)
    for out in (same, transposed):
        assert not np.shares_memory(out, a)
    same[0, 0] = transposed[0, 0] = constant[0] = 7.0
    assert a[0, 0] == 1.0
    np.testing.assert_array_equal(f(a)[3], [1.0, 1.0])
    first = f(a)[2]
    second = f(a + 1)[2]
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, 2 * a)


def test_intermediate_buffers_are_reused_between_calls_and_values():
    x = sg.dvector("x")
    out = x
    for k in range(6):
        out = sg.exp(out) * 0.5 if k % 2 else sg.sin(out) + sg.cos(out)
    f = sg.function([x], [out, out.sum()], mode="llvm")
    program = f._native.program
    arena = [s for s in {id(s): s for s in program.storage.values()}.values()
             if s.kind == "arena"]
    assert program.n_buffers <= max(2, len(arena))
    values = np.linspace(-1, 1, 50)
    want = sg.function([x], [out, out.sum()], mode=RAW)(values)
    for _ in range(3):
        got = f(values)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_updates_are_assigned_fresh_arrays():
    w = sg.shared(np.ones(3), name="w")
    x = sg.dvector("x")
    f = sg.function([x], (w * x).sum(), updates={w: w - 0.5 * x}, mode="llvm")
    before = w.get_value(borrow=True)
    assert f(np.ones(3)) == 3.0
    np.testing.assert_array_equal(w.get_value(), [0.5, 0.5, 0.5])
    assert not np.shares_memory(w.get_value(borrow=True), before)
    w.set_value(np.arange(6.0)[::2])  # another buffer, read at the next call
    assert f(np.ones(3)) == 6.0
    w.set_value(np.ones(4))
    assert f.fallbacks == 0
    with pytest.raises(ValueError):
        f(np.ones(3))


def test_profile_times_every_step_and_notes_perform():
    x = sg.dvector("x")
    f = sg.function([x], sg.cumsum(sg.exp(x)), mode="llvm", profile=True)
    f(np.arange(4.0))
    f(np.arange(4.0))
    assert f.profile.calls == 2
    assert sum(f.profile.node_calls.values()) >= 4
    summary = f.profile.summary()
    assert "CumOp" in summary and "perform (no LLVM rule)" in summary and "kernel" in summary
    # The summary says what the node times leave out and what timing them costs.
    in_nodes = sum(f.profile.node_time.values())
    assert 0 < in_nodes <= f.profile.call_time
    assert f"time in nodes: {in_nodes * 1e3:.3f} ms" in summary
    assert "timing overhead: two clock reads per node call" in summary
    from symgraph.profiling import clock_read_seconds
    assert 0 < clock_read_seconds() < 1e-5


def test_the_profilers_own_bookkeeping_is_not_call_time(monkeypatch):
    """Moving the steps' timings into the profile happens after the call's clock stops: a
    slow collection does not show up as the function's "argument checks and allocation"."""
    from symgraph.codegen.llvm.native import NativeFunction

    x = sg.dvector("x")
    f = sg.function([x], sg.exp(x) * 2, mode="llvm", profile=True)
    collect = NativeFunction.collect

    def slow(self, profile):
        time.sleep(0.02)
        collect(self, profile)
    monkeypatch.setattr(NativeFunction, "collect", slow)
    for _ in range(3):
        f(np.arange(4.0))
    assert f.profile.calls == 3 and f.profile.call_time < 0.02
    assert sum(f.profile.node_calls.values()) >= 3


def test_perform_fallback_receives_views_of_arena_memory():
    x = sg.dmatrix("x")
    mid = sg.exp(x).T  # a view of an arena buffer, read by a perform-only op
    f = compare([x], [sg.cumsum(mid, axis=0), sg.nnet.softmax(mid)],
                [np.random.default_rng(0).normal(size=(3, 4))])
    assert any("perform" in n for n in notes(f))


def test_calls_from_several_threads_agree():
    x = sg.dvector("x")
    f = sg.function([x], sg.tanh(x) * 3 + x.sum(), mode="llvm")
    values = [np.linspace(-1, 1, 1000) * k for k in range(8)]
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        for _ in range(50):
            results[k] = f(values[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        np.testing.assert_allclose(results[k], np.tanh(values[k]) * 3 + values[k].sum(), atol=1e-12,
                                   rtol=1e-12)


def test_without_the_layout_the_python_path_serves_every_call(monkeypatch):
    monkeypatch.setattr(capi, "api", lambda: capi.LayoutError("simulated"))
    x = sg.dvector("x")
    f = sg.function([x], x * 2, mode="llvm")
    assert f._native is None
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])


# -- BLAS --------------------------------------------------------------------------------------

LAYOUTS = {
    "c": lambda a: a,
    "f": np.asfortranarray,
    "strided": lambda a: np.repeat(np.repeat(a, 2, axis=0), 2, axis=-1)[::2, ::2]
    if a.ndim == 2 else np.repeat(a, 2)[::2],
    "reversed": lambda a: a[::-1].copy()[::-1],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matrix_products_call_blas_for_every_layout(layout, dtype):
    rng = np.random.default_rng(1)
    tol = 1e-4 if dtype == "float32" else 1e-12
    A, B = (sg.tensor(n, dtype=dtype, shape=(None, None)) for n in "AB")
    v, w = (sg.tensor(n, dtype=dtype, shape=(None,)) for n in "vw")
    a, b = rng.normal(size=(5, 4)).astype(dtype), rng.normal(size=(4, 3)).astype(dtype)
    x, y = rng.normal(size=4).astype(dtype), rng.normal(size=5).astype(dtype)
    make = LAYOUTS[layout]
    cases = [([A, B], sg.dot(A, B), [a, b]), ([A, v], sg.dot(A, v), [a, x]),
             ([v, A], sg.dot(v, A), [y, a]), ([v, w], sg.dot(v, w), [x, x]),
             ([A, B, v], sg.dot(A, B) * 2 + v[:3], [a, b, x]),
             ([A, v, w], A + 0.5 * sg.outer(w, v), [a, x, y]),
             ([A, v], sg.dot(A.T, v) * 3 - 1, [a, y])]
    for inputs, out, values in cases:
        f = compare(inputs, out, [make(val) for val in values], tol)
        assert any(n.startswith("BLAS") for n in notes(f)), (out, notes(f))


def test_batched_matmul_and_tensordot_call_gemm():
    rng = np.random.default_rng(2)
    T = sg.dtensor3("T")
    W = sg.dmatrix("W")
    t, w = rng.normal(size=(3, 5, 4)), rng.normal(size=(4, 2))
    for values in ([t, w], [t[:, ::-1], w], [t.transpose(1, 0, 2), np.asfortranarray(w)]):
        f = compare([T, W], sg.matmul(T, W), values)
        assert any(n.startswith("BLAS") for n in notes(f))
    U = sg.dtensor3("U")
    u = rng.normal(size=(3, 5, 2))
    f = compare([T, U], sg.tensordot(T, U, axes=[[0, 1], [0, 1]]), [t, u])
    assert "BLAS gemm" in notes(f)
    compare([T, U], sg.tensordot(T, U, axes=[[0, 1], [0, 1]]), [t[::-1], u.transpose(0, 1, 2)])
    # Operands with a reversed axis are copied in the layout whose innermost axis is the
    # source's (contracted last, or free last: a scan gradient's reversed states).
    compare([T, W], sg.tensordot(T[::-1], W, axes=[[2], [0]]), [t, w])
    compare([T, U], sg.tensordot(T[::-1].dimshuffle(0, 2, 1), U, axes=[[0, 2], [0, 1]]),
            [t, u])
    compare([T, U], sg.tensordot(U, T[:, ::-1], axes=[[0, 1], [0, 1]]), [t, u])
    compare([T, U], sg.matmul(T, U.dimshuffle(0, 2, 1)), [t[:, ::2], rng.normal(size=(3, 2, 4))])


def test_without_blas_products_run_their_perform(monkeypatch):
    monkeypatch.setattr(blas, "library", lambda: None)
    A, B = sg.dmatrices("A", "B")
    f = compare([A, B], sg.dot(A, B) + 1, [np.ones((2, 3)), np.ones((3, 2))])
    assert not any(n.startswith("BLAS") for n in notes(f))


def test_mismatched_products_raise_from_the_python_path():
    A, B = sg.dmatrices("A", "B")
    f = sg.function([A, B], sg.dot(A, B), mode="llvm")
    with pytest.raises(ValueError, match="not aligned"):
        f(np.ones((2, 3)), np.ones((2, 3)))


# -- indexing ----------------------------------------------------------------------------------

def test_slices_with_run_time_bounds_follow_python():
    x = sg.dmatrix("x")
    i, j, k = sg.lscalars("i", "j", "k")
    f = sg.function([x, i, j, k], x[1:, i:j:k], mode="llvm")
    value = np.arange(42.0).reshape(6, 7)
    rng = np.random.default_rng(3)
    for _ in range(300):
        a, b = (int(v) for v in rng.integers(-10, 10, 2))
        c = int(rng.choice([-3, -2, -1, 1, 2, 3]))
        got = f(value, np.asarray(a), np.asarray(b), np.asarray(c))
        np.testing.assert_array_equal(got, value[1:, a:b:c])
    assert f.fallbacks == 0
    assert "view" in notes(f)
    with pytest.raises(ValueError, match="step"):
        f(value, np.asarray(0), np.asarray(3), np.asarray(0))


def test_integer_indices_newaxis_and_ellipsis():
    x = sg.dtensor3("x")
    i = sg.lscalar("i")
    value = np.arange(24.0).reshape(2, 3, 4)
    for index in [(1,), (-1, 2), (i,), (Ellipsis, i), (None, Ellipsis, 0), (slice(None), None, -2)]:
        numpy_index = tuple(-1 if e is i else e for e in index)
        f = compare([x, i], x[index], [value, np.asarray(-1)])
        np.testing.assert_array_equal(f(value, np.asarray(-1)), value[numpy_index])
    f = sg.function([x, i], x[i], mode="llvm")
    with pytest.raises(IndexError):
        f(value, np.asarray(5))


def test_set_and_inc_subtensor_alloc_and_join():
    x, y = sg.dmatrix("x"), sg.dvector("y")
    i = sg.lscalar("i")
    value, row = np.arange(12.0).reshape(3, 4), np.array([1.0, 2.0, 3.0, 4.0])
    for out in (sg.set_subtensor(x[i], y), sg.inc_subtensor(x[:, 1:3], y[:2]),
                sg.inc_subtensor(x[::-1], y), sg.set_subtensor(x[1:, ::2], 5.0),
                sg.concatenate([x, x[:1] * 2], axis=0), sg.concatenate([x.T, x.T], axis=1),
                sg.alloc(y, 3, 4) + x, sg.alloc(sg.constant(2.0), i, 2)):
        f = compare([x, y, i], out, [value, row, np.asarray(1)])
        assert not any("perform" in n for n in notes(f)), notes(f)
    f = sg.function([x, y], sg.set_subtensor(x[0], y), mode="llvm")
    with pytest.raises(ValueError):
        f(value, np.ones(3))


def test_reshape_views_contiguous_values_and_copies_others():
    x, s = sg.dtensor3("x"), sg.lvector("s")
    value = np.arange(24.0).reshape(2, 3, 4)
    f = sg.function([x, s], x.reshape(s, ndim=2), mode="llvm")
    for source, shape in [(value, (6, 4)), (value, (-1, 3)), (value.transpose(2, 0, 1), (4, -1)),
                          (np.zeros((0, 3, 4)), (0, 5))]:
        np.testing.assert_array_equal(f(source, np.array(shape)), np.reshape(source, shape))
    assert f.fallbacks == 0 and notes(f) == ["view (or copy)"]
    with pytest.raises(ValueError, match="cannot reshape"):
        f(value, np.array([5, -1]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_family_and_crossentropy_run_as_kernels(dtype):
    rng = np.random.default_rng(4)
    tol = 2e-5 if dtype == "float32" else 1e-12
    x, y = sg.tensor("x", dtype=dtype, shape=(None, None)), sg.tensor3("y", dtype=dtype)
    t = sg.lvector("t")
    xv, yv = (rng.normal(size=(6, 5)) * 5).astype(dtype), rng.normal(size=(2, 3, 4)).astype(dtype)
    tv = rng.integers(0, 5, 6)
    loss = sg.nnet.categorical_crossentropy(sg.nnet.softmax(x), t).mean()
    for inputs, out, values in [([x], sg.nnet.softmax(x), [xv]),
                                ([x], sg.nnet.log_softmax(x, axis=0), [np.asfortranarray(xv)]),
                                ([y], sg.nnet.softmax(y, axis=1), [yv]),
                                ([y], sg.nnet.log_softmax(y, axis=None), [yv]),
                                ([x, t], [loss, sg.grad(loss, x)], [xv, tv])]:
        f = compare(inputs, out, values, tol)
        assert not any("perform" in n for n in notes(f)), notes(f)
    f = sg.function([x, t], loss, mode="llvm")
    with pytest.raises(ValueError, match="class indices"):
        f(xv, np.full(6, 5))


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_float32_softmax_crossentropy_is_accurate(mode):
    # Each loss within 1e-6 relative of the float64 value, plus a few float32 ulps of 1:
    # log(sum(exp(x - max))) of a sum >= 1 is only that accurate absolutely (small losses).
    # The LLVM kernel computed (max + log(sum)) - x[t]: errors of ulp(max), ~16 ulps of 1
    # here and the whole loss for rows with large logits.
    x, t = sg.fmatrix("x"), sg.ivector("t")
    f = sg.function([x, t], sg.nnet.categorical_crossentropy(sg.nnet.softmax(x), t), mode=mode)
    if mode == "llvm":
        assert notes(f) == ["kernels"]
    eps = np.finfo(np.float32).eps
    rng = np.random.default_rng(11)
    for offset in (0.0, 30.0, -30.0):
        logits = (rng.normal(size=(64, 10)) * 5 + offset).astype(np.float32)
        labels = rng.integers(0, 10, 64).astype(np.int32)
        shifted = logits - logits.max(axis=1, keepdims=True).astype(np.float64)
        want = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(64), labels]
        got = f(logits, labels)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=4 * eps, err_msg=f"{offset}")


def test_calls_keep_no_references_and_leak_no_memory():
    import sys
    import tracemalloc

    w = sg.shared(np.ones(50), name="w")
    x, i = sg.dvector("x"), sg.lscalar("i")
    outs = [sg.cumsum(w * x), (w * x).sum(), x[i:], x.T]
    f = sg.function([x, i], outs, updates={w: w * 0.999}, mode="llvm")
    value, start = np.ones(50), np.asarray(3)
    counts = sys.getrefcount(value), sys.getrefcount(start)
    for _ in range(20):
        f(value, start)
    tracemalloc.start()
    try:
        for _ in range(5000):  # NumPy's small-block caches fill up first
            f(value, start)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5000):
            f(value, start)
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < 16 * 1024, growth
    assert (sys.getrefcount(value), sys.getrefcount(start)) == counts
    assert f.fallbacks == 0


# -- what the entry point refuses or reports ---------------------------------------------------

def test_trusted_inputs_of_another_dtype_are_converted_not_misread():
    x = sg.dvector("x")
    f = sg.function([x], x * 2, trust_input=True)
    small = np.arange(5, dtype=np.int8)
    np.testing.assert_array_equal(f(small), small.astype("float64") * 2)
    np.testing.assert_array_equal(f(np.arange(3.0)), np.arange(3.0) * 2)


class _Shrink(sg.Op):
    """Declares float64 and returns float32: a bug in a user's op."""

    __props__ = ()

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].astype("float32")


def test_a_perform_returning_the_wrong_dtype_raises_as_on_the_reference():
    x = sg.dvector("x")
    for mode in ("llvm", "py"):
        f = sg.function([x], _Shrink()(x) + 1, mode=mode)
        with pytest.raises(TypeError, match="float32.*declared"):
            f(np.arange(3.0))


@pytest.mark.parametrize("n", [10**7, 10**10])
def test_allocations_too_large_raise_memory_error_naming_the_node(n):
    size = sg.lscalar("size")
    f = sg.function([size], sg.zeros((size, size)) + 1)
    with pytest.raises(MemoryError) as info:
        f(n)
    assert "test_llvm_native.py" in str(info.value)  # the line that built the node
    np.testing.assert_array_equal(f(3), np.ones((3, 3)))


def test_a_node_without_native_rule_warns_once_per_op_class_at_the_users_line():
    class Negate(sg.Op):
        __props__ = ()

        def make_node(self, x):
            x = sg.as_tensor_variable(x)
            return sg.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = -inputs[0]

    x = sg.dvector("x")
    with pytest.warns(sg.PerformFallbackWarning, match="Negate.*no llvm rule") as record:
        f = sg.function([x], Negate()(x) * 2, tier="final")
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = sg.function([x], Negate()(x) + 1, tier="final")  # the same op class: no second warning
    np.testing.assert_array_equal(f(np.arange(3.0)), -2 * np.arange(3.0))
    np.testing.assert_array_equal(g(np.arange(3.0)), 1 - np.arange(3.0))


def test_fallback_warnings_can_be_turned_off():
    class Twice(sg.Op):
        __props__ = ()

        def make_node(self, x):
            x = sg.as_tensor_variable(x)
            return sg.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = inputs[0] * 2

    x = sg.dvector("x")
    with sg.change_flags(warn_fallback=False), warnings.catch_warnings():
        warnings.simplefilter("error")
        f = sg.function([x], Twice()(x) + 1, tier="final")
    np.testing.assert_array_equal(f(np.arange(3.0)), 2 * np.arange(3.0) + 1)


def test_threads_asking_first_for_the_c_api_table_share_one(monkeypatch):
    # Code is linked against the table's address: a second table made by a racing thread
    # and then dropped would leave that code reading freed memory (it crashed the
    # data-parallel example, a kept entry point loading while a background build started).
    monkeypatch.setattr(capi, "_API", [])
    start = threading.Barrier(8)
    tables = []

    def first_call():
        start.wait()
        tables.append(capi.api())

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tables) == 8 and all(table is tables[0] for table in tables)
    assert capi.api() is tables[0]
