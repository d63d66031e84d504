"""Kernels compile on a background thread while the function that needs them is planned:
the results are the same, errors reach the thread that asks, abandoned compiles leave
nothing broken, and functions built by many threads at once share kernels safely."""

import gc
import os
import signal
import threading

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm import kernel_code, lowering
from symgraph.codegen.llvm.jit import pinning


def _spec(expression):
    x = sg.dmatrix("x")
    node = expression(x).owner
    spec = lowering.elementwise_spec(node, inplace_ok=False)
    assert spec is not None
    return spec


def test_started_kernel_is_the_compiled_one():
    spec = _spec(lambda x: sg.cosh(x) * 3.25 - x)
    with pinning() as codes:
        kernel_code.start_kernel(spec)
        code = kernel_code.compile_kernel(spec)
    assert code in codes and kernel_code.compile_kernel(spec) is code


def test_abandoned_compile_leaves_the_kernel_buildable():
    spec = _spec(lambda x: sg.sinh(x) * 1.75 + x)
    with pinning():
        kernel_code.start_kernel(spec)  # never asked for: the build was given up
    gc.collect()
    with pinning() as codes:
        code = kernel_code.compile_kernel(spec)
    assert code.address and code in codes


def test_background_error_reaches_the_thread_that_asks(monkeypatch):
    spec = _spec(lambda x: sg.tanh(x) * 5.5 - 0.125)
    monkeypatch.setattr(kernel_code, "_kernel_text",
                        lambda s: ("this is not LLVM IR", "sg_kernel_broken"))
    with pinning():
        kernel_code.start_kernel(spec)
        with pytest.raises(RuntimeError):
            kernel_code.compile_kernel(spec)


def test_outside_pinning_kernels_compile_at_once():
    spec = _spec(lambda x: sg.exp(x) * 0.625 + 2.0)
    kernel_code.start_kernel(spec)  # nothing would own a background result here
    assert kernel_code._PENDING.get(spec) is None


def test_threads_building_functions_at_once_get_correct_results():
    rng = np.random.default_rng(5)
    value = rng.normal(size=(6, 5))
    scales = [1.5, 2.5, 1.5, 3.5, 2.5, 4.5, 1.5, 5.5]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(scales))

    def build(k):
        try:
            x = sg.dmatrix("x")
            out = sg.tanh(x * scales[k]) + sg.exp(-x) * k
            barrier.wait()
            f = sg.function([x], [out, sg.grad(out.sum(), x)], tier="final")
            results[k] = f(value)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=build, args=(k,)) for k in range(len(scales))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, scale in enumerate(scales):
        out, grad = results[k]
        want = np.tanh(value * scale) + np.exp(-value) * k
        want_grad = scale * (1 - np.tanh(value * scale) ** 2) - np.exp(-value) * k
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_compiles_kernels_again():
    x = sg.dvector("x")
    sg.function([x], sg.sinh(x) * 0.375, tier="final")  # the compile thread has started
    pid = os.fork()
    if pid == 0:  # the child: no compile thread until it needs one
        code = 1
        try:
            signal.alarm(120)
            f = sg.function([x], sg.cosh(x) * 0.875 - 1.5, tier="final")
            value = np.linspace(-1, 1, 7)
            code = 0 if np.allclose(f(value), np.cosh(value) * 0.875 - 1.5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
