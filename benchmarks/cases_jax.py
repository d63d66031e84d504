"""JAX versions of the training-loop cases of benchmarks/cases.py (e: the MLP step, h: Elman,
i: LSTM), the same graphs written in JAX's API: ``jax.jit`` of the step, ``lax.scan`` for the
loops, ``jax.value_and_grad`` for the gradients. Each callable waits for its results
(``block_until_ready``), so that what is timed is the work, not JAX's asynchronous dispatch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def mlp_step(init: list) -> Callable:
    """One SGD step (learning rate 0.1) of the relu MLP with a softmax crossentropy loss."""
    import jax
    import jax.numpy as jnp

    def loss_of(params, x, t):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, t[:, None], axis=1))

    @jax.jit
    def step(params, x, t):
        loss, grads = jax.value_and_grad(loss_of)(params, x, t)
        return loss, [(w - 0.1 * gw, b - 0.1 * gb) for (w, b), (gw, gb) in zip(params, grads)]

    state = {"params": [(jnp.asarray(w), jnp.asarray(b)) for w, b in init]}

    def run(x: np.ndarray, t: np.ndarray):
        loss, state["params"] = step(state["params"], x, t.astype("int32"))
        return loss.block_until_ready()

    return run


def elman(weights: dict, backward: bool) -> Callable:
    """``h_t = tanh(x_t W + h_{t-1} U + b)``, loss ``mean(h ** 2)`` (and its gradient)."""
    import jax
    import jax.numpy as jnp

    params = {k: jnp.asarray(v) for k, v in weights.items()}

    def loss_of(p, x):
        def step(h, x_t):
            h = jnp.tanh(x_t @ p["W"] + h @ p["U"] + p["b"])
            return h, h
        _, hs = jax.lax.scan(step, jnp.zeros((x.shape[1], p["U"].shape[0]), x.dtype), x)
        return jnp.mean(hs ** 2)

    return _runner(loss_of, params, backward)


def lstm(weights: dict, hidden: int, backward: bool) -> Callable:
    """The LSTM of case i: gates i, f, o and the candidate from one product."""
    import jax
    import jax.numpy as jnp

    params = {k: jnp.asarray(v) for k, v in weights.items()}

    def loss_of(p, x):
        def step(carry, x_t):
            h, c = carry
            g = x_t @ p["W"] + h @ p["U"] + p["b"]
            i, f, o = (jax.nn.sigmoid(g[:, k * hidden:(k + 1) * hidden]) for k in range(3))
            c = f * c + i * jnp.tanh(g[:, 3 * hidden:])
            h = o * jnp.tanh(c)
            return (h, c), h
        zeros = jnp.zeros((x.shape[1], hidden), x.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), x)
        return jnp.mean(hs ** 2)

    return _runner(loss_of, params, backward)


def _runner(loss_of: Callable, params: dict, backward: bool) -> Callable:
    import jax

    if backward:
        fn = jax.jit(jax.value_and_grad(loss_of))

        def run(x: np.ndarray):
            loss, grads = fn(params, x)
            return [loss.block_until_ready()] + [grads[k].block_until_ready() for k in params]
    else:
        fn = jax.jit(loss_of)

        def run(x: np.ndarray):
            return [fn(params, x).block_until_ready()]
    return run
