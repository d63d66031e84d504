"""Counter-based random numbers on the GPU: Philox4x32-10 (Salmon et al., "Parallel random
numbers: as easy as 1, 2, 3", SC 2011) for uniform and normal draws, each thread computing the
block of the stream at its own counter, so any grid gives the same numbers.

The draws are not NumPy's (whose streams are sequential), so the rule is opt-in:
``sg.cuda.set_device_random(True)`` makes ``normal``/``uniform`` draws with scalar parameters
run here; by default random variables run on the host, identical to mode "py". The generator
state stays a NumPy ``Generator``: each call takes a fresh 64-bit key from it.
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import source as src
from symgraph.codegen.cuda.rules import Lowering, Rule, simple
from symgraph.graph import Apply
from symgraph.ops import random as random_ops

OPTIONS = {"device_random": False}

PHILOX = r"""
SG_DEV void sg_philox(sg_u32 c[4], sg_u32 k0, sg_u32 k1) {
  for (int r = 0; r < 10; ++r) {
    if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    const sg_u64 p0 = (sg_u64)0xD2511F53u * c[0], p1 = (sg_u64)0xCD9E8D57u * c[2];
    const sg_u32 hi0 = (sg_u32)(p0 >> 32), lo0 = (sg_u32)p0;
    const sg_u32 hi1 = (sg_u32)(p1 >> 32), lo1 = (sg_u32)p1;
    c[0] = hi1 ^ c[1] ^ k0; c[1] = lo1; c[2] = hi0 ^ c[3] ^ k1; c[3] = lo0;
  }
}
"""


@functools.lru_cache(maxsize=64)
def philox_kernel(dist: str, dtype: str) -> kn.Kernel:
    """``(n, key, offset, a, b, out)``: ``n`` draws of ``dist`` (``uniform``: ``a + (b - a)
    u``, u in [0, 1); ``normal``: ``a + b z``) from counters ``offset + i``; or, for ``dist ==
    'bits'``, the raw 32-bit words (for testing the generator)."""
    wide = dtype == "float64"
    ctype = "double" if wide else "float"
    per = 2 if wide else 4  # values per Philox block
    if dist == "bits":
        per, wide, ctype = 4, False, "sg_u32"
    lines = [("sg_u32 c[4] = {(sg_u32)g, (sg_u32)(g >> 32), (sg_u32)offset, "
              "(sg_u32)(offset >> 32)};"), "sg_philox(c, (sg_u32)key, (sg_u32)(key >> 32));"]
    if dist == "bits":
        lines.append("sg_u32 u[4] = {c[0], c[1], c[2], c[3]};")
    elif wide:
        lines.append("double u[2];")
        lines += [f"u[{j}] = ((double)(c[{2 * j}] >> 5) * 67108864.0 + (double)(c[{2 * j + 1}] "
                  f">> 6)) * (1.0 / 9007199254740992.0);" for j in range(2)]
    else:
        lines.append("float u[4];")
        lines += [f"u[{j}] = (float)(c[{j}] >> 8) * (1.0f / 16777216.0f);" for j in range(4)]
    if dist == "normal":
        log, sqrt, cos, sin = ("log", "sqrt", "cos", "sin") if wide else \
            ("logf", "sqrtf", "cosf", "sinf")
        one, two_pi = ("1.0", "6.283185307179586") if wide else ("1.0f", "6.2831855f")
        for j in range(0, per, 2):
            lines += [f"{{ const {ctype} radius = {sqrt}(-2 * {log}({one} - u[{j}]));",
                      f"  const {ctype} angle = {two_pi} * u[{j + 1}];",
                      f"  u[{j}] = radius * {cos}(angle); u[{j + 1}] = radius * {sin}(angle); }}"]
    value = "u[j]" if dist == "bits" else \
        ("a + (b - a) * u[j]" if dist == "uniform" else "a + b * u[j]")
    out = "sg_u32" if dist == "bits" else src.storage_type(dtype)
    if dist == "bits" or dtype == "float64":
        store = value
    elif dtype == "float16":
        store = f"sg_f2h((float)({value}))"
    else:
        store = f"(float)({value})"
    lines += [(f"for (int j = 0; j < {per}; ++j) if (g * {per} + j < n) "
               f"out[g * {per} + j] = {store};")]
    body = "".join(f"    {line}\n" for line in lines)
    params = ["sg_i64", "sg_u64", "sg_u64", "double", "double", f"{out}*"]
    code = (f"SG_KERNEL void @NAME@(sg_i64 n, sg_u64 key, sg_u64 offset, double a, double b, "
            f"{out}* out) {{\n  {kn.grid_stride('g', f'(n + {per - 1}) / {per}', 'sg_i64')}"
            f" {{\n{body}  }}\n}}\n")
    return kn.finalize("philox", PHILOX.replace("sg_philox", "@NAME@_philox") +
                       code.replace("sg_philox(", "@NAME@_philox("), params)


def draw(device: Any, dist: str, shape: tuple[int, ...], dtype: str, key: int,
         a: float = 0.0, b: float = 1.0, offset: int = 0) -> Any:
    """A device array of ``shape`` drawn from ``dist`` with the 64-bit ``key``."""
    out = device.empty(shape, "uint32" if dist == "bits" else dtype)
    n = math.prod(shape)
    if n:
        kernel = philox_kernel(dist, dtype)
        device.launch(kernel, device.grid_for((n + 3) // 4), 256, [n, key, offset, a, b, out])
    return out


def set_device_random(enabled: bool) -> None:
    OPTIONS["device_random"] = bool(enabled)


def lower_random(node: Apply) -> Lowering | None:
    op = node.op
    if not OPTIONS["device_random"] or op.dist not in ("normal", "uniform") or \
            not dt.is_float(op.dtype) or any(p.type.ndim for p in node.inputs[2:]):
        return None
    kernel = philox_kernel(op.dist, op.dtype)

    def run(ctx: Any, node: Apply, values: list[Any]) -> list[Any]:
        rng, size, a, b = values
        if len(size) == 0:
            raise NotImplementedError("device draws need an explicit size")
        generator = copy.deepcopy(rng)
        key = int(generator.integers(0, 2 ** 63, dtype=np.int64))
        shape = tuple(int(s) for s in size)
        return [generator, draw(ctx.device, op.dist, shape, op.dtype, key, float(a),
                                float(b))]

    return simple(run, host_inputs=range(len(node.inputs)), kernels=(kernel,),
                  note="Philox4x32-10 on the GPU")


# This module's rules by op class; codegen/cuda/registry.py merges every module's table.
RULES: dict[type, Rule] = {
    random_ops.RandomVariable: lower_random,
}
