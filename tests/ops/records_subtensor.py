"""Records for indexing: ``Subtensor``, ``AdvancedSubtensor``, ``IncSubtensor``,
``AdvancedIncSubtensor`` and ``take``; references are NumPy indexing and ``np.add.at``."""

from __future__ import annotations

import numpy as np

from symgraph.ops import subtensor as st
from tests.records import B, F, Given, I, OpRecord


def _scatter(x, index, y, accumulate=True):
    """Reference for inc/set_subtensor: a copy of ``x`` updated at ``index``."""
    out = np.array(x, copy=True)
    if accumulate:
        np.add.at(out, index, y)
    else:
        out[index] = y
    return out


M = F(3, 4)
T4 = F(2, 3, 4, 5)

RECORDS = [
    # -- basic indexing ---------------------------------------------------------------------
    OpRecord("subtensor_int", lambda x: x[1], [M], lambda x: x[1, :]),
    OpRecord("subtensor_negative_int", lambda x: x[:, -1], [M], lambda x: x[:, 3]),
    OpRecord("subtensor_slices", lambda x: x[1:, ::-2], [M],
             lambda x: np.stack([x[1:, 3], x[1:, 1]], axis=1)),
    OpRecord("subtensor_newaxis_ellipsis", lambda x: x[None, ..., 1], [F(2, 3, 4)],
             lambda x: x[:, :, 1].reshape(1, 2, 3)),
    OpRecord("subtensor_to_scalar", lambda x: x[2, 1], [M], lambda x: np.asarray(x[2][1])),
    OpRecord("subtensor_static_shape", lambda x: x[1:3, 0], [F(4, 5, static=(4, 5))],
             lambda x: x[[1, 2], 0]),
    OpRecord("subtensor_symbolic_int", lambda x, i: x[i], [M, I(lo=-3, hi=3)],
             lambda x, i: np.take(x, i, axis=0)),
    OpRecord("subtensor_symbolic_slice", lambda x, a, b: x[a:b, 1:], [M, Given(-2), Given(3)],
             lambda x, a, b: x[[1, 2], 1:]),
    OpRecord("subtensor_symbolic_negative_step", lambda x, a, s: x[a::s],
             [F(7), Given(5), Given(-2)], lambda x, a, s: x[[5, 3, 1]]),
    OpRecord("subtensor_symbolic_positive_step", lambda x, s: x[:, -3::s],
             [F(2, 9), Given(2)], lambda x, s: x[:, [6, 8]]),
    OpRecord("subtensor_empty_slice", lambda x: x[3:1], [M], lambda x: np.zeros((0, 4))),
    # -- advanced indexing ------------------------------------------------------------------
    OpRecord("subtensor_adv_list", lambda x: x[[2, 0, 2]], [M],
             lambda x: np.stack([x[2], x[0], x[2]])),
    OpRecord("subtensor_adv_symbolic", lambda x, i: x[i], [M, I(2, 3, lo=-3, hi=3)],
             lambda x, i: np.take(x, i, axis=0)),
    OpRecord("subtensor_adv_columns", lambda x, i: x[1:, i], [M, I(5, lo=0, hi=4)],
             lambda x, i: np.take(x[1:], i, axis=1)),
    OpRecord("subtensor_adv_embedding", lambda w, c: w[c],
             [F(7, 5), I(4, 3, lo=-7, hi=7, dtype="int32")],
             lambda w, c: np.take(w, c, axis=0)),
    OpRecord("subtensor_adv_embedding_float32", lambda w, c: w[c, :],
             [F(6, 3, 2, dtype="float32"), I(5, lo=-6, hi=6)],
             lambda w, c: np.take(w, c, axis=0), grad=False),
    OpRecord("subtensor_adv_pair", lambda x, i, j: x[i, j], [M, I(2, 1, hi=3), I(3, hi=4)],
             lambda x, i, j: np.array([[x[a, b] for b in j] for a in i[:, 0]])),
    OpRecord("subtensor_adv_separated", lambda x, i, j: x[i, :, j], [T4, I(3, hi=2), I(3, hi=4)],
             lambda x, i, j: np.stack([x[a, :, b] for a, b in zip(i, j)])),
    OpRecord("subtensor_adv_int_and_array_separated", lambda x, j: x[:, 0, :, j],
             [T4, I(2, hi=5)], lambda x, j: np.stack([x[:, 0, :, b] for b in j])),
    OpRecord("subtensor_adv_mask", lambda x, m: x[m], [M, B(3, 4)],
             lambda x, m: x.ravel()[np.flatnonzero(m)]),
    OpRecord("subtensor_adv_mask_axis", lambda x, m: x[:, m], [M, B(4)],
             lambda x, m: x[:, np.flatnonzero(m)]),
    OpRecord("subtensor_adv_constant_mask", lambda x: x[np.array([True, False, True])], [M],
             lambda x: x[[0, 2]]),
    OpRecord("subtensor_take_axis", lambda x, i: st.take(x, i, axis=1), [M, I(2, 2, hi=4)],
             lambda x, i: np.moveaxis(np.stack([x[:, k] for k in i.ravel()]), 0, 1)
             .reshape(3, 2, 2)),
    # -- set / inc --------------------------------------------------------------------------
    OpRecord("subtensor_inc_basic", lambda x, y: st.inc_subtensor(x[1:, 0], y), [M, F(2)],
             lambda x, y: x + np.pad(y[:, None], ((1, 0), (0, 3)))),
    OpRecord("subtensor_set_basic", lambda x, y: st.set_subtensor(x[1:], y), [M, F(4)],
             lambda x, y: np.concatenate([x[:1], np.stack([y, y])])),
    OpRecord("subtensor_set_broadcast_static1",
             lambda x, y: st.set_subtensor(x[:, 1:3], y), [M, F(1, 2, static=(1, None))],
             lambda x, y: np.concatenate([x[:, :1], np.repeat(y, 3, 0), x[:, 3:]], axis=1)),
    OpRecord("subtensor_inc_symbolic_index", lambda x, y, i: st.inc_subtensor(x[i, ::2], y),
             [M, F(2), I(lo=-3, hi=3)], lambda x, y, i: _scatter(x, (i, slice(0, 4, 2)), y)),
    OpRecord("subtensor_inc_scalar_y", lambda x, y: st.inc_subtensor(x[0, 1], y), [M, F()],
             lambda x, y: _scatter(x, (0, 1), y)),
    OpRecord("subtensor_adv_inc_duplicates",
             lambda x, y: st.inc_subtensor(x[[0, 2, 0]], y), [M, F(3, 4)],
             lambda x, y: x + np.stack([y[0] + y[2], np.zeros(4), y[1]])),
    OpRecord("subtensor_adv_inc_rows",
             lambda x, y, i: st.inc_subtensor(x[i], y),
             [F(5, 2, 3), F(2, 3), I(2, 4, lo=-5, hi=5, dtype="int32")],
             lambda x, y, i: _scatter(x, i, np.broadcast_to(y, (2, 4, 2, 3)))),
    OpRecord("subtensor_adv_set_rows_duplicates",
             lambda x, y, i: st.set_subtensor(x[i], y),
             [F(4, 3, dtype="float32"), F(2, 2, 3, dtype="float32"), Given([[1, -1], [0, 1]])],
             lambda x, y, i: _scatter(x, np.array([[1, -1], [0, 1]]), y, False), grad=False),
    OpRecord("subtensor_adv_inc_pairs_broadcast",
             lambda x, y, i: st.inc_subtensor(x[i, i], y), [M, F(), Given([1, 1, 2])],
             lambda x, y, i: _scatter(x, ([1, 1, 2], [1, 1, 2]), y)),
    OpRecord("subtensor_adv_set", lambda x, y: st.set_subtensor(x[:, [3, 0]], y),
             [M, F(3, 2)], lambda x, y: _scatter(x, (slice(None), [3, 0]), y, False)),
    OpRecord("subtensor_adv_set_duplicates",
             lambda x, y: st.set_subtensor(x[[1, 1]], y), [M, F(2, 4)],
             lambda x, y: np.concatenate([x[:1], y[1:], x[2:]]), grad=False),
    OpRecord("subtensor_adv_inc_mask", lambda x, y, m: st.inc_subtensor(x[m], y),
             [M, F(1, static=(1,)), B(3, 4)], lambda x, y, m: x + np.where(m, y[0], 0.0)),
    OpRecord("subtensor_adv_set_mask_rows", lambda x, y, m: st.set_subtensor(x[m, 1:], y),
             [M, F(3), Given([True, False, True])],
             lambda x, y, m: np.concatenate([x[:, :1], np.where(m[:, None], y, x[:, 1:])],
                                            axis=1)),
    OpRecord("subtensor_inc_int_tensor", lambda x, y: st.inc_subtensor(x[::2], y),
             [I(5, hi=9), I(3, hi=9)], lambda x, y: x + np.array([y[0], 0, y[1], 0, y[2]]),
             grad=False),
]
