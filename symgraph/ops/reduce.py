"""Reductions (sum, prod, max, min, all, any, argmax, argmin, mean, var, std, logsumexp) and
cumulative ops (cumsum, cumprod)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType


__all__ = ["sum"]


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Sorted, non-negative reduction axes; ``None`` means all.

    Raises
    ------
    ValueError
        For an axis out of range or repeated.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d tensor")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(result))


class CAReduce(Op):
    """A commutative-associative reduction (sum for now) over ``axis``, dropping those axes."""

    __props__ = ("scalar_op", "axis", "acc_dtype")

    def __init__(self, scalar_op: str, axis: Sequence[int], acc_dtype: str | None = None):
        self.scalar_op = scalar_op
        self.axis = tuple(axis)
        self.acc_dtype = acc_dtype

    def __str__(self) -> str:
        return f"CAReduce{{{self.scalar_op}, axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        out_dtype = self.acc_dtype or _sum_dtype(x.dtype)
        return Apply(self, [x], [TensorType(out_dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        out_dtype = node.outputs[0].dtype
        output_storage[0][0] = np.asarray(
            np.sum(inputs[0], axis=self.axis, dtype=dt.compute_dtype(out_dtype)), dtype=out_dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (gz,) = inputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        pattern: list[int | str] = []
        kept = iter(range(gz.ndim))
        for i in range(x.ndim):
            pattern.append("x" if i in self.axis else next(kept))
        return [elemwise.second(x, elemwise.dimshuffle(gz, pattern))]


def _sum_dtype(dtype: str) -> str:
    if dtype in ("bool", "int8", "int16", "int32"):
        return "int64"
    if dtype in ("uint8", "uint16", "uint32"):
        return "uint64"
    return dtype


def sum(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:  # noqa: A001
    """Sum over ``axis`` (all axes by default), as ``numpy.sum``."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = CAReduce("add", axes, dt.canonical(dtype) if dtype is not None else None)(x)
    if keepdims:
        out = _keep_dims(out, x.ndim, axes)
    return out


def _keep_dims(out: Any, ndim: int, axes: tuple[int, ...]) -> Any:
    pattern: list[int | str] = []
    kept = iter(range(out.ndim))
    for i in range(ndim):
        pattern.append("x" if i in axes else next(kept))
    return elemwise.dimshuffle(out, pattern)
