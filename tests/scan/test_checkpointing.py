"""Checkpointed backpropagation through loops (symgraph.scan.segmented): the same gradients
as the stored-state reverse loop, on every backend, with less memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import symgraph as sg
from symgraph.config import Config, ConfigError
from symgraph.graph import toposort
from symgraph.scan import Scan, scan, until
from symgraph.scan.segmented import segment_length
from tests.test_threads import _hammer

RAW = sg.Mode("py", rewrites=False)
MODES = [RAW, "py", "llvm"]


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def segmented(outputs) -> bool:
    """Whether the gradient was built by segments."""
    return any(isinstance(n.op, Scan) and "by_segments" in (n.op.name or "")
               for n in toposort(outputs))


def both(build, inputs, values, mode, on=True):
    """The outputs of ``build(checkpoint)`` compiled with ``checkpoint=False`` and ``on``."""
    results = []
    for checkpoint in (False, on):
        outputs = build(checkpoint)
        assert segmented(outputs) is (checkpoint is not False)
        fn = sg.function(inputs, outputs, mode=mode, on_unused_input="ignore")
        results.append(fn(*values))
    return results


def check_equal(plain, checkpointed, mode):
    """Bitwise without rewrites; with them, the constants' gradients are products over each
    segment's steps instead of over all steps, so they agree to rounding."""
    for want, got in zip(plain, checkpointed):
        if mode is RAW:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES, ids=["raw", "py", "llvm"])
@pytest.mark.parametrize("steps", [1, 2, 9, 10, 17])
def test_elman_gradients_match_with_and_without_checkpoints(rng, mode, steps):
    u, h0, W = sg.dmatrix("u"), sg.dvector("h0"), sg.dmatrix("W")
    b = sg.shared(rng.normal(size=3), name="b")  # a shared variable the step reads

    def build(checkpoint):
        hs, _ = scan(lambda u_t, h, W: sg.tanh(u_t + sg.dot(h, W) + b), sequences=u,
                     outputs_info=h0, non_sequences=W, checkpoint=checkpoint)
        loss = (hs[-1] ** 2).sum()
        return [loss, *sg.grad(loss, [u, h0, W, b])]

    values = [rng.normal(size=(steps, 3)), rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5]
    check_equal(*both(build, [u, h0, W], values, mode), mode)


