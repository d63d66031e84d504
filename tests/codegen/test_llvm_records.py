"""Every op record runs on the "llvm" backend and gives what the reference ("py", graph as
built) gives, on contiguous inputs and on strided (non-contiguous) views of the same values."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph import dtype as dt
from tests.records import all_records

pytest.importorskip("llvmlite")

RECORDS = all_records()
RAW = sg.Mode("py", rewrites=False)
LLVM = sg.Mode("llvm")

# Kernels use their own exp/log/... and reassociated sums: a few ulps from NumPy's, which the
# chained ops of a record can grow. Float32 records compare at 1e-5 relative already.
SLACK = {"float16": (2e-3, 1e-3), "float32": (2e-5, 2e-6), "float64": (1e-9, 1e-12)}


def _run(record, mode, values):
    variables, outputs = record.build()
    f = sg.function(variables, outputs, mode=mode, on_unused_input="ignore")
    return f(*[np.array(v, copy=True) for v in values]), outputs


def _strided(value: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous buffer (every other element of a larger array)."""
    if value.ndim == 0 or value.size == 0:
        return value
    big = np.zeros(tuple(2 * n for n in value.shape), dtype=value.dtype)
    view = big[tuple(slice(None, None, 2) for _ in value.shape)]
    view[...] = value
    return view


def _compare(record, got, expected, outputs, what):
    assert len(got) == len(expected)
    for g, e, out in zip(got, expected, outputs):
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype, f"{record.name} {what}: dtype {g.dtype} != {e.dtype}"
        assert g.shape == e.shape, f"{record.name} {what}: shape {g.shape} != {e.shape}"
        if dt.is_float(out.dtype):
            rtol, atol = record.tolerances(out.dtype)
            slack_rtol, slack_atol = SLACK[out.dtype]
            np.testing.assert_allclose(g, e, rtol=max(rtol, slack_rtol),
                                       atol=max(atol, slack_atol), equal_nan=True,
                                       err_msg=f"{record.name} {what}")
        else:
            np.testing.assert_array_equal(g, e, err_msg=f"{record.name} {what}")


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_llvm_matches_reference(record):
    values = record.values()
    expected, outputs = _run(record, RAW, values)
    got, _ = _run(record, LLVM, values)
    _compare(record, got, expected, outputs, "contiguous")
    if any(np.ndim(v) > 0 for v in values):
        got, _ = _run(record, LLVM, [_strided(np.asarray(v)) for v in values])
        _compare(record, got, expected, outputs, "strided")
