"""RNN and LSTM forward scans on the GPU: symgraph's "cuda" mode against JAX's lax.scan
(when JAX with CUDA is installed). Reports ms per sequence and the ratio.

    python benchmarks/cuda_scan.py [--steps 200] [--hidden 512] [--batch 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from cuda_common import require_gpu


def symgraph_cells(kind: str, hidden: int):
    import symgraph as sg

    x = sg.ftensor3("x")
    h0 = sg.fmatrix("h0")
    w = sg.fmatrix("w")
    u = sg.fmatrix("u")
    if kind == "rnn":
        hs, _ = sg.scan(lambda xt, h, w, u: sg.tanh(sg.dot(xt, w) + sg.dot(h, u)),
                        sequences=x, outputs_info=h0, non_sequences=[w, u])
        return sg.function([x, h0, w, u], hs[-1], mode="cuda")

    c0 = sg.fmatrix("c0")

    def step(xt, h, c, w, u):
        z = sg.dot(xt, w) + sg.dot(h, u)
        i, f, o = (sg.sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3))
        g = sg.tanh(z[:, 3 * hidden:])
        c_new = f * c + i * g
        return o * sg.tanh(c_new), c_new

    (hs, _), _ = sg.scan(step, sequences=x, outputs_info=[h0, c0], non_sequences=[w, u])
    return sg.function([x, h0, c0, w, u], hs[-1], mode="cuda")


def jax_cells(kind: str, hidden: int):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    if not any(d.platform == "gpu" for d in jax.devices()):
        return None

    def rnn(x, h0, w, u):
        return jax.lax.scan(lambda h, xt: (jnp.tanh(xt @ w + h @ u),) * 2, h0, x)[0]

    def lstm(x, h0, c0, w, u):
        def step(carry, xt):
            h, c = carry
            z = xt @ w + h @ u
            i, f, o = (jax.nn.sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3))
            c = f * c + i * jnp.tanh(z[:, 3 * hidden:])
            h = o * jnp.tanh(c)
            return (h, c), h
        return jax.lax.scan(step, (h0, c0), x)[0][0]

    return jax.jit(rnn if kind == "rnn" else lstm)


def timed(run, repeats: int = 5) -> float:
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        np.asarray(result)  # waits for the device
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    require_gpu()
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for kind in ("rnn", "lstm"):
        width = args.hidden * (4 if kind == "lstm" else 1)
        x = rng.normal(size=(args.steps, args.batch, args.hidden)).astype("float32")
        h0 = np.zeros((args.batch, args.hidden), dtype="float32")
        w = (rng.normal(size=(args.hidden, width)) / np.sqrt(args.hidden)).astype("float32")
        u = (rng.normal(size=(args.hidden, width)) / np.sqrt(args.hidden)).astype("float32")
        inputs = [x, h0, w, u] if kind == "rnn" else [x, h0, h0.copy(), w, u]
        f = symgraph_cells(kind, args.hidden)
        ours = timed(lambda f=f, inputs=inputs: f(*inputs))
        line = f"{kind}: symgraph {ours * 1e3:.2f} ms"
        jitted = jax_cells(kind, args.hidden)
        if jitted is not None:
            theirs = timed(lambda jitted=jitted, inputs=inputs: jitted(*inputs))
            line += f", JAX {theirs * 1e3:.2f} ms, ratio JAX/symgraph {theirs / ours:.2f}"
        else:
            line += " (JAX with a GPU not installed)"
        print(line)


if __name__ == "__main__":
    main()
