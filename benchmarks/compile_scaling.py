"""How compile time grows with graph size: the chain of N ops (dot/tanh/scale/add on 32×32,
as benchmarks/first_result.py) and its gradient, compiled to the final (native) tier in a
fresh process on an empty compile cache, for N = 10, 100, 1000, 3000.

    python benchmarks/compile_scaling.py [--sizes 10 100 1000 3000] [--repeats 3]

Each row is the median over ``--repeats`` fresh processes of: building the graph, ``grad``,
the rewrites (every phase together), planning and building IR, LLVM (compile and load), the
whole ``function()`` call, and that total per op of the chain. One compute thread.
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


def worker(n: int) -> dict[str, float]:
    import numpy as np

    import symgraph as sg

    from first_result import symgraph_chain  # the same graph; benchmarks/ is on the path

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    x, w, loss = symgraph_chain(n, rng)
    built = time.perf_counter()
    grads = sg.grad(loss, [w, x])
    graded = time.perf_counter()
    f = sg.function([x], [loss] + grads, tier="final", profile=True)
    compiled = time.perf_counter()
    phases = f.profile.phase_time
    rewrites = sum(v for k, v in phases.items() if k.startswith("rewrite"))
    llvm = sum(v for k, v in phases.items() if k.startswith(("llvm", "load")))
    return {"build": built - start, "grad": graded - built, "rewrites": rewrites,
            "codegen": phases.get("codegen (plan, IR)", 0.0), "llvm": llvm,
            "function": compiled - graded}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="*", type=int, default=[10, 100, 1000, 3000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker)))
        return
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.repeats} fresh processes, "
          f"empty cache\n")
    print("| N ops | build | grad | rewrites | plan + IR | LLVM | function() | per op |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, SYMGRAPH_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1",
                           SYMGRAPH_FLAGS="num_threads=1", PYTHONPATH=str(ROOT))
                done = subprocess.run([sys.executable, __file__, "--worker", str(n)], env=env,
                                      capture_output=True, text=True, timeout=1800, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        cells = [f"{median[k] * 1e3:.0f} ms" for k in
                 ("build", "grad", "rewrites", "codegen", "llvm", "function")]
        print(f"| {n} | " + " | ".join(cells) + f" | {median['function'] / n * 1e3:.2f} ms |",
              flush=True)


if __name__ == "__main__":
    main()
