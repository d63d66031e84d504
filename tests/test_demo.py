"""The main job, ``python -m symgraph.demo``: a short run end to end, and its parts.

The digits need scikit-learn (the ``examples`` extra); without matplotlib or tqdm the demo
still runs, with a message instead of the loss picture and plain lines instead of bars.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import symgraph as sg
from symgraph.demo import cli, corpus, pictures
from symgraph.demo.training import adam, blas_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def needs_examples_extra():
    pytest.importorskip("sklearn", reason="needs the examples extra: pip install -e '.[examples]'")


def has_module(name):
    return importlib.util.find_spec(name) is not None


def test_short_demo_run_trains_both_models_and_writes_the_pictures(tmp_path):
    needs_examples_extra()
    out = tmp_path / "pictures"
    run = subprocess.run(
        [sys.executable, "-m", "symgraph.demo", "--epochs", "1", "--quick", "--mode", "py",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    text = run.stdout
    for line in ("ready to run after:", "time per epoch:", "final test accuracy:",
                 "generated sample:"):
        assert line in text, text
    accuracy = float(re.search(r"final test accuracy: ([0-9.]+)", text).group(1))
    assert accuracy > 0.7  # one epoch; the full run's target is checked below
    losses = re.search(r"loss \(nats/char\): +([0-9.]+) -> ([0-9.]+)", text)
    assert float(losses.group(2)) < float(losses.group(1)), text
    assert "MLP  epoch 1/1" in run.stderr and "LSTM epoch 1/1" in run.stderr  # the bars
    if has_module("matplotlib"):
        assert (out / "loss_curves.png").read_bytes()[:8] == PNG_MAGIC
    else:
        assert "matplotlib is not installed" in text
    graphs = list(out.glob("mlp_training_graph.*"))
    assert len(graphs) == 1 and graphs[0].stat().st_size > 1000
    viewer = out / "mlp_training_viewer.html"
    assert f"graph viewer:   {viewer}" in text and "cytoscape" in viewer.read_text()


def test_mlp_reaches_the_target_test_accuracy():
    needs_examples_extra()
    from symgraph.demo.digits import train_mlp

    result = train_mlp(cli.MLP_EPOCHS, "py", show_progress=False)
    assert result.test_accuracy[-1] >= cli.TARGET_ACCURACY
    assert result.epoch_losses[-1] < result.epoch_losses[0] / 5


def test_digits_split_is_disjoint_and_scaled():
    pytest.importorskip("sklearn")
    from symgraph.demo.digits import load_digits_data

    data = load_digits_data(seed=3)
    assert len(data.y_train) + len(data.y_test) == 1797
    assert data.x_train.shape[1] == 64 and data.x_train.dtype == sg.config.floatX
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert set(np.unique(data.y_test)) == set(range(10))


def test_cuda_mode_that_is_unavailable_exits_non_zero_with_a_message(capsys):
    if cli.mode_problem("cuda") is None:
        pytest.skip("this machine has a working cuda mode")
    assert cli.main(["--mode", "cuda"]) == 2
    assert "'cuda' mode is not available" in capsys.readouterr().err


def test_unusable_llvm_mode_falls_back_to_py_with_a_note(monkeypatch, capsys):
    monkeypatch.setattr(cli, "mode_problem",
                        lambda mode: "ValueError: unknown mode 'llvm'" if mode == "llvm" else None)
    assert cli.choose_mode("llvm") == "py"
    assert "running in 'py' mode" in capsys.readouterr().out
    assert cli.choose_mode("py") == "py"


def test_mode_problem_reports_an_unknown_mode():
    assert cli.mode_problem("py") is None
    assert "unknown mode" in cli.mode_problem("no-such-backend")


def test_corpus_is_prose_from_docstrings():
    text = corpus.english_text()
    assert len(text) >= corpus.MIN_CORPUS
    assert set(text) <= set("\n ',-.:;()") | set("abcdefghijklmnopqrstuvwxyz"
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert ">>>" not in text and " the " in text
    assert corpus.english_text(500) == text[:500]


def test_vocabulary_round_trip_and_shifted_batches():
    text = "the cat sat on the mat. " * 20
    vocab = corpus.Vocabulary(text)
    codes = vocab.encode(text)
    assert vocab.decode(codes) == text and len(vocab) == len(set(text))
    batches = corpus.sequence_batches(codes, 10, 4, np.random.default_rng(0))
    inputs, targets = batches[0]
    assert inputs.shape == targets.shape == (10, 4) and inputs.dtype == np.int64
    np.testing.assert_array_equal(inputs[1:], targets[:-1])


def test_sample_text_starts_with_the_prime_and_has_the_length():
    vocab = corpus.Vocabulary("abc")

    def always_c(code, state):
        return [np.array([0.0, 0.0, 1.0]), state + 1]

    text = corpus.sample_text(always_c, vocab, [np.zeros(1)], "ab", 5, np.random.default_rng(0))
    assert text == "abccccc"


def test_adam_minimises_a_quadratic():
    w = sg.shared(np.array([3.0, -2.0]), name="w")
    cost = ((w - np.array([1.0, 1.0])) ** 2).sum()
    step = sg.function([], cost, updates=adam(cost, [w], learning_rate=0.1))
    for _ in range(300):
        step()
    np.testing.assert_allclose(w.get_value(), [1.0, 1.0], atol=1e-2)


def test_adam_clips_the_gradient_norm():
    w = sg.shared(np.array([1000.0]), name="w")
    cost = (w ** 2).sum()
    step = sg.function([], cost, updates=adam(cost, [w], learning_rate=1.0, clip_norm=1.0))
    step()
    assert w.get_value()[0] == pytest.approx(999.0, abs=1e-3)  # Adam's first step is lr


def test_blas_threads_yields_a_note():
    with blas_threads(None) as note:
        assert "default" in note
    with blas_threads(1) as note:
        assert note.startswith("BLAS threads:")


def test_graph_picture_falls_back_to_dot_without_graphviz(tmp_path, monkeypatch):
    x = sg.dvector("x")
    f = sg.function([x], 2 * x)
    monkeypatch.setattr(pictures.shutil, "which", lambda name: None)
    path, rendered = pictures.write_graph_picture(f, str(tmp_path / "graph"))
    assert not rendered and path.endswith(".dot")
    with open(path) as handle:
        assert handle.read().startswith("digraph")


def test_missing_scikit_learn_gives_an_install_hint(monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real_find_spec(name, *a))
    assert cli.main(["--mode", "py"]) == 1
    assert 'pip install -e ".[examples]"' in capsys.readouterr().err
