"""Row softmax of a matrix on llvm runs in blocks of rows (codegen/llvm/native_nnet.py): every
block size and remainder, strided inputs and both float dtypes equal NumPy's formula."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm.irgen import GIL_RELEASE_WORK


def _reference(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [
    (1, 1), (3, 5),
    (40, GIL_RELEASE_WORK // 16),  # blocks of 17 rows: two whole blocks and a remainder
    (3, GIL_RELEASE_WORK + 7),  # rows longer than a block: one row per block
    (GIL_RELEASE_WORK // 4, 9),  # one block of many short rows
])
def test_row_softmax_in_blocks_matches_numpy(dtype, shape):
    m = sg.matrix("m", dtype=dtype)
    f = sg.function([m], sg.nnet.softmax(m, axis=1), mode="llvm", profile=True)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    strided = np.repeat(x, 2, axis=1)[:, ::2]  # the same values, every other element
    for value in (x, strided):
        got = f(value)
        tolerance = dict(rtol=2e-6, atol=1e-9) if dtype == "float32" else dict(rtol=1e-13)
        np.testing.assert_allclose(got, _reference(value.astype("float64")), **tolerance)
    assert set(f.profile.node_notes.values()) == {"kernels"}
