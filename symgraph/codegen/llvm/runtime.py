"""Calling compiled kernels from the linker: run-time shape checks (Theano broadcasting),
output allocation (or reuse of a destroyed input), and the kernel call through ctypes.
"""

from __future__ import annotations

import ctypes
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph.codegen.linker import reraise_node_error
from symgraph.codegen.llvm.kernels import ARG_KINDS, KernelSpec
from symgraph.graph import Apply

KernelFunction = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class KernelCall:
    """A compiled kernel with its argument buffers (shape, data pointers, strides)."""

    def __init__(self, spec: KernelSpec, address: int) -> None:
        self.spec = spec
        self.function = KernelFunction(address)
        self.ndim = spec.ndim
        self.dtypes = [np.dtype(d) for d in spec.operand_dtypes()]
        self.bcast = spec.operand_broadcast()
        n_ops = len(self.dtypes)
        self.shape = np.zeros(max(self.ndim, 1), dtype=np.int64)
        self.strides = np.zeros(max(n_ops * self.ndim, 1), dtype=np.int64)
        self.data = np.zeros(n_ops, dtype=np.uintp)
        self._addresses = (self.shape.ctypes.data, self.data.ctypes.data,
                           self.strides.ctypes.data)

    def __call__(self, shape: Sequence[int], arrays: Sequence[np.ndarray],
                 strides: Sequence[Sequence[int]]) -> None:
        ndim = self.ndim
        if ndim:
            self.shape[:] = shape
        for k, (array, operand_strides) in enumerate(zip(arrays, strides)):
            self.data[k] = array.ctypes.data
            if ndim:
                self.strides[k * ndim:(k + 1) * ndim] = operand_strides
        self.function(*self._addresses)


def broadcast_shape(node: Apply, arrays: Sequence[np.ndarray],
                    bcast: Sequence[tuple[bool, ...]], ndim: int) -> list[int]:
    """The iteration shape; ``ValueError`` where non-broadcastable dimensions differ."""
    shape = []
    for d in range(ndim):
        size = None
        for k, array in enumerate(arrays):
            if bcast[k][d]:
                continue
            if size is None:
                size = array.shape[d]
            elif array.shape[d] != size:
                raise ValueError(
                    f"input shapes {[a.shape for a in arrays]} do not match on axis {d}; only "
                    f"dimensions declared broadcastable (static shape 1) broadcast")
        shape.append(1 if size is None else size)
    return shape


class OutputBuffers:
    """Fresh output arrays, except that an array this node made last time is reused when
    nobody else holds it any more (its reference count says so): the static-shape part of a
    memory plan, which spares the allocator and the page faults of large buffers."""

    def __init__(self, count: int, cells: list[list[Any]]) -> None:
        self.last: list[np.ndarray | None] = [None] * count
        self.cells = cells

    def get(self, index: int, shape: Sequence[int], dtype: np.dtype) -> np.ndarray:
        previous = self.last[index]
        if previous is not None:
            # References: self.last, ``previous``, getrefcount's argument, and the output
            # cell if it still holds the array from the last run.
            owners = 3 + (index < len(self.cells) and self.cells[index][0] is previous)
            if sys.getrefcount(previous) == owners and previous.dtype == dtype and \
                    list(previous.shape) == list(shape):
                return previous
        array = np.empty(shape, dtype=dtype)
        self.last[index] = array
        return array


def _as_arrays(values: Sequence[Any], dtypes: Sequence[np.dtype]) -> list[np.ndarray]:
    arrays = []
    for value, dtype in zip(values, dtypes):
        if not isinstance(value, np.ndarray) or value.dtype != dtype:
            value = np.asarray(value, dtype=dtype)
        arrays.append(value)
    return arrays


