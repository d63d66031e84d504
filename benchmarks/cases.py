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


# Process CPU seconds and wall seconds spent in best()'s timed calls: their ratio is the number
# of cores the framework kept busy, which run.py checks against the threads it was given.
USAGE = {"cpu": 0.0, "wall": 0.0}


def best(fn: Callable[[], object], repeat: int = 7, number: int = 1) -> float:
    fn()
    times = []
    for _ in range(repeat):
        cpu = time.process_time()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
        USAGE["cpu"] += time.process_time() - cpu
        USAGE["wall"] += times[-1] * number
    return min(times)


def _blocking(fn: Callable) -> Callable:
    """A jitted JAX function that returns only when its result is computed (JAX dispatches
    asynchronously: without this a call times the dispatch, not the work)."""
    return lambda *args: fn(*args).block_until_ready()


def resident(framework: str, *arrays: np.ndarray) -> list:
    """The inputs as ``framework`` holds them between calls: for JAX, arrays already on its
    device (converted once, outside the timing, the MLP's batches and the RNNs' sequences
    included), so that its figures time its kernels and not a copy from NumPy per call
    (which took 63 of 100 ms in case a at 1e7, 33 of 74 ms in softmax); NumPy arrays for the
    others."""
    if framework != "jax":
        return list(arrays)
    import jax

    return [jax.device_put(a).block_until_ready() for a in arrays]


# -- (a) fused elementwise -----------------------------------------------------------------
def a_inputs(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(n).astype("float32") for _ in range(3)]


