"""The on-disk object cache: reuse across processes, concurrent compiles, corrupt, swapped and
forged entries, hung lock holders, and ``python -m symgraph.cache``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llvmlite")

ROOT = Path(__file__).resolve().parents[2]

# A distinct graph (the constant) so no other test has put it in a process-wide cache.
SCRIPT = """
import json, numpy as np, symgraph as sg
sg.config.tier = "final"  # the compile is what these scripts look at
from symgraph.codegen.llvm.jit import engine
x = sg.fvector("x")
f = sg.function([x], sg.tanh(x * 1.2345) + sg.exp(-x), mode="llvm")
value = np.linspace(-2, 2, 7).astype("float32")
expected = np.tanh(value * np.float32(1.2345)) + np.exp(-value)
ok = bool(np.allclose(f(value.copy()), expected, rtol=1e-5))
stats = engine().stats
print(json.dumps({"ok": ok, "compiled": stats.compiled, "from_disk": stats.from_disk}))
"""


def _run(cache_dir: Path, code: str = SCRIPT, env: dict[str, str] | None = None,
         with_stderr: bool = False) -> Any:
    """The JSON that ``code`` prints last when run with ``cache_dir`` as the cache (and
    ``env``), and with ``with_stderr`` its standard error."""
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(cache_dir), **(env or {}))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else None
    return (result, out.stderr) if with_stderr else result


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
    graphs = len(list((tmp_path / "functions").glob("*/*.graph")))
    assert graphs == 1  # the rewritten graph, for the whole-function cache
    entries = len(list((tmp_path / "entries").glob("*/*.entry")))
    assert entries == 1  # its native entry point, described
    total = count + graphs + entries
    assert (f"entries:   {total} (functions {graphs}, entry points {entries}, llvm {count}, "
            f"cuda 0; {total} valid)" in info.stdout)
    assert str(tmp_path) in info.stdout and "trusted:   yes" in info.stdout
    cleared = subprocess.run([sys.executable, "-m", "symgraph.cache", "clear"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    assert cleared.returncode == 0 and f"removed {total} entries" in cleared.stdout
    assert not _objects(tmp_path)


def test_cache_command_line_reports_an_untrusted_directory(tmp_path, capsys):
    import symgraph as sg
    from symgraph import cache

    shared = tmp_path / "shared"
    (shared / "llvm" / "ab").mkdir(parents=True)
    (shared / "llvm" / "ab" / "ab12.o").write_bytes(b"someone else's")
    shared.chmod(0o777)
    with sg.config.change_flags(compiledir=str(shared)):
        assert cache.main(["info"]) == 0
        assert "trusted:   no: it has mode 0777" in capsys.readouterr().out
        assert cache.main(["clear"]) == 1
        assert "not clearing" in capsys.readouterr().err
    assert (shared / "llvm" / "ab" / "ab12.o").exists()


# -- damage: every unusable entry is rebuilt, nothing foreign reaches the JIT --------------------
def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A private secret under ``tmp_path/config`` for every process of a test."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), **extra}


def test_swapped_entries_are_rebuilt(tmp_path):
    """Two valid entries exchanged on disk once made every later process abort (LLVM ERROR:
    Symbol not found: sg_api): each is now refused as stored under another key."""
    cache_dir = tmp_path / "cache"
    first = _run(cache_dir, env=_env(tmp_path))
    kernel, entry = _objects(cache_dir)
    kernel_bytes, entry_bytes = kernel.read_bytes(), entry.read_bytes()
    kernel.write_bytes(entry_bytes)
    entry.write_bytes(kernel_bytes)
    again = _run(cache_dir, env=_env(tmp_path))
    assert again["ok"] and again["compiled"] == first["compiled"] == 2
    assert (kernel.read_bytes(), entry.read_bytes()) == (kernel_bytes, entry_bytes)
    assert _run(cache_dir, env=_env(tmp_path))["from_disk"] == 2


# Compiles x*2+1 and x*3+1, then forges objects computing x*3+1 under the symbol names of
# x*2+1: printed as {cache key of x*2+1: object code (hex)}.
FORGE = """
import json, symgraph as sg
sg.config.tier = "final"  # the compile is what these scripts look at
from symgraph.codegen.llvm import jit
calls = []
real = jit.Engine.compile
def logged(self, text, symbols, speed_level=jit.OPT_LEVEL, codegen_level=jit.OPT_LEVEL):
    levels = (speed_level, codegen_level)
    calls.append((self.key(text, *levels), text, symbols, levels))
    return real(self, text, symbols, *levels)
