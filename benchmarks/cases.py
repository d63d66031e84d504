"""The benchmark cases; run as ``python cases.py FRAMEWORK CASE`` (by run.py), printing a JSON
object of measure -> seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"1e3": 10 ** 3, "1e5": 10 ** 5, "1e7": 10 ** 7}


def best(fn: Callable[[], object], repeat: int = 7, number: int = 1) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


# -- (a) fused elementwise -----------------------------------------------------------------
def a_inputs(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(n).astype("float32") for _ in range(3)]


def case_a(framework: str) -> dict:
    results = {}
    fn = _elementwise_function(framework)
    for label, n in SIZES.items():
        x, y, z = a_inputs(n)
        results[f"n={label}"] = best(lambda x=x, y=y, z=z: fn(x, y, z),
                                   number=100 if n <= 1e5 else 1)
    return results


def _elementwise_function(framework: str) -> Callable:
    if framework == "numpy":
        half = np.float32(0.5)
        return lambda x, y, z: np.tanh(x * y + z) * np.exp(-x * x) + half * np.log1p(np.abs(y))
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        return jax.jit(lambda x, y, z: jnp.tanh(x * y + z) * jnp.exp(-x * x) +
                       0.5 * jnp.log1p(jnp.abs(y)))
    sg = _module(framework)
    x, y, z = (sg_vector(framework, n) for n in "xyz")
    out = sg.tanh(x * y + z) * sg.exp(-x * x) + 0.5 * sg.log1p(abs(y))
    return sg.function([x, y, z], out)


def _module(framework: str):
    if framework == "pytensor":
        import pytensor.tensor as pt

        pt.function = __import__("pytensor").function
        pt.grad = __import__("pytensor").grad
        return pt
    import symgraph as sg

    sg.config.mode = "llvm"
    return sg


def sg_vector(framework: str, name: str):
    if framework == "pytensor":
        import pytensor.tensor as pt

        return pt.vector(name, dtype="float32")
    import symgraph as sg

    return sg.fvector(name)


# -- (b) softmax ---------------------------------------------------------------------------
def case_b(framework: str) -> dict:
    x = np.random.default_rng(1).standard_normal((4096, 4096)).astype("float32")
    if framework == "numpy":
        def fn(v):
            e = np.exp(v - v.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
    elif framework == "jax":
        import jax

        fn = jax.jit(lambda v: jax.nn.softmax(v, axis=1))
    elif framework == "pytensor":
        import pytensor
        import pytensor.tensor as pt

        m = pt.matrix("m", dtype="float32")
        fn = pytensor.function([m], pt.special.softmax(m, axis=1))
    else:
        import symgraph as sg

        m = sg.fmatrix("m")
        fn = sg.function([m], sg.nnet.softmax(m, axis=1), mode="llvm")
    return {"4096x4096": best(lambda: fn(x), repeat=5)}


# -- (c) call overhead ---------------------------------------------------------------------
def case_c(framework: str) -> dict:
    a, b = np.float64(1.5), np.float64(2.5)
    if framework == "numpy":
        fn = np.add
    elif framework == "jax":
        import jax

        fn = jax.jit(lambda u, v: u + v)
    elif framework == "pytensor":
        import pytensor
        import pytensor.tensor as pt

        u, v = pt.dscalars("u", "v")
        fn = pytensor.function([u, v], u + v)
    else:
        import symgraph as sg

        u, v = sg.dscalars("u", "v")
        fn = sg.function([u, v], u + v, mode="llvm")
        a, b = np.asarray(a), np.asarray(b)
    return {"2-scalar add": best(lambda: fn(a, b), repeat=5, number=20000)}


# -- (d) compile time of an MLP loss and gradient -------------------------------------------
MLP_COMPILE = """
import time, symgraph as sg
start = time.perf_counter()
x, = sg.fmatrices("x"); t = sg.lvector("t")
params = []
h = x
for i, (n_in, n_out) in enumerate([(64, 256), (256, 256), (256, 256), (256, 10)]):
    w = sg.shared(__import__("numpy").zeros((n_in, n_out), "float32"), name=f"w{i}")
    b = sg.shared(__import__("numpy").zeros(n_out, "float32"), name=f"b{i}")
    params += [w, b]
    h = sg.dot(h, w) + b
    if i < 3:
        h = sg.tanh(h)
