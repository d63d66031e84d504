"""Compiled functions called from many threads at once: every result is checked against NumPy,
on the native backend and on the reference one.

Each test starts 8 threads that call functions hundreds of times with shapes that change from
call to call, and collects every mismatch; a crash, a wrong value or a lost update fails it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

import symgraph as sg

THREADS = 8
CALLS = 150

MODES = ["llvm", "py"]


def _hammer(work: Callable[[int, int], None], calls: int = CALLS) -> None:
    """Run ``work(thread, k)`` for ``calls`` values of k in each of THREADS threads, all
    released together; re-raise the first failure."""
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(t: int) -> None:
        start.wait()
        try:
            for k in range(calls):
                work(t, k)
        except BaseException as err:  # noqa: BLE001 - reported below, with its thread
            failures.append(err)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _pair(t: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 * t + k)
    shape = (3 + (t + k) % 5, 50 + 10 * t)
    return rng.normal(size=shape), rng.normal(size=shape)


@pytest.mark.parametrize("mode", MODES)
def test_ifelse_functions_one_per_thread_and_one_shared(mode):
    x, y, c = sg.dmatrix("x"), sg.dmatrix("y"), sg.lscalar("c")
    out = sg.ifelse(c, x * y + 1, x - y)
    own = [sg.function([c, x, y], out, mode=mode) for _ in range(THREADS)]
    shared = sg.function([c, x, y], out, mode=mode)

    def work(t: int, k: int) -> None:
        a, b = _pair(t, k)
        np.testing.assert_allclose(own[t](1, a, b), a * b + 1, rtol=1e-13)
        np.testing.assert_allclose(shared(k % 2, a, b), a * b + 1 if k % 2 else a - b,
                                   rtol=1e-13)

    _hammer(work)


@pytest.mark.parametrize("mode", MODES)
def test_python_op_between_compiled_kernels(mode):
    @sg.as_op(itypes=[sg.dmatrix], otypes=[sg.dmatrix])
    def running_total(a):
        return np.cumsum(a, axis=1)

    x = sg.dmatrix("x")
    f = sg.function([x], sg.exp(running_total(sg.tanh(x) * 2)) + 1, mode=mode)

    def work(t: int, k: int) -> None:
        a, _ = _pair(t, k)
        np.testing.assert_allclose(f(a), np.exp(np.cumsum(np.tanh(a) * 2, axis=1)) + 1,
                                   rtol=1e-12)

    _hammer(work)


@pytest.mark.parametrize("mode", MODES)
def test_scan_recurrence(mode):
    xs, h0 = sg.dmatrix("xs"), sg.dvector("h0")
    w = sg.dmatrix("w")
    hs, _ = sg.scan(lambda x, h, w: sg.tanh(x + sg.dot(h, w)), sequences=xs,
                    outputs_info=h0, non_sequences=w)
    f = sg.function([xs, h0, w], hs, mode=mode)

    def work(t: int, k: int) -> None:
        rng = np.random.default_rng(7 * t + 1000 * k)
        n, steps = 4 + t % 3, 2 + (t + k) % 6
        seq, start, weights = rng.normal(size=(steps, n)), rng.normal(size=n), \
            rng.normal(size=(n, n)) * 0.5
        expected, h = [], start
        for row in seq:
            h = np.tanh(row + h @ weights)
            expected.append(h)
        np.testing.assert_allclose(f(seq, start, weights), np.array(expected), rtol=1e-12)

    _hammer(work, calls=60)


@pytest.mark.parametrize("mode", MODES)
def test_updates_are_applied_once_per_call(mode):
    total = sg.shared(np.int64(0), name="total")
    count = sg.shared(np.zeros(3), name="count")
    x = sg.lvector("x")
    f = sg.function([x], x * 2, mode=mode,
                    updates=[(total, total + x.sum()), (count, count + 1)])
    sums = [0] * THREADS

    def work(t: int, k: int) -> None:
        data = np.arange(t, t + k % 7 + 1, dtype=np.int64)
        np.testing.assert_array_equal(f(data), data * 2)
        sums[t] += int(data.sum())

    _hammer(work)
    assert int(total.get_value()) == sum(sums)
    np.testing.assert_array_equal(count.get_value(), np.full(3, THREADS * CALLS))


@pytest.mark.parametrize("mode", MODES)
def test_random_draws_are_neither_lost_nor_repeated(mode):
    rng = sg.random.RandomStream(5)
    f = sg.function([], rng.normal(size=(4,)), mode=mode)
    draws: list[np.ndarray] = []

    def work(t: int, k: int) -> None:
        draws.append(f())

    _hammer(work, calls=50)
    reference = np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0])
    expected = [reference.normal(size=4) for _ in range(THREADS * 50)]
    assert sorted(map(tuple, draws)) == sorted(map(tuple, expected))


def test_long_kernels_run_without_the_gil_and_stay_correct():
    x, y = sg.fvectors("x", "y")
    f = sg.function([x, y], [sg.tanh(x * y) + sg.exp(-x * x), sg.dot(x, y)])
    m, v = sg.fmatrix("m"), sg.fvector("v")
    g = sg.function([m, v], sg.dot(m, v) * 2)

    def work(t: int, k: int) -> None:
        rng = np.random.default_rng(100 * t + k)
        a = rng.normal(size=200_000 + 17 * t).astype("float32")
        b = rng.normal(size=a.size).astype("float32")
        out, dot = f(a, b)
        np.testing.assert_allclose(out, np.tanh(a * b) + np.exp(-a * a), rtol=2e-6, atol=2e-6)
        scale = float(np.abs(a.astype("float64") * b).sum())  # the dot's condition
        np.testing.assert_allclose(dot, np.dot(a.astype("float64"), b), atol=1e-6 * scale)
        mat = rng.normal(size=(300 + t, 400)).astype("float32")
        np.testing.assert_allclose(g(mat, b[:400]), 2 * (mat @ b[:400]), rtol=1e-4, atol=1e-3)

    _hammer(work, calls=20)


def test_errors_in_some_threads_leave_the_others_correct():
    x, y = sg.dvector("x"), sg.dvector("y")
    f = sg.function([x, y], sg.exp(x) + y)

    def work(t: int, k: int) -> None:
        a = np.linspace(0, 1, 10 + t)
        if (t + k) % 3 == 0:
            with pytest.raises(ValueError, match="do not match"):
                f(a, np.ones(a.size + 1))
        else:
            np.testing.assert_allclose(f(a, a), np.exp(a) + a, rtol=1e-14)

    _hammer(work)


def test_a_function_called_from_its_own_python_op():
    x = sg.dvector("x")
    functions = {}

    @sg.as_op(itypes=[sg.dvector], otypes=[sg.dvector])
    def split(a):
        if a.size <= 1:
            return a * 2
        f = functions["f"]  # f(v) = split(v) + 1: each half goes through f again
        return np.concatenate([f(a[: a.size // 2]), f(a[a.size // 2:])]) - 1

    functions["f"] = f = sg.function([x], split(x) + 1)
    a = np.arange(9.0)
    np.testing.assert_allclose(f(a), 2 * a + 1)
    _hammer(lambda t, k: np.testing.assert_allclose(f(a[: 2 + t]), 2 * a[: 2 + t] + 1),
            calls=40)
