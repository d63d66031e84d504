"""A call from C against the same call from Python: the digits MLP (64-128-10, float64) and a
scalar addition exported with ``sg.export`` and timed from a C program
(benchmarks/export_calls.c), then the same compiled functions called from Python, and the
forward pass in NumPy and JAX (jit) when installed. One thread; C and Python take three
turns each, and each figure is the median over the turns of the median of 7 rounds.

    python benchmarks/export_calls.py            # prints a Markdown table
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph.demo.digits import build_mlp  # noqa: E402
from symgraph.demo.training import adam  # noqa: E402

HERE = Path(__file__).resolve().parent
CALLS = 20_000
BATCH = 32
ROUNDS = 7
REPEATS = 3  # turns of C and Python


def per_call(call, n: int) -> float:
    """Nanoseconds per call, median of ROUNDS rounds of ``n`` calls."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(n):
            call()
        times.append((time.perf_counter() - start) / n * 1e9)
    return statistics.median(times)


def functions():
    x, t, probs, params = build_mlp(64, 128, 10, np.random.default_rng(0), "float64")
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    rate = sg.shared(np.asarray(1e-3), name="learning_rate")
    step = sg.function([x, t], loss, updates=adam(loss, params, rate), tier="final")
    predict = sg.function([x], [probs, probs.argmax(axis=1)], tier="final")
    a, b = sg.dscalars("a", "b")
    add = sg.function([a, b], a + b, tier="final")
    return add, predict, step, [p.get_value() for p in params]


def build_c(add, predict, step, out: str) -> str:
    """Export the functions to ``out`` and build the C timing program; its path."""
    result = sg.export({"add": add, "predict": predict, "train_step": step}, out, name="bench")
    program = os.path.join(out, "export_calls")
    subprocess.run(result.build_command(str(HERE / "export_calls.c"), program) + ["-O2"],
                   check=True)
    return program


def c_times(program: str, out: str) -> dict[str, float]:
    done = subprocess.run([program, out, str(CALLS), str(BATCH)], capture_output=True,
                          text=True, check=True, env={"OMP_NUM_THREADS": "1",
                                                      "OPENBLAS_NUM_THREADS": "1"})
    return {line.split()[0]: float(line.split()[1]) for line in done.stdout.splitlines()}


def numpy_predict(weights):
    w1, b1, w2, b2 = weights

    def run(x):
        logits = np.tanh(x @ w1 + b1) @ w2 + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        return probs, probs.argmax(axis=1)
    return run


def jax_predict(weights):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    w1, b1, w2, b2 = (jnp.asarray(w) for w in weights)

    @jax.jit
    def run(x):
        probs = jax.nn.softmax(jnp.tanh(x @ w1 + b1) @ w2 + b2, axis=1)
        return probs, probs.argmax(axis=1)
    return lambda x: jax.block_until_ready(run(x))


def main() -> None:
    add, predict, step, weights = functions()
    x = np.random.default_rng(1).random((BATCH, 64))
    t = np.arange(BATCH) % 10
    x1 = x[:1].copy()
    a, b = np.asarray(1.0), np.asarray(2.0)
    python_calls = {"add": (lambda: add(a, b), CALLS), "predict1": (lambda: predict(x1), CALLS),
                    "predict": (lambda: predict(x), CALLS // 10),
                    "train_step": (lambda: step(x, t), CALLS // 10)}
    c_runs, python_runs = [], []
    with tempfile.TemporaryDirectory() as out:
        program = build_c(add, predict, step, out)
        x.tofile(os.path.join(out, "x.bin"))
        # C and Python take turns, so that both see the same load on a shared machine.
        for _ in range(REPEATS):
            c_runs.append(c_times(program, out))
            python_runs.append({k: per_call(f, n) for k, (f, n) in python_calls.items()})
    c = {k: statistics.median(r[k] for r in c_runs) for k in python_calls}
    python = {k: statistics.median(r[k] for r in python_runs) for k in python_calls}
    numpy_run, jax_run = numpy_predict(weights), jax_predict(weights)
    others = {"predict1": [per_call(lambda: numpy_run(x1), CALLS)],
              "predict": [per_call(lambda: numpy_run(x), CALLS // 10)]}
    if jax_run is not None:
        jax_run(x1), jax_run(x)
        others["predict1"].append(per_call(lambda: jax_run(x1), CALLS))
        others["predict"].append(per_call(lambda: jax_run(x), CALLS // 10))
    labels = {"add": "add two float64 scalars", "predict1": "MLP predict, batch 1",
              "predict": f"MLP predict, batch {BATCH}",
              "train_step": f"MLP Adam step, batch {BATCH}"}
    jax_column = jax_run is not None
    print("| call | from C | from Python (symgraph) | Python / C | NumPy (Python)"
          + (" | JAX jit (Python)" if jax_column else "") + " |")
    print("|---|---|---|---|---" + ("|---" if jax_column else "") + "|")
    for key, label in labels.items():
        row = [label, f"{c[key] / 1000:.2f} µs", f"{python[key] / 1000:.2f} µs",
               f"{python[key] / c[key]:.2f}"]
        row += [f"{v / 1000:.2f} µs" for v in others.get(key, [])] or ["–"] * (1 + jax_column)
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
