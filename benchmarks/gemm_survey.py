"""Single-thread GEMM survey (issue 18): GFLOP/s of the matrix products symgraph's MLP and RNN
steps make, through every BLAS installed (symgraph's own, scipy-openblas64/32, MKL, oneDNN,
BLIS), through LLVM kernels compiled for each static shape (gemm_static.py), and through
NumPy, JAX and a compiled symgraph function, all pinned to one core.

Libraries are timed by a C loop (gemm_timer.c) so Python's per-call cost is not in their
figures; NumPy, JAX and symgraph are timed from Python (their per-call cost included).
Libraries and frameworks take turns within each shape (interleaved rounds) and each figure is
the median round, timed by the process's CPU time (so that time other processes took the core
from us is not counted; ``--clock wall`` for wall time). Libraries that are not installed are
left out.

    python benchmarks/gemm_survey.py               # all shapes, float32 and float64
    python benchmarks/gemm_survey.py --quick       # fewer rounds
    /tmp/gemm-venv/bin/python benchmarks/gemm_survey.py   # a venv with mkl, blis, ...
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# One thread everywhere, and one core, before any library loads its thread pool.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["MKL_THREADING_LAYER"] = "SEQUENTIAL"
os.environ["MKL_INTERFACE_LAYER"] = "LP64"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
os.environ.setdefault("SYMGRAPH_FLAGS", "num_threads=1,tier=final")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cores

_CORE = cores.quietest(1) if "GEMM_SURVEY_CPU" not in os.environ else \
    {int(os.environ["GEMM_SURVEY_CPU"])}
if _CORE is not None:
    os.sched_setaffinity(0, _CORE)

import numpy as np

import gemm_libs
import gemm_static
from gemm_libs import Library, Problem

# (class, label, m, n, k, form): C = op(A) op(B), op(A) m x k, op(B) k x n.
SHAPES = [
    ("MLP 64-256-256-10, batch 64", "X·W 64x64·64x256", 64, 256, 64, "NN"),
    ("MLP 64-256-256-10, batch 64", "X^T·dY (64x64)^T·64x256", 64, 256, 64, "TN"),
    ("MLP 64-256-256-10, batch 64", "dY·W^T 64x256·(64x256)^T", 64, 64, 256, "NT"),
    ("MLP 64-256-256-10, batch 64", "H·W 64x256·256x256", 64, 256, 256, "NN"),
    ("MLP 64-256-256-10, batch 64", "H^T·dY (64x256)^T·64x256", 256, 256, 64, "TN"),
    ("MLP 64-256-256-10, batch 64", "dY·W^T 64x256·(256x256)^T", 64, 256, 256, "NT"),
    ("MLP 64-256-256-10, batch 64", "H·W 64x256·256x10", 64, 10, 256, "NN"),
    ("MLP 64-256-256-10, batch 64", "H^T·dY (64x256)^T·64x10", 256, 10, 64, "TN"),
    ("MLP 64-256-256-10, batch 64", "dY·W^T 64x10·(256x10)^T", 64, 256, 10, "NT"),
    ("Elman H=128, batch 32", "h·W 32x128·128x128", 32, 128, 128, "NN"),
    ("Elman H=128, batch 32", "h^T·dh (32x128)^T·32x128", 128, 128, 32, "TN"),
    ("Elman H=128, batch 32", "dh·W^T 32x128·(128x128)^T", 32, 128, 128, "NT"),
    ("Elman H=128, batch 32", "over 100 steps (3200x128)^T·3200x128", 128, 128, 3200, "TN"),
    ("LSTM H=256, batch 32", "x·W 32x256·256x1024", 32, 1024, 256, "NN"),
    ("LSTM H=256, batch 32", "x^T·dG (32x256)^T·32x1024", 256, 1024, 32, "TN"),
    ("LSTM H=256, batch 32", "dG·W^T 32x1024·(256x1024)^T", 32, 256, 1024, "NT"),
    ("LSTM H=256, batch 32", "over 100 steps (3200x256)^T·3200x1024", 256, 1024, 3200, "TN"),
    ("large", "2048x2048·2048x2048", 2048, 2048, 2048, "NN"),
    ("large", "512x512·(512x512)^T", 512, 512, 512, "NT"),
    ("large", "2048x2048·(2048x2048)^T", 2048, 2048, 2048, "NT"),
]
ROUND_SECONDS = 0.004  # calls per round are chosen so a round lasts about this long


def frameworks() -> list[Library]:
    """NumPy, JAX (when installed) and symgraph, each timed from Python."""
    out = [Library("NumPy", "np.dot", _python_timer(lambda p: lambda: np.dot(p.op_a, p.op_b)))]
    try:
        import jax
    except ImportError:
        jax = None
    if jax is not None:
        jax.config.update("jax_enable_x64", True)  # else float64 inputs compute in float32
        jitted = {form: jax.jit(_jax_product(form)) for form in ("NN", "TN", "NT")}
        out.append(Library("JAX", f"jit, {jax.__version__}", _python_timer(
            lambda p: lambda: jitted[p.form](p.a, p.b).block_until_ready())))
    import symgraph as sg

    compiled: dict = {}

    def symgraph_call(choice: str) -> Callable[[Problem], Callable[[], object]]:
        def make(p: Problem) -> Callable[[], object]:
            key = (p.form, p.dtype, choice)
            if key not in compiled:
                u, v = (sg.fmatrices if p.dtype == "float32" else sg.dmatrices)("u", "v")
                x = u.T if p.form == "TN" else u
                y = v.T if p.form == "NT" else v
                with sg.change_flags(gemm_libraries=choice):
                    compiled[key] = sg.function([u, v], sg.dot(x, y), mode="llvm")
            fn = compiled[key]
            return lambda: fn(p.a, p.b)
        return make
    out.append(Library("symgraph", "sg.function(sg.dot), llvm, gemm_libraries=auto",
                       _python_timer(symgraph_call("auto"))))
    out.append(Library("symgraph (numpy)", "the same with gemm_libraries=numpy",
                       _python_timer(symgraph_call("numpy"))))
    return out


def _jax_product(form: str) -> Callable:
    if form == "TN":
        return lambda a, b: a.T @ b
    if form == "NT":
        return lambda a, b: a @ b.T
    return lambda a, b: a @ b


def _python_timer(make: Callable[[Problem], Callable[[], object]]) -> Callable:
    """A timer of ``make(problem)()``, copying its result into ``problem.c`` on each use."""
    def run(p: Problem, calls: int) -> tuple[float, float]:
        call = make(p)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            result = call()
        seconds = (time.perf_counter() - start) / calls, (time.process_time() - cpu) / calls
        p.c[...] = np.asarray(result)
        return seconds
    return run


def measure(problem: Problem, candidates: list[Library], rounds: int,
            clock: str) -> dict[str, float | str]:
    """GFLOP/s of each candidate (median of interleaved rounds, timed by ``clock``: "cpu" for
    the process's CPU time, "wall"), or a note why it has none; under "_cpu/wall" the share of
    the wall time the process ran."""
    reference = problem.op_a.astype(np.float64) @ problem.op_b.astype(np.float64)
    scale = float(np.abs(reference).max())
    tolerance = 1e-4 if problem.dtype == "float32" else 1e-12
    calls, out, usable = {}, {}, []
    for lib in candidates:
        problem.c[...] = np.nan
        try:
            lib.time(problem, 1)
        except NotImplementedError:  # a form or dtype the library does not have
            out[lib.name] = "–"
            continue
        except Exception as error:  # a library that cannot run this problem is reported
            out[lib.name] = f"error: {type(error).__name__}"
            continue
        if not float(np.abs(problem.c - reference).max()) <= tolerance * scale:
            out[lib.name] = "wrong result"
            continue
        # The first call may have compiled (JAX, symgraph): size the rounds on warm calls.
        once = min(lib.time(problem, 1)[0] for _ in range(3))
        calls[lib.name] = max(1, int(ROUND_SECONDS / max(once, 1e-7)))
        usable.append(lib)
    times: dict[str, list[tuple[float, float]]] = {lib.name: [] for lib in usable}
    for _ in range(rounds):
        random.shuffle(usable)
        for lib in usable:
            times[lib.name].append(lib.time(problem, calls[lib.name]))
    which = 1 if clock == "cpu" else 0
    for name, seconds in times.items():
        out[name] = problem.flops / statistics.median(s[which] for s in seconds) / 1e9
    ran = [s[1] / s[0] for seconds in times.values() for s in seconds if s[0] > 0]
    out["_cpu/wall"] = statistics.median(ran) if ran else float("nan")
    return out


def _rounds(problem: Problem, base: int) -> int:
    return max(3, base // 4) if problem.flops > 2e9 else base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="7 rounds")
    parser.add_argument("--dtypes", nargs="*", default=["float32", "float64"])
    parser.add_argument("--only", help="only shapes whose label or class contains this")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="time by the process's CPU time (default: on a shared machine, "
                        "time others took the core from us is not counted) or wall time")
    args = parser.parse_args()
    rounds = 7 if args.quick else args.rounds
    timer = gemm_libs.build_timer()
    if timer is None:
        print("no C compiler: the libraries cannot be timed", file=sys.stderr)
        return 1
    static = gemm_static.library(timer)
    candidates = gemm_libs.libraries(timer) + ([static] if static else []) + frameworks()
    load_before = os.getloadavg()
    peak = gemm_libs.peak(timer)
    rows = []
    for shape_class, label, m, n, k, form in SHAPES:
        if args.only and args.only not in label and args.only not in shape_class:
            continue
        for dtype in args.dtypes:
            problem = Problem(m, n, k, form, dtype)
            rows.append((shape_class, label, dtype, measure(problem, candidates,
                                                            _rounds(problem, rounds),
                                                            args.clock)))
    print(_report(candidates, rows, peak, load_before, os.getloadavg(), rounds, args.clock))
    return 0


def _report(candidates: list[Library], rows: list, peak: dict, load_before: tuple,
            load_after: tuple, rounds: int, clock: str) -> str:
    names = [lib.name for lib in candidates]
    base = "symgraph's BLAS"
    header = ["shape class", "product", "dtype"] + names + \
        ["best library / symgraph's BLAS", "CPU / wall"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best_measured = {"float32": 0.0, "float64": 0.0}
    for shape_class, label, dtype, figures in rows:
        cells = [shape_class, label, dtype]
        for name in names:
            value = figures.get(name, "–")
            cells.append(f"{value:.1f}" if isinstance(value, float) else value)
        libraries = {n: v for n, v in figures.items() if isinstance(v, float) and
                     n not in ("NumPy", "JAX", "symgraph", "symgraph (numpy)", "_cpu/wall")}
        if libraries:
            winner = max(libraries, key=libraries.get)
            best_measured[dtype] = max(best_measured[dtype], libraries[winner])
            ratio = libraries[winner] / libraries[base] if base in libraries else float("nan")
            cells.append(f"{ratio:.2f} ({winner})")
        else:
            cells.append("–")
        cells.append(f"{figures['_cpu/wall']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    notes = "\n".join(f"- {lib.name}: {lib.note}" for lib in candidates)
    timed = "the process's CPU time" if clock == "cpu" else "wall time"
    return (f"GFLOP/s by {timed}, one thread pinned to core {_CORE}, median of {rounds} "
            f"interleaved rounds (fewer for products over 2 GFLOP); load average "
            f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; the last column is the "
            f"median share of the wall time the process ran.\n\n" + "\n".join(lines) +
            "\n\n" + notes +
            f"\n\nPeak estimate: clock measured at {peak['GHz']:.2f} GHz x 2 FMA pipes x "
            f"width = {peak['float32']:.0f} GFLOP/s float32, {peak['float64']:.0f} float64; "
            f"best library GEMM measured here: {best_measured['float32']:.0f} float32, "
            f"{best_measured['float64']:.0f} float64.")


if __name__ == "__main__":
    sys.exit(main())
