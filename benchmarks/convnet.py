"""Convolutional networks: a LeNet training step, the digits example and a VGG-style block, symgraph
("llvm") against JAX (``jax.jit``, XLA on the CPU) in the same process.

* LeNet step: batch 64 of 1x28x28 float32, conv 20@5x5 + tanh + 2x2 max-pool, conv 50@5x5 +
  tanh + 2x2 max-pool, softmax classifier on the 800 features, mean crossentropy with integer
  labels, SGD updates of all six parameters (shared variables in symgraph; the jitted step
  returns the new parameters in JAX).
* The example's digits convnet (examples/convnet.py): batch 16 of 1x8x8, conv 16@3x3 + bias
  + ReLU, 2x2 max-pool, softmax classifier, SGD: a small step, where per-call costs count.
* VGG-style block: batch 32 of 64x32x32, two 3x3 convolutions 64 -> 64 with 'half' padding,
  each + bias + ReLU, then 2x2 max-pool; forward, and forward+backward (gradients of the sum of
  the output with respect to the input, the filters and the biases).

Prints a Markdown table: medians of REPEATS calls after warm-up, and ratios JAX / symgraph
(above 1, symgraph is faster).

    python benchmarks/convnet.py [--threads N]      (default: one thread)

Our conv and pool loops run on one thread; with N > 1, OpenBLAS and the elementwise kernels
use N, as does XLA.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Threads for every framework (``--threads N``), set before NumPy, OpenBLAS and XLA load.
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(THREADS)
os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen={str(THREADS > 1).lower()} "
                                   f"intra_op_parallelism_threads={THREADS}")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from cases import resident  # noqa: E402 - JAX's inputs on its device, as in run.py's cases

REPEATS = {"lenet": 30, "digits": 2000, "vgg": 9}


def _medians(calls: list[Callable[[], object] | None], repeats: int) -> list[float | None]:
    """Median seconds of each call; the calls alternate within each round, so that a busy
    machine slows them alike."""
    present = [c for c in calls if c is not None]
    for call in present:
        call()
        call()
    times: list[list[float]] = [[] for _ in present]
    for _ in range(repeats):
        for k, call in enumerate(present):
            start = time.perf_counter()
            call()
            times[k].append(time.perf_counter() - start)
    found = iter(statistics.median(t) for t in times)
    return [None if c is None else next(found) for c in calls]


def _lenet_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = np.sqrt(1.0 / fan_in)
        return rng.uniform(-bound, bound, shape).astype("float32")

    return {"w1": uniform((20, 1, 5, 5), 25), "b1": np.zeros(20, "float32"),
            "w2": uniform((50, 20, 5, 5), 500), "b2": np.zeros(50, "float32"),
            "w3": uniform((800, 10), 800), "b3": np.zeros(10, "float32")}


def lenet_symgraph(params: dict[str, np.ndarray], lr: float) -> Callable[..., object]:
    shared = {k: sg.shared(v.copy(), name=k) for k, v in params.items()}
    x = sg.tensor4("x", dtype="float32")
    y = sg.ivector("y")
    h = x
    for w, b in (("w1", "b1"), ("w2", "b2")):
        h = sg.nnet.conv2d(h, shared[w])
        h = sg.nnet.max_pool_2d(sg.tanh(h + shared[b].dimshuffle("x", 0, "x", "x")), (2, 2))
    probs = sg.nnet.softmax(sg.dot(h.flatten(2), shared["w3"]) + shared["b3"])
    loss = sg.nnet.categorical_crossentropy(probs, y).mean()
    grads = sg.grad(loss, list(shared.values()))
    updates = [(p, p - np.float32(lr) * g) for p, g in zip(shared.values(), grads)]
    return sg.function([x, y], loss, updates=updates)


def lenet_jax(params: dict[str, np.ndarray], lr: float) -> Callable[..., object]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def pool(h: jnp.ndarray) -> jnp.ndarray:
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(p: dict, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
        h = x
        for w, b in (("w1", "b1"), ("w2", "b2")):
            h = lax.conv(h, p[w][:, :, ::-1, ::-1], (1, 1), "VALID")
            h = pool(jnp.tanh(h + p[b][None, :, None, None]))
        logits = h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return _jax_sgd(loss, params, lr)


def _digits_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"w1": rng.normal(0, 1 / 3, (16, 1, 3, 3)).astype("float32"),
            "b1": np.zeros(16, "float32"),
            "w3": rng.normal(0, 144 ** -0.5, (144, 10)).astype("float32"),
            "b3": np.zeros(10, "float32")}


def digits_symgraph(params: dict[str, np.ndarray], lr: float) -> Callable[..., object]:
    shared = {k: sg.shared(v.copy(), name=k) for k, v in params.items()}
    x = sg.tensor4("x", dtype="float32")
    y = sg.ivector("y")
    h = sg.nnet.relu(sg.nnet.conv2d(x, shared["w1"])
                     + shared["b1"].dimshuffle("x", 0, "x", "x"))
    probs = sg.nnet.softmax(sg.dot(sg.nnet.max_pool_2d(h, (2, 2)).flatten(2), shared["w3"])
                            + shared["b3"])
    loss = sg.nnet.categorical_crossentropy(probs, y).mean()
    grads = sg.grad(loss, list(shared.values()))
    updates = [(p, p - np.float32(lr) * g) for p, g in zip(shared.values(), grads)]
    return sg.function([x, y], loss, updates=updates)


def digits_jax(params: dict[str, np.ndarray], lr: float) -> Callable[..., object]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def loss(p: dict, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
        h = lax.conv(x, p["w1"][:, :, ::-1, ::-1], (1, 1), "VALID")
        h = jnp.maximum(h + p["b1"][None, :, None, None], 0.0)
        h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logp = jax.nn.log_softmax(h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"])
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return _jax_sgd(loss, params, lr)


def _jax_sgd(loss: Callable[..., object], params: dict[str, np.ndarray], lr: float
             ) -> Callable[..., object]:
    """A jitted SGD step on ``loss(params, x, y)`` holding the parameters between calls."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def step(p: dict, x: jnp.ndarray, y: jnp.ndarray) -> tuple[jnp.ndarray, dict]:
        value, grads = jax.value_and_grad(loss)(p, x, y)
        return value, jax.tree_util.tree_map(lambda a, g: a - lr * g, p, grads)

    state = {"p": {k: jnp.asarray(v) for k, v in params.items()}}

    def run(x: np.ndarray, y: np.ndarray) -> object:
        value, state["p"] = step(state["p"], x, y)
        return value.block_until_ready()

    return run


