"""Compile time of the Python side of symgraph: graph building, ``grad`` and ``function()``
(rewrites and linking), by default with the "py" backend so that LLVM plays no part.

Run: ``python benchmarks/compile_time.py [--repeat N] [--case mlp|chain|lstm ...] [--cold]
[--mode py|llvm] [--profile]``. Each figure is the median over ``--repeat`` runs: in this
process (caches warm, the garbage of earlier runs still to collect), or with ``--cold`` one run
per fresh process (imports excluded), as a user compiling once sees it. ``--profile`` prints a
cProfile of one warm run per case instead.

Cases: ``mlp`` is the 4-layer MLP loss and gradients of benchmarks/cases.py (d); ``chain`` the
1000-op elementwise chain and its gradient of (g); ``lstm`` an LSTM over ``scan`` (as in
examples/lstm.py) with the gradients of its five weights.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import symgraph as sg

sg.config.tier = "final"  # time the whole compile, native code included
from symgraph.scan import scan

MEASURES = ("build", "grad", "function", "total")


def build_mlp() -> tuple[list, list, list]:
    """The 4-layer MLP loss of benchmarks/cases.py case (d)."""
    x, t = sg.fmatrix("x"), sg.lvector("t")
    params, h = [], x
    for i, (n_in, n_out) in enumerate([(64, 256), (256, 256), (256, 256), (256, 10)]):
        w = sg.shared(np.zeros((n_in, n_out), "float32"), name=f"w{i}")
        b = sg.shared(np.zeros(n_out, "float32"), name=f"b{i}")
        params += [w, b]
        h = sg.dot(h, w) + b
        if i < 3:
            h = sg.tanh(h)
    loss = sg.nnet.categorical_crossentropy(sg.nnet.softmax(h), t).mean()
    return [x, t], [loss], params


def build_chain() -> tuple[list, list, list]:
    """The 1000-op elementwise chain of case (g)."""
    x = sg.dvector("x")
    h = x
    for i in range(1000):
        h = sg.sin(h) * 1.0001 + 0.001 * i if i % 2 else sg.tanh(h) + h * 0.5
    return [x], [h.sum()], [x]


def build_lstm(hidden: int = 32, vocab: int = 40) -> tuple[list, list, list]:
    """An LSTM over a sequence with ``scan`` (as examples/lstm.py), loss of a softmax head."""
    rng = np.random.default_rng(0)

    def weights(*shape: int) -> object:
        return sg.shared(rng.normal(0, 0.1, shape).astype("float32"))

    w_in, w_rec, w_out = weights(vocab, 4 * hidden), weights(hidden, 4 * hidden), \
        weights(hidden, vocab)
    b, b_out = weights(4 * hidden), weights(vocab)

    def step(x_t, h_prev, c_prev, w_rec):
        z = x_t + h_prev @ w_rec
        i, f, o = (sg.nnet.sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3))
        c = f * c_prev + i * sg.tanh(z[:, 3 * hidden:])
        return o * sg.tanh(c), c

    x, y = sg.lmatrix("x"), sg.lmatrix("y")
    zeros = sg.zeros((x.shape[1], hidden), dtype="float32")
    (h_seq, _), _ = scan(step, sequences=[w_in[x] + b], outputs_info=[zeros, zeros],
                         non_sequences=[w_rec])
    probs = sg.nnet.softmax(h_seq.reshape((-1, hidden)) @ w_out + b_out)
    loss = sg.nnet.categorical_crossentropy(probs, y.flatten()).mean()
    return [x, y], [loss], [w_in, w_rec, b, w_out, b_out]


CASES: dict[str, Callable[[], tuple[list, list, list]]] = {
    "mlp": build_mlp, "chain": build_chain, "lstm": build_lstm,
}


def run_once(case: str, mode: str = "py") -> dict[str, float]:
    """Seconds spent building, differentiating and compiling one case."""
    t0 = time.perf_counter()
    inputs, outputs, wrt = CASES[case]()
    t1 = time.perf_counter()
    grads = sg.grad(outputs[0], wrt)
    t2 = time.perf_counter()
    sg.function(inputs, outputs + grads, mode=mode)
    t3 = time.perf_counter()
    return {"build": t1 - t0, "grad": t2 - t1, "function": t3 - t2, "total": t3 - t0}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in MEASURES}


def warm(case: str, repeat: int, mode: str) -> dict[str, float]:
    run_once(case, mode)  # first-use costs (lazy imports, caches) are what --cold measures
    return _median([run_once(case, mode) for _ in range(repeat)])


def cold(case: str, repeat: int, mode: str) -> dict[str, float]:
    """Medians of single runs, each in a fresh process (imports excluded)."""
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            f"import compile_time as c; print(json.dumps(c.run_once({case!r}, {mode!r})))")
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return _median(runs)


def profile(case: str, mode: str, lines: int) -> None:
    run_once(case, mode)
    profiler = cProfile.Profile()
    profiler.enable()
    run_once(case, mode)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--mode", default="py", help="backend (default 'py': no LLVM)")
    parser.add_argument("--cold", action="store_true", help="one run per fresh process")
    parser.add_argument("--profile", action="store_true", help="cProfile one warm run")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)
    cases = args.case or list(CASES)
    if args.profile:
        for case in cases:
            profile(case, args.mode, args.lines)
        return
    how = "cold: fresh processes" if args.cold else "warm: this process"
    print(f"mode={args.mode!r}, median of {args.repeat} ({how})")
    print(f"{'case':8s}" + "".join(f"{m:>11s}" for m in MEASURES))
    for case in cases:
        result = (cold if args.cold else warm)(case, args.repeat, args.mode)
        print(f"{case:8s}" + "".join(f"{result[m] * 1e3:9.1f}ms" for m in MEASURES))


if __name__ == "__main__":
    sys.setrecursionlimit(1000)  # the default: compiling must never need deep recursion
    main()
