"""Records for the reductions (``CAReduce``, ``Argmax``, ``Argmin``), their compositions (mean,
var, std, logsumexp) and the cumulative ``CumOp``.

References avoid the functions the ops call: explicit loops, ``functools.reduce`` over slices,
sorting, and textbook formulas.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

import symgraph as sg
from symgraph.ops.reduce import CumOp
from tests.records import B, F, Given, I, OpRecord

M = F(3, 4)          # generic floats in [-1, 1)
T = F(2, 3, 4)       # a 3-d block
POS = F(3, 4, lo=0.5, hi=1.5)


def _fold(function, x, axis, keepdims=False):
    """Reduce ``x`` over ``axis`` by folding ``function`` over slices (no NumPy reduction)."""
    axes = tuple(range(x.ndim)) if axis is None else (
        (axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(sorted(a % x.ndim for a in axes))
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape([x.shape[i] for i in kept] + [-1])
    out = functools.reduce(function, [flat[..., k] for k in range(flat.shape[-1])])
    out = np.asarray(out)
    if keepdims:
        out = out.reshape([1 if i in axes else x.shape[i] for i in range(x.ndim)])
    return out


def _add(a, b):
    return a + b


def _mul(a, b):
    return a * b


def _larger(a, b):
    return np.where(a >= b, a, b)


def _smaller(a, b):
    return np.where(a <= b, a, b)


def _first_index(x, axes, better):
    """Index (C order over ``axes`` moved last) of the first element no other one beats."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape([x.shape[i] for i in kept] + [-1])
    out = np.zeros(flat.shape[:-1], dtype="int64")
    for index in itertools.product(*[range(n) for n in flat.shape[:-1]]):
        row = flat[index]
        best = 0
        for k in range(1, row.size):
            if better(row[k], row[best]):
                best = k
        out[index] = best
    return out


def _python_sum(values):
    total = 0
    for v in values:
        total += v
    return total


def _mean(x, axis):
    n = x.size // _fold(_add, np.ones_like(x, dtype="float64"), axis).size
    return _fold(_add, x.astype("float64"), axis) / n


def _var(x, axis, ddof=0):
    axes = (axis,) if isinstance(axis, int) else axis
    m = _fold(_add, x, axes, keepdims=True) / np.prod([x.shape[a] for a in axes])
    return _fold(_add, (x - m) ** 2, axes) / (np.prod([x.shape[a] for a in axes]) - ddof)


def _running(function, x, axis):
    out = np.array(x, dtype="float64" if x.dtype.kind == "f" else "int64", copy=True)
    moved = np.moveaxis(out, axis, 0)
    for k in range(1, moved.shape[0]):
        moved[k] = function(moved[k - 1], moved[k])
    return out.astype(x.dtype if x.dtype.kind == "f" else "int64")


PROD_ZEROS = Given(np.array([[0.0, 0.7, -1.3, 0.9],     # one zero in the row
                             [0.0, 0.0, 0.5, 1.2],      # two zeros
                             [0.8, -0.6, 1.1, 0.4]]))   # none