def _vgg_symgraph() -> tuple[Callable[..., object], Callable[..., object]]:
    x = sg.tensor4("x", dtype="float32")
    w1, w2 = sg.tensor4("w1", dtype="float32"), sg.tensor4("w2", dtype="float32")
    b1, b2 = sg.fvector("b1"), sg.fvector("b2")
    h = x
    for w, b in ((w1, b1), (w2, b2)):
        h = sg.nnet.relu(sg.nnet.conv2d(h, w, border_mode="half")
                         + b.dimshuffle("x", 0, "x", "x"))
    out = sg.nnet.max_pool_2d(h, (2, 2))
    inputs = [x, w1, b1, w2, b2]
    forward = sg.function(inputs, out)
    backward = sg.function(inputs, [out, *sg.grad(out.sum(), inputs)])
    return forward, backward


def _vgg_jax() -> tuple[Callable[..., object], Callable[..., object]]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def block(x: jnp.ndarray, w1: jnp.ndarray, b1: jnp.ndarray, w2: jnp.ndarray,
              b2: jnp.ndarray) -> jnp.ndarray:
        h = x
        for w, b in ((w1, b1), (w2, b2)):
            h = lax.conv(h, w[:, :, ::-1, ::-1], (1, 1), "SAME") + b[None, :, None, None]
            h = jnp.maximum(h, 0.0)
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    forward = jax.jit(block)

    def both(*args: jnp.ndarray) -> tuple:
        out, pullback = jax.vjp(block, *args)
        return (out, *pullback(jnp.ones_like(out)))

    backward = jax.jit(both)

    def ready(fn: Callable[..., object]) -> Callable[..., object]:
        return lambda *a: jax.block_until_ready(fn(*a))

    return ready(forward), ready(backward)


def _row(case: str, measure: str, ours: float, theirs: float | None) -> str:
    def fmt(seconds: float) -> str:
        return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"

    if theirs is None:
        return f"| {case} | {measure} | {fmt(ours)} | – | – |"
    return f"| {case} | {measure} | {fmt(ours)} | {fmt(theirs)} | {theirs / ours:.2f} |"


def main() -> None:
    sg.config.tier = "final"
    sg.config.num_threads = THREADS
    rng = np.random.default_rng(0)
    try:
        import jax  # noqa: F401
        has_jax = True
    except ImportError:
        has_jax = False
    rows = ["| case | measure | symgraph | JAX | JAX / symgraph |", "|---|---|---|---|---|"]
    training = (("LeNet", lenet_symgraph, lenet_jax, _lenet_params, (64, 1, 28, 28), 0.01),
                ("digits convnet", digits_symgraph, digits_jax, _digits_params, (16, 1, 8, 8),
                 0.1))
    for case, ours_step, jax_step, make_params, shape, lr in training:
        params = make_params(rng)
        x = rng.standard_normal(shape).astype("float32")
        y = rng.integers(0, 10, shape[0]).astype("int32")
        step = ours_step(params, lr)
        jstep = jax_step(params, lr) if has_jax else None
        jx, jy = resident("jax" if has_jax else "numpy", x, y)
        ours, theirs = _medians([lambda: step(x, y), jstep and (lambda: jstep(jx, jy))],
                                REPEATS[case.split()[0].lower()])
        assert ours is not None
        rows.append(_row(case, f"training step, batch {shape[0]}", ours, theirs))
    args = [rng.standard_normal((32, 64, 32, 32)).astype("float32"),
            (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype("float32"),
            np.zeros(64, "float32"),
            (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype("float32"),
            np.zeros(64, "float32")]
    ours_fns = _vgg_symgraph()
    theirs_fns = _vgg_jax() if has_jax else (None, None)
    jargs = resident("jax" if has_jax else "numpy", *args)
    for label, fn, jfn in zip(("forward", "forward+backward"), ours_fns, theirs_fns):
        ours, theirs = _medians([lambda: fn(*args), jfn and (lambda: jfn(*jargs))],
                                REPEATS["vgg"])
        assert ours is not None
        rows.append(_row("VGG block", label + ", batch 32", ours, theirs))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
