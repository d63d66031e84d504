"""Time to first result, in fresh processes: symgraph (tiered, the default, and final-tier)
against JAX (``jax.jit``, first call; its persistent compilation cache on for "warm") and
PyTensor (its C backend, ``linker=cvm``) when installed. "cold": an empty compile cache;
"warm": a second process on the cache the first one filled. One compute thread each; compilers
may use the other core.

    python benchmarks/first_result.py                       # every case, Markdown table
    python benchmarks/first_result.py --cases mlp chain100   # some cases
    python benchmarks/first_result.py --pytensor-python /tmp/pt-venv/bin/python

PyTensor pins an older llvmlite (through numba) than symgraph needs, so it usually lives in a
virtual environment of its own: ``--pytensor-python`` names that interpreter (default: this
one, when it can import pytensor).

Each cell is the median over ``--repeats`` process pairs of the time from the end of the
imports to the first result (the import itself is the ``import`` row).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("import", "tanh", "mlp", "elman", "lstm", "chain10", "chain100", "chain1000")
FRAMEWORKS = ("symgraph", "symgraph-final", "jax", "pytensor")


# -- the workloads, one function per framework ---------------------------------------------------

def _chain_length(case: str) -> int:
    return int(case[len("chain"):])


def symgraph_chain(n: int, rng) -> tuple:
    """The chain of ``n`` ops (dot/tanh/scale/add on 32×32, float32) and its sum:
    ``(x, w, loss)``; benchmarks/compile_scaling.py compiles the same graph."""
    import symgraph as sg

    x = sg.fmatrix("x")
    w = sg.shared((rng.normal(size=(32, 32)) * 0.2).astype("float32"))
    out = x
    for k in range(n):
        out = [lambda v: v @ w, sg.tanh, lambda v: v * 0.9, lambda v: v + x][k % 4](out)
    return x, w, out.sum()


def run_symgraph(case: str, tier: str) -> float:
    import numpy as np

    import symgraph as sg

    sg.config.tier = tier
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    if case == "tanh":
        x = sg.fvector("x")
        f = sg.function([x], sg.tanh(x) * 3 - 1)
        f(rng.normal(size=1000).astype("float32"))
    elif case == "mlp":
        x, y = sg.fmatrix("x"), sg.ivector("y")
        sizes = [64, 256, 256, 10]
        params = []
        h = x
        for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
            w = sg.shared((rng.normal(size=(a, b)) * 0.1).astype("float32"))
            c = sg.shared(np.zeros(b, "float32"))
            params += [w, c]
            h = h @ w + c
            h = sg.nnet.softmax(h) if k == len(sizes) - 2 else sg.tanh(h)
        loss = sg.nnet.categorical_crossentropy(h, y).mean()
        grads = sg.grad(loss, params)
        f = sg.function([x, y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
        f(rng.normal(size=(64, 64)).astype("float32"), rng.integers(0, 10, 64).astype("int32"))
    elif case in ("elman", "lstm"):
        xs = sg.ftensor3("xs")
        n_in, hidden, batch = 32, 64, 16
        gates = 4 if case == "lstm" else 1
        w = sg.shared((rng.normal(size=(n_in, gates * hidden)) * 0.1).astype("float32"))
        u = sg.shared((rng.normal(size=(hidden, gates * hidden)) * 0.1).astype("float32"))
        b = sg.shared(np.zeros(gates * hidden, "float32"))
        h0 = sg.constant(np.zeros((batch, hidden), "float32"))
        if case == "elman":
            hs, _ = sg.scan(lambda x, h: sg.tanh(x @ w + h @ u + b), sequences=xs,
                            outputs_info=h0)
        else:
            def step(x, h, c):
                z = x @ w + h @ u + b
                i, f_, o = (sg.sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3))
                c = f_ * c + i * sg.tanh(z[:, 3 * hidden:])
                return o * sg.tanh(c), c
            (hs, _), _ = sg.scan(step, sequences=xs, outputs_info=[h0, h0])
        loss = (hs[-1] ** 2).mean()
        f = sg.function([xs], [loss] + sg.grad(loss, [w, u, b]))
        f(rng.normal(size=(100, batch, n_in)).astype("float32"))
    else:
        x, w, loss = symgraph_chain(_chain_length(case), rng)
        f = sg.function([x], [loss] + sg.grad(loss, [w, x]))
        f(rng.normal(size=(32, 32)).astype("float32"))
    return time.perf_counter() - start


def run_jax(case: str) -> float:
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    if case == "tanh":
        jax.jit(lambda x: jnp.tanh(x) * 3 - 1)(rng.normal(size=1000).astype("float32")) \
            .block_until_ready()
    elif case == "mlp":
        sizes = [64, 256, 256, 10]
        params = [((rng.normal(size=(a, b)) * 0.1).astype("float32"), np.zeros(b, "float32"))
                  for a, b in zip(sizes, sizes[1:])]

        def loss(params, x, y):
            h = x
            for k, (w, c) in enumerate(params):
                h = h @ w + c
                h = jax.nn.log_softmax(h) if k == len(params) - 1 else jnp.tanh(h)
            return -jnp.take_along_axis(h, y[:, None], 1).mean()

        @jax.jit
        def step(params, x, y):
            value, grads = jax.value_and_grad(loss)(params, x, y)
            return value, jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)

        value, _ = step(params, rng.normal(size=(64, 64)).astype("float32"),
                        rng.integers(0, 10, 64).astype("int32"))
        value.block_until_ready()
    elif case in ("elman", "lstm"):
        n_in, hidden, batch = 32, 64, 16
        gates = 4 if case == "lstm" else 1
        params = ((rng.normal(size=(n_in, gates * hidden)) * 0.1).astype("float32"),
                  (rng.normal(size=(hidden, gates * hidden)) * 0.1).astype("float32"),
                  np.zeros(gates * hidden, "float32"))

        def loss(params, xs):
            w, u, b = params
            h0 = jnp.zeros((batch, hidden), "float32")
            if case == "elman":
                def step(h, x):
                    h = jnp.tanh(x @ w + h @ u + b)
                    return h, h
                h, _ = jax.lax.scan(step, h0, xs)
            else:
                def step(carry, x):
                    h, c = carry
                    z = x @ w + h @ u + b
                    i, f, o = (jax.nn.sigmoid(z[:, k * hidden:(k + 1) * hidden])
                               for k in range(3))
                    c = f * c + i * jnp.tanh(z[:, 3 * hidden:])
                    h = o * jnp.tanh(c)
                    return (h, c), h
                (h, _), _ = jax.lax.scan(step, (h0, h0), xs)
            return (h ** 2).mean()

        value, _ = jax.jit(jax.value_and_grad(loss))(
            params, rng.normal(size=(100, batch, n_in)).astype("float32"))
        value.block_until_ready()
    else:
        n = _chain_length(case)
        w = (rng.normal(size=(32, 32)) * 0.2).astype("float32")

        def loss(w, x):
            out = x
            for k in range(n):
                out = [lambda v: v @ w, jnp.tanh, lambda v: v * 0.9, lambda v: v + x][k % 4](out)
            return out.sum()

        value, _ = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(
            w, rng.normal(size=(32, 32)).astype("float32"))
        value.block_until_ready()
    return time.perf_counter() - start


def run_pytensor(case: str) -> float:
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    if case == "tanh":
        x = pt.fvector("x")
        pytensor.function([x], pt.tanh(x) * 3 - 1)(rng.normal(size=1000).astype("float32"))
    elif case == "mlp":
        x, y = pt.fmatrix("x"), pt.ivector("y")
        sizes = [64, 256, 256, 10]
        params, h = [], x
        for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
            w = pytensor.shared((rng.normal(size=(a, b)) * 0.1).astype("float32"))
            c = pytensor.shared(np.zeros(b, "float32"))
            params += [w, c]
            h = h @ w + c
            h = pt.special.softmax(h, axis=-1) if k == len(sizes) - 2 else pt.tanh(h)
        loss = -pt.log(h[pt.arange(y.shape[0]), y]).mean()
        grads = pytensor.grad(loss, params)
        lr = np.float32(0.1)  # a Python float would make PyTensor's updates float64
        f = pytensor.function([x, y], loss,
                              updates=[(p, p - lr * g) for p, g in zip(params, grads)])
        f(rng.normal(size=(64, 64)).astype("float32"), rng.integers(0, 10, 64).astype("int32"))
    elif case in ("elman", "lstm"):
        xs = pt.ftensor3("xs")
        n_in, hidden, batch = 32, 64, 16
        gates = 4 if case == "lstm" else 1
        w = pytensor.shared((rng.normal(size=(n_in, gates * hidden)) * 0.1).astype("float32"))
        u = pytensor.shared((rng.normal(size=(hidden, gates * hidden)) * 0.1).astype("float32"))
        b = pytensor.shared(np.zeros(gates * hidden, "float32"))
        h0 = pt.constant(np.zeros((batch, hidden), "float32"))
        if case == "elman":
            hs, _ = pytensor.scan(lambda x, h: pt.tanh(x @ w + h @ u + b), sequences=xs,
                                  outputs_info=h0)
        else:
            def step(x, h, c):
                z = x @ w + h @ u + b
                i, f_, o = (pt.sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3))
                c = f_ * c + i * pt.tanh(z[:, 3 * hidden:])
                return o * pt.tanh(c), c
            (hs, _), _ = pytensor.scan(step, sequences=xs, outputs_info=[h0, h0])
        loss = (hs[-1] ** 2).mean()
        f = pytensor.function([xs], [loss] + pytensor.grad(loss, [w, u, b]))
        f(rng.normal(size=(100, batch, n_in)).astype("float32"))
    else:
        n = _chain_length(case)
        x = pt.fmatrix("x")
        w = pytensor.shared((rng.normal(size=(32, 32)) * 0.2).astype("float32"))
        out = x
        for k in range(n):
            out = [lambda v: v @ w, pt.tanh, lambda v: v * 0.9, lambda v: v + x][k % 4](out)
        loss = out.sum()
        f = pytensor.function([x], [loss] + pytensor.grad(loss, [w, x]))
        f(rng.normal(size=(32, 32)).astype("float32"))
    return time.perf_counter() - start


def worker(framework: str, case: str) -> dict:
    """One measurement in this (fresh) process."""
    start = time.perf_counter()
    if framework.startswith("symgraph"):
        import symgraph  # noqa: F401
    elif framework == "jax":
        import jax
        jax.config.update("jax_compilation_cache_dir", os.environ["BENCH_CACHE"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    else:
        import pytensor  # noqa: F401
    imported = time.perf_counter() - start
    if case == "import":
        return {"seconds": imported}
    if framework.startswith("symgraph"):
        seconds = run_symgraph(case, "final" if framework.endswith("final") else "tiered")
    elif framework == "jax":
        seconds = run_jax(case)
    else:
        seconds = run_pytensor(case)
    return {"seconds": seconds}


# -- the driver ----------------------------------------------------------------------------------

# The interpreter each framework runs in (PyTensor may have a virtual environment of its own).
PYTHONS = {framework: sys.executable for framework in FRAMEWORKS}


def _available(framework: str) -> bool:
    module = "symgraph" if framework.startswith("symgraph") else framework
    found = subprocess.run([PYTHONS[framework], "-c", f"import {module}"], capture_output=True)
    return found.returncode == 0


def _measure(framework: str, case: str, cache: str) -> float | None:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               SYMGRAPH_CACHE_DIR=cache, SYMGRAPH_FLAGS="num_threads=1", BENCH_CACHE=cache,
               # PyTensor's C backend (its 3.x default is the Numba linker).
               PYTENSOR_FLAGS=f"compiledir={cache},linker=cvm",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([PYTHONS[framework], __file__, "--worker", framework, case], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def _wait_for_handoff(cache: str) -> None:
    """Wait for the process a tiered symgraph run left to finish its native code at exit
    (``symgraph.tier_handoff``): "warm" is the next run of the program once that code is
    kept, as a user's next run would be."""
    sys.path.insert(0, str(ROOT))
    from symgraph import tier_handoff

    tier_handoff.wait(cache)


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    value = statistics.median(values)
    return f"{value * 1e3:.0f} ms" if value < 10 else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--frameworks", nargs="*", default=list(FRAMEWORKS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=2)
    parser.add_argument("--pytensor-python", default=sys.executable,
                        help="the interpreter that has PyTensor (e.g. a venv's python)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    PYTHONS["pytensor"] = args.pytensor_python
    frameworks = [f for f in args.frameworks if _available(f)]
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.repeats} fresh processes\n")
    header = " | ".join(f"{f} cold | {f} warm" for f in frameworks)
    print(f"| case | {header} |")
    print("|---|" + "---|" * (2 * len(frameworks)))
    for case in args.cases:
        cells = []
        for framework in frameworks:
            cold, warm = [], []
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as cache:
                    first = _measure(framework, case, cache)
                    _wait_for_handoff(cache)
                    second = _measure(framework, case, cache)
                    _wait_for_handoff(cache)
                if first is not None:
                    cold.append(first)
                if second is not None:
                    warm.append(second)
            cells += [_cell(cold), _cell(warm)]
        print(f"| {case} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
