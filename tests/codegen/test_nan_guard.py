"""The NaN guard (Mode(nan_guard=True), config.nan_guard) on the reference and llvm backends:
it stops at the node that made the first NaN or Inf, names the user's op, line and index, and
changes nothing (no code, same results) when off."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import symgraph as sg
from symgraph.config import config

BACKENDS = ["py", "llvm"]


def _graph():
    x = sg.dmatrix("x")
    w = sg.dmatrix("w")
    logs = sg.log(x)
    line = inspect.currentframe().f_lineno - 1
    return x, w, (logs @ w).sum(), line


def _compile(guard, backend):
    x, w, cost, line = _graph()
    return sg.function([x, w], cost, mode=sg.Mode(backend, nan_guard=guard), tier="final"), line


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_values_pass_with_the_same_result(backend):
    rng = np.random.default_rng(0)
    x, w = rng.random((5, 4)) + 0.5, rng.random((4, 3))
    guarded, _ = _compile(True, backend)
    plain, _ = _compile(False, backend)
    np.testing.assert_allclose(guarded(x, w), np.log(x).dot(w).sum(), rtol=1e-12)
    assert guarded(x, w) == plain(x, w)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad, what", [(-1.0, "NaN"), (0.0, "Inf")])
def test_stops_at_the_op_that_made_it(backend, bad, what):
    f, line = _compile(True, backend)
    x = np.ones((5, 4)) * 2.0
    x[3, 1] = bad
    with pytest.raises(FloatingPointError) as info:
        f(x, np.ones((4, 3)))
    message = str(info.value)
    assert f"produced {what} in output 0 at index (3, 1)" in message
    assert "log" in message.splitlines()[0]
    assert f"test_nan_guard.py:{line}: logs = sg.log(x)" in message
    assert f"input 0: (5, 4) float64 in [{bad:g}, 2]" in message


@pytest.mark.parametrize("backend", BACKENDS)
def test_off_by_default_lets_nan_through(backend):
    f, _ = _compile(None, backend)
    x = np.ones((5, 4))
    x[0, 0] = -1.0
    assert np.isnan(f(x, np.ones((4, 3))))


def test_config_flag_turns_it_on():
    before = config.nan_guard
    config.nan_guard = True
    try:
        f, _ = _compile(None, "llvm")
    finally:
        config.nan_guard = before
    assert f.mode.nan_guard
    with pytest.raises(FloatingPointError):
        f(-np.ones((2, 4)), np.ones((4, 3)))


def test_compiled_check_only_when_on():
    on, _ = _compile(True, "llvm")
    off, _ = _compile(False, "llvm")
    assert "sg_nan_guard" in on.dump("llvm")
    assert "nan_guard" not in off.dump("llvm")


def test_check_kernel_finds_the_first_bad_index():
    import ctypes

    from symgraph.codegen.llvm.jit import engine
    from symgraph.codegen.llvm.nan_check import BLOCK, nan_check_ir

    for dtype in ("float32", "float64"):
        text, symbol = nan_check_ir(dtype)
        code = engine().compile(text, [symbol])  # loaded while ``code`` lives
        check = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)(
            code.addresses[symbol])
        values = np.ones(3 * BLOCK + 7, dtype=dtype)
        assert check(values.ctypes.data, values.size) == -1
        for first in (0, BLOCK - 1, BLOCK, 3 * BLOCK + 6):
            values[:] = 1
            values[first] = np.inf
            values[-1] = np.nan
            assert check(values.ctypes.data, values.size) == first
        del check, code


def test_check_kernel_is_vectorised():
    from symgraph.codegen.llvm.jit import engine
    from symgraph.codegen.llvm.nan_check import nan_check_ir

    optimised = engine().optimized_ir(nan_check_ir("float64")[0])
    assert " x double>" in optimised, "the block test should compile to vector code"


def test_theanos_nanguardmode():
    from symgraph.compile.nanguardmode import NanGuardMode

    x = sg.dvector("x")
    with pytest.warns(UserWarning, match="NaN and Inf only"):
        mode = NanGuardMode(nan_is_error=True, inf_is_error=True, big_is_error=True)
    assert mode.nan_guard and mode.backend == "llvm"
    with pytest.raises(FloatingPointError, match="sqrt"):
        sg.function([x], sg.sqrt(x), mode=mode)([-1.0])
    assert not NanGuardMode(nan_is_error=False, inf_is_error=False, linker="py").nan_guard
