"""What the compiled NaN guard costs: the demo's MLP training step (64 inputs, 128 tanh units,
10 softmax outputs, Adam; batch 32 and 256, float32 and float64) compiled with and without
``Mode(nan_guard=True)``; and, in the same run, the same step in JAX (jitted) with and without
``jax_debug_nans``, JAX's NaN check (when JAX is installed).

    python benchmarks/nan_guard.py          # prints a Markdown table
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph.demo.digits import build_mlp  # noqa: E402
from symgraph.demo.training import adam  # noqa: E402

CALLS, ROUNDS = 100, 21


def _step(dtype: str, guard: bool, backend: str = "llvm") -> sg.Function:
    rng = np.random.default_rng(0)
    x, t, probs, params = build_mlp(64, 128, 10, rng, dtype)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    rate = sg.shared(np.asarray(1e-3, dtype=dtype), name="learning_rate")
    return sg.function([x, t], loss, updates=adam(loss, params, rate), tier="final",
                       mode=sg.Mode(backend, nan_guard=guard))


def _best_calls(functions: list[Callable], x: np.ndarray,
                t: np.ndarray) -> list[tuple[float, float]]:
    """Seconds per call of each function, (best, median) of ROUNDS rounds, the rounds
    interleaved (so that a noisy neighbour slows them alike; the best round is the one it
    disturbed least)."""
    times: list[list[float]] = [[] for _ in functions]
    for f in functions:
        f(x, t)
    for _ in range(ROUNDS):
        for f, spent in zip(functions, times):
            start = time.perf_counter()
            for _ in range(CALLS):
                f(x, t)
            spent.append((time.perf_counter() - start) / CALLS)
    return [(min(spent), statistics.median(spent)) for spent in times]


def _jax_step(dtype: str) -> Callable | None:
    """The same training step in JAX, jitted (None without JAX)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    shapes = [(64, 128), (128,), (128, 10), (10,)]
    params = [jnp.asarray(rng.normal(0, 0.1, s).astype(dtype)) for s in shapes]
    state = {"params": params, "mean": [jnp.zeros_like(p) for p in params],
             "var": [jnp.zeros_like(p) for p in params], "step": jnp.asarray(0.0, dtype)}

    def loss(ps, x, t):
        hidden = jnp.tanh(x @ ps[0] + ps[1])
        logp = jax.nn.log_softmax(hidden @ ps[2] + ps[3])
        return -jnp.mean(logp[jnp.arange(t.shape[0]), t])

    @jax.jit
    def step(st, x, t):
        value, grads = jax.value_and_grad(loss)(st["params"], x, t)
        n = st["step"] + 1
        rate = 1e-3 * jnp.sqrt(1 - 0.999 ** n) / (1 - 0.9 ** n)
        mean = [0.9 * m + 0.1 * g for m, g in zip(st["mean"], grads)]
        var = [0.999 * v + 0.001 * g * g for v, g in zip(st["var"], grads)]
        params = [p - rate * m / (jnp.sqrt(v) + 1e-8)
                  for p, m, v in zip(st["params"], mean, var)]
        return value, {"params": params, "mean": mean, "var": var, "step": n}

    def call(x: np.ndarray, t: np.ndarray) -> object:
        value, new = step(state, x, t)
        state.update(new)
        return value.block_until_ready()

    return call


class _Timed:
    """A step with a switch (``jax_debug_nans``) flipped around each round."""

    def __init__(self, call: Callable, guard: bool) -> None:
        self.call, self.guard = call, guard

    def __call__(self, x: np.ndarray, t: np.ndarray) -> object:
        import jax

        jax.config.update("jax_debug_nans", self.guard)
        return self.call(x, t)


def main() -> None:
    print("| step | batch | off: best / median (us) | on: best / median (us) | overhead (best) |")
    print("|---|---|---|---|---|")
    for dtype in ("float32", "float64"):
        for batch in (32, 256):
            rng = np.random.default_rng(1)
            x = rng.random((batch, 64)).astype(dtype)
            t = rng.integers(0, 10, batch)
            rows = [("symgraph", _step(dtype, False), _step(dtype, True))]
            jax_step = _jax_step(dtype)
            if jax_step is not None:
                rows.append(("jax debug_nans", _Timed(jax_step, False), _Timed(jax_step, True)))
            for name, plain, guarded in rows:
                off, on = _best_calls([plain, guarded], x, t)
                print(f"| {name} {dtype} | {batch} | {off[0] * 1e6:.1f} / {off[1] * 1e6:.1f} | "
                      f"{on[0] * 1e6:.1f} / {on[1] * 1e6:.1f} | {on[0] / off[0] - 1:+.1%} |")


if __name__ == "__main__":
    main()
