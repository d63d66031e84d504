"""Native entry points kept on disk (codegen/llvm/entry_cache.py): a function whose rewritten
graph comes from the whole-function cache takes its compiled entry point from the disk too, in
this process or a later one, with no planning, IR or LLVM; the results are those of the
entry point compiled afresh; an entry that is damaged, or whose object code is gone, is
compiled again; and the loaded entry point serves many threads at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm import cache as llvm_cache
from symgraph.codegen.llvm import entry_cache
from symgraph.codegen.llvm.jit import engine
from tests.test_threads import _hammer

ROOT = Path(__file__).resolve().parents[2]


def _counts():
    stats = engine().stats
    return entry_cache.STATS.loaded, stats.compiled


def _phases(f):
    return set(f.profile.phase_time) if f.profile is not None else set()


def _mlp(rng, profile=False, tier="final"):
    x, y = sg.dmatrix("x"), sg.ivector("y")
    w = sg.shared(rng.normal(size=(4, 3)) * 0.5, name="w")
    b = sg.shared(np.zeros(3), name="b")
    probs = sg.nnet.softmax(sg.tanh(x @ w + b))
    loss = sg.nnet.categorical_crossentropy(probs, y).mean()
    gw, gb = sg.grad(loss, [w, b])
    f = sg.function([x, y], loss, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)],
                    profile=profile, tier=tier)
    return f, w, b


def _run_mlp(f, w, b):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6).astype("int32")
    losses = [float(f(x, y)) for _ in range(3)]
    return losses, w.get_value(), b.get_value()


def test_a_second_function_of_the_same_graph_loads_its_entry_point(cache_dir):
    f, w, b = _mlp(np.random.default_rng(0))
    before = _counts()
    g, w2, b2 = _mlp(np.random.default_rng(0), profile=True)
    h, w3, b3 = _mlp(np.random.default_rng(0), profile=True)
    loaded, compiled = _counts()
    assert loaded == before[0] + 1 and compiled == before[1] + 1  # g's entry point only
    assert "codegen (plan, IR)" in _phases(g) and "codegen (plan, IR)" not in _phases(h)
    assert "load (entry point and code from the disk)" in _phases(h)
    expected = _run_mlp(f, w, b)
    for fn, ws, bs in ((g, w2, b2), (h, w3, b3)):
        losses, w_after, b_after = _run_mlp(fn, ws, bs)
        assert losses == expected[0]  # the same object code: the same numbers
        np.testing.assert_array_equal(w_after, expected[1])
        np.testing.assert_array_equal(b_after, expected[2])
    # The plan is made again when asked for, with the same steps.
    assert [s.node.op for s in h._native.program.steps] == [s.node.op for s in
                                                             g._native.program.steps]
    # And so is the entry point's IR, for f.dump and the viewer: the text that was compiled.
    assert h.dump("llvm") == g.dump("llvm")


def test_a_perform_callback_inside_a_loop_body_is_found_again(cache_dir):
    xs = sg.dmatrix("xs")
    ys, _ = sg.scan(lambda x, acc: acc + sg.cumsum(sg.exp(x)), sequences=xs,
                    outputs_info=sg.zeros((4,), "float64"))
    top = sg.cumsum(xs, axis=0)  # a callback of the entry point itself
    data = np.random.default_rng(0).normal(size=(5, 4))
    f = sg.function([xs], [ys, top], tier="final")
    before = _counts()
    g = sg.function([xs], [ys, top], tier="final")
    assert _counts() == (before[0] + 1, before[1])
    expected = np.cumsum(np.cumsum(np.exp(data), axis=1), axis=0)
    for fn in (f, g):
        got = fn(data)
        np.testing.assert_allclose(got[0], expected, rtol=1e-13)
        np.testing.assert_array_equal(got[1], np.cumsum(data, axis=0))
    with pytest.raises(ValueError, match="xs"):
        g(np.ones((2, 3)))  # the reference path still names the node


def test_a_tiered_function_installs_a_kept_entry_point_at_once(cache_dir):
    f, w, b = _mlp(np.random.default_rng(0))
    g, w2, b2 = _mlp(np.random.default_rng(0), tier="tiered")
    assert g.tier == "final" and g._native is not None
    assert _run_mlp(g, w2, b2)[0] == _run_mlp(f, w, b)[0]


def _damage(paths):
    for path in paths:
        raw = path.read_bytes()
        path.write_bytes(raw[:-5] + bytes(b ^ 0xFF for b in raw[-5:]))


def test_a_damaged_entry_compiles_again(cache_dir):
    f, w, b = _mlp(np.random.default_rng(0), profile=True)
    expected = _run_mlp(f, w, b)[0]
    assert entry_cache.CACHE.entries()
    _damage(entry_cache.CACHE.entries())
    refused = entry_cache.STATS.absent
    g, w2, b2 = _mlp(np.random.default_rng(0), profile=True)
    assert "codegen (plan, IR)" in _phases(g) and entry_cache.STATS.absent == refused + 1
    assert _run_mlp(g, w2, b2)[0] == expected
    # ... and the entry written again serves the next one.
    h, w3, b3 = _mlp(np.random.default_rng(0), profile=True)
    assert "codegen (plan, IR)" not in _phases(h)
    assert _run_mlp(h, w3, b3)[0] == expected


def test_an_entry_point_from_the_disk_serves_eight_threads(cache_dir):
    x = sg.dmatrix("x")
    s = sg.shared(np.float64(1.0), name="s")
    out = sg.tanh(x @ x.T).sum(axis=0) * s + x[:, 0]
    sg.function([x], out, tier="final")
    before = _counts()
    f = sg.function([x], out, tier="final")
    assert _counts()[0] == before[0] + 1
    def work(t, k):
        a = np.random.default_rng(100 * t + k).normal(size=(3 + (t + k) % 5, 40))
        np.testing.assert_allclose(f(a), np.tanh(a @ a.T).sum(axis=0) + a[:, 0], rtol=1e-12)

    _hammer(work, calls=100)


PROCESS_SCRIPT = """
import json, sys, numpy as np, symgraph as sg
from symgraph.codegen.llvm import entry_cache
from symgraph.codegen.llvm.jit import engine
from tests.test_threads import _hammer