@pytest.mark.parametrize("mode", MODES, ids=["raw", "py", "llvm"])
@pytest.mark.parametrize("on", [True, 10 ** 9], ids=["segments", "one-segment"])
def test_lstm_gradients_match_with_and_without_checkpoints(rng, mode, on):
    """Also within a budget known only at run time: one segment, whose per-step values the
    checkpointing loop keeps (the LSTM's gates are such values, of shapes known only then)."""
    X, h0, c0 = sg.dtensor3("X"), sg.dmatrix("h0"), sg.dmatrix("c0")
    W, U = sg.dmatrix("W"), sg.dmatrix("U")
    H = 3

    def step(x, h, c, W, U):
        g = sg.dot(x, W) + sg.dot(h, U)
        i, f, o = (sg.sigmoid(g[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * sg.tanh(g[:, 3 * H:])
        return o * sg.tanh(c_new), c_new

    def build(checkpoint):
        (hs, cs), _ = scan(step, sequences=X, outputs_info=[h0, c0], non_sequences=[W, U],
                           checkpoint=checkpoint)
        loss = (hs[-1] ** 2).sum() + cs[-1].sum()
        return [loss, *sg.grad(loss, [X, h0, c0, W, U])]

    values = [rng.normal(size=(11, 2, 4)), rng.normal(size=(2, H)), rng.normal(size=(2, H)),
              rng.normal(size=(4, 4 * H)) * 0.5, rng.normal(size=(H, 4 * H)) * 0.5]
    check_equal(*both(build, [X, h0, c0, W, U], values, mode, on), mode)


@pytest.mark.parametrize("mode", MODES, ids=["raw", "py", "llvm"])
def test_taps_and_per_step_outputs_match_with_and_without_checkpoints(rng, mode):
    x0, u, w = sg.dmatrix("x0"), sg.dmatrix("u"), sg.dvector("w")

    def build(checkpoint):
        (xs, ys), _ = scan(lambda before, after, a, b, w: [a * b * 0.5 + before - after * w,
                                                           (a * w).sum()],
                           sequences={"input": u, "taps": [-1, 1]},
                           outputs_info=[{"initial": x0, "taps": [-2, -1]}, None],
                           non_sequences=w, checkpoint=checkpoint)
        loss = (xs[-1] ** 2).sum() + ys.sum()  # per-step outputs other than states
        return [loss, *sg.grad(loss, [x0, u, w])]

    values = [rng.uniform(0.5, 1.0, (2, 3)), rng.normal(size=(12, 3)), rng.normal(size=3)]
    check_equal(*both(build, [x0, u, w], values, mode), mode)


def test_verify_grad_through_a_checkpointed_loop(rng):
    def f(u, h0, W):
        hs, _ = scan(lambda u_t, h, W: sg.tanh(sg.dot(h, W) + u_t), sequences=u,
                     outputs_info=h0, non_sequences=W, checkpoint=True)
        assert segmented(sg.grad(hs[-1].sum(), [W]))
        return hs[-1]

    sg.verify_grad(f, [rng.normal(size=(7, 3)), rng.normal(size=3), rng.normal(size=(3, 3))],
                   rng=rng)


@pytest.mark.parametrize("steps, length", [(0, 1), (1, 1), (2, 2), (4, 2), (10, 4),
                                           (20000, 142)])
def test_segment_length_is_the_ceiling_of_the_square_root(steps, length):
    assert segment_length(steps) == length


def static_loop(steps, budget):
    W = sg.shared(np.full((4, 4), 0.1), name="W", shape=(4, 4))
    h0 = sg.constant(np.ones(4))
    hs, _ = scan(lambda h, W: sg.tanh(sg.dot(h, W)), outputs_info=h0, non_sequences=W,
                 n_steps=steps, checkpoint=budget)
    return sg.grad((hs[-1] ** 2).sum(), W)


def test_static_sizes_decide_when_the_gradient_is_built():
    state = 4 * 8  # bytes of one state
    assert not segmented([static_loop(10, 10 * state)])  # fits
    assert segmented([static_loop(10, 10 * state - 1)])
    assert segmented([static_loop(10, 1)])  # a budget below one state still segments
    assert not segmented([static_loop(10, 0)])  # 0: never
    plain = sg.function([], static_loop(10, 0), mode="py")()
    np.testing.assert_allclose(sg.function([], static_loop(10, 1), mode="py")(), plain,
                               rtol=1e-13)


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_run_time_sizes_choose_at_run_time(rng, mode):
    u, W = sg.dmatrix("u"), sg.dmatrix("W")
    budget = 6 * 3 * 8  # six states of three float64

    def step(u_t, h, W):
        h_new = sg.tanh(u_t + sg.dot(h, W))
        return h_new, (h_new ** 2).sum()  # a per-step loss: defined for 0 steps too

    def build(checkpoint):
        (_, losses), _ = scan(step, sequences=u, outputs_info=[sg.zeros(3), None],
                              non_sequences=W, checkpoint=checkpoint)
        return sg.grad(losses.sum(), [u, W])

    plain = sg.function([u, W], build(False), mode=mode)
    by_budget = sg.function([u, W], build(budget), mode=mode)
    assert segmented(build(budget))
    w = rng.normal(size=(3, 3)) * 0.5
    for steps in (0, 1, 5, 6, 7, 30):  # below, at and over the budget
        x = rng.normal(size=(steps, 3))
        for got, want in zip(by_budget(x, w), plain(x, w)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_config_flag_sets_the_default_budget(rng):
    u, h0 = sg.dmatrix("u"), sg.dvector("h0")
    hs, _ = scan(lambda u_t, h: sg.tanh(u_t + h), sequences=u, outputs_info=h0)
    loss = hs[-1].sum()
    with sg.config.change_flags(scan_checkpoint_budget=0):
        assert not segmented(sg.grad(loss, [u]))
    with sg.config.change_flags(scan_checkpoint_budget=1000):
        assert segmented(sg.grad(loss, [u]))
    assert Config({"SYMGRAPH_FLAGS": "scan_checkpoint_budget=None"}).scan_checkpoint_budget == 0
    assert Config({"SYMGRAPH_FLAGS": "scan_checkpoint_budget=4096"}).scan_checkpoint_budget \
        == 4096
    with pytest.raises(ConfigError, match="scan_checkpoint_budget"):
        Config({"SYMGRAPH_FLAGS": "scan_checkpoint_budget=-1"})
    with pytest.raises(TypeError, match="checkpoint"):
        scan(lambda h: h, outputs_info=h0, n_steps=2, checkpoint=-5)


def test_a_loss_on_every_state_keeps_the_stored_states(rng):
    u, h0 = sg.dmatrix("u"), sg.dvector("h0")
    hs, _ = scan(lambda u_t, h: sg.tanh(u_t + h), sequences=u, outputs_info=h0,
                 checkpoint=True)
    assert not segmented(sg.grad((hs ** 2).sum(), [u]))  # the forward holds them anyway


def test_until_loops_and_random_draws_are_not_checkpointed():
    W = sg.dvector("W")
    out, _ = scan(lambda h, W: [h * W, until((h * W).sum() > 100)], outputs_info=sg.ones(3),
                  non_sequences=W, n_steps=20, checkpoint=True)
    assert not segmented([sg.grad(out[-1].sum(), W)])
    srng = sg.random.RandomStream(seed=5)
    out, _ = scan(lambda h, W: h * W + srng.normal(size=(3,)), outputs_info=sg.zeros(3),
                  non_sequences=W, n_steps=4, checkpoint=True)
    grad = sg.grad((out[-1] ** 2).sum(), W)
    assert not segmented([grad])  # a replay would draw other numbers
    f = sg.function([W], [out, grad], mode=RAW, no_default_updates=True)
    hs, g = f(np.array([0.5, -0.3, 0.8]))
    assert np.isfinite(g).all() and hs.shape == (4, 3)


def peak_bytes(fn, *values):
    fn(*values)  # compile and warm up outside the measurement
    tracemalloc.start()
    try:
        fn(*values)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checkpointing_lowers_the_peak_of_numpy_allocations(rng):
    """tracemalloc sees NumPy's allocations: the reference backend's loop stores every state
    in the plain gradient, about 2 sqrt(T) states with checkpoints (plus a fixed ~0.2 MB of
    the reference loop's own)."""
    from symgraph import tiers

    # Background builds of earlier tests (a tiered run) would allocate during the measure.
    assert tiers.wait_idle(timeout=600)
    steps, H = 2500, 64
    u, h0, W = sg.dmatrix("u"), sg.dvector("h0"), sg.dmatrix("W")
    fns = []
    for checkpoint in (False, True):
        hs, _ = scan(lambda u_t, h, W: sg.tanh(u_t + sg.dot(h, W)), sequences=u,
                     outputs_info=h0, non_sequences=W, checkpoint=checkpoint)
        fns.append(sg.function([u, h0, W], sg.grad((hs[-1] ** 2).sum(), W), mode="py"))
    values = [rng.normal(size=(steps, H)), np.zeros(H), rng.normal(size=(H, H)) * 0.1]
    plain, checkpointed = (peak_bytes(f, *values) for f in fns)
    states = steps * H * 8
    assert plain > states  # at least the states
    assert checkpointed < plain / 4
    assert checkpointed < states / 2


def test_a_checkpointed_gradient_runs_from_many_threads(rng):
    u, h0, W = sg.dmatrix("u"), sg.dvector("h0"), sg.dmatrix("W")
    hs, _ = scan(lambda u_t, h, W: sg.tanh(u_t + sg.dot(h, W)), sequences=u, outputs_info=h0,
                 non_sequences=W, checkpoint=True)
    f = sg.function([u, h0, W], sg.grad((hs[-1] ** 2).sum(), W), mode="llvm")
    inputs = [[rng.normal(size=(n, 5)), rng.normal(size=5), rng.normal(size=(5, 5)) * 0.3]
              for n in (3, 8, 13, 21)]
    want = [f(*v) for v in inputs]

    def work(t, k):
        np.testing.assert_array_equal(f(*inputs[t % 4]), want[t % 4])
    _hammer(work, calls=20)  # 8 threads released together; the first failure re-raised


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_the_checkpointing_loop_stands_in_for_the_forward_loop(rng, mode):
    """The forward pass runs once: the loop that stores the checkpoints also gives the final
    state the loss reads (``share_forward``), unless the loss reads other rows of it."""
    u, h0, W = sg.dmatrix("u"), sg.dvector("h0"), sg.dmatrix("W")
    hs, _ = scan(lambda u_t, h, W: sg.tanh(u_t + sg.dot(h, W)), sequences=u, outputs_info=h0,
                 non_sequences=W, checkpoint=True)
    values = [rng.normal(size=(10, 3)), rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5]
    loss = (hs[-1] ** 2).sum()
    for outputs, shared in [([loss], True), ([loss, hs[3]], False)]:  # hs[3]: a row kept
        outputs = [*outputs, sg.grad(loss, W)]
        f = sg.function([u, h0, W], outputs, mode=mode)
        names = [n.op.name or "" for n in f.fgraph.toposort() if isinstance(n.op, Scan)]
        assert len(names) == (2 if shared else 3), names
        assert any(name.startswith("checkpoints_of") for name in names)
        want = sg.function([u, h0, W], outputs, mode=RAW)(*values)
        for got, expected in zip(f(*values), want):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