RECORDS = [
    # sum
    OpRecord("reduce_sum_all", sg.sum, [M], lambda x: _fold(_add, x, None)),
    OpRecord("reduce_sum_axis0", lambda x: sg.sum(x, axis=0), [M], lambda x: _fold(_add, x, 0)),
    OpRecord("reduce_sum_negative_axis", lambda x: sg.sum(x, axis=-1), [T],
             lambda x: _fold(_add, x, 2)),
    OpRecord("reduce_sum_axes_keepdims", lambda x: sg.sum(x, axis=(0, 2), keepdims=True), [T],
             lambda x: _fold(_add, x, (0, 2), keepdims=True)),
    OpRecord("reduce_sum_no_axes", lambda x: sg.sum(x, axis=()), [M], lambda x: x + 0.0),
    OpRecord("reduce_sum_broadcastable", lambda x: sg.sum(x, axis=0),
             [F(1, 4, static=(1, None))], lambda x: x[0]),
    OpRecord("reduce_sum_int8_widens", lambda x: sg.sum(x, axis=1),
             [I(3, 40, lo=100, hi=128, dtype="int8")],
             lambda x: _fold(_add, x.astype("int64"), 1), grad=False),
    OpRecord("reduce_sum_uint8_widens", sg.sum, [I(3, 40, lo=200, hi=256, dtype="uint8")],
             lambda x: np.asarray(_python_sum(int(v) for v in x.ravel()), dtype="uint64"),
             grad=False),
    OpRecord("reduce_sum_bool", lambda x: sg.sum(x, axis=0), [B(5, 3)],
             lambda x: _fold(_add, x.astype("int64"), 0), grad=False),
    OpRecord("reduce_sum_dtype_float32", lambda x: sg.sum(x, axis=0, dtype="float32"), [M],
             lambda x: _fold(_add, x.astype("float32"), 0)),
    OpRecord("reduce_sum_empty_axis", lambda x: sg.sum(x, axis=1), [Given(np.zeros((3, 0)))],
             lambda x: np.zeros(3)),
    # prod
    OpRecord("reduce_prod_all", sg.prod, [POS], lambda x: _fold(_mul, x, None)),
    OpRecord("reduce_prod_axis1_keepdims", lambda x: sg.prod(x, axis=1, keepdims=True), [M],
             lambda x: _fold(_mul, x, 1, keepdims=True)),
    OpRecord("reduce_prod_zeros", lambda x: sg.prod(x, axis=1), [PROD_ZEROS],
             lambda x: np.array([0.0, 0.0, 0.8 * -0.6 * 1.1 * 0.4])),
    OpRecord("reduce_prod_zeros_axis0", lambda x: sg.prod(x, axis=0), [PROD_ZEROS],
             lambda x: x[0] * x[1] * x[2]),
    OpRecord("reduce_prod_int32", lambda x: sg.prod(x, axis=0),
             [I(3, 4, lo=-3, hi=4, dtype="int32")],
             lambda x: (x[0].astype("int64") * x[1] * x[2]), grad=False),
    OpRecord("reduce_prod_empty_axis", lambda x: sg.prod(x, axis=0), [Given(np.zeros((0, 2)))],
             lambda x: np.ones(2)),
    # max / min
    OpRecord("reduce_max_all", sg.max, [M], lambda x: np.sort(x.ravel())[-1]),
    OpRecord("reduce_max_axis1", lambda x: sg.max(x, axis=1), [M],
             lambda x: _fold(_larger, x, 1)),
    OpRecord("reduce_max_axes_keepdims", lambda x: sg.max(x, axis=(0, 1), keepdims=True), [T],
             lambda x: _fold(_larger, x, (0, 1), keepdims=True)),
    OpRecord("reduce_min_axis0", lambda x: sg.min(x, axis=0), [M],
             lambda x: _fold(_smaller, x, 0)),
    OpRecord("reduce_min_int16", lambda x: sg.min(x, axis=-1),
             [I(3, 4, lo=-50, hi=50, dtype="int16")],
             lambda x: _fold(_smaller, x, 1).astype("int16"), grad=False),
    OpRecord("reduce_max_bool", lambda x: sg.max(x, axis=1), [B(4, 3)],
             lambda x: _fold(np.logical_or, x, 1), grad=False),
    # all / any
    OpRecord("reduce_all_bool", lambda x: sg.all(x, axis=0), [B(4, 3)],
             lambda x: _fold(np.logical_and, x, 0), grad=False),
    OpRecord("reduce_any_int", lambda x: sg.any(x, axis=1, keepdims=True), [I(3, 4, hi=2)],
             lambda x: _fold(np.logical_or, x != 0, 1, keepdims=True), grad=False),
    OpRecord("reduce_all_float", sg.all, [Given(np.array([[1.0, np.nan], [-2.0, 0.5]]))],
             lambda x: np.asarray(True), grad=False),
    OpRecord("reduce_any_empty", lambda x: sg.any(x, axis=0), [Given(np.zeros((0, 3)))],
             lambda x: np.zeros(3, dtype=bool), grad=False),
    OpRecord("reduce_all_empty", lambda x: sg.all(x, axis=0), [Given(np.zeros((0, 3)))],
             lambda x: np.ones(3, dtype=bool), grad=False),
    # argmax / argmin
    OpRecord("reduce_argmax_all", sg.argmax, [M],
             lambda x: _first_index(x, (0, 1), lambda a, b: a > b), grad=False),
    OpRecord("reduce_argmax_axis0", lambda x: sg.argmax(x, axis=0), [M],
             lambda x: _first_index(x, (0,), lambda a, b: a > b), grad=False),
    OpRecord("reduce_argmax_keepdims", lambda x: sg.argmax(x, axis=-1, keepdims=True), [T],
             lambda x: _first_index(x, (2,), lambda a, b: a > b)[..., None], grad=False),
    OpRecord("reduce_argmax_axes", lambda x: sg.argmax(x, axis=(2, 0)), [T],
             lambda x: _first_index(x, (0, 2), lambda a, b: a > b), grad=False),
    OpRecord("reduce_argmin_axis1", lambda x: sg.argmin(x, axis=1), [I(4, 6, hi=3)],
             lambda x: _first_index(x, (1,), lambda a, b: a < b), grad=False),
    OpRecord("reduce_argmin_all_keepdims", lambda x: sg.argmin(x, keepdims=True), [T],
             lambda x: _first_index(x, (0, 1, 2), lambda a, b: a < b).reshape(1, 1, 1),
             grad=False),
    # mean / var / std
    OpRecord("reduce_mean_all", sg.mean, [M], lambda x: _mean(x, (0, 1))),
    OpRecord("reduce_mean_axis_keepdims", lambda x: sg.mean(x, axis=1, keepdims=True), [T],
             lambda x: _mean(x, (1,))[:, None, :]),
    OpRecord("reduce_mean_static_shape", lambda x: sg.mean(x, axis=0),
             [F(3, 4, static=(3, 4))], lambda x: (x[0] + x[1] + x[2]) / 3),
    OpRecord("reduce_mean_int", lambda x: sg.mean(x, axis=0), [I(5, 3, hi=10, dtype="int32")],
             lambda x: _mean(x, (0,)), grad=False),
    OpRecord("reduce_mean_float32", lambda x: sg.mean(x, axis=(0, 1)),
             [F(3, 4, dtype="float32")], lambda x: np.float32(_mean(x, (0, 1)))),
    OpRecord("reduce_var_axis0", lambda x: sg.var(x, axis=0), [M], lambda x: _var(x, 0)),
    OpRecord("reduce_var_ddof1_keepdims", lambda x: sg.var(x, axis=(1, 2), keepdims=True,
                                                           ddof=1),
             [T], lambda x: _var(x, (1, 2), ddof=1)[:, None, None]),
    OpRecord("reduce_var_int", sg.var, [I(4, 3, hi=9)], lambda x: _var(x.astype(float), (0, 1)),
             grad=False),
    OpRecord("reduce_std_axis1", lambda x: sg.std(x, axis=1), [M],
             lambda x: np.sqrt(_var(x, 1))),
    OpRecord("reduce_std_ddof1", lambda x: sg.std(x, ddof=1), [M],
             lambda x: np.sqrt(_var(x, (0, 1), ddof=1))),
    # logsumexp
    OpRecord("reduce_logsumexp_axis1", lambda x: sg.logsumexp(x, axis=1), [M],
             lambda x: np.log(_fold(_add, np.exp(x), 1))),
    OpRecord("reduce_logsumexp_large", lambda x: sg.logsumexp(x, axis=0, keepdims=True),
             [F(3, 4, lo=800.0, hi=802.0)],
             lambda x: 800.0 + np.log(_fold(_add, np.exp(x - 800.0), 0, keepdims=True))),
    OpRecord("reduce_logsumexp_all", sg.logsumexp, [F(2, 3, lo=-3.0, hi=3.0)],
             lambda x: np.log(_fold(_add, np.exp(x), None))),
    OpRecord("reduce_logsumexp_infinite",
             lambda x: sg.logsumexp(x, axis=1),
             [Given(np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, -np.inf]]))],
             lambda x: np.array([-np.inf, np.inf, 0.0]), grad=False),
    # cumsum / cumprod
    OpRecord("reduce_cumsum_axis0", lambda x: sg.cumsum(x, axis=0), [M],
             lambda x: _running(_add, x, 0)),
    OpRecord("reduce_cumsum_negative_axis", lambda x: sg.cumsum(x, axis=-1), [T],
             lambda x: _running(_add, x, 2)),
    OpRecord("reduce_cumsum_flat", sg.cumsum, [M],
             lambda x: _running(_add, x.reshape(-1), 0)),
    OpRecord("reduce_cumsum_int8", lambda x: sg.cumsum(x, axis=1),
             [I(2, 30, lo=100, hi=128, dtype="int8")], lambda x: _running(_add, x, 1),
             grad=False),
    OpRecord("reduce_cumprod_axis1", lambda x: sg.cumprod(x, axis=1),
             [F(3, 4, lo=0.5, hi=1.5)], lambda x: _running(_mul, x, 1)),
    OpRecord("reduce_cumprod_signed", lambda x: sg.cumprod(x, axis=0),
             [F(3, 4, away_from=(0.0,))], lambda x: _running(_mul, x, 0)),
    OpRecord("reduce_cumprod_flat", sg.cumprod, [F(2, 3, lo=0.5, hi=1.5)],
             lambda x: _running(_mul, x.reshape(-1), 0)),
    OpRecord("reduce_cumsum_reverse", lambda x: CumOp(1, "add", reverse=True)(x), [M],
             lambda x: _running(_add, x[:, ::-1], 1)[:, ::-1]),
    OpRecord("reduce_cumprod_reverse", lambda x: CumOp(0, "mul", reverse=True)(x),
             [F(3, 4, lo=0.5, hi=1.5)], lambda x: _running(_mul, x[::-1], 0)[::-1]),
    OpRecord("reduce_cumprod_bool", lambda x: sg.cumprod(x, axis=0), [B(4, 3)],
             lambda x: _running(_mul, x.astype("int64"), 0), grad=False),
]
