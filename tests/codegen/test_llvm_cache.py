"""The on-disk object cache: reuse across processes, concurrent compiles, corrupt entries,
and ``python -m symgraph.cache``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llvmlite")

ROOT = Path(__file__).resolve().parents[2]

# A distinct graph (the constant) so no other test has put it in a process-wide cache.
SCRIPT = """
import json, numpy as np, symgraph as sg
from symgraph.codegen.llvm.jit import engine
x = sg.fvector("x")
f = sg.function([x], sg.tanh(x * 1.2345) + sg.exp(-x), mode="llvm")
value = np.linspace(-2, 2, 7).astype("float32")
expected = np.tanh(value * np.float32(1.2345)) + np.exp(-value)
ok = bool(np.allclose(f(value.copy()), expected, rtol=1e-5))
stats = engine().stats
print(json.dumps({"ok": ok, "compiled": stats.compiled, "from_disk": stats.from_disk}))
"""


def _run(cache_dir: Path, code: str = SCRIPT) -> dict:
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _objects(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "llvm").glob("*/*.o"))


def test_second_process_loads_from_disk(tmp_path):
    first = _run(tmp_path)
    assert first["ok"] and first["compiled"] >= 1 and first["from_disk"] == 0
    assert _objects(tmp_path)
    second = _run(tmp_path)
    assert second["ok"]
    assert second["compiled"] == 0
    assert second["from_disk"] == first["compiled"]


def test_corrupt_entry_is_rebuilt(tmp_path):
    _run(tmp_path)
    objects = _objects(tmp_path)
    for path in objects:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + b"garbage")
    again = _run(tmp_path)
    assert again["ok"]
    assert again["compiled"] == len(objects)
    assert all(path.read_bytes()[-7:] != b"garbage" for path in _objects(tmp_path))


def test_concurrent_processes_share_the_cache(tmp_path):
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert all(r["ok"] for r in results)
    kernels = results[0]["compiled"] + results[0]["from_disk"]
    assert all(r["compiled"] + r["from_disk"] == kernels for r in results)
    # The file lock makes each kernel get built once, whichever process builds it.
    assert sum(r["compiled"] for r in results) == kernels
    assert len(_objects(tmp_path)) == kernels


def test_cache_command_line(tmp_path):
    _run(tmp_path)
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path))
    info = subprocess.run([sys.executable, "-m", "symgraph.cache", "info"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert info.returncode == 0, info.stderr
    count = len(_objects(tmp_path))
    assert f"entries:   {count}" in info.stdout and str(tmp_path) in info.stdout
    cleared = subprocess.run([sys.executable, "-m", "symgraph.cache", "clear"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    assert cleared.returncode == 0 and f"removed {count} entries" in cleared.stdout
    assert not _objects(tmp_path)
