"""Memory and time of backpropagation through a long loop, with and without checkpoints.

A tanh RNN, ``h_t = tanh(u_t V + h_{t-1} W + b)`` with 1000-vectors (batch 1, float64), small
inputs ``u_t`` (16 values, so that the inputs do not dominate), loss ``sum(h_T)``, gradients
of W, V and b; 20k and 200k steps. symgraph with ``checkpoint=False`` (every state stored),
the default (``config.scan_checkpoint_budget``, 512 MiB: the sizes are unknown when the
gradient is built, so the choice is made at run time) and ``checkpoint=True`` (one state every
~sqrt(T) steps, segments recomputed); JAX with a plain ``lax.scan`` and with a scan of
``jax.checkpoint``-ed scans of ~sqrt(T) steps.

Each cell runs in a fresh process (``--cell``). Memory is the peak resident set size during
one call (``VmHWM`` after resetting it through ``/proc/self/clear_refs``) minus the resident
set before it: what the call adds to a process that already holds the inputs and the compiled
code (both compile ahead: symgraph with ``tier=final``, JAX with ``lower().compile()``).
Time is the median of the calls after the first (``--repeat``). A cell whose estimated
memory does not fit in 80% of MemAvailable is skipped and says so.

    python benchmarks/scan_memory.py                # all cells
    python benchmarks/scan_memory.py --steps 20000  # one length
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HIDDEN, INPUT = 1000, 16
STATE_BYTES = HIDDEN * 8
# rough peak bytes per step of each cell (measured at 20k steps), to skip what cannot fit
BYTES_PER_STEP = {("symgraph", False): 5.2 * STATE_BYTES, ("symgraph", True): 0.2 * STATE_BYTES,
                  ("symgraph", None): 6.0 * STATE_BYTES,  # below the budget
                  ("jax", False): 3.5 * STATE_BYTES, ("jax", True): 0.2 * STATE_BYTES}
VARIANTS = {"symgraph": (False, None, True), "jax": (False, True)}
CODES = {False: "0", True: "1", None: "d"}
LABELS = {False: "off", True: "on", None: "default budget"}


def memory_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def data(steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((steps, INPUT)) * 0.1,
            rng.standard_normal((HIDDEN, HIDDEN)) / math.sqrt(HIDDEN),
            rng.standard_normal((INPUT, HIDDEN)) / math.sqrt(INPUT),
            np.zeros(HIDDEN)]


def symgraph_fn(checkpoint: bool | None):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

    u, W, V, b = sg.dmatrix("u"), sg.dmatrix("W"), sg.dmatrix("V"), sg.dvector("b")
    hs, _ = sg.scan(lambda u_t, h, W, V, b: sg.tanh(sg.dot(u_t, V) + sg.dot(h, W) + b),
                    sequences=u, outputs_info=sg.zeros(HIDDEN), non_sequences=[W, V, b],
                    checkpoint=checkpoint)
    loss = hs[-1].sum()
    return sg.function([u, W, V, b], [loss, *sg.grad(loss, [W, V, b])], mode="llvm")


def jax_fn(checkpoint: bool, steps: int):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def step(h, u_t, W, V, b):
        return jnp.tanh(u_t @ V + h @ W + b)

    def loss(W, V, b, u):
        h0 = jnp.zeros(HIDDEN)

        def body(h, u_t):
            return step(h, u_t, W, V, b), None

        if not checkpoint:
            return jax.lax.scan(body, h0, u)[0].sum()
        k = max(1, math.ceil(math.sqrt(steps)))
        n_seg = -(-steps // k)
        # pad with steps that leave the state unchanged (mask), so segments are equal
        mask = jnp.arange(n_seg * k) < steps
        padded = jnp.concatenate([u, jnp.zeros((n_seg * k - steps, INPUT))])

        @jax.checkpoint
        def segment(h, xs):
            def masked(h, x):
                u_t, keep = x
                return jnp.where(keep, step(h, u_t, W, V, b), h), None
            return jax.lax.scan(masked, h, xs)[0], None

        xs = (padded.reshape(n_seg, k, INPUT), mask.reshape(n_seg, k))
        return jax.lax.scan(segment, h0, xs)[0].sum()

    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    compiled: list = []

    class Run:
        def compile(self, u, W, V, b):  # ahead of time, so that the first call only runs
            compiled.append(grad.lower(W, V, b, u).compile())

        def __call__(self, u, W, V, b):
            value, grads = compiled[0](W, V, b, u)
            return jax.block_until_ready((value, grads))

    return Run()


def run_cell(framework: str, steps: int, checkpoint: bool | None, repeat: int) -> dict:
    u, W, V, b = data(steps)
    if framework == "symgraph":  # compiled by function() (tier=final)
        fn = symgraph_fn(checkpoint)
    else:
        fn = jax_fn(checkpoint, steps)
        fn.compile(u, W, V, b)
    call = lambda: fn(u, W, V, b)  # noqa: E731
    before = memory_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    start = time.perf_counter()
    first = call()
    first_time = time.perf_counter() - start
    peak = memory_mb("VmHWM") - before
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    loss = float(np.asarray(first[0]))
    return {"framework": framework, "steps": steps, "checkpoint": checkpoint,
            "peak_mb": round(peak, 1), "rss_before_mb": round(before, 1),
            "first_s": round(first_time, 3),
            "median_s": round(float(np.median(times)) if times else first_time, 3),
            "loss": loss}


def available_bytes() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, nargs="*", default=[20000, 200000])
    parser.add_argument("--frameworks", nargs="*", default=["symgraph", "jax"])
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed calls after the measured one (default 2 below 100k steps, "
                             "0 above)")
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        framework, steps, checkpoint, repeat = args.cell.split(",")
        variant = {code: value for value, code in CODES.items()}[checkpoint]
        print(json.dumps(run_cell(framework, int(steps), variant, int(repeat))))
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false",
               SYMGRAPH_FLAGS="tier=final,num_threads=1")
    print(f"load average before: {os.getloadavg()}")
    print("| framework | steps | checkpoints | peak added (MB) | time (s) | loss |")
    print("|---|---|---|---|---|---|")
    for steps in args.steps:
        repeat = args.repeat if args.repeat is not None else (2 if steps < 100000 else 0)
        for framework in args.frameworks:
            for checkpoint in VARIANTS[framework]:
                label = LABELS[checkpoint]
                need = BYTES_PER_STEP[framework, checkpoint] * steps
                if checkpoint is None and steps * STATE_BYTES > 512 * 2**20:
                    need = BYTES_PER_STEP[framework, True] * steps
                if need > 0.8 * available_bytes():
                    print(f"| {framework} | {steps} | {label} | skipped: needs about "
                          f"{need / 2**30:.1f} GiB, {available_bytes() / 2**30:.1f} GiB "
                          f"available | | |")
                    continue
                cell = f"{framework},{steps},{CODES[checkpoint]},{repeat}"
                done = subprocess.run([sys.executable, __file__, "--cell", cell], env=env,
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"| {framework} | {steps} | {label} | failed: "
                          f"{done.stderr.strip().splitlines()[-1:]} | | |")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"| {framework} | {steps} | {label} | {r['peak_mb']:.0f} | "
                      f"{r['median_s']:.2f} | {r['loss']:.6f} |", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