class ElementwiseThunk:
    """Runs an Elemwise/Composite node's kernel."""

    def __init__(self, node: Apply, call: KernelCall, input_cells: list[list[Any]],
                 output_cells: list[list[Any]]) -> None:
        self.node = node
        self.call = call
        self.input_cells = input_cells
        self.output_cells = output_cells
        self.n_in = len(input_cells)
        self.in_dtypes = call.dtypes[:self.n_in]
        self.out_dtypes = call.dtypes[self.n_in:]
        self.inplace = dict(getattr(node.op, "inplace_pattern", ()))
        self.buffers = OutputBuffers(len(self.out_dtypes), output_cells)

    def __call__(self) -> None:
        values = [cell[0] for cell in self.input_cells]
        try:
            arrays = _as_arrays(values, self.in_dtypes)
            shape = broadcast_shape(self.node, arrays, self.call.bcast, self.call.ndim)
            outputs = [self._output(i, arrays, shape) for i in range(len(self.out_dtypes))]
            strides = [a.strides for a in arrays] + [o.strides for o in outputs]
            self.call(shape, arrays + outputs, strides)
        except Exception as err:  # noqa: BLE001 - re-raised with the node's description
            reraise_node_error(self.node, values, err)
        for cell, value in zip(self.output_cells, outputs):
            cell[0] = value

    def _output(self, index: int, arrays: list[np.ndarray], shape: list[int]) -> np.ndarray:
        source = self.inplace.get(index)
        if source is not None and self.call.spec.inplace:
            target = arrays[source]
            if _can_overwrite(target, shape, self.out_dtypes[index], arrays, source):
                return target
        return self.buffers.get(index, shape, self.out_dtypes[index])


def _can_overwrite(target: np.ndarray, shape: list[int], dtype: np.dtype,
                   arrays: list[np.ndarray], source: int) -> bool:
    """Writing the result into ``target`` is safe: same shape and dtype, writeable, no
    repeated elements, and no other input overlapping it through a different view."""
    if list(target.shape) != shape or target.dtype != dtype or not target.flags.writeable:
        return False
    if any(s == 0 and n > 1 for s, n in zip(target.strides, target.shape)):
        return False
    return all(k == source or a is target or not np.may_share_memory(a, target)
               for k, a in enumerate(arrays))


class ReduceThunk:
    """Runs a reduction kernel (CAReduce, Argmax, Argmin), possibly with a fused pre-op whose
    inputs are read directly from ``input_cells``."""

    def __init__(self, node: Apply, call: KernelCall, input_cells: list[list[Any]],
                 output_cells: list[list[Any]]) -> None:
        self.node = node
        self.call = call
        self.input_cells = input_cells
        self.output_cells = output_cells
        spec = call.spec
        assert spec.reduce is not None
        self.reduce = spec.reduce
        self.n_in = spec.n_inputs
        self.in_dtypes = call.dtypes[:self.n_in]
        self.out_dtype = call.dtypes[self.n_in]
        self.scratch_dtype = call.dtypes[self.n_in + 1] if spec.has_scratch else None
        self.kept = [d for d in range(spec.ndim) if d not in self.reduce.axes]
        self.needs_elements = self.reduce.kind in ("maximum", "minimum") + ARG_KINDS
        self.buffers = OutputBuffers(2, output_cells)

    def __call__(self) -> None:
        values = [cell[0] for cell in self.input_cells]
        try:
            arrays = _as_arrays(values, self.in_dtypes)
            shape = broadcast_shape(self.node, arrays, self.call.bcast, self.call.ndim)
            self._check_nonempty(shape)
            out_shape = [shape[d] for d in self.kept]
            out = self.buffers.get(0, out_shape, self.out_dtype)
            operands = arrays + [out]
            strides = [a.strides for a in arrays] + [self._spread(out.strides)]
            if self.scratch_dtype is not None:
                scratch = self.buffers.get(1, out_shape, self.scratch_dtype)
                operands.append(scratch)
                strides.append(self._spread(scratch.strides))
            self.call(shape, operands, strides)
        except Exception as err:  # noqa: BLE001 - re-raised with the node's description
            reraise_node_error(self.node, values, err)
        self.output_cells[0][0] = out

    def _spread(self, out_strides: Sequence[int]) -> list[int]:
        """Output strides over the iteration space: 0 along the reduced axes."""
        full = [0] * self.call.ndim
        for d, stride in zip(self.kept, out_strides):
            full[d] = stride
        return full

    def _check_nonempty(self, shape: list[int]) -> None:
        if self.needs_elements and math.prod(shape[d] for d in self.reduce.axes) == 0 and \
                any(shape[d] == 0 for d in self.reduce.axes):
            raise ValueError(f"cannot reduce an input of shape {tuple(shape)} over an empty "
                             f"axis: {self.reduce.kind} has no identity")
