"""Convolution and pooling in native entry points (codegen/llvm/native_conv.py): every mode
compared with the reference backend on contiguous and strided inputs, max-pool ties, NaN and
infinities routed as the reference routes them, gradients checked by finite differences on
"llvm", and a LeNet training step that runs without a ``perform`` fallback."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops import conv

pytest.importorskip("llvmlite")

from symgraph.codegen.llvm import blas  # noqa: E402

RAW = sg.Mode("py", rewrites=False)
needs_blas = pytest.mark.skipif(blas.library() is None, reason="no CBLAS in NumPy's wheel")


def _notes(f) -> list[str]:
    return [step.note for step in f._native.program.steps]


def _pair(inputs, outputs):
    return (sg.function(inputs, outputs, mode="llvm", on_unused_input="ignore"),
            sg.function(inputs, outputs, mode=RAW, on_unused_input="ignore"))


def _check(native, reference, values, exact=False, tol=1e-12):
    got, want = native(*values), reference(*values)
    got, want = (got, want) if isinstance(got, list) else ([got], [want])
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    assert native.fallbacks == 0


def _strided(value: np.ndarray) -> np.ndarray:
    wide = np.zeros(value.shape[:-1] + (2 * value.shape[-1],), value.dtype)
    wide[..., ::2] = value
    return wide[..., ::2]


BORDERS = ["valid", "full", "half", (1, 2)]


@needs_blas
@pytest.mark.parametrize("border_mode,subsample,flip", [
    (b, s, f) for b, s, f in itertools.product(BORDERS, [(1, 1), (2, 3)], [True, False])])
def test_conv_and_gradients_match_reference(border_mode, subsample, flip):
    rng = np.random.default_rng(0)
    x, w = sg.tensor4("x"), sg.tensor4("w")
    y = conv.conv2d(x, w, border_mode=border_mode, subsample=subsample, filter_flip=flip)
    gx, gw = sg.grad((y * y).sum(), [x, w])
    native, reference = _pair([x, w], [y, gx, gw])
    assert _notes(native).count("im2col + BLAS gemm") == 3
    # odd sizes, batch 1, one channel, many channels (33: the forward pass by filter taps),
    # a 1x1 filter
    for xs, ws in [((2, 3, 7, 6), (4, 3, 3, 2)), ((1, 1, 5, 5), (1, 1, 1, 1)),
                   ((1, 9, 6, 7), (2, 9, 2, 3)), ((2, 33, 5, 6), (3, 33, 3, 2))]:
        xv, wv = rng.standard_normal(xs), rng.standard_normal(ws)
        _check(native, reference, [xv, wv])
        _check(native, reference, [_strided(xv), _strided(wv)])


@needs_blas
def test_float32_conv_and_direct_one_by_one_filters():
    rng = np.random.default_rng(1)
    x, w = sg.tensor4("x", dtype="float32"), sg.tensor4("w", dtype="float32")
    for border_mode in ("valid", "half"):
        y = conv.conv2d(x, w, border_mode=border_mode)
        gx, gw = sg.grad(y.sum(), [x, w])
        native, reference = _pair([x, w], [y, gx, gw])
        for ws in [(5, 3, 1, 1), (5, 3, 3, 3), (5, 40, 3, 3), (5, 40, 1, 1)]:
            values = [rng.standard_normal((4, ws[1], 8, 9)).astype("float32"),
                      rng.standard_normal(ws).astype("float32")]
            _check(native, reference, values, tol=1e-4)


@needs_blas
def test_shape_errors_are_reported_by_the_reference():
    x, w = sg.tensor4("x"), sg.tensor4("w")
    f = sg.function([x, w], conv.conv2d(x, w), mode="llvm")
    with pytest.raises(ValueError, match="channels"):
        f(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="smaller than the filters"):
        f(np.zeros((1, 2, 2, 5)), np.zeros((1, 2, 3, 2)))
    gz = sg.tensor4("gz")
    g = sg.function([w, gz], conv.Conv2dGradInputs()(w, gz, 5, 5), mode="llvm")
    with pytest.raises(ValueError, match="output gradient"):
        g(np.zeros((1, 2, 2, 2)), np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ws,stride,pad,ignore_border", [
    ((2, 2), None, (0, 0), True), ((3, 3), (1, 2), (1, 1), True),
    ((3, 2), (2, 1), (0, 0), False), ((2, 4), None, (0, 0), False),
    ((3, 3), (2, 2), (2, 1), True)])
def test_max_pool_ties_nan_and_infinities_route_as_the_reference(dtype, ws, stride, pad,
                                                                 ignore_border):
    rng = np.random.default_rng(2)
    x, g = sg.tensor4("x", dtype=dtype), sg.tensor4("g", dtype=dtype)
    z = conv.pool_2d(x, ws, ignore_border, stride, pad, "max")
    geometry = (ws, ignore_border, stride, pad)
    outputs = [z, conv.MaxPoolGrad(*geometry)(x, g), conv.MaxPoolGradGrad(*geometry)(x, x * 2)]
    native, reference = _pair([x, g], outputs)
    assert _notes(native).count("window loops") == 3
    pooled = conv.Pool(*geometry).pool_shape((2, 3, 7, 9))
    for trial in range(4):
        xv = rng.integers(0, 3, (2, 3, 7, 9)).astype(dtype)  # many ties
        if trial == 1:
            xv[0, 0, 1, 1] = np.nan
            xv[1, 1, 2:4, 2:4] = np.nan
        if trial == 2:  # every cell -inf but one: padded cells first in a window win
            xv[:] = -np.inf
            xv[0, 0, 3, 3] = 1
        gv = rng.standard_normal(pooled).astype(dtype)
        if trial == 3:
            xv, gv = np.asfortranarray(xv), _strided(gv)
        _check(native, reference, [xv, gv], exact=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["sum", "average_inc_pad", "average_exc_pad"])
def test_sum_and_average_pooling_and_gradients(dtype, mode):
    rng = np.random.default_rng(3)
    tol = 1e-12 if dtype == "float64" else 1e-5
    x, g = sg.tensor4("x", dtype=dtype), sg.tensor4("g", dtype=dtype)
    for geometry in [((2, 2), True, None, (0, 0)), ((3, 3), True, (1, 2), (1, 1)),
                     ((3, 2), False, (2, 1), (0, 0))]:
        outputs = [conv.Pool(*geometry, mode=mode)(x),
                   conv.AveragePoolGrad(*geometry, mode=mode)(x, g)]
        native, reference = _pair([x, g], outputs)
        xv = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
        gv = rng.standard_normal(conv.Pool(*geometry).pool_shape(xv.shape)).astype(dtype)
        _check(native, reference, [xv, gv], tol=tol)
        _check(native, reference, [_strided(xv), gv], tol=tol)


@pytest.mark.parametrize("mode", ["max", "sum"])
def test_integer_pooling_of_any_rank(mode):
    rng = np.random.default_rng(4)
    x = sg.tensor3("x", dtype="int16")
    native, reference = _pair([x], conv.pool_2d(x, (2, 3), False, None, (0, 0), mode))
    _check(native, reference, [rng.integers(-30000, 30000, (3, 5, 7)).astype("int16")],
           exact=True)


@needs_blas
@pytest.mark.parametrize("border_mode,subsample", [
    ("valid", (1, 1)), ("full", (2, 1)), ("half", (1, 2)), ((1, 0), (2, 2))])
def test_verify_grad_of_both_gradient_ops_on_llvm(border_mode, subsample):
    rng = np.random.default_rng(5)
    shapes = {"x": (2, 2, 5, 4), "w": (3, 2, 3, 2)}
    probe = conv.Conv2d(border_mode, subsample)
    out = probe.static_out_lengths(shapes["x"][2:], shapes["w"][2:])
    gz = rng.standard_normal((2, 3, *out))
    x, w = rng.standard_normal(shapes["x"]), rng.standard_normal(shapes["w"])
    inputs_op = conv.Conv2dGradInputs(border_mode, subsample)
    weights_op = conv.Conv2dGradWeights(border_mode, subsample)
    sg.verify_grad(lambda a, b: inputs_op(a, b, 5, 4), [w, gz], rng=rng, mode="llvm")
    sg.verify_grad(lambda a, b: weights_op(a, b, 3, 2), [x, gz], rng=rng, mode="llvm")


@needs_blas
def test_lenet_training_step_runs_natively():
    rng = np.random.default_rng(6)
    x, y = sg.tensor4("x", dtype="float32"), sg.ivector("y")
    params = {"w1": (4, 1, 5, 5), "b1": (4,), "w2": (6, 4, 5, 5), "b2": (6,),
              "w3": (6 * 4 * 4, 10), "b3": (10,)}
    values = {k: (rng.standard_normal(s) * 0.1).astype("float32") for k, s in params.items()}

    def step(mode):
        shared = {k: sg.shared(v.copy(), name=k) for k, v in values.items()}
        h = x
        for w, b in (("w1", "b1"), ("w2", "b2")):
            h = conv.conv2d(h, shared[w]) + shared[b].dimshuffle("x", 0, "x", "x")
            h = conv.max_pool_2d(sg.tanh(h), (2, 2))
        probs = sg.nnet.softmax(sg.dot(h.flatten(2), shared["w3"]) + shared["b3"])
        loss = sg.nnet.categorical_crossentropy(probs, y).mean()
        grads = sg.grad(loss, list(shared.values()))
        updates = [(p, p - np.float32(0.1) * g) for p, g in zip(shared.values(), grads)]
        return sg.function([x, y], loss, updates=updates, mode=mode)

    xv = rng.standard_normal((5, 1, 28, 28)).astype("float32")
    yv = rng.integers(0, 10, 5).astype("int32")
    with warnings.catch_warnings():
        warnings.simplefilter("error", sg.PerformFallbackWarning)
        native = step("llvm")
    reference = step(RAW)
    assert not [n for n in _notes(native) if "perform" in n]
    for _ in range(3):
        np.testing.assert_allclose(native(xv, yv), reference(xv, yv), rtol=1e-5)


@needs_blas
def test_calls_from_several_threads_at_once():
    """Each call has its own workspace (the frame's scratch buffers), and the GIL is released
    in the kernels: threads calling one function get what a single caller gets."""
    import threading

    rng = np.random.default_rng(8)
    x, w = sg.tensor4("x", dtype="float32"), sg.tensor4("w", dtype="float32")
    y = conv.max_pool_2d(sg.tanh(conv.conv2d(x, w, border_mode="half")), (2, 2))
    f = sg.function([x, w], [y, *sg.grad(y.sum(), [x, w])], mode="llvm")
    inputs = [[rng.standard_normal((4, 3, 16, 16)).astype("float32"),
               rng.standard_normal((8, 3, 3, 3)).astype("float32")] for _ in range(4)]
    expected = [f(*values) for values in inputs]
    failures: list[str] = []

    def run(k: int) -> None:
        for _ in range(20):
            for got, want in zip(f(*inputs[k]), expected[k]):
                if not np.array_equal(got, want):
                    failures.append(f"thread {k}")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


@needs_blas
def test_empty_batches_channels_and_images():
    """Zero-sized operands: the native code (or, for empty channels and filters, the
    reference it hands over to) gives the reference's shapes and values."""
    x, w = sg.tensor4("x"), sg.tensor4("w")
    y = conv.conv2d(x, w)
    native, reference = _pair([x, w], [y, *sg.grad(y.sum(), [x, w])])
    for xs, ws in [((0, 2, 5, 5), (3, 2, 2, 2)), ((2, 0, 5, 5), (3, 0, 2, 2))]:
        got, want = native(np.ones(xs), np.ones(ws)), reference(np.ones(xs), np.ones(ws))
        for g, e in zip(got, want):
            assert g.shape == e.shape
            np.testing.assert_array_equal(g, e)
    z = conv.pool_2d(x, (2, 2), False)
    outputs = [z, sg.grad(z.sum(), x), conv.MaxPoolGradGrad((2, 2), False)(x, x)]
    native, reference = _pair([x], outputs)
    for shape in [(2, 3, 0, 5), (0, 3, 4, 5), (2, 3, 4, 0)]:
        _check(native, reference, [np.ones(shape)], exact=True)
