"""The demo's third part: the trained digits MLP exported, and examples/deploy_c/classify.c
built and run with the two commands the demo prints."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import numpy as np
import pytest

from symgraph.demo import deploy, digits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_exported_digits_classify_in_c_as_in_python(tmp_path):
    pytest.importorskip("sklearn")
    result = digits.train_mlp(1, "llvm", n_hidden=32, show_progress=False)
    data = digits.load_digits_data(0)
    build, run = deploy.export_digits(result, data, str(tmp_path / "deploy"))
    subprocess.run(shlex.split(build), cwd=ROOT, check=True)
    done = subprocess.run(shlex.split(run), cwd=ROOT, capture_output=True, text=True,
                          check=True, env={})
    accuracy = float(re.search(r"accuracy on \d+ test digits: ([0-9.]+)", done.stdout)[1])
    expected = float(np.mean(result.predict_function(data.x_test) == data.y_test))
    assert accuracy == pytest.approx(expected, abs=1e-4) and accuracy > 0.7
