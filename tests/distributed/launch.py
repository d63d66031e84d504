"""Run a script under ``mpiexec -n N`` (the one the ``[mpi]`` extra installs), with a timeout,
or skip the test when the extra is not installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds: a hung rank fails the test instead of hanging CI


def mpiexec() -> list[str]:
    """The launcher command, or a skip naming what is missing."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("needs the mpi extra (mpi4py and an MPI wheel): pip install -e '.[mpi]'")
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpi4py is installed but no mpiexec was found: pip install mpich")
    version = subprocess.run([found, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    # CI runs as root: Open MPI refuses that unless told; MPICH's Hydra accepts it.
    extra = ["--allow-run-as-root", "--oversubscribe"] if "Open MPI" in version else []
    return [found, *extra]


def run_ranks(script: str, n: int = 2, args: tuple[str, ...] = ()) -> str:
    """Run ``tests/distributed/<script>`` on ``n`` ranks; returns the output, fails the test
    (with the output) on a non-zero exit or a timeout."""
    command = [*mpiexec(), "-n", str(n), sys.executable, str(Path(__file__).parent / script),
               *args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # A session of its own, so that a timeout ends the launcher and every rank it started.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env, cwd=ROOT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(command)} timed out after {TIMEOUT} s:\n{output}")
    assert process.returncode == 0, f"{' '.join(command)} exited {process.returncode}:\n{output}"
    return output
