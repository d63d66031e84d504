"""Gradients through loops: verify_grad with taps, non-sequences, nested loops, until,
truncate_gradient (against a hand-written NumPy BPTT), checkpoints, and Rop."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import toposort
from symgraph.scan import Scan, scan, scan_checkpoints, until

RAW = sg.Mode("py", rewrites=False)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_grad_of_power_through_a_non_sequence(rng):
    def f(A):
        out, _ = scan(lambda prior, A: prior * A, outputs_info=sg.ones_like(A),
                      non_sequences=A, n_steps=3)
        return out

    sg.verify_grad(f, [rng.uniform(0.5, 1.5, 4)], rng=rng)


def test_grad_of_a_recurrence_over_sequences_states_and_weights(rng):
    def f(u, h0, W):
        out, _ = scan(lambda u_t, h, W: sg.tanh(sg.dot(h, W) + u_t), sequences=u,
                      outputs_info=h0, non_sequences=W)
        return out

    sg.verify_grad(f, [rng.normal(size=(5, 3)), rng.normal(size=3),
                       rng.normal(size=(3, 3))], rng=rng)


def test_grad_with_output_taps_and_sequence_taps(rng):
    def f(x0, u):
        out, _ = scan(lambda before, after, a, b: a * b * 0.5 + before - after,
                      sequences={"input": u, "taps": [-1, 1]},
                      outputs_info={"initial": x0, "taps": [-2, -1]})
        return out

    sg.verify_grad(f, [rng.uniform(0.5, 1.0, (2, 3)), rng.normal(size=(6, 3))], rng=rng)


def test_grad_through_several_outputs_and_per_step_outputs(rng):
    def f(u, a0, W):
        (a, b, y), _ = scan(lambda u_t, a, b, W: [sg.tanh(a + u_t), (a * b).sum() + u_t.sum(),
                                                   sg.dot(a, W)],
                            sequences=u, outputs_info=[a0, a0.sum(), None], non_sequences=W)
        return [a[-1], b, y]

    sg.verify_grad(f, [rng.normal(size=(4, 3)), rng.normal(size=3) * 0.5,
                       rng.normal(size=(3, 2))], rng=rng)


def test_grad_of_nested_scans(rng):
    def f(W, h0):
        def outer(h):
            inner, _ = scan(lambda hh: sg.tanh(sg.dot(hh, W)), outputs_info=h, n_steps=2)
            return inner[-1] * 1.1

        out, _ = scan(outer, outputs_info=h0, n_steps=3)
        return out

    sg.verify_grad(f, [rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)], rng=rng)


def test_grad_of_an_until_loop_matches_the_closed_form():
    x = sg.dscalar("x")
    values, _ = scan(lambda p: (p * x, until(p > 5.0)), outputs_info=sg.constant(1.0),
                     n_steps=50)
    g = sg.grad(values.sum(), x)
    # x = 1.5 stops after 5 steps: sum_k x^k for k = 1..5
    assert float(sg.function([x], g, mode=RAW)(1.5)) == pytest.approx(
        sum(k * 1.5 ** (k - 1) for k in range(1, 6)))
    sg.verify_grad(lambda x: scan(lambda p: (p * x, until(p > 5.0)),
                                  outputs_info=sg.constant(1.0), n_steps=50)[0].sum(),
                   [np.array(1.3)])


def test_grad_of_go_backwards(rng):
    def f(u, h0):
        out, _ = scan(lambda u_t, h: sg.sin(h) * u_t, sequences=u, outputs_info=h0,
                      go_backwards=True)
        return out

    sg.verify_grad(f, [rng.normal(size=(4, 2)), rng.normal(size=2)], rng=rng)


def _truncated_bptt(u, h0, k):
    """NumPy reference: h_t = tanh(0.9 h_{t-1} + u_t), cost = sum(h_T); last k steps only."""
    hs = [h0]
    for u_t in u:
        hs.append(np.tanh(0.9 * hs[-1] + u_t))
    grad_u = np.zeros_like(u)
    adjoint = np.ones_like(h0)
    for t in range(len(u) - 1, max(len(u) - k, 0) - 1, -1):
        dz = adjoint * (1 - hs[t + 1] ** 2)
        grad_u[t] = dz
        adjoint = 0.9 * dz
    grad_h0 = adjoint if k >= len(u) else np.zeros_like(h0)
    return grad_u, grad_h0


@pytest.mark.parametrize("k", [1, 2, 10])
def test_truncate_gradient_backpropagates_through_the_last_steps_only(rng, k):
    u, h0 = sg.dmatrix("u"), sg.dvector("h0")
    out, _ = scan(lambda u_t, h: sg.tanh(h * 0.9 + u_t), sequences=u, outputs_info=h0,
                  truncate_gradient=k)
    grads = sg.grad(out[-1].sum(), [u, h0])
    u_val, h_val = rng.normal(size=(4, 2)), rng.normal(size=2)
    got_u, got_h = sg.function([u, h0], grads, mode=RAW)(u_val, h_val)
    want_u, want_h = _truncated_bptt(u_val, h_val, k)
    np.testing.assert_allclose(got_u, want_u, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-12, atol=1e-12)


def test_grad_through_random_draws_reuses_the_forward_draws():
    srng = sg.random.RandomStream(seed=5)
    W = sg.dvector("W")
    out, _ = scan(lambda h, W: h * W + srng.normal(size=(3,)), outputs_info=sg.zeros(3),
                        non_sequences=W, n_steps=4)
    cost = (out ** 2).sum()
    f = sg.function([W], [out, sg.grad(cost, W)], mode=RAW, no_default_updates=True)
    w = np.array([0.5, -0.3, 0.8])
    hs, g = f(w)
    noise = hs - np.vstack([np.zeros(3), hs[:-1]]) * w
    # NumPy BPTT with the same noise: h_t = h_{t-1} w + n_t
    adjoint, want = np.zeros(3), np.zeros(3)
    for t in range(3, -1, -1):
        adjoint = adjoint + 2 * hs[t]
        previous = hs[t - 1] if t else np.zeros(3)
        want += adjoint * previous
        adjoint = adjoint * w
    np.testing.assert_allclose(g, want, rtol=1e-10)
    assert np.abs(noise).min() > 0


def test_scan_checkpoints_values_and_gradient_match_scan(rng):
    u, h0 = sg.dmatrix("u"), sg.dvector("h0")
    step = lambda u_t, h: sg.tanh(h * 0.5 + u_t)
    chunked, _ = scan_checkpoints(step, sequences=u, outputs_info=h0, save_every_N=3)
    plain, _ = scan(step, sequences=u, outputs_info=h0)
    u_val, h_val = rng.normal(size=(7, 2)), rng.normal(size=2)
    f = sg.function([u, h0], [chunked, plain] + sg.grad(chunked[-1].sum(), [u, h0]) +
                    sg.grad(plain[-1].sum(), [u, h0]), mode=RAW)
    got, want, gu, gh, wu, wh = f(u_val, h_val)
    np.testing.assert_allclose(got, want[[2, 5, 6]])  # the state after every chunk
    np.testing.assert_allclose(gu, wu)
    np.testing.assert_allclose(gh, wh)
    outer = chunked.owner.op
    assert not outer.save_residuals  # the reverse pass recomputes each chunk


def test_scan_checkpoints_without_padding_and_errors(rng):
    u, h0 = sg.dmatrix("u"), sg.dvector("h0")
    out, _ = scan_checkpoints(lambda u_t, h: h + u_t, sequences=u, outputs_info=h0,
                              save_every_N=2, padding=False)
    u_val = rng.normal(size=(6, 2))
    np.testing.assert_allclose(sg.function([u, h0], out, mode=RAW)(u_val, np.zeros(2)),
                               np.cumsum(u_val, axis=0)[[1, 3, 5]])
    with pytest.raises(ValueError, match="taps"):
        scan_checkpoints(lambda a, b: a, sequences={"input": u, "taps": [-1]}, outputs_info=h0)
    with pytest.raises(ValueError, match="save_every_N"):
        scan_checkpoints(lambda a, b: a, sequences=u, outputs_info=h0, save_every_N=0)


def test_rop_through_scan_matches_finite_differences(rng):
    W, h0, vW = sg.dmatrix("W"), sg.dvector("h0"), sg.dmatrix("vW")
    out, _ = scan(lambda h: sg.tanh(sg.dot(h, W)), outputs_info=h0, n_steps=3)
    tangent = sg.Rop(out, W, vW)
    w, h, v = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(3, 3))
    got = sg.function([W, h0, vW], tangent, mode=RAW)(w, h, v)
    forward = sg.function([W, h0], out, mode=RAW)
    eps = 1e-6
    numeric = (forward(w + eps * v, h) - forward(w - eps * v, h)) / (2 * eps)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)
    assert any(isinstance(n.op, Scan) and n.op.name == "rop_of_scan"
               for n in toposort([tangent]))


def test_rop_with_a_sequence_tangent(rng):
    u, du = sg.dmatrix("u"), sg.dmatrix("du")
    out, _ = scan(lambda u_t, h: h * 0.5 + sg.sin(u_t), sequences=u,
                  outputs_info=sg.zeros(2))
    got = sg.function([u, du], sg.Rop(out, u, du), mode=RAW)
    u_val, d_val = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    want, h = [], np.zeros(2)
    for t in range(4):
        h = h * 0.5 + np.cos(u_val[t]) * d_val[t]
        want.append(h)
    np.testing.assert_allclose(got(u_val, d_val), want)


def test_grad_of_integer_and_unused_outputs_is_none_or_zero(rng):
    h0 = sg.dvector("h0")
    (h, count), _ = scan(lambda h, c: [h * 2, c + 1], outputs_info=[h0, sg.constant(0)],
                         n_steps=3)
    g = sg.grad(h[-1].sum(), h0)
    np.testing.assert_allclose(sg.function([h0], g, mode=RAW)(np.ones(2)), [8.0, 8.0])
    with pytest.raises(sg.DisconnectedInputError):
        sg.grad(count.sum().astype("float64"), h0)
