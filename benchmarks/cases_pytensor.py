"""PyTensor versions of the training-loop cases of benchmarks/cases.py (e: the MLP step, h:
Elman, i: LSTM), the same graphs written in PyTensor's API (``pytensor.scan``,
``pytensor.grad``, shared variables updated by the step). PyTensor runs on its C backend: the
runner sets ``PYTENSOR_FLAGS=linker=cvm`` (PyTensor 3's default is its Numba linker)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def mlp_step(init: list) -> Callable:
    """One SGD step (learning rate 0.1) of the relu MLP with a softmax crossentropy loss."""
    import pytensor
    import pytensor.tensor as pt

    x, t = pt.matrix("x", dtype="float32"), pt.vector("t", dtype="int64")
    params, h = [], x
    for i, (w0, b0) in enumerate(init):
        w, b = pytensor.shared(w0.copy()), pytensor.shared(b0.copy())
        params += [w, b]
        h = pt.dot(h, w) + b
        if i < len(init) - 1:
            h = pt.maximum(h, 0)
    probs = pt.special.softmax(h, axis=1)
    loss = -pt.mean(pt.log(probs[pt.arange(t.shape[0]), t]))
    grads = pytensor.grad(loss, params)
    updates = [(p, p - np.float32(0.1) * g) for p, g in zip(params, grads)]
    return pytensor.function([x, t], loss, updates=updates)


def elman(weights: dict, backward: bool) -> Callable:
    """``h_t = tanh(x_t W + h_{t-1} U + b)``, loss ``mean(h ** 2)`` (and its gradient)."""
    import pytensor
    import pytensor.tensor as pt

    shared = [pytensor.shared(weights[k].copy(), name=k) for k in ("W", "U", "b")]
    x = pt.tensor3("x", dtype="float32")
    h0 = pt.zeros((x.shape[1], weights["U"].shape[0]), dtype="float32")
    hs, _ = pytensor.scan(lambda x_t, h, W, U, b: pt.tanh(pt.dot(x_t, W) + pt.dot(h, U) + b),
                          sequences=x, outputs_info=h0, non_sequences=shared)
    return _compiled(x, hs, shared, backward)


def lstm(weights: dict, hidden: int, backward: bool) -> Callable:
    """The LSTM of case i: gates i, f, o and the candidate from one product."""
    import pytensor
    import pytensor.tensor as pt

    shared = [pytensor.shared(weights[k].copy(), name=k) for k in ("W", "U", "b")]
    x = pt.tensor3("x", dtype="float32")

    def step(x_t, h, c, W, U, b):
        g = pt.dot(x_t, W) + pt.dot(h, U) + b
        i, f, o = (pt.sigmoid(g[:, k * hidden:(k + 1) * hidden]) for k in range(3))
        c_new = f * c + i * pt.tanh(g[:, 3 * hidden:])
        return o * pt.tanh(c_new), c_new

    zeros = pt.zeros((x.shape[1], hidden), dtype="float32")
    (hs, _), _ = pytensor.scan(step, sequences=x, outputs_info=[zeros, zeros],
                               non_sequences=shared)
    return _compiled(x, hs, shared, backward)


def _compiled(x, hs, shared: list, backward: bool) -> Callable:
    import pytensor

    loss = (hs ** 2).mean()
    outputs = [loss] + (pytensor.grad(loss, shared) if backward else [])
    return pytensor.function([x], outputs)
