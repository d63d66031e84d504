"""Launching the generated kernels on ``DeviceArray`` operands: dimension merging, index width,
grid sizes, and the choice between the reduction kernels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from symgraph.codegen.cuda import elementwise as ew
from symgraph.codegen.cuda import reduction as rd
from symgraph.codegen.cuda.array import DeviceArray
from symgraph.codegen.cuda.device import Device, meta_bytes
from symgraph.ops.composite import ScalarProgram

BLOCK = 256
# Reduced elements per block when a few long reductions are split over many blocks.
CHUNK = 4096
# Reductions this short run a thread per output (a block per output would idle).
SHORT_REDUCTION = 64
INT32_LIMIT = 2 ** 31 - 1


def collapse(shape: Sequence[int], strides: Sequence[Sequence[int]]
             ) -> tuple[list[int], list[list[int]]]:
    """Drop length-1 dimensions and merge neighbours that are contiguous for every operand,
    keeping the C order of the remaining index (at least one dimension is returned)."""
    dims = [d for d, n in enumerate(shape) if n != 1]
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides]
    for d in dims:
        mergeable = out_shape and all(s[-1] == st[d] * shape[d] for s, st in
                                      zip(out_strides, strides))
        if mergeable:
            out_shape[-1] *= shape[d]
            for s, st in zip(out_strides, strides):
                s[-1] = st[d]
        else:
            out_shape.append(int(shape[d]))
            for s, st in zip(out_strides, strides):
                s.append(int(st[d]))
    if not out_shape:
        return [1], [[0] for _ in strides]
    return out_shape, out_strides


def index_bits(shape: Sequence[int], strides: Sequence[Sequence[int]]) -> int:
    """32 when every index and offset fits a signed 32-bit integer, else 64."""
    if math.prod(shape) > INT32_LIMIT:
        return 64
    for st in strides:
        if sum(abs(s) * (n - 1) for s, n in zip(st, shape)) > INT32_LIMIT:
            return 64
    return 32


def elementwise(device: Device, program: ScalarProgram, inputs: Sequence[DeviceArray],
                outputs: Sequence[DeviceArray],
                report: tuple[DeviceArray, Sequence[int]] | None = None) -> None:
    """Evaluate ``program`` over ``inputs`` (views already broadcast to the outputs' shape)
    into ``outputs`` (any strides: a view written in place works too). ``report``: the error
    flag and a code per ``Kernel.errors`` entry, for programs whose rules may fail."""
    shape = outputs[0].shape
    n = math.prod(shape)
    if n == 0:
        return
    operands = list(inputs) + list(outputs)
    cshape, cstrides = collapse(shape, [x.strides for x in operands])
    spec = ew.ElementwiseSpec(program, tuple(o.dtype for o in outputs), len(cshape),
                              index_bits(cshape, cstrides))
    kernel = ew.elementwise_kernel(spec)
    meta = meta_bytes(n, cshape, cstrides)
    args: list[object] = [meta, *operands]
    if kernel.errors:
        if report is None or len(report[1]) != len(kernel.errors):
            raise RuntimeError(f"{program} reports errors: pass its error flag and codes")
        args += [report[0], *report[1]]
    device.launch(kernel, device.grid_for(n, BLOCK), BLOCK, args)


def copy_into(device: Device, source: DeviceArray, target: DeviceArray) -> None:
    """``target[...] = source`` (``source`` broadcast to ``target``'s shape, cast if needed)."""
    if source.shape != target.shape:
        source = source.broadcast_to(target.shape)
    elementwise(device, ew.copy_program(source.dtype, target.dtype), [source], [target])


def fill(device: Device, target: DeviceArray, value: float | bool) -> None:
    """``target[...] = value``."""
    from symgraph.ops.composite import constant_scalar_op

    row = constant_scalar_op(value, target.dtype)
    elementwise(device, ScalarProgram((), ((row, (), target.dtype),), (0,)), [], [target])


def reduce(device: Device, program: ScalarProgram, kind: str, inputs: Sequence[DeviceArray],
           axes: Sequence[int], out: DeviceArray) -> None:
    """``out`` (C-contiguous, the kept dimensions) = reduction ``kind`` over ``axes`` of
    ``program(*inputs)`` (inputs broadcast to one shape). Empty reductions must be handled by
    the caller (they raise or give the identity)."""
    shape = inputs[0].shape
    kept = [d for d in range(len(shape)) if d not in axes]
    n_out = math.prod(shape[d] for d in kept)
    n_red = math.prod(shape[a] for a in axes)
    if n_out == 0:
        return
    kshape, kstrides = collapse([shape[d] for d in kept], [[x.strides[d] for d in kept]
                                                           for x in inputs])
    rshape, rstrides = collapse([shape[a] for a in axes], [[x.strides[a] for a in axes]
                                                           for x in inputs])
    bits = max(index_bits(kshape + rshape, [k + r for k, r in zip(kstrides, rstrides)]),
               64 if n_out * max(1, n_red // CHUNK + 1) > INT32_LIMIT else 32)
    (value_dtype,) = program.output_dtypes()
    spec = rd.ReduceSpec(program, kind, rd.accumulator_dtype(kind, value_dtype, out.dtype),
                         out.dtype, len(kshape), len(rshape), bits)
    rows, cols, finish = rd.reduce_kernels(spec)
    device.prepare([rows, cols, finish])
    meta = meta_bytes(n_out, n_red, kshape, rshape, kstrides, rstrides)
    contiguous = any(r[-1] == 1 for r in rstrides)
    if n_red <= SHORT_REDUCTION or (not contiguous and n_out >= 1024):
        device.launch(cols, device.grid_for(n_out, BLOCK), BLOCK, [meta, *inputs, out, 0, 0])
        return
    chunks = 1
    if n_out < 2 * device.sm_count and n_red >= 2 * CHUNK:
        chunks = min(n_red // CHUNK, max(1, 4 * device.sm_count // n_out), 1024)
    block = BLOCK if n_red >= BLOCK else 32 * ((n_red + 31) // 32)
    if chunks == 1:
        device.launch(rows, min(n_out, 65535 * 32), block, [meta, *inputs, out, 0, 0, 1])
        return
    values = device.empty((n_out * chunks,), spec.acc_dtype)
    indices = device.empty((n_out * chunks,), "int64")
    device.launch(rows, n_out * chunks, block, [meta, *inputs, out, values, indices, chunks])
    device.launch(finish, n_out, 32 * min(8, (chunks + 31) // 32),
                  [n_out, chunks, values, indices, out])
