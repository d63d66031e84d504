"""Tiered compilation: a function answers at once on the reference backend while its native
code compiles in the background; calls switch to it safely, with the same results, updates
applied once per call and the same random draws."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import symgraph as sg
from symgraph import tiers

pytest.importorskip("llvmlite")


def _chain(x, n: int):
    out = x
    for k in range(n):
        out = sg.tanh(out * (1.0 + k / n)) + 0.5
    return out


def _chain_reference(a, n: int):
    out = a
    for k in range(n):
        out = np.tanh(out * (1.0 + k / n)) + 0.5
    return out


@pytest.fixture(autouse=True)
def empty_cache(tmp_path):
    """An empty compile cache: a function whose entry point an earlier run kept on disk
    would switch to it at once, with no quick tier to test."""
    with sg.change_flags(compiledir=str(tmp_path)):
        yield


@pytest.fixture
def held(monkeypatch):
    """Functions whose background build is held back: the test runs ``_build_final()``."""
    pending: list = []
    monkeypatch.setattr(tiers, "submit", pending.append)
    return pending


def test_a_tiered_function_answers_before_its_native_code_exists(held):
    x = sg.dvector("x")
    f = sg.function([x], _chain(x, 5), tier="tiered")
    assert held == [f] and f.tier == "quick"
    a = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(f(a), _chain_reference(a, 5), rtol=1e-14)
    assert f._native_fn is None  # that call ran on the reference backend
    held.pop()._build_final()
    assert f.tier == "final" and f._native is not None
    np.testing.assert_allclose(f(a), _chain_reference(a, 5), rtol=1e-14)


def test_the_background_thread_switches_calls_to_native_code():
    x = sg.dvector("x")
    f = sg.function([x], _chain(x, 5), tier="tiered")
    assert f.wait_final(60) and f._native is not None
    np.testing.assert_allclose(f(np.ones(3)), _chain_reference(np.ones(3), 5), rtol=1e-14)


def test_wait_idle_returns_once_every_submitted_build_has_finished():
    x = sg.dvector("x")
    fs = [sg.function([x], _chain(x, k), tier="tiered") for k in (3, 4, 6)]
    assert tiers.wait_idle(timeout=120)
    assert all(f.tier == "final" and f._native is not None for f in fs)
    assert tiers._PENDING == 0
    assert tiers.wait_idle(timeout=0)  # nothing pending: at once


def test_final_tier_and_profiled_functions_compile_before_returning():
    x = sg.dvector("x")
    assert sg.function([x], x * 2, tier="final").tier == "final"
    assert sg.function([x], x * 3, tier="tiered", profile=True).tier == "final"
    with sg.change_flags(tier="final"):
        assert sg.function([x], x * 4).tier == "final"
    with pytest.raises(ValueError, match="tier"):
        sg.function([x], x, tier="fast")


def test_updates_apply_once_per_call_across_the_switch(held):
    total = sg.shared(np.float64(0.0), name="total")
    x = sg.dvector("x")
    f = sg.function([x], _chain(x, 20).sum(), updates=[(total, total + x.sum())],
                    tier="tiered")
    expected = 0.0
    for k in range(100):
        if k == 50:
            held.pop()._build_final()
        assert f.tier == ("quick" if k < 50 else "final")
        a = np.full(3, float(k % 5))
        np.testing.assert_allclose(f(a), _chain_reference(a, 20).sum(), rtol=1e-13)
        expected += a.sum()
    assert float(total.get_value()) == expected


def test_random_draws_are_the_same_on_every_tier(held):
    def draws(tier: str) -> list[np.ndarray]:
        rng = sg.random.RandomStream(3)
        x = sg.dvector("x")
        f = sg.function([x], _chain(x, 10) + rng.normal(size=(4,)), tier=tier)
        out = [f(np.zeros(4)) for _ in range(5)]
        if held:
            held.pop()._build_final()
        return out + [f(np.zeros(4)) for _ in range(5)]

    tiered, final = draws("tiered"), draws("final")
    assert not held
    for got, want in zip(tiered, final):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_eight_threads_calling_through_the_switch(held):
    x = sg.dmatrix("x")
    f = sg.function([x], _chain(x, 30), tier="tiered")
    failures: list[BaseException] = []
    quick_calls = [0] * 8
    final_calls = [0] * 8
    started = threading.Barrier(9)

    def work(t: int) -> None:
        started.wait()
        try:
            # Until 20 calls ran native code (a loaded machine may take seconds to build it).
            deadline = time.monotonic() + 300
            for k in itertools.count():
                if time.monotonic() > deadline:
                    return
                tier = f.tier
                a = np.full((2 + t % 3, 5), (t + k % 50) / 100.0)
                np.testing.assert_allclose(f(a), _chain_reference(a, 30), rtol=1e-13)
                if tier == "quick":
                    quick_calls[t] += 1
                else:
                    final_calls[t] += 1
                    if final_calls[t] == 20:
                        return
        except BaseException as err:  # noqa: BLE001 - re-raised below
            failures.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    started.wait()
    while min(quick_calls) < 3 and not failures:
        time.sleep(0.001)
    held.pop()._build_final()  # while the threads call
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    assert min(quick_calls) >= 3 and final_calls == [20] * 8


def test_a_failed_background_build_is_reported_on_the_next_call(monkeypatch):
    from symgraph.codegen.llvm.backend import LinkedGraph

    def broken(self, spec):
        raise RuntimeError("simulated LLVM failure")

    monkeypatch.setattr(LinkedGraph, "native_entry", broken)
    x = sg.dvector("x")
    f = sg.function([x], x * 2 + 1, tier="tiered")
    assert f.wait_final(60)
    with pytest.warns(RuntimeWarning, match="simulated LLVM failure"):
        np.testing.assert_array_equal(f(np.arange(3.0)), [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(f(np.arange(3.0)), [1.0, 3.0, 5.0])  # still answers


def test_exit_does_not_wait_for_queued_background_compiles():
    script = textwrap.dedent("""
        import numpy as np, symgraph as sg
        x = sg.dvector("x")
        fs = []
        for k in range(40):
            out = x
            for j in range(25):
                out = sg.tanh(out * (1.0 + j / (k + 25.0))) + 0.5
            fs.append(sg.function([x], out, tier="tiered"))
        print(float(fs[-1](np.zeros(2))[0]))
    """)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    float(done.stdout.strip())
    assert time.perf_counter() - start < 60