def case_a(framework: str) -> dict:
    results = {}
    fn = _elementwise_function(framework)
    for label, n in SIZES.items():
        x, y, z = resident(framework, *a_inputs(n))
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

        return _blocking(jax.jit(lambda x, y, z: jnp.tanh(x * y + z) * jnp.exp(-x * x) +
                                 0.5 * jnp.log1p(jnp.abs(y))))
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
    """The row softmax of a 4096x4096 float32 matrix, and its denominator
    ``sum(exp(x - max(x, 1)), 1)`` (issue 18)."""
    x, = resident(framework,
                   np.random.default_rng(1).standard_normal((4096, 4096)).astype("float32"))
    if framework == "numpy":
        def denominator(v):
            return np.exp(v - v.max(axis=1, keepdims=True)).sum(axis=1)

        def fn(v):
            e = np.exp(v - v.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
    elif framework == "jax":
        import jax
        import jax.numpy as jnp

        fn = _blocking(jax.jit(lambda v: jax.nn.softmax(v, axis=1)))
        denominator = _blocking(jax.jit(
            lambda v: jnp.sum(jnp.exp(v - jnp.max(v, axis=1, keepdims=True)), axis=1)))
    elif framework == "pytensor":
        import pytensor
        import pytensor.tensor as pt

        m = pt.matrix("m", dtype="float32")
        fn = pytensor.function([m], pt.special.softmax(m, axis=1))
        denominator = None
    else:
        import symgraph as sg

        m = sg.fmatrix("m")
        fn = sg.function([m], sg.nnet.softmax(m, axis=1), mode="llvm")
        denominator = sg.function(
            [m], sg.sum(sg.exp(m - sg.max(m, axis=1, keepdims=True)), axis=1), mode="llvm")
    out = {"4096x4096": best(lambda: fn(x), repeat=5)}
    if denominator is not None:
        out["denominator 4096x4096"] = best(lambda: denominator(x), repeat=11)
    return out


# -- (c) call overhead ---------------------------------------------------------------------
def case_c(framework: str) -> dict:
    a, b = np.float64(1.5), np.float64(2.5)
    if framework == "numpy":
        fn = np.add
    elif framework == "jax":
        import jax

        fn = _blocking(jax.jit(lambda u, v: u + v))
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
    makers = {"numpy": _numpy_step, "symgraph": _symgraph_step, "jax": _jax("mlp_step"),
              "pytensor": _pytensor("mlp_step")}
    step = makers[framework](init) if framework in makers else None
    if step is None:
        return {}

    # The batches as each framework holds them (on JAX's device, made before the timing).
    batches = [resident(framework, x[i:i + 64], t[i:i + 64])
               for i in range(0, len(x) - 63, 64)]

    def epoch():
        for xb, tb in batches:
            step(xb, tb)

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
    a, b = resident(framework, *(rng.standard_normal((2048, 2048)).astype("float32")
                                  for _ in range(2)))
    if framework == "numpy":
        fn = np.dot
    elif framework == "jax":
        import jax

        fn = _blocking(jax.jit(lambda u, v: u @ v))
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


def _maker(module: str, name: str) -> Callable:
    """The maker ``name`` of benchmarks/``module``.py (imported when used: the framework is
    optional)."""
    def make(*args):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        return getattr(__import__(module), name)(*args)
    return make


def _jax(name: str) -> Callable:
    return _maker("cases_jax", name)


def _pytensor(name: str) -> Callable:
    return _maker("cases_pytensor", name)


# -- (h, i, j) loops: issue 6 ----------------------------------------------------------------
ELMAN = {"hidden": 128, "input": 64, "batch": 32}
LSTM = {"hidden": 256, "input": 256, "batch": 32, "steps": 100}


def _rnn_data(steps: int, size: int, batch: int) -> np.ndarray:
    return np.random.default_rng(3).normal(size=(steps, batch, size)).astype("float32")


def _rnn_weights(shapes: dict) -> dict:
    rng = np.random.default_rng(4)
    return {name: (rng.normal(0, 1 / np.sqrt(shape[0]), shape) if len(shape) == 2
                   else np.zeros(shape)).astype("float32") for name, shape in shapes.items()}


def case_h(framework: str) -> dict:
    """Elman RNN ``h_t = tanh(x_t W + h_{t-1} U + b)``, loss ``mean(h ** 2)``: seconds per step
    for the forward pass and for the loss and its gradient, and compile times."""
    hidden, size, batch = ELMAN["hidden"], ELMAN["input"], ELMAN["batch"]
    weights = _rnn_weights({"W": (size, hidden), "U": (hidden, hidden), "b": (hidden,)})
    results = {}
    for steps in (100, 1000):
        x, = resident(framework, _rnn_data(steps, size, batch))
        for backward in (False, True):
            makers = {"numpy": _numpy_elman, "symgraph": _symgraph_elman,
                      "jax": _jax("elman"), "pytensor": _pytensor("elman")}
            fn = makers[framework](weights, backward)
            label = f"T={steps} {'fwd+bwd' if backward else 'forward'}, per step"
            results[label] = best(lambda fn=fn, x=x: fn(x), repeat=5) / steps
        if framework == "symgraph":
            results[f"compile T={steps} fwd+bwd, cold"] = _cold_compile(steps)
    return results


def _cold_compile(steps: int) -> float:
    """Seconds to build and compile the Elman loss and gradient (and run it once on a
    ``steps``-step input) in a new process with an empty compile cache."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SYMGRAPH_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, __file__, "symgraph", "_elman_compile",
                              str(steps)], capture_output=True, text=True, cwd=ROOT, env=env,
                             check=True)
    return float(out.stdout.split()[-1])


def _elman_compile(steps: int) -> float:
    weights = _rnn_weights({"W": (ELMAN["input"], ELMAN["hidden"]),
                            "U": (ELMAN["hidden"], ELMAN["hidden"]), "b": (ELMAN["hidden"],)})
    x = _rnn_data(steps, ELMAN["input"], ELMAN["batch"])
    start = time.perf_counter()
    _symgraph_elman(weights, True)(x)
    return time.perf_counter() - start


def _symgraph_elman(weights: dict, backward: bool) -> Callable:
    import symgraph as sg

    shared = {k: sg.shared(v.copy(), name=k) for k, v in weights.items()}
    x = sg.tensor3("x", dtype="float32")
    h0 = sg.zeros((x.shape[1], ELMAN["hidden"]), dtype="float32")
    hs, _ = sg.scan(lambda x_t, h, W, U, b: sg.tanh(sg.dot(x_t, W) + sg.dot(h, U) + b),
                    sequences=x, outputs_info=h0, non_sequences=list(shared.values()))
    loss = (hs ** 2).mean()
    outputs = [loss] + (sg.grad(loss, list(shared.values())) if backward else [])
    return sg.function([x], outputs, mode="llvm")


def _numpy_elman(weights: dict, backward: bool) -> Callable:
    W, U, b = weights["W"], weights["U"], weights["b"]

    def run(x: np.ndarray) -> list:
        h = np.zeros((x.shape[1], U.shape[0]), "float32")
        hs = []
        for t in range(len(x)):
            h = np.tanh(x[t] @ W + h @ U + b)
            hs.append(h)
        loss = np.mean(np.square(hs))
        if not backward:
            return [loss]
        scale = np.float32(2.0 / (len(x) * h.size))
        gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
        carry = np.zeros_like(h)
        for t in reversed(range(len(x))):
            g = (hs[t] * scale + carry) * (1 - hs[t] * hs[t])
            previous = hs[t - 1] if t else np.zeros_like(h)
            gW += x[t].T @ g
            gU += previous.T @ g
            gb += g.sum(axis=0)
            carry = g @ U.T
        return [loss, gW, gU, gb]

    return run


def case_i(framework: str) -> dict:
    """LSTM (gates i, f, o, g from one product), loss ``mean(h ** 2)``: seconds per step."""
    hidden, size, batch, steps = (LSTM[k] for k in ("hidden", "input", "batch", "steps"))
    weights = _rnn_weights({"W": (size, 4 * hidden), "U": (hidden, 4 * hidden),
                            "b": (4 * hidden,)})
    x, = resident(framework, _rnn_data(steps, size, batch))
    results = {}
    for backward in (False, True):
        if framework in ("jax", "pytensor"):
            fn = (_jax if framework == "jax" else _pytensor)("lstm")(weights, hidden, backward)
        else:
            fn = (_numpy_lstm if framework == "numpy" else _symgraph_lstm)(weights, backward)
        label = f"T={steps} {'fwd+bwd' if backward else 'forward'}, per step"
        results[label] = best(lambda fn=fn: fn(x), repeat=3) / steps
    return results


def _symgraph_lstm(weights: dict, backward: bool) -> Callable:
    import symgraph as sg

    H = LSTM["hidden"]
    shared = {k: sg.shared(v.copy(), name=k) for k, v in weights.items()}
    x = sg.tensor3("x", dtype="float32")

    def step(x_t, h, c, W, U, b):
        g = sg.dot(x_t, W) + sg.dot(h, U) + b
        i, f, o = (sg.sigmoid(g[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * sg.tanh(g[:, 3 * H:])
        return o * sg.tanh(c_new), c_new

    zeros = sg.zeros((x.shape[1], H), dtype="float32")
    (hs, _), _ = sg.scan(step, sequences=x, outputs_info=[zeros, zeros],
                         non_sequences=list(shared.values()))
    loss = (hs ** 2).mean()
    outputs = [loss] + (sg.grad(loss, list(shared.values())) if backward else [])
    return sg.function([x], outputs, mode="llvm")


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def _numpy_lstm(weights: dict, backward: bool) -> Callable:
    W, U, b = weights["W"], weights["U"], weights["b"]
    H = LSTM["hidden"]

    def run(x: np.ndarray) -> list:
        h = c = np.zeros((x.shape[1], H), "float32")
        saved = []
        for t in range(len(x)):
            g = x[t] @ W + h @ U + b
            i, f, o = (_sigmoid(g[:, k * H:(k + 1) * H]) for k in range(3))
            u = np.tanh(g[:, 3 * H:])
            c_prev, h_prev = c, h
            c = f * c + i * u
            tc = np.tanh(c)
            h = o * tc
            saved.append((h_prev, c_prev, i, f, o, u, tc, h))
        loss = np.mean([s[-1] ** 2 for s in saved])
        if not backward:
            return [loss]
        scale = np.float32(2.0 / (len(x) * h.size))
        gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
        dh_next, dc_next = np.zeros_like(h), np.zeros_like(c)
        for t in reversed(range(len(x))):
            h_prev, c_prev, i, f, o, u, tc, h_t = saved[t]
            dh = h_t * scale + dh_next
            dc = dh * o * (1 - tc * tc) + dc_next
            dg = np.concatenate([dc * u * i * (1 - i), dc * c_prev * f * (1 - f),
                                 dh * tc * o * (1 - o), dc * i * (1 - u * u)], axis=1)
            gW += x[t].T @ dg
            gU += h_prev.T @ dg
            gb += dg.sum(axis=0)
            dh_next, dc_next = dg @ U.T, dc * f
        return [loss, gW, gU, gb]

    return run


def case_j(framework: str) -> dict:
    """Per-step overhead of a loop: ``x_t = a * x_{t-1} + b`` on 10-vectors, 10,000 steps."""
    steps = 10_000
    x0, a, b = np.ones(10), np.asarray(0.5), np.linspace(0, 1, 10)
    if framework == "numpy":
        def fn() -> np.ndarray:
            x = x0
            out = np.empty((steps, 10))
            for t in range(steps):
                x = a * x + b
                out[t] = x
            return out
    else:
        import symgraph as sg

        xv, av, bv = sg.dvector("x0"), sg.dscalar("a"), sg.dvector("b")
        xs, _ = sg.scan(lambda x, a, b: a * x + b, outputs_info=xv, non_sequences=[av, bv],
                        n_steps=steps)
        compiled = sg.function([xv, av, bv], xs, mode="llvm")

        def fn() -> np.ndarray:
            return compiled(x0, a, b)
    return {"per step (10-vectors, all states kept)": best(fn, repeat=5) / steps}


CASES = {
    "a": {"fn": case_a, "labels": [f"n={k}" for k in SIZES],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "b": {"fn": case_b, "labels": ["4096x4096", "denominator 4096x4096"],
          "frameworks": ("symgraph", "numpy", "jax")},
    "c": {"fn": case_c, "labels": ["2-scalar add"],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "d": {"fn": case_d, "labels": ["cold", "from disk cache"], "frameworks": ("symgraph",)},
    "e": {"fn": case_e, "labels": ["epoch"],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "f": {"fn": case_f, "labels": ["2048² float32"],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "g": {"fn": case_g, "labels": ["1000-op chain + grad"], "frameworks": ("symgraph",)},
    "h": {"fn": case_h, "labels": [f"T={t} {k}, per step" for t in (100, 1000)
                                   for k in ("forward", "fwd+bwd")] +
          [f"compile T={t} fwd+bwd, cold" for t in (100, 1000)],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "i": {"fn": case_i, "labels": ["T=100 forward, per step", "T=100 fwd+bwd, per step"],
          "frameworks": ("symgraph", "numpy", "pytensor", "jax")},
    "j": {"fn": case_j, "labels": ["per step (10-vectors, all states kept)"],
          "frameworks": ("symgraph", "numpy")},
}

if __name__ == "__main__":
    framework_name, case_name = sys.argv[1], sys.argv[2]
    os.environ.setdefault("SYMGRAPH_FLAGS", "num_threads=1")
    if case_name == "_elman_compile":
        print(_elman_compile(int(sys.argv[3])))
    else:
        result = CASES[case_name]["fn"](framework_name)
        if USAGE["wall"] > 0:
            result["cores used"] = USAGE["cpu"] / USAGE["wall"]
        print(json.dumps(result))
