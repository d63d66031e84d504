"""symgraph against NumPy (and PyTensor and JAX when installed), one process per framework and
case, one thread each unless ``--threads`` says otherwise. Each process is pinned to that many
cores, the least busy when it starts (``sched_setaffinity``): thread-count flags alone do not
hold every framework to them (XLA's CPU runtime sizes its own pool from the cores it may use),
and the table warns of any that kept more cores busy. Prints a Markdown table of times and
ratios (framework time / symgraph time: above 1 means symgraph is faster).

    python benchmarks/run.py                 # everything, about two minutes
    python benchmarks/run.py --cases a c     # some cases
    python benchmarks/run.py --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases  # noqa: E402 - found through the path set above
import cores  # noqa: E402

FRAMEWORKS = ("symgraph", "numpy", "pytensor", "jax")


# The interpreter each framework's workers run in: PyTensor may live in a virtual environment of
# its own (``--pytensor-python``), since its numba pins an older llvmlite than symgraph's.
PYTHONS = {framework: sys.executable for framework in FRAMEWORKS}


def _available(framework: str) -> bool:
    if framework in ("symgraph", "numpy"):
        return True
    found = subprocess.run([PYTHONS[framework], "-c", f"import {framework}"],
                           capture_output=True, check=False)
    return found.returncode == 0


def _worker(framework: str, case: str, threads: int, cache_dir: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), SYMGRAPH_CACHE_DIR=cache_dir,
               SYMGRAPH_FLAGS=f"num_threads={threads},tier=final",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false" if threads == 1 else "",
               # PyTensor's C backend (its 3.x default is the Numba linker).
               PYTENSOR_FLAGS=f"linker=cvm,compiledir={cache_dir}/pytensor")
    command = [PYTHONS[framework], str(Path(__file__).resolve().parent / "cases.py"), framework,
               case]
    pinned = cores.quietest(threads)
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900,
                         check=False, preexec_fn=None if pinned is None else
                         lambda: os.sched_setaffinity(0, pinned))
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _format(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="*", default=list(cases.CASES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--pytensor-python", default=sys.executable,
                        help="the interpreter that has PyTensor (e.g. a venv's python)")
    args = parser.parse_args()
    PYTHONS["pytensor"] = args.pytensor_python
    frameworks = [f for f in FRAMEWORKS if _available(f)]
    rows = []
    oversubscribed = []
    with tempfile.TemporaryDirectory() as cache_dir:
        for case in args.cases:
            for label in cases.CASES[case]["labels"]:
                rows.append((case, label, {}))
            for framework in frameworks:
                if framework not in cases.CASES[case]["frameworks"]:
                    continue
                result = _worker(framework, case, args.threads, cache_dir)
                used = result.get("cores used")
                if isinstance(used, float) and used > args.threads * 1.1:
                    oversubscribed.append(f"{framework} in case {case} kept {used:.2f} cores "
                                          f"busy with {args.threads} thread(s)")
                for c, label, times in rows:
                    if c == case:
                        times[framework] = result.get(label, result.get("error"))
    header = ["case", "measure"] + frameworks + [f"{f} / symgraph" for f in frameworks[1:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for case, label, times in rows:
        base = times.get("symgraph")
        cells = [case, label]
        for f in frameworks:
            value = times.get(f)
            cells.append(_format(value) if isinstance(value, float) else (value or "–"))
        for f in frameworks[1:]:
            value = times.get(f)
            ok = isinstance(value, float) and isinstance(base, float) and base > 0
            cells.append(f"{value / base:.2f}" if ok else "–")
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    table = "\n".join(lines)
    if oversubscribed:
        table += "\n\nWarning: " + "; ".join(oversubscribed) + "."
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(table)
    if args.out:
        args.out.write_text(_document(table, args, stamp))
    return 0


def _document(table: str, args: argparse.Namespace, stamp: str) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"""# Benchmarks

Produced by `python benchmarks/run.py --threads {args.threads} --out docs/benchmarks.md`
({stamp}, load average {load:.1f} on {os.cpu_count()} cores). Each framework runs in its own
process with {args.threads} thread(s), pinned to {args.threads} core(s); times are the best of
several repetitions. The last columns are ratios *other / symgraph*: above 1, symgraph is
faster. PyTensor and JAX columns appear when they are installed.

Cases (issue 5): (a) `tanh(x*y+z)*exp(-x*x)+0.5*log1p(abs(y))` on float32 vectors;
(b) softmax of a 4096×4096 float32 matrix; (c) per-call overhead of adding two scalars;
(d) compile time of a 4-layer MLP loss and gradient, cold and from the disk cache in a new
process; (e) one training epoch of a 64-256-256-10 MLP on the digits data (batch 64);
(f) 2048×2048 float32 matmul; (g) compile time of a chain of 1000 elementwise ops and its
gradient. Loops (issue 6, time per step; NumPy is a hand-written loop with hand-written
backpropagation): (h) Elman RNN, hidden 128, input 64, batch 32, T=100 and T=1000, forward
and forward+backward, and compile times; (i) LSTM, hidden 256, input 256, batch 32, T=100;
(j) per-step overhead of `x_t = a*x_{{t-1}} + b` on 10-vectors (10,000 steps).

{table}
"""


if __name__ == "__main__":
    sys.exit(main())
