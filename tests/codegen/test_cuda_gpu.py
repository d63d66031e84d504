"""The CUDA backend on a real GPU: every op record, random graphs, scan and the digits MLP give
on "cuda" what they give on "py". Marked ``cuda``; skipped where ``sg.cuda.is_available()`` is
False (no driver, no GPU, or no NVRTC)."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
import symgraph.cuda as sgcuda
from tests.codegen.cuda_support import assert_matches_reference
from tests.records import all_records

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not sgcuda.is_available(),
                                 reason=f"no usable GPU: {sgcuda.unavailable_reason()}")]

RECORDS = all_records()
RAW = sg.Mode("py", rewrites=False)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_gpu_matches_reference(record):
    assert_matches_reference(record, "cuda")


def test_random_graphs_match_reference():
    hypothesis = pytest.importorskip("hypothesis")
    from tests.rewrite.test_random_graphs import SHAPES, graphs

    @hypothesis.settings(max_examples=30, deadline=None,
                         suppress_health_check=[hypothesis.HealthCheck.too_slow])
    @hypothesis.given(graphs(), hypothesis.strategies.integers(0, 2**31))
    def check(graph, seed):
        inputs, outputs = graph
        rng = np.random.default_rng(seed)
        values = [rng.normal(size=SHAPES[k]) for k in ("m", "v", "s")]
        cost = sum(o.sum() for o in outputs)
        targets = outputs + sg.grad(cost, inputs, disconnected_inputs="ignore")
        gpu = sg.function(inputs, targets, mode="cuda", on_unused_input="ignore")
        raw = sg.function(inputs, targets, mode=RAW, on_unused_input="ignore")
        for got, want in zip(gpu(*values), raw(*values)):
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)

    check()


@pytest.mark.parametrize("until", [False, True])
def test_scan_matches_reference(until):
    x, h0, w = sg.dmatrix("x"), sg.dvector("h0"), sg.dmatrix("w")

    def step(xt, h, w):
        new = sg.tanh(sg.dot(w, h) + xt)
        return (new, sg.until(new.sum() > 1.0)) if until else new

    hs, _ = sg.scan(step, sequences=x, outputs_info=h0, non_sequences=w)
    outputs = [hs, sg.grad(hs.sum(), w)] if not until else [hs]
    rng = np.random.default_rng(5)
    values = [rng.normal(size=(50, 16)), rng.normal(size=16), rng.normal(size=(16, 16)) * 0.3]
    gpu = sg.function([x, h0, w], outputs, mode="cuda")
    ref = sg.function([x, h0, w], outputs, mode="py")
    for got, want in zip(gpu(*values), ref(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_large_reductions_and_ties():
    x = sg.fvector("x")
    f = sg.function([x], [x.sum(), x.max(), sg.argmax(x), sg.argmin(x)], mode="cuda")
    value = np.random.default_rng(0).random(10_000_000).astype("float32")
    value[[17, 9_000_000]] = 2.0
    value[[5, 8_000_000]] = -1.0
    total, largest, first_max, first_min = f(value)
    assert np.isclose(total, value.astype(np.float64).sum(), rtol=1e-5)
    assert largest == 2.0 and first_max == 17 and first_min == 5


def test_digits_mlp_trains_as_on_py():
    pytest.importorskip("sklearn")
    from symgraph.demo.digits import train_mlp

    with sg.config.change_flags(floatX="float32"):
        gpu = train_mlp(3, "cuda", show_progress=False)
        ref = train_mlp(3, "py", show_progress=False)
    np.testing.assert_allclose(gpu.epoch_losses, ref.epoch_losses, rtol=1e-3)
    assert abs(gpu.test_accuracy[-1] - ref.test_accuracy[-1]) < 0.02


def test_shared_weights_stay_on_the_gpu():
    w = sgcuda.shared(np.ones((64, 64), dtype="float32"), name="w")
    x = sg.fmatrix("x")
    loss = sg.sqr(sg.dot(x, w)).mean()
    step = sg.function([x], loss, updates={w: w - 0.01 * sg.grad(loss, w)}, mode="cuda")
    data = np.random.default_rng(1).normal(size=(32, 64)).astype("float32")
    first = step(data)
    assert step(data) < first
    if hasattr(step.fgraph, "update_mapping"):
        assert hasattr(w.get_value(return_internal_type=True), "buffer")


def test_device_random_numbers():
    from symgraph.codegen.cuda import random as philox

    philox.set_device_random(True)
    try:
        srng = sg.random.RandomStream(3)
        u = srng.uniform(-1.0, 1.0, size=(100_000,))
        f = sg.function([], u, mode="cuda")
        a, b = f(), f()
    finally:
        philox.set_device_random(False)
    assert not np.array_equal(a, b) and -1.0 <= a.min() and a.max() < 1.0
    assert abs(a.mean()) < 0.01
