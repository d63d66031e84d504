"""The CUDA rules of convolution and pooling gradients (codegen/cuda/conv_grad.py) on the CPU
emulator: every border mode, stride and flip against the reference, and max-pool ties, NaN and
infinities routed as the reference routes them. Every conv and pool node has a lowering."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.cuda import registry
from symgraph.graph import toposort
from symgraph.ops import conv
from tests.codegen.cuda_support import emulated_backend, installed_as_cuda

RAW = sg.Mode("py", rewrites=False)


@pytest.fixture(scope="module")
def cuda(tmp_path_factory):
    with installed_as_cuda(emulated_backend(),
                           str(tmp_path_factory.getbasetemp() / "cache")) as backend:
        yield backend


def _lowered(outputs) -> None:
    """Every conv and pool node of the graph has a CUDA lowering (none runs ``perform``)."""
    for node in toposort(outputs):
        if type(node.op).__module__ == conv.__name__:
            rule = registry.rule_for(type(node.op))
            assert rule is not None and rule(node) is not None, f"{node.op} has no CUDA rule"


def test_conv_gradients_match_reference(cuda):
    rng = np.random.default_rng(0)
    x, w = sg.tensor4("x"), sg.tensor4("w")
    for border_mode, subsample, flip in [("valid", (1, 1), True), ("full", (2, 3), False),
                                         ("half", (1, 2), True), ((1, 2), (2, 2), False)]:
        y = conv.conv2d(x, w, border_mode=border_mode, subsample=subsample, filter_flip=flip)
        outputs = [y, *sg.grad((y * y).sum(), [x, w])]
        _lowered(outputs)
        native = sg.function([x, w], outputs, mode="cuda")
        reference = sg.function([x, w], outputs, mode=RAW)
        for xs, ws in [((2, 3, 7, 6), (4, 3, 3, 2)), ((1, 1, 5, 5), (1, 1, 1, 1))]:
            values = [rng.standard_normal(xs), rng.standard_normal(ws)]
            for got, want in zip(native(*values), reference(*values)):
                np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ws,stride,pad,ignore_border", [
    ((2, 2), None, (0, 0), True), ((3, 3), (1, 2), (1, 1), True),
    ((3, 2), (2, 1), (0, 0), False), ((3, 3), (2, 2), (2, 1), True)])
def test_pool_gradients_route_ties_nan_and_infinities_as_the_reference(cuda, ws, stride, pad,
                                                                       ignore_border):
    rng = np.random.default_rng(1)
    x, g = sg.tensor4("x"), sg.tensor4("g")
    geometry = (ws, ignore_border, stride, pad)
    exact = [conv.pool_2d(x, ws, ignore_border, stride, pad, "max"),
             conv.MaxPoolGrad(*geometry)(x, g), conv.MaxPoolGradGrad(*geometry)(x, x * 2)]
    close = [conv.AveragePoolGrad(*geometry, mode=m)(x, g)
             for m in ("sum", "average_inc_pad", "average_exc_pad")]
    _lowered(exact + close)
    native = sg.function([x, g], exact + close, mode="cuda")
    reference = sg.function([x, g], exact + close, mode=RAW)
    pooled = conv.Pool(*geometry).pool_shape((2, 3, 7, 9))
    for trial in range(3):
        xv = rng.integers(0, 3, (2, 3, 7, 9)).astype("float64")
        if trial == 1:
            xv[0, 0, 1, 1] = np.nan
            xv[1, 1, 2:4, 2:4] = np.nan
        if trial == 2:
            xv[:] = -np.inf
            xv[0, 0, 3, 3] = 1
        values = [xv, rng.standard_normal(pooled)]
        got, want = native(*values), reference(*values)
        for a, b in zip(got[:3], want[:3]):
            np.testing.assert_array_equal(np.asarray(a), b)
        for a, b in zip(got[3:], want[3:]):
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12, atol=1e-12)