loss = sg.nnet.categorical_crossentropy(sg.nnet.softmax(h), t).mean()
grads = sg.grad(loss, params)
f = sg.function([x, t], [loss] + grads, mode="llvm")
print(time.perf_counter() - start)
"""


def case_d(framework: str) -> dict:
    if framework != "symgraph":
        return {}
    cold = float(subprocess.run([sys.executable, "-c", MLP_COMPILE], capture_output=True,
                                text=True, cwd=ROOT, check=True).stdout.split()[-1])
    warm = float(subprocess.run([sys.executable, "-c", MLP_COMPILE], capture_output=True,
                                text=True, cwd=ROOT, check=True).stdout.split()[-1])
    return {"cold": cold, "from disk cache": warm}


# -- (e) MLP training epoch ----------------------------------------------------------------
def digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits

        data = load_digits()
        return (data.data / 16.0).astype("float32"), data.target.astype("int64")
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.random((1797, 64), dtype=np.float32), rng.integers(0, 10, 1797)


def case_e(framework: str) -> dict:
    x, t = digits()
    sizes = [(64, 256), (256, 256), (256, 10)]
    rng = np.random.default_rng(0)
    init = [(rng.normal(0, n_in ** -0.5, (n_in, n_out)).astype("float32"),
             np.zeros(n_out, "float32")) for n_in, n_out in sizes]
    step = _numpy_step(init) if framework == "numpy" else _symgraph_step(init) \
        if framework == "symgraph" else None
    if step is None:
        return {}

    def epoch():
        for i in range(0, len(x) - 63, 64):
            step(x[i:i + 64], t[i:i + 64])

    return {"epoch": best(epoch, repeat=5)}


def _symgraph_step(init: list) -> Callable:
    import symgraph as sg

    xs, ts = sg.fmatrix("x"), sg.lvector("t")
    params, h = [], xs
    for i, (w0, b0) in enumerate(init):
        w, b = sg.shared(w0.copy()), sg.shared(b0.copy())
        params += [w, b]
        h = sg.dot(h, w) + b
        if i < len(init) - 1:
            h = sg.relu(h)
    loss = sg.nnet.categorical_crossentropy(sg.nnet.softmax(h), ts).mean()
    grads = sg.grad(loss, params)
    updates = [(p, p - np.float32(0.1) * g) for p, g in zip(params, grads)]
    return sg.function([xs, ts], loss, updates=updates, mode="llvm")


def _numpy_step(init: list) -> Callable:
    params = [[w.copy(), b.copy()] for w, b in init]

    def step(x, t):
        activations, h = [x], x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = np.maximum(h, 0)
            activations.append(h)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        g = p
        g[np.arange(len(t)), t] -= 1
        g /= len(t)
        for i in reversed(range(len(params))):
            w, b = params[i]
            a = activations[i]
            gw, gb = a.T @ g, g.sum(axis=0)
            if i:
                g = (g @ w.T) * (activations[i] > 0)
            params[i][0] = w - np.float32(0.1) * gw
            params[i][1] = b - np.float32(0.1) * gb
        return p

    return step


# -- (f) matmul ----------------------------------------------------------------------------
def case_f(framework: str) -> dict:
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal((2048, 2048)).astype("float32") for _ in range(2))
    if framework == "numpy":
        fn = np.dot
    elif framework == "jax":
        import jax

        fn = jax.jit(lambda u, v: u @ v)
    elif framework == "pytensor":
        import pytensor
        import pytensor.tensor as pt

        u, v = pt.matrices("u", "v")
        fn = pytensor.function([u, v], u @ v)
    else:
        import symgraph as sg

        u, v = sg.fmatrices("u", "v")
        fn = sg.function([u, v], sg.dot(u, v), mode="llvm")
    seconds = best(lambda: fn(a, b), repeat=5)
    return {"2048² float32": seconds}


# -- (g) compile time of a long chain ------------------------------------------------------
def case_g(framework: str) -> dict:
    if framework != "symgraph":
        return {}
    import symgraph as sg

    sys.setrecursionlimit(1000)  # the default: no deep recursion allowed
    start = time.perf_counter()
    x = sg.dvector("x")
    h = x
    for i in range(1000):
        h = sg.sin(h) * 1.0001 + 0.001 * i if i % 2 else sg.tanh(h) + h * 0.5
    cost = h.sum()
    f = sg.function([x], [cost, sg.grad(cost, x)], mode="llvm")
    f(np.linspace(0, 1, 8))
    return {"1000-op chain + grad": time.perf_counter() - start}


CASES = {
    "a": {"fn": case_a, "labels": [f"n={k}" for k in SIZES],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "b": {"fn": case_b, "labels": ["4096x4096"], "frameworks": ("symgraph", "numpy", "jax")},
    "c": {"fn": case_c, "labels": ["2-scalar add"],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "d": {"fn": case_d, "labels": ["cold", "from disk cache"], "frameworks": ("symgraph",)},
    "e": {"fn": case_e, "labels": ["epoch"], "frameworks": ("symgraph", "numpy")},
    "f": {"fn": case_f, "labels": ["2048² float32"],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "g": {"fn": case_g, "labels": ["1000-op chain + grad"], "frameworks": ("symgraph",)},
}

if __name__ == "__main__":
    framework_name, case_name = sys.argv[1], sys.argv[2]
    os.environ.setdefault("SYMGRAPH_FLAGS", "num_threads=1")
    print(json.dumps(CASES[case_name]["fn"](framework_name)))
