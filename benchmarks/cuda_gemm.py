"""GEMM 8192^2 float32 through symgraph's "cuda" mode against cuBLAS called directly
(target: >= 90%).

    python benchmarks/cuda_gemm.py
"""

from __future__ import annotations

import numpy as np
from cuda_common import best_time, device, require_gpu

N = 8192


def main() -> None:
    require_gpu()
    import symgraph as sg
    import symgraph.cuda as sgcuda

    dev = device()
    rng = np.random.default_rng(0)
    a = sgcuda.shared(rng.random((N, N), dtype=np.float32), name="a")
    b = sgcuda.shared(rng.random((N, N), dtype=np.float32), name="b")
    out = sg.dot(a, b).sum()  # the sum keeps the transfer back to 4 bytes
    f = sg.function([], out, mode="cuda")
    through_symgraph = best_time(f, repeats=5)
    av, bv = a.get_value(return_internal_type=True), b.get_value(return_internal_type=True)
    c = dev.empty((N, N), "float32")
    direct = best_time(lambda: dev.blas.gemm("float32", False, False, N, N, N, 1.0, bv.ptr, N,
                                             av.ptr, N, 0.0, c.ptr, N), repeats=5)
    flops = 2 * N ** 3
    print(f"device: {dev.name}")
    print(f"symgraph: {through_symgraph * 1e3:.2f} ms ({flops / through_symgraph / 1e12:.1f} "
          f"TFLOP/s, sum included)")
    print(f"cuBLAS:   {direct * 1e3:.2f} ms ({flops / direct / 1e12:.1f} TFLOP/s)")
    print(f"ratio: {direct / through_symgraph:.1%} of cuBLAS (target >= 90%)")


if __name__ == "__main__":
    main()
