"""Row softmax, log-softmax, softmax crossentropy, the softmax denominator and logsumexp of a
matrix on llvm take each row's maximum and sum of exponentials in one pass
(codegen/llvm/online.py): against float64 references for rows of every length around the
vector lanes and the 512-element chunks, special values (NaN, +-inf, all -inf, zeros of both
signs, equal values), rows whose maximum grows chunk after chunk (a rescaled sum), strided and
transposed inputs, float32 and float64, 8 threads."""

from __future__ import annotations


import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm import online
from tests.test_threads import THREADS, _hammer

pytest.importorskip("llvmlite")

LENGTHS = (1, 7, 8, 9, 16, 17, 511, 512, 513, 1000, 1024, 1537, 2048)
TOLERANCE = {"float32": dict(rtol=2e-6, atol=1e-9), "float64": dict(rtol=1e-13, atol=1e-300)}


def _softmax(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _functions(dtype: str):
    m = sg.matrix("m", dtype=dtype)
    t = sg.ivector("t")
    kw = dict(mode="llvm", tier="final", profile=True)
    fs = (sg.function([m], sg.nnet.softmax(m, axis=1), **kw),
          sg.function([m], sg.nnet.log_softmax(m, axis=1), **kw),
          sg.function([m, t], sg.nnet.softmax_crossentropy(m, t), **kw))
    for f in fs:
        assert set(f.profile.node_notes.values()) == {"kernels"}
    return fs


def _rows(dtype: str, length: int, rng) -> np.ndarray:
    x = rng.standard_normal((10, length)) * 4
    x[1] = np.sort(x[1]) * 10  # the maximum grows along the row: the sum is rescaled
    x[2] = 3.0
    x[3, :] = rng.choice([0.0, -0.0], length)
    x[4] = x[4] + 60.0
    x[5] = x[5] - 60.0
    x[6, length // 2:] = -np.inf  # -inf after the maximum, and before it in row 7
    x[7, :(length + 1) // 2] = -np.inf
    x[7, -1] = 1.0
    x[8] = np.linspace(-80, 80, length)
    x[9, length // 3] = 50.0
    return x.astype(dtype)


def _check(fs, x: np.ndarray, labels: np.ndarray) -> None:
    softmax, log_softmax, crossentropy = fs
    wide = x.astype("float64")
    tol = TOLERANCE[x.dtype.name]
    np.testing.assert_allclose(softmax(x), _softmax(wide), **tol)
    # log(s) of a sum s >= 1 rounded to the dtype is only that accurate absolutely.
    ulp = np.finfo(x.dtype).eps
    np.testing.assert_allclose(log_softmax(x), _log_softmax(wide), rtol=tol["rtol"],
                               atol=4 * ulp)
    picked = -_log_softmax(wide)[np.arange(len(x)), labels]
    np.testing.assert_allclose(crossentropy(x, labels), picked, rtol=tol["rtol"],
                               atol=4 * ulp)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_of_every_length_and_layout(dtype):
    rng = np.random.default_rng(0)
    fs = _functions(dtype)
    for length in LENGTHS:
        x = _rows(dtype, length, rng)
        labels = (np.arange(len(x)) * 7 % length).astype("int32")
        labels[6:8] = length - 1  # not a -inf element
        for view in (x, np.repeat(x, 2, axis=1)[:, ::2], np.asfortranarray(x)):
            _check(fs, view, labels)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_values_as_the_two_pass_formula(dtype):
    """NaN anywhere, +inf, or a row of -inf give NaN where NumPy's formula does."""
    softmax, log_softmax, crossentropy = _functions(dtype)
    m = sg.matrix("m", dtype=dtype)
    stats = sg.function([m], [_denominator(m), sg.logsumexp(m, axis=1)], mode="llvm",
                        tier="final")
    largest_of = sg.function([m], sg.max(m, axis=1), mode="llvm", tier="final")
    assert [type(n.op).__name__ for n in stats.maker.fgraph.toposort()].count("SoftmaxStats")
    # 1537: the NaN in a whole chunk whose maximum is taken beside the previous chunk's sum.
    for length in (1, 9, 600, 1537):
        x = np.ones((6, length), dtype)
        x[0, length // 2] = np.nan
        x[1, -1] = np.inf
        x[2, :] = -np.inf
        x[3, 0] = np.inf
        x[3, -1] = np.inf
        x[5, 0] = np.inf  # +inf before a NaN: the maximum is NaN
        x[5, length // 2] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            total, lse = stats(x)
            np.testing.assert_array_equal(largest_of(x), x.max(axis=1))
            np.testing.assert_array_equal(np.isnan(total),
                                          np.isnan(np.exp(x - x.max(1, keepdims=True)).sum(1)))
            assert np.isnan(lse[[0, 5]]).all() and lse[1] == lse[3] == np.inf
            assert lse[2] == -np.inf
            np.testing.assert_array_equal(np.isnan(softmax(x)), np.isnan(_softmax(x)))
            np.testing.assert_allclose(softmax(x), _softmax(x), rtol=1e-6)
            np.testing.assert_allclose(log_softmax(x), _log_softmax(x), rtol=1e-6)
            labels = np.zeros(6, "int32")
            np.testing.assert_array_equal(np.isnan(crossentropy(x, labels)),
                                          np.isnan(_log_softmax(x)[:, 0]))


def test_float32_sums_stay_accurate_over_long_rows():
    """Issue 9's bound: a float32 sum within 1e-6 of the float64 one, here for rows of 2**20
    whose maximum grows chunk after chunk (2048 rescalings)."""
    m = sg.fmatrix("m")
    f = sg.function([m], sg.nnet.log_softmax(m, axis=1), mode="llvm", tier="final")
    rng = np.random.default_rng(1)
    n = 1 << 20
    x = np.stack([np.linspace(-20, 20, n), rng.uniform(-1, 1, n),
                  np.full(n, 0.1)]).astype("float32")
    want = _log_softmax(x.astype("float64"))
    got = f(x)
    # log(sum) is compared: log_softmax = (x - m) - log(s), and x - m is exact here.
    shifted = x.astype("float64") - x.max(axis=1, keepdims=True)
    np.testing.assert_allclose(shifted - got, shifted - want, rtol=1e-6)


def test_stats_kernel_spec_is_shared_and_named_by_its_code():
    first, second = online.stats_spec("float32"), online.stats_spec("float32")
    assert first == second and hash(first) == hash(second)
    assert online.stats_spec("float64") != first


def test_row_softmax_is_one_kernel_per_function_and_dtype():
    """The row (log-)softmax of a matrix is one kernel (statistics, then the output from L1,
    rows split over the threads), named by its code."""
    assert online.rows_spec(True, "float32") == online.rows_spec(True, "float32")
    assert online.rows_spec(True, "float32") != online.rows_spec(False, "float32")
    assert online.rows_spec(True, "float64") != online.rows_spec(True, "float32")
    m = sg.fmatrix("m")
    f = sg.function([m], sg.nnet.softmax(m), mode="llvm", tier="final", profile=True)
    x = np.random.default_rng(3).standard_normal((40, 300)).astype("float32")
    np.testing.assert_allclose(f(x), _softmax(x.astype("float64")), rtol=2e-6, atol=1e-9)
    notes = set(f.profile.node_notes.values())
    assert notes == {"kernels"}, notes


def test_softmax_gradient_unaffected():
    rng = np.random.default_rng(2)
    value = rng.standard_normal((3, 9))
    for fn in (lambda v: sg.nnet.softmax(v, axis=1), lambda v: sg.nnet.log_softmax(v, axis=1)):
        sg.verify_grad(fn, [value], mode="llvm")


def test_softmax_from_eight_threads():
    """Each of 8 threads calls the same functions (softmax, crossentropy, logsumexp) on its
    own matrix; every result checked."""
    softmax, _, crossentropy = _functions("float32")
    m = sg.fmatrix("m")
    lse = sg.function([m], sg.logsumexp(m, axis=1), mode="llvm", tier="final")
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((300, 700)).astype("float32") * (k + 1)
              for k in range(THREADS)]
    labels = rng.integers(0, 700, 300).astype("int32")
    wants = [(_softmax(v.astype("float64")), -_log_softmax(v.astype("float64"))
              [np.arange(300), labels]) for v in inputs]

    def work(t: int, _: int) -> None:
        assert np.allclose(softmax(inputs[t]), wants[t][0], rtol=2e-6, atol=1e-9), \
            f"softmax {t}"
        assert np.allclose(crossentropy(inputs[t], labels), wants[t][1], rtol=2e-6,
                           atol=1e-6), f"crossentropy {t}"
        wide = inputs[t].astype("float64")
        assert np.allclose(lse(inputs[t]), np.log(np.exp(wide).sum(axis=1)), rtol=2e-6), \
            f"logsumexp {t}"

    _hammer(work, calls=10)


def _denominator(m):
    return sg.sum(sg.exp(m - sg.max(m, axis=1, keepdims=True)), axis=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_denominator_and_logsumexp_read_the_rows_once_and_agree(dtype):
    """``sum(exp(x - max(x, 1, keepdims)), 1)`` and ``logsumexp(x, 1)`` become one
    ``SoftmaxStats`` kernel (the specialize rule ``max_and_sum_exp_to_stats``), with the
    results of the graph without the rule (the two-pass kernels): rows of every length and
    layout, the special rows of ``_rows`` (NaN, +-inf, rows of -inf, signed zeros)."""
    m = sg.matrix("m", dtype=dtype)
    rule = "max_and_sum_exp_to_stats"
    outs = [_denominator(m), sg.logsumexp(m, axis=1)]
    one = sg.function([m], outs, mode="llvm", tier="final", profile=True)
    two = sg.function([m], outs, mode=sg.Mode("llvm", excluding=[rule]), tier="final")
    ops = [type(n.op).__name__ for n in one.maker.fgraph.toposort()]
    assert ops.count("SoftmaxStats") == 1 and not any("CAReduce" in op for op in ops), ops
    assert "SoftmaxStats" not in [type(n.op).__name__ for n in two.maker.fgraph.toposort()]
    assert one.profile.node_notes[next(n for n in one.maker.fgraph.toposort()
                                       if type(n.op).__name__ == "SoftmaxStats")] == "kernel"
    rng = np.random.default_rng(4)
    tol = TOLERANCE[dtype]
    for length in LENGTHS:
        x = _rows(dtype, length, rng)
        x[0, 0] = np.nan if length > 1 else x[0, 0]
        x[1, -1] = np.inf
        x[2, :] = -np.inf
        for view in (x, np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2]):
            with np.errstate(all="ignore"):
                got, want = one(view), two(view)
                wide = view.astype("float64")
                lse = np.log(np.exp(wide - wide.max(1, keepdims=True)).sum(1)) + wide.max(1)
            for a, b in zip(got, want):
                np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
                np.testing.assert_allclose(a, b, **tol)
            finite = np.isfinite(lse)  # (NumPy's formula gives NaN for a row of -inf)
            np.testing.assert_allclose(got[1][finite], lse[finite], rtol=tol["rtol"],
                                       atol=4 * np.finfo(dtype).eps)
            assert got[1][1] == np.inf and got[1][2] == -np.inf


def test_the_rule_leaves_other_readers_of_the_exponentials_or_maximum_alone():
    m = sg.fmatrix("m")
    largest = sg.max(m, axis=1, keepdims=True)
    e = sg.exp(m - largest)
    for outs in ([e / sg.sum(e, axis=1, keepdims=True)], [_denominator(m), sg.max(m, axis=1)]):
        f = sg.function([m], outs, mode="llvm", tier="final")
        assert "SoftmaxStats" not in [type(n.op).__name__ for n in f.maker.fgraph.toposort()]


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_softmax_stats_op(mode):
    """The op itself: NumPy's max and float64-accumulated sum; a matrix of float32 or
    float64 only; no columns is a ValueError; its gradient checks."""
    from symgraph.ops.nnet import SoftmaxStats

    m = sg.matrix("m", dtype="float32")
    f = sg.function([m], list(SoftmaxStats()(m)), mode=mode, tier="final")
    x = np.random.default_rng(5).standard_normal((6, 700)).astype("float32")
    got_m, got_s = f(x)
    wide = x.astype("float64")
    np.testing.assert_array_equal(got_m, x.max(axis=1))
    np.testing.assert_allclose(got_s, np.exp(wide - wide.max(1, keepdims=True)).sum(1),
                               rtol=2e-6)
    with pytest.raises(ValueError, match="empty axis"):
        f(np.zeros((3, 0), "float32"))
    for bad in (sg.fvector("v"), sg.imatrix("i")):
        with pytest.raises(TypeError, match="input x"):
            SoftmaxStats()(bad)
    value = np.random.default_rng(6).standard_normal((4, 9))
    sg.verify_grad(lambda v: SoftmaxStats()(v)[1], [value], mode=mode)
    sg.verify_grad(lambda v: SoftmaxStats()(v)[0] * 3 - SoftmaxStats()(v)[1] ** 2, [value],
                   mode=mode)
