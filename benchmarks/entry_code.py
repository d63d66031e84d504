"""Size and build time of native entry points (issue 14): IR kilobytes, seconds of Python IR
building (the profile's "codegen (plan, IR)" phase, kernels' IR included) and of LLVM, for
the entry point and for the kernels, each case compiled cold in a fresh process.

Run: ``python benchmarks/entry_code.py [--repeat N] [--case chain|mlp|lstm ...]``; figures
are medians over ``--repeat`` fresh processes, each with an empty cache directory.

Cases: ``chain`` is 100 ops (dot, tanh, scale, add on 32x32 float32) and its gradient;
``mlp`` the training step (loss, gradients, updates) of benchmarks/compile_time.py's MLP;
``lstm`` its LSTM over ``scan`` with the gradients of its weights.
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
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MEASURES = ("entry KiB", "codegen s", "entry LLVM s", "kernels LLVM s", "total s")


def build(case: str) -> tuple[list, list, dict]:
    import numpy as np

    import compile_time
    import symgraph as sg

    if case == "chain":
        x = sg.fmatrix("x")
        w = sg.shared((np.random.default_rng(0).normal(size=(32, 32)) * 0.2).astype("float32"))
        out = x
        for k in range(100):
            out = [lambda v: v @ w, sg.tanh, lambda v: v * 0.9, lambda v: v + x][k % 4](out)
        loss = out.sum()
        return [x], [loss] + sg.grad(loss, [w, x]), {}
    inputs, outputs, params = getattr(compile_time, f"build_{case}")()
    grads = sg.grad(outputs[0], params)
    if case == "mlp":
        updates = [(p, p - np.float32(0.1) * g) for p, g in zip(params, grads)]
        return inputs, outputs, {"updates": updates}
    return inputs, outputs + grads, {}


def run_once(case: str) -> dict[str, float]:
    """One cold compile in this process (call it in a fresh one)."""
    import symgraph as sg
    from symgraph.codegen.llvm import jit

    sg.config.warn_fallback = False
    compiled: list[tuple[bool, int, float]] = []
    real = jit.Engine._codegen

    def timed(self: jit.Engine, text: str, *levels: int) -> bytes:
        start = time.perf_counter()
        obj = real(self, text, *levels)
        compiled.append(("sg_entry_" in text, len(text), time.perf_counter() - start))
        return obj

    jit.Engine._codegen = timed  # type: ignore[method-assign]
    inputs, outputs, options = build(case)
    start = time.perf_counter()
    f = sg.function(inputs, outputs, tier="final", profile=True, **options)
    total = time.perf_counter() - start
    entries = [c for c in compiled if c[0]]
    return {"entry KiB": sum(c[1] for c in entries) / 1024,
            "codegen s": f.profile.phase_time["codegen (plan, IR)"],
            "entry LLVM s": sum(c[2] for c in entries),
            "kernels LLVM s": sum(c[2] for c in compiled if not c[0]), "total s": total}


def cold(case: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, SYMGRAPH_CACHE_DIR=cache)
            code = (f"import sys, json; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
                    f"import entry_code as e; print(json.dumps(e.run_once({case!r})))")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, cwd=ROOT, env=env).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in MEASURES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", choices=("chain", "mlp", "lstm"), action="append")
    args = parser.parse_args(argv)
    print(f"median of {args.repeat} cold compiles (fresh process, empty cache)")
    print(f"{'case':8s}" + "".join(f"{m:>16s}" for m in MEASURES))
    for case in args.case or ["chain", "mlp", "lstm"]:
        result = cold(case, args.repeat)
        print(f"{case:8s}" + "".join(f"{result[m]:16.3f}" for m in MEASURES))


if __name__ == "__main__":
    main()
