"""The whole-function cache: compiling a graph that was compiled before (in this process, or
in an earlier one through the disk cache) reuses its rewritten graph; keys ignore identity,
names and hash seeds, bind shared variables by position, and miss on what cannot be keyed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgraph as sg
from symgraph import function_cache

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rewrites(monkeypatch):
    """How many times the rewrite pipeline ran."""
    function_module = sys.modules["symgraph.function"]
    runs = []
    original = function_module.run_pipeline
    monkeypatch.setattr(function_module, "run_pipeline",
                        lambda *a, **k: runs.append(1) or original(*a, **k))
    return runs


def _mlp_step(rng, scale=1.0):
    x = sg.dmatrix("x")
    w = sg.shared(rng.normal(size=(3, 4)) * scale, name="w")
    loss = (sg.tanh(x @ w) ** 2).mean()
    return w, sg.function([x], loss, updates=[(w, w - 0.1 * sg.grad(loss, w))])


def test_the_same_graph_again_skips_the_rewrites(cache_dir, rewrites):
    rng = np.random.default_rng(0)
    w, f = _mlp_step(rng)
    # Built again from scratch by the same lines: other variables, another shared variable.
    w2, g = _mlp_step(rng, scale=2.0)
    assert len(rewrites) == 1 and function_cache.STATS.memory_hits >= 1
    data = rng.normal(size=(5, 3))
    w_before, w2_before = w.get_value(), w2.get_value()
    np.testing.assert_allclose(g(data), (np.tanh(data @ w2_before) ** 2).mean(), rtol=1e-13)
    np.testing.assert_array_equal(w.get_value(), w_before)  # g updates its own variable
    assert not np.array_equal(w2.get_value(), w2_before)
    np.testing.assert_allclose(f(data), (np.tanh(data @ w_before) ** 2).mean(), rtol=1e-13)


def test_the_same_graph_built_elsewhere_keeps_its_own_lines(cache_dir, rewrites):
    x = sg.dvector("x")
    f = sg.function([x], sg.exp(x) + x[:2])
    g = sg.function([x], sg.exp(x) + x[:2])  # another line: errors must point here
    assert len(rewrites) == 2
    with pytest.raises(ValueError) as info:
        g(np.ones(3))
    assert "g = sg.function" in str(info.value)
    with pytest.raises(ValueError) as info:
        f(np.ones(3))
    assert "f = sg.function" in str(info.value)


def test_graphs_that_differ_do_not_share_an_entry(cache_dir, rewrites):
    x = sg.dvector("x")
    f = sg.function([x], x * 2 + 1)
    g = sg.function([x], x * 3 + 1)  # another constant
    h = sg.function([x], x * 2 + 1, mode="py")  # another mode
    assert len(rewrites) == 3
    np.testing.assert_array_equal(f(np.arange(3.0)), [1, 3, 5])
    np.testing.assert_array_equal(g(np.arange(3.0)), [1, 4, 7])
    np.testing.assert_array_equal(h(np.arange(3.0)), [1, 3, 5])


def test_ops_that_cannot_be_keyed_just_miss(cache_dir, rewrites):
    factor = 3.0

    @sg.as_op(itypes=[sg.dvector], otypes=[sg.dvector])
    def scale(a):  # a local function: no stable name
        return a * factor

    x = sg.dvector("x")
    for _ in range(2):
        f = sg.function([x], scale(x) + 1)
        np.testing.assert_array_equal(f(np.arange(3.0)), [1, 4, 7])
    assert len(rewrites) == 2 and function_cache.STATS.unkeyable >= 2


KEY_SCRIPT = """
import json, numpy as np, symgraph as sg
from symgraph import function_cache
x = sg.dmatrix("x"); w = sg.shared(np.ones((3, 3)))
y = sg.nnet.softmax(sg.tanh(x @ w) + 0.5).sum()
print(json.dumps(function_cache.graph_key([x, w], [y, sg.grad(y, w)], ("mode",))))
"""


def test_keys_are_the_same_in_every_process_and_hash_seed():
    keys = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", KEY_SCRIPT], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120, check=True)
        keys.add(json.loads(out.stdout.strip().splitlines()[-1]))
    assert len(keys) == 1 and None not in keys


PROCESS_SCRIPT = """
import json, numpy as np, symgraph as sg
from symgraph import function_cache
x = sg.dvector("x")
f = sg.function([x], sg.log1p(sg.exp(x)).sum() + sg.nnet.sigmoid(x).mean())
value = float(f(np.linspace(-2, 2, 5)))
print(json.dumps({"value": value, **function_cache.info()}))
"""


def test_a_new_process_takes_the_rewritten_graph_from_disk(tmp_path):
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path))
    runs = [json.loads(subprocess.run(
        [sys.executable, "-c", PROCESS_SCRIPT], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120, check=True).stdout.strip().splitlines()[-1]) for _ in range(2)]
    a = np.linspace(-2, 2, 5)
    expected = np.log1p(np.exp(a)).sum() + (1 / (1 + np.exp(-a))).mean()
    assert runs[0]["misses"] == 1 and runs[0]["disk_hits"] == 0
    assert runs[1]["disk_hits"] == 1 and runs[1]["misses"] == 0
    for run in runs:
        assert run["value"] == pytest.approx(expected, rel=1e-13)


def test_a_damaged_entry_is_rewritten_again(cache_dir, rewrites):
    x = sg.dvector("x")
    sg.function([x], sg.exp(x) - 1)
    function_cache._MEMORY.clear()
    for entry in function_cache.CACHE.entries():
        entry.write_bytes(entry.read_bytes()[:-7] + b"garbage")
    f = sg.function([x], sg.exp(x) - 1)
    assert len(rewrites) == 2
    np.testing.assert_allclose(f(np.array([1e-10])), [1e-10], rtol=1e-6)


def test_the_cache_can_be_turned_off(cache_dir, rewrites):
    x = sg.dvector("x")
    with sg.change_flags(function_cache=False):
        sg.function([x], x + 1)
        sg.function([x], x + 1)
    assert len(rewrites) == 2


def _deep_chain_function(depth):
    x = sg.dvector("x")
    out = x
    for k in range(depth):
        out = sg.tanh(out) * 0.9 + x if k % 2 else out * 1.01 - 0.5
    return sg.function([x], [out.sum(), sg.grad(out.sum(), x)], mode="py")


def test_a_graph_deeper_than_the_recursion_limit_is_kept(cache_dir, rewrites):
    # Pickling follows no chain of links (FunctionGraph pickles flat), so a long chain and
    # its gradient are cached like any graph.
    depth = sys.getrecursionlimit() + 200
    f = _deep_chain_function(depth)
    g = _deep_chain_function(depth)
    assert len(rewrites) == 1 and function_cache.STATS.memory_hits >= 1
    value = np.linspace(-1, 1, 5)
    for a, b in zip(f(value), g(value)):
        np.testing.assert_array_equal(a, b)
