"""DebugMode: every node runs on the backend and through perform; the first disagreement
raises, naming the node and the user's line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.debugmode import BadThunkOutput, DebugMode, DebugModeError
from symgraph.ops import elemwise


@pytest.mark.parametrize("mode", ["DebugMode", "DEBUG_MODE", DebugMode(), DebugMode("py")])
def test_debug_mode_gives_the_reference_values(mode):
    x = sg.dmatrix("x")
    v = sg.dvector("v")
    w = sg.shared(np.ones(3), name="w")
    f = sg.function([x, v], [sg.exp(x).sum(axis=0) + v, sg.dot(x, v), sg.nnet.softmax(x)],
                    updates=[(w, w + v)], mode=mode)
    assert isinstance(f.mode, DebugMode)
    xv, vv = np.arange(6.0).reshape(2, 3) / 6, np.array([1.0, -1.0, 0.5])
    got = f(xv, vv)
    np.testing.assert_allclose(got[0], np.exp(xv).sum(0) + vv)
    np.testing.assert_allclose(got[1], xv @ vv)
    np.testing.assert_allclose(got[2], np.exp(xv) / np.exp(xv).sum(1, keepdims=True))
    np.testing.assert_allclose(w.get_value(), 1 + vv)


def test_debug_mode_runs_random_draws_and_scan():
    srng = sg.random.RandomStream(3)
    v = sg.dvector("v")
    out, _ = sg.scan(lambda e, acc: acc * 0.5 + e, sequences=[v],
                     outputs_info=[sg.constant(0.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = sg.function([v], [out, srng.normal(size=(2,))], mode="DebugMode")
        first, second = f(np.ones(3)), f(np.ones(3))
    np.testing.assert_allclose(first[0], [1.0, 1.5, 1.75])
    assert not np.array_equal(first[1], second[1])


@pytest.fixture
def wrong_exp():
    """Make the NumPy reference of exp wrong where x > 0.5 (the compiled kernel stays right)."""
    row = elemwise.TABLE["exp"]
    right = row.impl
    object.__setattr__(row, "impl", lambda a: np.exp(a) + (a > 0.5))  # a frozen dataclass
    yield
    object.__setattr__(row, "impl", right)


def test_the_first_disagreement_raises_naming_node_and_line(wrong_exp):
    v = sg.dvector("v")
    y = sg.exp(v) * 2  # the line the error must name
    f = sg.function([v], y, mode="DebugMode")
    assert f(np.array([0.0, 0.25])).tolist() == [2.0, 2.0 * np.exp(0.25)]
    with pytest.raises(BadThunkOutput) as info:
        f(np.array([0.0, 1.0]))
    message = str(info.value)
    assert "llvm backend and the reference (perform) disagree on output 0" in message
    assert "1 of 2 values differ, first at index (1,)" in message
    assert "test_debugmode.py" in message
    assert info.value.output == 0 and isinstance(info.value, DebugModeError)
    np.testing.assert_allclose(info.value.expected, [2.0, 2 * (np.e + 1)])
    np.testing.assert_allclose(info.value.got, [2.0, 2 * np.e])


def test_tolerances_can_be_widened(wrong_exp):
    v = sg.dvector("v")
    f = sg.function([v], sg.exp(v), mode=DebugMode(rtol=1.0))
    np.testing.assert_allclose(f(np.array([1.0])), [np.e + 1])  # the reference's value


def test_debug_mode_pickles_and_keeps_its_options():
    import pickle

    mode = pickle.loads(pickle.dumps(DebugMode(atol=1e-3, optimizer=None)))
    assert (mode.atol, mode.rewrites, mode.backend) == (1e-3, False, "llvm")
