"""Fused elementwise kernel at 1e8 float32 against the device's copy bandwidth (target: >= 85%).

    python benchmarks/cuda_elementwise.py      # prints GB/s of both and the ratio
"""

from __future__ import annotations

import numpy as np
from cuda_common import best_time, device, require_gpu

N = 100_000_000


def main() -> None:
    require_gpu()
    from symgraph.codegen.cuda import launch
    from symgraph.ops import elemwise
    from symgraph.ops.composite import ScalarProgram

    dev = device()
    x = dev.to_device(np.random.default_rng(0).random(N, dtype=np.float32))
    y = dev.to_device(np.random.default_rng(1).random(N, dtype=np.float32))
    out = dev.empty((N,), "float32")
    table = elemwise.TABLE
    # tanh(x) * y + exp(-x): one read of x and y, one write: 12 bytes per element.
    program = ScalarProgram(("float32", "float32"), (
        (table["tanh"], (0,), "float32"), (table["mul"], (2, 1), "float32"),
        (table["neg"], (0,), "float32"), (table["exp"], (4,), "float32"),
        (table["add"], (3, 5), "float32")), (6,))
    fused = best_time(lambda: launch.elementwise(dev, program, [x, y], [out]))
    copy = best_time(lambda: dev.copy_bytes(out.ptr, x.ptr, N * 4))
    fused_bw, copy_bw = 12 * N / fused / 1e9, 8 * N / copy / 1e9
    print(f"device: {dev.name}")
    print(f"fused elementwise: {fused * 1e3:.3f} ms, {fused_bw:.0f} GB/s")
    print(f"device copy:       {copy * 1e3:.3f} ms, {copy_bw:.0f} GB/s")
    print(f"ratio: {fused_bw / copy_bw:.1%} of copy bandwidth (target >= 85%)")


if __name__ == "__main__":
    main()