rng = np.random.default_rng(0)
x, y = sg.dmatrix("x"), sg.ivector("y")
w = sg.shared(rng.normal(size=(4, 3)) * 0.5)
b = sg.shared(np.zeros(3))
loss = sg.nnet.categorical_crossentropy(sg.nnet.softmax(sg.tanh(x @ w + b)), y).mean()
gw, gb = sg.grad(loss, [w, b])
mlp = sg.function([x, y], loss, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)],
                  tier="tiered")
mlp_tier = mlp.tier
mlp.wait_final()  # every call on the native code: the same numbers in every process
data, labels = rng.normal(size=(6, 4)), rng.integers(0, 3, 6).astype("int32")
losses = [float(mlp(data, labels)) for _ in range(3)]

xs = sg.ftensor3("xs")
n_in, hidden, batch = 3, 5, 2
wx = sg.shared((rng.normal(size=(n_in, 4 * hidden)) * 0.3).astype("float32"))
wh = sg.shared((rng.normal(size=(hidden, 4 * hidden)) * 0.3).astype("float32"))
def step(x, h, c):
    z = x @ wx + h @ wh
    i, f, o = (sg.nnet.sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3))
    c = f * c + i * sg.tanh(z[:, 3 * hidden:])
    return o * sg.tanh(c), c
h0 = sg.zeros((batch, hidden), "float32")
(hs, _), _ = sg.scan(step, sequences=xs, outputs_info=[h0, h0])
cost = (hs[-1] ** 2).sum()
lstm = sg.function([xs], [cost] + sg.grad(cost, [wx, wh]), profile=True, tier="final")
seq = rng.normal(size=(6, batch, n_in)).astype("float32")
out = lstm(seq)
print(json.dumps({
    "losses": losses, "w": w.get_value().tolist(), "b": b.get_value().tolist(),
    "lstm": [np.asarray(o).tolist() for o in out], "mlp_tier": mlp_tier,
    "phases": sorted(lstm.profile.phase_time), "compiled": engine().stats.compiled,
    **{k: v for k, v in entry_cache.info().items() if isinstance(v, int)}}))
"""


def test_a_new_process_takes_the_entry_points_from_disk(tmp_path):
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", PROCESS_SCRIPT], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert first["stored"] == 2 and first["loaded"] == 0 and first["compiled"] > 0
    assert first["mlp_tier"] == "quick" and "codegen (plan, IR)" in first["phases"]
    assert second["loaded"] == 2 and second["stored"] == 0 and second["compiled"] == 0
    assert second["mlp_tier"] == "final"  # installed at once: no quick tier
    assert "codegen (plan, IR)" not in second["phases"]
    assert "load (entry point and code from the disk)" in second["phases"]
    # Damaged object code is never linked: the entry points are compiled again.
    with sg.change_flags(compiledir=str(tmp_path)):
        _damage(llvm_cache.CACHE.entries())
    third = run()
    assert third["loaded"] == 0 and third["refused"] == 2 and third["compiled"] > 0
    assert "codegen (plan, IR)" in third["phases"]
    for run_ in (second, third):
        for name in ("losses", "w", "b", "lstm"):
            assert run_[name] == first[name]  # bit for bit
