"""Handing unfinished background compiles to a detached process at exit (symgraph/tier_handoff.py):
a short program that exits while its tiered function still runs on the quick tier leaves its
native code to be built and kept, and the next run of the program loads that code at once
with the results of a fresh compile; the exit never waits; the jobs entry is authenticated;
nothing is handed over when the flag is off or for profiled and NaN-guarded functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import symgraph as sg
from symgraph import tier_handoff
from symgraph.codegen.contract import CallSpec

ROOT = Path(__file__).resolve().parents[1]

# A tiered loop (its kept entry point loads at once in a later process), run and exited at once.
PROGRAM = """
import json, sys, time
import numpy as np
import symgraph as sg
start = time.perf_counter()
xs = sg.dtensor3("xs")
w = sg.shared(np.linspace(-0.5, 0.5, 12).reshape(3, 4), name="w")
u = sg.shared(np.linspace(-0.3, 0.3, 16).reshape(4, 4), name="u")
hs, _ = sg.scan(lambda x, h: sg.tanh(x @ w + h @ u), sequences=xs,
                outputs_info=sg.constant(np.zeros((2, 4))))
loss = (hs[-1] ** 2).sum()
f = sg.function([xs], [loss] + sg.grad(loss, [w, u]))
tier = f.tier
values = f(np.random.default_rng(0).normal(size=(5, 2, 3)))
from symgraph.codegen.llvm import entry_cache
print(json.dumps({"tier": tier, "loaded": entry_cache.STATS.loaded,
                  "values": [np.asarray(v).tolist() for v in values],
                  "seconds": time.perf_counter() - start}))
"""


def _run(cache: Path, flags: str = "tier=tiered,tier_handoff=True") -> dict:
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(cache), SYMGRAPH_FLAGS=flags,
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _entries(cache: Path) -> list[Path]:
    return list((cache / "entries").rglob("*.entry"))


def _wait_for_handoff(cache: Path) -> None:
    assert tier_handoff.wait(cache, timeout=240)


def test_the_next_run_loads_the_code_the_first_one_left_unfinished(tmp_path):
    first = _run(tmp_path)
    assert first["tier"] == "quick" and first["loaded"] == 0
    _wait_for_handoff(tmp_path)
    assert _entries(tmp_path), "the detached process kept no entry point"
    second = _run(tmp_path)
    assert second["tier"] == "final" and second["loaded"] == 1
    _wait_for_handoff(tmp_path)  # nothing was left to hand over: no process
    fresh = _run(tmp_path / "fresh", flags="tier=final,tier_handoff=False")
    for a, b, c in zip(first["values"], second["values"], fresh["values"]):
        np.testing.assert_allclose(b, c, rtol=1e-12, atol=1e-14)  # kept code = fresh code
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-12)  # quick tier, within dtype


def test_nothing_is_handed_over_with_the_flag_off(tmp_path):
    first = _run(tmp_path, flags="tier=tiered,tier_handoff=False")
    assert first["tier"] == "quick"
    time.sleep(1.0)
    assert not (tmp_path / "handoff").exists()
    assert _run(tmp_path, flags="tier=tiered,tier_handoff=False")["loaded"] == 0


def _spec(identity, profile=False):
    from symgraph.ops.basic import Container

    shared = Container(None, None, "w")
    return CallSpec(n_args=1, containers=(shared,), n_outputs=1, update_containers=(shared,),
                    single=True, profile=profile, graph_identity=identity)


def test_only_cached_unprofiled_unguarded_functions_are_described(cache_dir):
    x = sg.dvector("x")
    f = sg.function([x], sg.tanh(x) * 2)
    identity = f._spec.graph_identity
    assert identity is not None
    job = tier_handoff.describe(sg.Mode("llvm"), _spec(identity))
    assert job is not None and job["pattern"] == [0, 0]  # one container, by position
    assert "value" not in repr(job["classes"])
    assert tier_handoff.describe(sg.Mode("llvm"), _spec(identity, profile=True)) is None
    assert tier_handoff.describe(sg.Mode("llvm", nan_guard=True), _spec(identity)) is None
    assert tier_handoff.describe(sg.Mode("llvm"), _spec(None)) is None
    assert tier_handoff.describe(sg.Mode("llvm"), _spec("not-a-stored-graph")) is None


def test_a_damaged_jobs_entry_is_refused_unread(cache_dir):
    key = "0" * 32
    tier_handoff.CACHE.store(key, tier_handoff.SUFFIX, b"\x80 not a pickle")
    path = tier_handoff.CACHE.path(key, tier_handoff.SUFFIX)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # the authentication no longer matches
    path.write_bytes(bytes(raw))
    assert tier_handoff.build(key) == 0
    assert not path.exists()
    assert tier_handoff.build("f" * 32) == 0  # absent


def test_a_stored_job_builds_an_entry_point_in_this_process(cache_dir):
    from symgraph.codegen.llvm import entry_cache

    x = sg.dvector("x")
    w = sg.shared(np.arange(3.0), name="w")
    f = sg.function([x], (x * w).sum(), updates=[(w, w + x)])
    job = tier_handoff.describe(f.mode, f._spec)
    assert job is not None
    key = "1" * 32
    import pickle

    payload = {"flags": {}, "jobs": [job]}
    tier_handoff.CACHE.store(key, tier_handoff.SUFFIX, pickle.dumps(payload))
    entry_cache.clear()
    assert tier_handoff.build(key) == 1
    assert entry_cache.find(entry_cache.entry_key(f._spec)) is not None
