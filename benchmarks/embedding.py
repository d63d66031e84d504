"""Embedding lookups and their gradients: ``W[codes]`` (a row gather) and the gradient with
respect to ``W`` (a scatter-add of the output gradient, duplicates accumulating), symgraph
("llvm", native rules of codegen/llvm/native_gather.py) against NumPy (``W[codes]``,
``np.add.at`` into zeros) and JAX (``jax.jit`` of ``W[codes]`` and ``zeros.at[codes].add``)
in the same process, one thread.

* charlstm: the demo's full LSTM input projection, V=65 characters, rows of 4*128 float64,
  codes (32, 32) (time, batch).
* words: V=20,000 words, rows of 256 float32, codes (64, 64).

Prints a Markdown table: medians of REPEATS interleaved calls after warm-up, and ratios
(above 1, symgraph is faster).

    python benchmarks/embedding.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402

REPEATS = 300
CASES = {"charlstm": (65, 512, (32, 32), "float64"), "words": (20_000, 256, (64, 64), "float32")}


def medians(calls: list, repeats: int = REPEATS) -> list[float]:
    for call in calls:
        call()
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for k, call in enumerate(calls):
            start = time.perf_counter()
            call()
            times[k].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def symgraph_calls(dtype: str):
    w = sg.matrix("W", dtype=dtype)
    codes = sg.lmatrix("codes")
    g = sg.tensor3("g", dtype=dtype)
    lookup = sg.function([w, codes], w[codes], mode="llvm", tier="final")
    grad = sg.function([w, codes, g], sg.grad((w[codes] * g).sum(), w), mode="llvm",
                       tier="final")
    return lookup, grad


def jax_calls():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    lookup = jax.jit(lambda w, c: w[c])
    grad = jax.jit(lambda w, c, g: jnp.zeros_like(w).at[c].add(g))
    return (lambda w, c: lookup(w, c).block_until_ready(),
            lambda w, c, g: grad(w, c, g).block_until_ready(), jax.device_put)


def numpy_grad(w: np.ndarray, codes: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = np.zeros_like(w)
    np.add.at(out, codes, g)
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    jx = jax_calls()
    rows = []
    for name, (vocab, width, shape, dtype) in CASES.items():
        w = rng.normal(size=(vocab, width)).astype(dtype)
        codes = rng.integers(0, vocab, shape)
        g = rng.normal(size=shape + (width,)).astype(dtype)
        lookup, grad = symgraph_calls(dtype)
        assert np.array_equal(lookup(w, codes), w[codes])
        np.testing.assert_allclose(grad(w, codes, g), numpy_grad(w, codes, g), rtol=1e-5,
                                   atol=1e-5)
        calls = [lambda: lookup(w, codes), lambda: w[codes],
                 lambda: grad(w, codes, g), lambda: numpy_grad(w, codes, g)]
        if jx is not None:
            jw, jc, jg = (jx[2](a) for a in (w, codes, g))
            calls += [lambda: jx[0](jw, jc), lambda: jx[1](jw, jc, jg)]
        times = medians(calls)
        jax_times = times[4:] if jx is not None else [float("nan")] * 2
        for what, ours, numpy_t, jax_t in (("lookup", times[0], times[1], jax_times[0]),
                                           ("gradient", times[2], times[3], jax_times[1])):
            rows.append(f"| {name} {what} | {ours * 1e6:.1f} | {numpy_t * 1e6:.1f} | "
                        f"{jax_t * 1e6:.1f} | {numpy_t / ours:.2f} | {jax_t / ours:.2f} |")
    print("| case | symgraph µs | NumPy µs | JAX µs | NumPy / symgraph | JAX / symgraph |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
