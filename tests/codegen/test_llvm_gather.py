"""Row gathers and scatters on the "llvm" backend (symgraph/codegen/llvm/native_gather.py):
``W[codes]`` and its gradient run natively, with NumPy's results and errors (negative indices
wrap, duplicates accumulate, an index out of range raises NumPy's IndexError), from many
threads at once; the demo's character LSTM compiles with no ``perform`` fallback."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph import codegen
from symgraph.ops import subtensor as st

pytest.importorskip("llvmlite")


def notes(f) -> list[str]:
    return [step.note for step in f._native.program.steps]


@pytest.fixture
def no_fallback(monkeypatch):
    """Any ``perform`` fallback warns (even for an op class warned about before)."""
    monkeypatch.setattr(codegen, "_WARNED", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error", sg.PerformFallbackWarning)
        yield


def embedding(dtype, index_dtype):
    w = sg.matrix("W", dtype=dtype)
    codes = sg.tensor("codes", dtype=index_dtype, shape=(None, None))
    g = sg.tensor("g", dtype=dtype, shape=(None, None, None))
    looked_up = w[codes]
    grad = sg.grad((looked_up * g).sum(), w)
    return sg.function([w, codes, g], [looked_up, grad], mode="llvm")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_lookup_and_gradient_match_numpy(dtype, index_dtype, no_fallback):
    f = embedding(dtype, index_dtype)
    assert "gather" in notes(f) and any(n.startswith("scatter (add") for n in notes(f))
    rng = np.random.default_rng(0)
    vocab, width = 9, 5
    w = rng.normal(size=(vocab, width)).astype(dtype)
    # Negative codes and duplicates (7 rows, 4 x 3 codes).
    codes = rng.integers(-vocab, vocab, (4, 3)).astype(index_dtype)
    codes[0, :2] = 2
    g = rng.normal(size=(4, 3, width)).astype(dtype)
    looked_up, grad = f(w, codes, g)
    assert looked_up.dtype == dtype and looked_up.shape == (4, 3, width)
    np.testing.assert_array_equal(looked_up, w[codes])
    expected = np.zeros_like(w)
    np.add.at(expected, codes, g)
    np.testing.assert_allclose(grad, expected, rtol=1e-6 if dtype == "float32" else 1e-14)
    # Strided operands: every other row and column of W, transposed codes, a reversed g.
    wide = rng.normal(size=(2 * vocab, 2 * width)).astype(dtype)
    codes_t = np.asfortranarray(codes).T
    g_rev = np.ascontiguousarray(g.transpose(1, 0, 2)[:, :, ::-1])[:, :, ::-1]
    looked_up, grad = f(wide[::2, ::2], codes_t, g_rev)
    np.testing.assert_array_equal(looked_up, wide[::2, ::2][codes_t])
    expected = np.zeros((vocab, width), dtype=dtype)
    np.add.at(expected, codes_t, g_rev)
    np.testing.assert_allclose(grad, expected, rtol=1e-6 if dtype == "float32" else 1e-14)
    assert f.fallbacks == 0


def test_empty_index_and_rank_one_table(no_fallback):
    v = sg.vector("v")
    i = sg.lvector("i")
    f = sg.function([v, i], [v[i], sg.grad(v[i].sum(), v)], mode="llvm")
    values = np.arange(5.0)
    got, grad = f(values, np.array([4, -5, 4]))
    np.testing.assert_array_equal(got, [4.0, 0.0, 4.0])
    np.testing.assert_array_equal(grad, [1.0, 0, 0, 0, 2.0])
    got, grad = f(values, np.zeros(0, dtype=np.int64))
    assert got.shape == (0,) and not grad.any()
    # An empty table with an empty index is fine; any index into it is out of range.
    got, _ = f(np.zeros(0), np.zeros(0, dtype=np.int64))
    assert got.shape == (0,) and f.fallbacks == 0
    with pytest.raises(IndexError):
        f(np.zeros(0), np.array([0]))


@pytest.mark.parametrize("bad", [9, -10, 2**40])
def test_index_out_of_range_raises_numpys_error(bad):
    w = sg.matrix("W")
    codes = sg.imatrix("codes") if abs(bad) < 2**31 else sg.lmatrix("codes")
    y = sg.tensor3("y")
    lookup = sg.function([w, codes], w[codes], mode="llvm", tier="final")
    scatter = sg.function([w, codes, y], st.inc_subtensor(w[codes], y), mode="llvm",
                          tier="final")
    w_value = np.ones((9, 2))
    codes_value = np.array([[1, bad]], dtype=codes.dtype)
    y_value = np.ones((1, 2, 2))
    with pytest.raises(IndexError) as numpy_error:
        w_value[codes_value]
    for f, args in ((lookup, (w_value, codes_value)), (scatter, (w_value, codes_value, y_value))):
        with pytest.raises(IndexError) as info:
            f(*args)
        assert str(numpy_error.value) in str(info.value)
        assert f.fallbacks == 1
    # The scatter checks every index before it writes: its input is untouched.
    np.testing.assert_array_equal(w_value, np.ones((9, 2)))


def test_increment_that_does_not_fit_raises_the_reference_error():
    x, y = sg.matrix("x"), sg.matrix("y")
    i = sg.lvector("i")
    f = sg.function([x, y, i], st.inc_subtensor(x[i], y), mode="llvm")
    reference = sg.function([x, y, i], st.inc_subtensor(x[i], y), mode="py")
    args = (np.zeros((4, 3)), np.ones((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError) as info:
        reference(*args)
    with pytest.raises(ValueError, match="does not fit") as got:
        f(*args)
    assert str(info.value).splitlines()[0] == str(got.value).splitlines()[0]


def test_set_and_broadcast_increment_in_place(no_fallback):
    x = sg.matrix("x")
    i = sg.imatrix("i")
    row, scalar = sg.vector("row"), sg.scalar("s")
    base = sg.exp(x)  # an arena buffer nothing else reads: updated in place
    f = sg.function([x, i, row, scalar],
                    [st.inc_subtensor(base[i], row) * 1.0, st.set_subtensor(x[i], scalar)],
                    mode="llvm")
    assert "scatter (add, in place)" in notes(f) and "scatter (set)" in notes(f)
    xv = np.arange(12.0).reshape(4, 3) / 10
    iv = np.array([[3, 0], [-1, 3]], dtype=np.int32)
    rv = np.array([1.0, 2.0, 3.0])
    added, was_set = f(xv, iv, rv, 7.0)
    expected = np.exp(xv)
    np.add.at(expected, iv, np.broadcast_to(rv, (2, 2, 3)))
    np.testing.assert_allclose(added, expected, rtol=1e-15)
    expected = xv.copy()
    expected[iv] = 7.0
    np.testing.assert_array_equal(was_set, expected)


def test_verify_grad_through_the_lookup_on_llvm():
    rng = np.random.default_rng(3)
    codes = np.array([[0, 4, -1], [2, 2, 0]])
    sg.verify_grad(lambda w: sg.tanh(w[codes]), [rng.normal(size=(5, 3))], mode="llvm", rng=rng)
    sg.verify_grad(lambda x, y: st.inc_subtensor(x[codes], y) ** 2,
                   [rng.normal(size=(5, 3)), rng.normal(size=(2, 3, 3))], mode="llvm", rng=rng)


def test_many_threads_share_one_function(no_fallback):
    f = embedding("float64", "int64")
    rng = np.random.default_rng(1)
    # Rows of 600: most calls copy more than 2**16 elements, with the GIL released.
    w = rng.normal(size=(50, 600))
    cases = []
    for _ in range(8):
        codes = rng.integers(-50, 50, (rng.integers(10, 40), 4))
        g = rng.normal(size=codes.shape + (600,))
        expected = np.zeros_like(w)
        np.add.at(expected, codes, g)
        cases.append((codes, g, w[codes], expected))
    failures = []
    start = threading.Barrier(len(cases))

    def work(codes, g, looked_up, expected):
        start.wait()
        for _ in range(100):
            got, grad = f(w, codes, g)
            if not (np.array_equal(got, looked_up) and np.allclose(grad, expected,
                                                                   rtol=1e-14, atol=1e-14)):
                failures.append(codes.shape)
                return

    threads = [threading.Thread(target=work, args=case) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and f.fallbacks == 0


def test_demo_lstm_compiles_without_fallback(no_fallback):
    from symgraph.demo import charlstm
    from symgraph.demo.training import adam

    params = charlstm.init_params(11, 6, np.random.default_rng(0), "float64")
    sample = charlstm.compile_sampler(params, "llvm")
    assert "gather" in notes(sample)
    inputs, targets, loss = charlstm.sequence_loss(params)
    train = sg.function([inputs, targets], loss, mode="llvm",
                        updates=adam(loss, params.all(), 0.01, clip_norm=5.0))
    assert "gather" in notes(train)
    assert any(n.startswith("scatter (add, in place") for n in notes(train)), notes(train)
    x = np.random.default_rng(1).integers(0, 11, (5, 2))
    reference = sg.function([inputs, targets], loss, mode="py")
    expected = reference(x, x)  # before the step updates the parameters
    np.testing.assert_allclose(train(x, x), expected, rtol=1e-12)
    assert train.fallbacks == 0
