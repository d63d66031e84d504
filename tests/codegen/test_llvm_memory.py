"""Compiled code belongs to what uses it: dropping a function unloads its entry point and the
kernels nobody else uses, and compiling and dropping many functions keeps memory bounded."""

from __future__ import annotations

import ctypes
import gc
import weakref

import numpy as np
import pytest

import symgraph as sg

pytest.importorskip("llvmlite")


def _resident_bytes() -> int:
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # glibc: give freed heap pages back
    except AttributeError:
        pass
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _compile_and_call(x, k: int) -> weakref.ref:
    f = sg.function([x], sg.tanh(x * (k + 0.5)) + 1)
    np.testing.assert_allclose(f(np.ones(3)), np.tanh(np.full(3, k + 0.5)) + 1)
    return weakref.ref(f)


def test_dropping_a_function_unloads_its_code():
    from symgraph.codegen.llvm import kernel_code as backend
    from symgraph.codegen.llvm.jit import engine

    x = sg.dvector("x")
    kept = sg.function([x], sg.exp(x) * 3)
    before, kernels = set(engine()._live.keys()), set(backend._KERNELS.keys())
    refs = [_compile_and_call(x, k) for k in range(5)]
    gc.collect()
    assert all(r() is None for r in refs)
    assert set(engine()._live.keys()) <= before  # nothing of theirs is still loaded
    assert set(backend._KERNELS.keys()) <= kernels
    np.testing.assert_allclose(kept(np.zeros(2)), [3.0, 3.0])  # the survivor's code stays


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_trim"), reason="needs glibc")
def test_compiling_and_dropping_many_functions_keeps_memory_bounded():
    x = sg.dvector("x")
    count = 200
    for k in range(count):  # fill the disk cache, the bounded in-memory caches, the allocator
        _compile_and_call(x, k)
    start = _resident_bytes()
    for k in range(count):
        _compile_and_call(x, k)
    growth = (_resident_bytes() - start) / count
    # About 20 KB per function stay behind today: the bookkeeping of the two ORC libraries
    # (entry point, kernel) that llvmlite never removes; the code itself is unloaded.
    assert growth < 64 * 1024, f"{growth:.0f} bytes per compile-and-drop"
