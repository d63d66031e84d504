"""Scan compiled as one native loop by the "llvm" backend: the Theano-tutorial loops, taps,
until, go_backwards, nested loops, gradients and recurrent networks give what the reference
backend gives, with no Python in the loop body."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.scan import Scan, foldr, map, scan, until

pytest.importorskip("llvmlite")

RAW = sg.Mode("py", rewrites=False)


def loop_notes(f) -> list[str]:
    return [step.note for step in f._native.program.steps if isinstance(step.node.op, Scan)]


def body_notes(f) -> list[str]:
    return [inner.note for step in f._native.program.steps if isinstance(step.node.op, Scan)
            and step.note.startswith("native loop") for inner in step.match.info.steps]


def check(inputs, outputs, *values, tol=1e-10, updates=None):
    """llvm equals py; every loop is native and no call fell back to Python."""
    f = sg.function(inputs, outputs, mode="llvm", updates=updates)
    got = f(*values)
    want = sg.function(inputs, outputs, mode=RAW, updates=updates)(*values)
    if not isinstance(outputs, list):
        got, want = [got], [want]
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    assert f.fallbacks == 0
    assert all(n.startswith("native loop") for n in loop_notes(f))
    return f


def test_power_state_and_non_sequence():
    A, k = sg.dvector("A"), sg.lscalar("k")
    result, _ = scan(lambda prior, A: prior * A, outputs_info=sg.ones_like(A), non_sequences=A,
                     n_steps=k)
    a = np.array([1.0, 2.0, 3.0])
    f = check([A, k], result, a, np.asarray(4))
    np.testing.assert_allclose(f(a, np.asarray(10))[-1], a ** 10)
    assert f(a, np.asarray(0)).shape == (0, 3)
    assert not any("perform" in n for n in body_notes(f))


def test_polynomial_over_sequences_of_different_lengths():
    c, x = sg.dvector("c"), sg.dscalar("x")
    terms, _ = scan(lambda c, p, x: c * x ** p, sequences=[c, sg.arange(1000)],
                    non_sequences=x)
    check([c, x], terms.sum(), np.array([1.0, 0.0, 2.0, -1.5]), np.asarray(3.0))


def test_fibonacci_with_output_taps_and_sequence_taps():
    x0, v = sg.dvector("x0"), sg.dvector("v")
    fib, _ = scan(lambda a, b: a + b, outputs_info={"initial": x0, "taps": [-2, -1]},
                  n_steps=10)
    check([x0], fib, np.array([1.0, 1.0]))
    out, _ = scan(lambda before, after: before * 100 + after,
                  sequences={"input": v, "taps": [-1, 2]})
    check([v], out, np.array([3.0, -1.0, 4.0, 1.0, 5.0, 9.0]))


def test_until_go_backwards_and_folds():
    limit, v = sg.dscalar("limit"), sg.dvector("v")
    values, _ = scan(lambda p: (p * 2, until(p * 2 > limit)), outputs_info=sg.constant(1.0),
                     n_steps=100)
    f = check([limit], [values, values.shape[0]], np.asarray(40.0))
    np.testing.assert_allclose(f(np.asarray(0.5))[0], [2.0])
    assert f(np.asarray(1e300))[1] == 100
    back, _ = scan(lambda x, acc: acc + x, sequences=v, outputs_info=sg.constant(0.0),
                   go_backwards=True)
    data = np.arange(1.0, 6.0)
    check([v], back, data)
    check([v], foldr(lambda x, acc: acc * 10 + x, v, sg.constant(0.0))[0], data)
    check([v], map(lambda x: x * 2, v)[0], data)


def test_states_that_swap_or_alias_their_inputs():
    a0, b0 = sg.dvector("a0"), sg.dvector("b0")
    (a, b), _ = scan(lambda a, b: (b, a), outputs_info=[a0, b0], n_steps=5)
    check([a0, b0], [a, b], np.ones(3), np.zeros(3))
    m0 = sg.dmatrix("m0")
    ms, _ = scan(lambda m: m.T * 2, outputs_info=m0, n_steps=3)
    check([m0], ms, np.arange(9.0).reshape(3, 3))


def test_nested_loops_and_loops_over_matrices():
    M = sg.dmatrix("M")
    rows, _ = scan(lambda row: scan(lambda x, acc: acc + x * x, sequences=row,
                                    outputs_info=sg.constant(0.0))[0][-1], sequences=M)
    check([M], rows, np.arange(12.0).reshape(3, 4))


def test_gradient_of_an_elman_network():
    rng = np.random.default_rng(0)
    x = sg.tensor3("x", dtype="float32")
    W = sg.shared(rng.normal(0, 0.3, (4, 6)).astype("float32"), name="W")
    U = sg.shared(rng.normal(0, 0.3, (6, 6)).astype("float32"), name="U")
    b = sg.shared(np.zeros(6, "float32"), name="b")
    hs, _ = scan(lambda x_t, h, W, U, b: sg.tanh(sg.dot(x_t, W) + sg.dot(h, U) + b),
                 sequences=x, outputs_info=sg.zeros((x.shape[1], 6), dtype="float32"),
                 non_sequences=[W, U, b])
    loss = (hs ** 2).mean()
    f = check([x], [loss, *sg.grad(loss, [W, U, b])],
              rng.normal(size=(7, 3, 4)).astype("float32"), tol=1e-5)
    body = body_notes(f)
    assert any(n.startswith("BLAS") for n in body) and not any("perform" in n for n in body)


def test_lstm_forward_and_gradient():
    rng = np.random.default_rng(1)
    H = 5
    x = sg.tensor3("x")
    W = sg.shared(rng.normal(0, 0.3, (3, 4 * H)), name="W")
    U = sg.shared(rng.normal(0, 0.3, (H, 4 * H)), name="U")

    def step(x_t, h, c, W, U):
        g = sg.dot(x_t, W) + sg.dot(h, U)
        i, f, o = (sg.sigmoid(g[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * sg.tanh(g[:, 3 * H:])
        return o * sg.tanh(c_new), c_new

    zeros = sg.zeros((x.shape[1], H))
    (hs, _), _ = scan(step, sequences=x, outputs_info=[zeros, zeros], non_sequences=[W, U])
    loss = (hs ** 2).sum()
    f = check([x], [loss, *sg.grad(loss, [W, U])], rng.normal(size=(6, 2, 3)), tol=1e-9)
    assert not any("perform" in n for n in body_notes(f))


def test_loops_with_random_states_run_the_python_loop():
    stream = sg.random.RandomStream(3)
    v = sg.dvector("v")
    noisy, updates = scan(lambda x: x + stream.normal(size=()), sequences=v)
    f = sg.function([v], noisy, updates=updates, mode="llvm")
    first, second = f(np.zeros(4)), f(np.zeros(4))
    assert first.shape == (4,) and not np.allclose(first, second)
    assert f.fallbacks == 0 and loop_notes(f) == ["perform (no LLVM rule)"]


def test_errors_hand_the_call_to_the_python_loop():
    h0, v = sg.dvector("h0"), sg.dvector("v")
    out, _ = scan(lambda h, v: v, outputs_info=h0, non_sequences=v, n_steps=2)
    f = sg.function([h0, v], out, mode=sg.Mode("llvm", rewrites=False))
    with pytest.raises(ValueError, match="state 0"):
        f(np.zeros(2), np.ones(3))
    s = sg.dvector("s")
    doubled, _ = scan(lambda x: x * 2, sequences=s, n_steps=5)
    g = sg.function([s], doubled, mode=sg.Mode("llvm", rewrites=False))
    np.testing.assert_allclose(g(np.arange(6.0)), np.arange(5.0) * 2)
    with pytest.raises(ValueError, match="fewer than the 5 steps"):
        g(np.arange(3.0))


def test_loops_in_the_reference_schedule_run_their_body_natively(monkeypatch):
    from symgraph.codegen.llvm.native import NativeFunction

    steps = []
    run = NativeFunction.run
    monkeypatch.setattr(NativeFunction, "run",
                        lambda self, args: steps.append(self.spec.name) or run(self, args))
    c, v = sg.dscalar("c"), sg.dvector("v")
    total, _ = scan(lambda x, acc: acc + x, sequences=v, outputs_info=sg.constant(0.0))
    f = sg.function([c, v], sg.ifelse(c > 0, total, -total), mode="llvm")
    assert f._native is None  # lazy graphs use the reference schedule
    np.testing.assert_allclose(f(1.0, np.arange(5.0)), np.cumsum(np.arange(5.0)))
    np.testing.assert_allclose(f(-1.0, np.arange(5.0)), -np.cumsum(np.arange(5.0)))
    assert steps == ["loop body"] * 10


def test_strided_constants_are_copied_once_in_order():
    """Transposed and sliced constants of a body (``U.T`` in an RNN's gradient) are read from
    a C-ordered copy made before the loop, also by a loop nested in the body of another
    that has one."""
    M, h0 = sg.dmatrix("M"), sg.dmatrix("h0")
    k = sg.lscalar("k")
    hs, _ = scan(lambda h, A, B: sg.tanh(sg.dot(h, A) + B), outputs_info=h0,
                 non_sequences=[M.T, M[::3, ::-1]], n_steps=k)
    rng = np.random.default_rng(5)
    m, h = rng.normal(size=(6, 6)) * 0.5, rng.normal(size=(2, 6))
    for steps in (0, 1, 5):
        check([M, h0, k], [hs, hs[-1]] if steps else hs, m, h, np.asarray(steps))

    def outer(row, acc, A):
        # The inner loop's constant is a transposed view of this step's row: made in the
        # body, not hoisted out of it, and read by every inner step.
        inner, _ = scan(lambda a, B: sg.tanh(sg.dot(a, B)), outputs_info=acc,
                        non_sequences=row.reshape((3, 3)).T, n_steps=2)
        return acc + sg.dot(acc, A[:3, :3]) * 0.1 + inner[-1]

    X = sg.dmatrix("X")
    out, _ = scan(outer, sequences=X, outputs_info=sg.zeros((3,)), non_sequences=M[::2])
    check([M, X], out, m, rng.normal(size=(4, 9)))


def test_states_read_from_their_stacked_rows():
    """A state that is also a per-step output is read from the row just stored instead of a
    copy: its final value, early stops, a state passing another one on, and a state whose
    shape changes (handed to the Python loop, which reports it)."""
    a0, b0, limit = sg.dvector("a0"), sg.dvector("b0"), sg.dscalar("limit")
    (a, b), _ = scan(lambda a, b: (a + b, a), outputs_info=[a0, b0], n_steps=6)
    check([a0, b0], [a, b, a[-1], b[-1]], np.ones(3), np.arange(3.0))
    grown, _ = scan(lambda p: (p * 2, until(p.sum() * 2 > limit)), outputs_info=a0,
                    n_steps=50)
    f = check([a0, limit], [grown, grown[-1], grown.shape[0]], np.ones(2), np.asarray(40.0))
    assert f(np.ones(2), np.asarray(40.0))[2] == 5
    np.testing.assert_allclose(f(np.ones(2), np.asarray(1.0))[1], [2.0, 2.0])
    h0, v = sg.dvector("h0"), sg.dvector("v")
    out, _ = scan(lambda h, v: v * 2, outputs_info=h0, non_sequences=v, n_steps=3)
    g = sg.function([h0, v], [out, out[-1]], mode=sg.Mode("llvm", rewrites=False))
    with pytest.raises(ValueError, match="state 0"):
        g(np.zeros(2), np.ones(3))