jit.Engine.compile = logged
x = sg.fvector("x")
sg.function([x], x * 2 + 1, mode="llvm")
wanted = calls[:]
del calls[:]
sg.function([x], x * 3 + 1, mode="llvm")
assert len(calls) == len(wanted)
renames = {a: b for c, w in zip(calls, wanted) for a, b in zip(c[2], w[2])}
forged = {}
for (key, _, _, _), (_, text, _, level) in zip(wanted, calls):
    for old, new in renames.items():
        text = text.replace(old, new)
    forged[key] = jit.engine()._codegen(text, *level).hex()
print(json.dumps(forged))
"""

VICTIM = """
import json, numpy as np, symgraph as sg
sg.config.tier = "final"  # the compile is what these scripts look at
from symgraph.codegen.llvm.jit import engine
x = sg.fvector("x")
f = sg.function([x], x * 2 + 1, mode="llvm")
stats = engine().stats
print(json.dumps({"y": f(np.arange(3, dtype="float32")).tolist(), "compiled": stats.compiled,
                  "from_disk": stats.from_disk}))
"""


@pytest.fixture(scope="module")
def forged_objects(tmp_path_factory) -> dict[str, bytes]:
    tmp_path = tmp_path_factory.mktemp("forge")
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path / "cache"), **_env(tmp_path))
    out = subprocess.run([sys.executable, "-c", FORGE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return {k: bytes.fromhex(v) for k, v in json.loads(out.stdout.splitlines()[-1]).items()}


@pytest.mark.parametrize("forgery", ["checksum", "other secret", "with the secret"])
def test_forged_entries_never_run(tmp_path, forged_objects, forgery):
    """Code of x*3+1 written under the keys of x*2+1 by someone who can write the cache: with a
    valid checksum (the old format) or a MAC under another secret it is never loaded; only with
    this user's secret would it be (the control that shows the forgery is a working one)."""
    from symgraph.codegen import diskcache
    from symgraph.codegen.llvm import cache

    config = tmp_path / "config"
    secret_file = config / "symgraph" / "cache-secret"
    secret_file.parent.mkdir(parents=True, mode=0o700)
    secret_file.write_bytes(os.urandom(32))
    secret_file.chmod(0o600)
    cache_dir = tmp_path / "cache"
    for key, obj in forged_objects.items():
        path = cache_dir / "llvm" / key[:2] / f"{key}.o"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes({
            "checksum": b"SGOBJ1\n" + hashlib.sha256(obj).digest() + obj,
            "other secret": diskcache.encode(cache.MAGIC, key, obj, os.urandom(32)),
            "with the secret": diskcache.encode(cache.MAGIC, key, obj, secret_file.read_bytes()),
        }[forgery])
    result = _run(cache_dir, VICTIM, env=_env(tmp_path))
    if forgery == "with the secret":
        assert result["y"] == [1, 4, 7] and result["from_disk"] == len(forged_objects)
        return
    assert result["y"] == [1, 3, 5]
    assert result["compiled"] == len(forged_objects) and result["from_disk"] == 0
    again = _run(cache_dir, VICTIM, env=_env(tmp_path))  # the forgeries were overwritten
    assert again["y"] == [1, 3, 5] and again["from_disk"] == len(forged_objects)


TIMED = SCRIPT.replace('x = sg.fvector("x")',
                       'import time\nstart = time.monotonic()\nx = sg.fvector("x")') \
    .replace('"from_disk": stats.from_disk',
             '"from_disk": stats.from_disk, "seconds": time.monotonic() - start')

HOLD = """
import sys, time
from pathlib import Path
from symgraph.codegen import cachelock
held = [cachelock.acquire(Path(name), name, lambda: False, 0) for name in sys.argv[1:]]
assert None not in held
print("holding", flush=True)
time.sleep(120)
"""


def test_a_hung_lock_holder_costs_one_bounded_wait(tmp_path):
    """A process hung while building every entry once made a compile wait 120 s an entry,
    silently; now it waits ``cache_lock_wait`` seconds once, says for whom, and compiles."""
    cache_dir = tmp_path / "cache"
    _run(cache_dir, env=_env(tmp_path))
    locks = [str(p) + ".lock" for p in _objects(cache_dir)]
    _run(cache_dir, "from symgraph import cache; cache.clear()", env=_env(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, *locks], cwd=ROOT,
                              env=dict(os.environ, **_env(tmp_path)), stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        wait = 2
        flags = f"cache_lock_wait={wait},tier=final"
        result, stderr = _run(cache_dir, TIMED, with_stderr=True,
                              env=_env(tmp_path, SYMGRAPH_FLAGS=flags))
    finally:
        holder.kill()
        holder.wait()
    assert result["ok"] and result["compiled"] == len(locks) == 2
    assert wait <= result["seconds"] < 2 * wait, stderr
    assert f"held by pid {holder.pid} " in stderr and "gave up" in stderr
