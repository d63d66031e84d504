"""The collector pause around native builds: automatic collection is off inside, back on
after the last of any nested or concurrent blocks, and left off when it was off before."""

import gc
import threading

import numpy as np

import symgraph as sg
from symgraph.codegen.gcpause import gc_paused


def test_pause_nests_and_restores():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_resumes():
    try:
        with gc_paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()


def test_overlapping_blocks_from_threads_resume_after_the_last():
    inside, release = threading.Barrier(3), threading.Event()
    seen = []

    def hold():
        with gc_paused():
            inside.wait()
            release.wait()
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert not gc.isenabled()
    release.set()
    for t in threads:
        t.join()
    assert seen == [False, False]  # each block ends after it looked
    assert gc.isenabled()


def test_building_functions_leaves_the_collector_on():
    x = sg.dmatrix("x")
    f = sg.function([x], sg.tanh(x) * 2.5 + x, tier="final")
    value = np.linspace(-1, 1, 6).reshape(2, 3)
    np.testing.assert_allclose(f(value), np.tanh(value) * 2.5 + value, rtol=1e-12)
    assert gc.isenabled()
