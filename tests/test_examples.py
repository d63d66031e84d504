"""Every script in examples/ runs with its ``--quick`` setting and learns something.

Each example defines ``main(argv)`` returning what it measured; the scripts are loaded from
their files (examples/ is not a package) and run in this process, with examples/ on the path
for the helpers they share (``_common.py``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
DIGITS = ["logistic_regression.py", "mlp.py", "convnet.py"]
CHARACTER_MODELS = ["elman_rnn.py", "lstm.py", "gru.py"]


def has_scan():
    try:
        return importlib.util.find_spec("symgraph.scan") is not None and hasattr(
            importlib.import_module("symgraph.scan"), "scan")
    except ImportError:
        return False


def run_example(name, argv):
    sys.path.insert(0, EXAMPLES)  # as running ``python examples/NAME.py`` would put it
    try:
        namespace = runpy.run_path(os.path.join(EXAMPLES, name))
        return namespace["main"](argv)
    finally:
        sys.path.remove(EXAMPLES)


def test_every_example_is_tested():
    scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py") and f[0] != "_")
    assert scripts == sorted(DIGITS + CHARACTER_MODELS
                             + ["custom_op.py", "scalar_op.py", "data_parallel.py"])


@pytest.mark.parametrize("name", DIGITS)
def test_digits_example_learns(name, capsys):
    pytest.importorskip("sklearn", reason="needs the examples extra: pip install -e '.[examples]'")
    accuracy = run_example(name, ["--quick"])
    assert accuracy > 0.3  # ten classes: chance is 0.1; a quick run is one or two epochs
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.skipif(not has_scan(), reason="symgraph.scan is not available yet")
@pytest.mark.parametrize("name", CHARACTER_MODELS)
def test_character_model_example_loss_goes_down(name, capsys):
    losses = run_example(name, ["--quick"])
    assert len(losses) == 6 and losses[-1] < losses[0]
    output = capsys.readouterr().out
    assert re.search(r"sample: ['\"]The ", output), output


def test_custom_op_example_matches_numpy(capsys):
    values, slopes = run_example("custom_op.py", [])
    x = np.array([-1.5, -0.5, 0.0, 0.25, 2.0])
    np.testing.assert_allclose(values, np.sinc(x))
    expected = np.where(x == 0, 0.0, (np.cos(np.pi * x) - np.sinc(x)) / np.where(x == 0, 1, x))
    np.testing.assert_allclose(slopes, expected, atol=1e-12)
    assert "verify_grad: the gradient matches" in capsys.readouterr().out


def test_data_parallel_example_matches_one_process():
    """``mpiexec -n 2`` (skipped without the mpi extra): the same accuracy as one rank."""
    pytest.importorskip("sklearn", reason="needs the examples extra: pip install -e '.[examples]'")
    from tests.distributed.launch import run_ranks

    script = os.path.join(EXAMPLES, "data_parallel.py")
    accuracies = []
    for ranks in (1, 2):
        output = run_ranks(script, n=ranks, args=("--quick",))
        assert f"{ranks} rank(s), none" in output, output
        accuracies.append(float(re.findall(r"test accuracy ([\d.]+)", output)[-1]))
    assert accuracies[0] > 0.8 and abs(accuracies[0] - accuracies[1]) <= 0.01, accuracies


def test_scalar_op_example_compiles_natively_and_matches_numpy(capsys):
    values, pre, dw, ran = run_example("scalar_op.py", [])
    np.testing.assert_allclose(values, pre * np.tanh(np.logaddexp(0.0, pre)), rtol=2e-5,
                               atol=1e-6)
    assert "kernel" in ran and not any("perform" in note for note in ran), ran
    assert dw.shape == (8, 4) and np.isfinite(dw).all()
    assert "verify_grad: the gradient matches" in capsys.readouterr().out
