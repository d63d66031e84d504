"""Records for the shape family: Shape, Shape_i, Reshape, Join, Split, Alloc, ARange, Eye,
AllocDiag, ExtractDiag, Repeat, SpecifyShape and the functions built on them.

References use slicing, index arithmetic and loops rather than the NumPy function each op calls.
"""

from __future__ import annotations

import math

import numpy as np

import symgraph as sg
from symgraph.ops import construct as cons
from symgraph.ops import shape as sh
from tests.records import F, Given, I, OpRecord


def _int(value: int) -> object:
    """A symbolic int64 scalar input holding ``value``."""
    return Given(np.int64(value))


def _ivec(*values: int) -> object:
    """A symbolic int64 vector input of static length holding ``values``."""
    return Given(np.array(values, dtype="int64"), static=(len(values),))


def _c_order_reshape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    flat = [x[index] for index in np.ndindex(*x.shape)]
    out = np.empty(shape, dtype=x.dtype)
    for k, index in enumerate(np.ndindex(*shape)):
        out[index] = flat[k]
    return out


def _alloc_diag(v: np.ndarray, k: int) -> np.ndarray:
    side = len(v) + abs(k)
    out = np.zeros((side, side), dtype=v.dtype)
    for i, value in enumerate(v):
        out[i + max(-k, 0), i + max(k, 0)] = value
    return out


def _extract_diag(x: np.ndarray, k: int) -> np.ndarray:
    rows, cols = x.shape
    values = [x[i, i + k] for i in range(rows) if 0 <= i + k < cols]
    return np.array(values, dtype=x.dtype)


def _repeat_rows(x: np.ndarray, counts: list[int]) -> np.ndarray:
    return x[[i for i, c in enumerate(counts) for _ in range(c)]]


def _arange(start: float, stop: float, step: float) -> np.ndarray:
    n = max(0, math.ceil((stop - start) / step))
    return start + step * np.arange(n)


U34 = F(3, 4)

