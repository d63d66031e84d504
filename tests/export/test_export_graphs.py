"""Exported graphs beyond the MLP: scan loops, constants, baked parameters, a named CPU,
errors for what cannot leave Python. Each runs in a generated C program (crunner.py)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.export import ExportError
from tests.export.crunner import run_in_c

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")


def test_scan_loop(tmp_path):
    x = sg.matrix("x")
    w = sg.shared(np.random.default_rng(0).normal(size=(3, 3)) * 0.5, name="W")
    h0 = sg.vector("h0")
    hs, _ = sg.scan(lambda xt, h, W: sg.tanh(xt + h @ W), sequences=[x], outputs_info=[h0],
                    non_sequences=[w])
    f = sg.function([x, h0], [hs, hs[-1].sum()])
    result = sg.export({"f": f}, str(tmp_path), name="rnn", bake_params=True)
    xv = np.random.default_rng(1).normal(size=(5, 3))
    h0v = np.zeros(3)
    got = run_in_c(result, "rnn", "f", [xv, h0v], ["float64", "float64"], str(tmp_path), cc=CC)
    expected = f(xv, h0v)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def test_baked_params_and_updates(tmp_path):
    x = sg.vector("x")
    acc = sg.shared(np.arange(4.0), name="acc")
    f = sg.function([x], (acc * x).sum(), updates=[(acc, acc + x)])
    result = sg.export({"f": f}, str(tmp_path), name="acc", bake_params=True)
    xv = np.array([1.0, 2.0, 3.0, 4.0])
    # Three calls in C: the third sees the parameter updated twice.
    (got,) = run_in_c(result, "acc", "f", [xv], ["float64"], str(tmp_path), calls=3, cc=CC)
    for _ in range(3):
        expected = f(xv)
    assert got == expected
    # Without baking, a context made with no parameter file starts from zeros; with the file
    # it starts from the values at export time.
    result = sg.export({"f": f}, str(tmp_path / "plain"), name="acc")
    (zero,) = run_in_c(result, "acc", "f", [xv], ["float64"], str(tmp_path / "plain"), cc=CC)
    assert zero == 0.0
    (filed,) = run_in_c(result, "acc", "f", [xv], ["float64"], str(tmp_path / "plain"),
                        params=result.params, cc=CC)
    assert filed == (acc.get_value() * xv).sum()


def test_static_shape_names_the_input(tmp_path):
    x = sg.tensor("images", dtype="float32", shape=(None, 4))
    f = sg.function([x], sg.exp(x).sum(axis=1))
    result = sg.export({"f": f}, str(tmp_path), name="ss", cpu="x86-64-v3")
    good = np.ones((2, 4), dtype="float32")
    (got,) = run_in_c(result, "ss", "f", [good], ["float32"], str(tmp_path), cc=CC)
    np.testing.assert_allclose(got, f(good), rtol=1e-6)
    message = run_in_c(result, "ss", "f", [np.ones((2, 5), dtype="float32")], ["float32"],
                       str(tmp_path), cc=CC)
    assert message.startswith("error 1") and "'images'" in message and "(2, 5)" in message


def test_random_draws_are_an_export_error(tmp_path):
    rng = sg.random.RandomStream(3)
    x = sg.vector("x")
    with warnings.catch_warnings():  # the op runs its perform in Python
        warnings.simplefilter("ignore", sg.PerformFallbackWarning)
        g = sg.function([x], rng.normal(size=(4,)) + x.sum())  # the draw's line
    with pytest.raises(ExportError, match="normal") as info:
        sg.export({"g": g}, str(tmp_path), name="rnd")
    assert "the draw's line" in str(info.value)


def test_bad_names_and_arguments(tmp_path):
    x = sg.vector("x")
    f = sg.function([x], x * 2)
    with pytest.raises(ExportError, match="C identifier"):
        sg.export({"f": f}, str(tmp_path), name="my-lib")
    with pytest.raises(ExportError, match="C identifier"):
        sg.export({"2f": f}, str(tmp_path), name="lib")
    with pytest.raises(TypeError, match="sg.function"):
        sg.export({"f": lambda v: v}, str(tmp_path), name="lib")


@pytest.mark.xfail(raises=ExportError, strict=True,
                   reason="issue 11: AdvancedSubtensor (W_in[codes]) and AdvancedIncSubtensor "
                          "have no native rule yet")
def test_character_lstm_sampler_and_training_step(tmp_path):
    """The demo's character LSTM: its one-character sampler step and its training step (a
    scan over the sequence, its gradient a reverse scan, Adam with gradient clipping)."""
    from symgraph.demo import charlstm
    from symgraph.demo.training import adam

    rng = np.random.default_rng(0)
    params = charlstm.init_params(12, 8, rng, "float64")
    inputs, targets, loss = charlstm.sequence_loss(params)
    train = sg.function([inputs, targets], loss,
                        updates=adam(loss, params.all(), 0.01, clip_norm=5.0))
    sample = charlstm.compile_sampler(params, "llvm")
    result = sg.export({"sample": sample, "train_step": train}, str(tmp_path), name="lstm")
    code, h = np.array([3]), rng.normal(size=(1, 8))
    c = rng.normal(size=(1, 8))
    got = run_in_c(result, "lstm", "sample", [code, h, c], ["float64"] * 3, str(tmp_path),
                   params=result.params, cc=CC)
    for value, expected in zip(got, sample(code, h, c)):
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15)
    x = rng.integers(0, 12, (6, 3))
    y = rng.integers(0, 12, (6, 3))
    # Two steps in C from the exported parameters, then two in Python.
    (loss_c,) = run_in_c(result, "lstm", "train_step", [x, y], ["float64"], str(tmp_path),
                         params=result.params, calls=2, cc=CC)
    train(x, y)
    np.testing.assert_allclose(loss_c, train(x, y), rtol=1e-12)