RECORDS = [
    # Shape, Shape_i
    OpRecord("shape_shape", sh.shape, [F(2, 3, 4)], lambda x: np.array([2, 3, 4]), grad=False),
    OpRecord("shape_shape_i", lambda x: sh.Shape_i(1)(x), [U34], lambda x: np.array(4),
             grad=False),
    # Reshape, flatten
    OpRecord("shape_reshape_constant", lambda x: sh.reshape(x, (4, 3)), [U34],
             lambda x: _c_order_reshape(x, (4, 3))),
    OpRecord("shape_reshape_minus_one", lambda x: x.reshape(2, -1, 2), [U34],
             lambda x: _c_order_reshape(x, (2, 3, 2))),
    OpRecord("shape_reshape_symbolic_entry", lambda x, n: sh.reshape(x, (n, -1)),
             [U34, _int(6)], lambda x, n: _c_order_reshape(x, (6, 2))),
    OpRecord("shape_reshape_symbolic_minus_one", lambda x, a, b: sh.reshape(x, (a, b)),
             [U34, _int(2), _int(-1)], lambda x, a, b: _c_order_reshape(x, (2, 6))),
    OpRecord("shape_reshape_vector", lambda x, s: sh.reshape(x, s), [U34, _ivec(2, 2, 3)],
             lambda x, s: _c_order_reshape(x, (2, 2, 3))),
    OpRecord("shape_reshape_like", lambda x, y: sh.reshape(x, y.shape), [U34, F(6, 2)],
             lambda x, y: _c_order_reshape(x, (6, 2)), grad_inputs=(0,)),
    OpRecord("shape_reshape_to_scalar", lambda x: sh.reshape(x, ()), [F(1, 1)],
             lambda x: np.array(x[0, 0])),
    OpRecord("shape_flatten", sh.flatten, [F(2, 3, 4)],
             lambda x: _c_order_reshape(x, (24,))),
    OpRecord("shape_flatten_ndim2", lambda x: sh.flatten(x, 2), [F(2, 3, 4)],
             lambda x: _c_order_reshape(x, (2, 12))),
    OpRecord("shape_flatten_scalar", sh.flatten, [F()], lambda x: np.array([x])),
    # dimension shuffles
    OpRecord("shape_transpose_default", lambda x: x.T, [F(2, 3, 4)],
             lambda x: np.einsum("ijk->kji", x)),
    OpRecord("shape_transpose_axes", lambda x: sh.transpose(x, (1, -1, 0)), [F(2, 3, 4)],
             lambda x: np.einsum("ijk->jki", x)),
    OpRecord("shape_squeeze_static", sh.squeeze, [F(3, 1, 4, 1, static=(None, 1, None, 1))],
             lambda x: x[:, 0, :, 0]),
    OpRecord("shape_squeeze_runtime_axis", lambda x: sh.squeeze(x, -2), [F(3, 1, 4)],
             lambda x: x[:, 0, :]),
    OpRecord("shape_expand_dims", lambda x: sh.expand_dims(x, (0, -1)), [U34],
             lambda x: x[None, :, :, None]),
    # Join, stack
    OpRecord("shape_concatenate_axis1", lambda x, y: sh.concatenate([x, y], axis=1),
             [F(3, 2), U34], lambda x, y: np.block([x, y])),
    OpRecord("shape_concatenate_three", lambda x, y, z: sh.concatenate([x, y, z], axis=-2),
             [F(1, 4), U34, F(2, 4)], lambda x, y, z: np.block([[x], [y], [z]])),
    OpRecord("shape_concatenate_promotes", lambda x, y: sh.concatenate([x, y]),
             [F(2, dtype="float32"), F(3)],
             lambda x, y: np.array(list(x.astype("float64")) + list(y)), grad_inputs=(1,)),
    OpRecord("shape_concatenate_int", lambda x, y: sh.concatenate([x, y]),
             [I(2, dtype="int32"), I(3)], lambda x, y: np.array(list(x) + list(y)),
             grad=False),
    OpRecord("shape_stack_scalars", lambda a, b, c: sh.stack([a, b, c]), [F(), F(), F()],
             lambda a, b, c: np.array([a, b, c])),
    OpRecord("shape_stack_axis1", lambda x, y: sh.stack([x, y], axis=1), [U34, U34],
             lambda x, y: np.einsum("kij->ikj", np.array([x, y]))),
    OpRecord("shape_stack_list_of_variables", lambda a, n: sg.as_tensor_variable([a, n, 2]),
             [I(), _int(7)], lambda a, n: np.array([a, 7, 2]), grad=False),
    # Split
    OpRecord("shape_split_axis1", lambda x: sh.split(x, [1, 3], 2, axis=1), [U34],
             lambda x: [x[:, :1], x[:, 1:]]),
    OpRecord("shape_split_symbolic_sizes", lambda x, s: sh.split(x, s, 3),
             [F(5, 2), _ivec(1, 0, 4)], lambda x, s: [x[:1], x[1:1], x[1:]]),
    OpRecord("shape_split_one_output_used", lambda x: sh.split(x, [2, 2], 2)[1] * 2.0,
             [F(4)], lambda x: x[2:] * 2),
    # Alloc and its wrappers
    OpRecord("shape_alloc_scalar", lambda v: cons.alloc(v, 2, 3), [F()],
             lambda v: np.zeros((2, 3)) + v),
    OpRecord("shape_alloc_row", lambda r: cons.alloc(r, 3, 4), [F(1, 4, static=(1, None))],
             lambda r: np.vstack([r, r, r])),
    OpRecord("shape_alloc_leading_and_symbolic", lambda v, n: cons.alloc(v, n, 2, 4),
             [F(4), _int(3)], lambda v, n: np.zeros((3, 2, 4)) + v),
    OpRecord("shape_alloc_shape_vector", lambda v, x: cons.alloc(v, x.shape), [F(), U34],
             lambda v, x: np.zeros((3, 4)) + v, grad_inputs=(0,)),
    OpRecord("shape_zeros", lambda n: cons.zeros((n, 2)), [_int(3)],
             lambda n: np.array([[0.0, 0.0]] * 3), grad=False),
    OpRecord("shape_ones_int", lambda x: cons.ones(x.shape, dtype="int32"), [U34],
             lambda x: np.ones(x.shape, dtype="int32"), grad=False),
    OpRecord("shape_full", lambda v: cons.full((2, 2), v), [F()], lambda v: np.array([[v, v]] * 2)),
    OpRecord("shape_broadcast_to", lambda x: cons.broadcast_to(x, (2, 3, 4)),
             [F(3, 1, static=(None, 1))], lambda x: np.array([np.hstack([x] * 4)] * 2)),
    OpRecord("shape_tile", lambda x: cons.tile(x, (2, 3)), [F(2, 3)],
             lambda x: np.vstack([np.hstack([x] * 3)] * 2)),
    OpRecord("shape_tile_pads_input", lambda x, n: cons.tile(x, (n, 1, 2)), [F(3), _int(2)],
             lambda x, n: np.array([[np.concatenate([x, x])]] * 2)),
    # SpecifyShape
    OpRecord("shape_specify_shape", lambda x: sh.specify_shape(x, (3, None)), [U34],
             lambda x: x + 0),
    OpRecord("shape_specify_shape_symbolic", lambda x, n: sh.specify_shape(x, (n, 4)) * 1.0,
             [U34, _int(3)], lambda x, n: x + 0),
    # ARange, Eye
    OpRecord("shape_arange_int", lambda n: cons.arange(n), [_int(5)],
             lambda n: np.array([0, 1, 2, 3, 4]), grad=False),
    OpRecord("shape_arange_negative_step", lambda a, b: cons.arange(a, b, -3), [_int(7), _int(-4)],
             lambda a, b: np.array([7, 4, 1, -2]), grad=False),
    OpRecord("shape_arange_float", cons.arange,
             [Given(np.float64(0.15)), Given(np.float64(2.0)), Given(np.float64(0.4))],
             _arange),
    OpRecord("shape_arange_constant", lambda: cons.arange(0.5, 2.0, 0.5), [],
             lambda: np.array([0.5, 1.0, 1.5]), grad=False),
    OpRecord("shape_eye", lambda n: cons.eye(n), [_int(3)],
             lambda n: (np.arange(3)[:, None] == np.arange(3)).astype("float64"), grad=False),
    OpRecord("shape_eye_rectangular_offset", lambda n, m: cons.eye(n, m, -1, dtype="int8"),
             [_int(4), _int(2)],
             lambda n, m: (np.arange(4)[:, None] - 1 == np.arange(2)).astype("int8"),
             grad=False),
    # AllocDiag, ExtractDiag
    OpRecord("shape_diag_alloc", cons.diag, [F(3)], lambda v: _alloc_diag(v, 0)),
    OpRecord("shape_diag_alloc_above", lambda v: cons.diag(v, 2), [F(3)],
             lambda v: _alloc_diag(v, 2)),
    OpRecord("shape_diag_alloc_below", lambda v: cons.diag(v, -1), [F(2)],
             lambda v: _alloc_diag(v, -1)),
    OpRecord("shape_diag_extract", cons.diag, [U34], lambda x: _extract_diag(x, 0)),
    OpRecord("shape_diag_extract_above", lambda x: cons.diag(x, 2), [U34],
             lambda x: _extract_diag(x, 2)),
    OpRecord("shape_diag_extract_below", lambda x: cons.diag(x, -2), [F(4, 3)],
             lambda x: _extract_diag(x, -2)),
    OpRecord("shape_diag_extract_outside", lambda x: cons.diag(x, 5) + 1.0, [U34],
             lambda x: np.zeros(0)),
    # Repeat
    OpRecord("shape_repeat_flat", lambda x: cons.repeat(x, 2), [F(2, 2)],
             lambda x: np.array([v for v in x.ravel() for _ in range(2)])),
    OpRecord("shape_repeat_axis1", lambda x: x.repeat(3, axis=-1), [F(2, 2)],
             lambda x: _repeat_rows(x.T, [3, 3]).T),
    OpRecord("shape_repeat_counts", lambda x: cons.repeat(x, [1, 0, 2], axis=0), [F(3, 2)],
             lambda x: _repeat_rows(x, [1, 0, 2])),
    OpRecord("shape_repeat_symbolic_counts", lambda x, r: cons.repeat(x, r, axis=1),
             [F(2, 3), _ivec(2, 1, 0)], lambda x, r: _repeat_rows(x.T, [2, 1, 0]).T),
    OpRecord("shape_repeat_symbolic_scalar", lambda x, r: cons.repeat(x, r, axis=0),
             [F(2, 3), _int(2)], lambda x, r: _repeat_rows(x, [2, 2])),
]
