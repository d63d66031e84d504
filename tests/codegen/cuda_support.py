"""Helpers of the CUDA tests: the emulated backend (generated CUDA C built as host C++), and the
comparison of a backend's results with the reference's (also used by the LLVM record tests)."""

from __future__ import annotations

import contextlib
import shutil

import numpy as np
import pytest

import symgraph as sg
from symgraph import codegen
from symgraph import dtype as dt

# Device math (CUDA's libdevice, the host's libm through the emulator, or the LLVM kernels' own
# exp/log/...) and tree-ordered or reassociated sums differ from NumPy by a few ulps, which
# chained ops of a record can grow. Float32 records compare at 1e-5 relative already.
SLACK = {"float16": (2e-3, 1e-3), "float32": (2e-5, 2e-6), "float64": (1e-9, 1e-12)}


def emulated_backend():
    """A CudaBackend on the CPU emulator (skips when no C++ compiler is installed)."""
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("the CUDA emulator needs g++")
    from symgraph.codegen.cuda.backend import CudaBackend
    from symgraph.codegen.cuda.device import HostDevice

    return CudaBackend(HostDevice())


def strided(value: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous buffer (every other element of a larger array)."""
    if value.ndim == 0 or value.size == 0:
        return value
    big = np.zeros(tuple(2 * n for n in value.shape), dtype=value.dtype)
    view = big[tuple(slice(None, None, 2) for _ in value.shape)]
    view[...] = value
    return view


def compare(record, got, expected, outputs, what):
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


RAW = sg.Mode("py", rewrites=False)


def run_record(record, mode, values):
    variables, outputs = record.build()
    f = sg.function(variables, outputs, mode=mode, on_unused_input="ignore")
    return f(*[np.array(v, copy=True) for v in values]), outputs


def assert_matches_reference(record, mode):
    """``record`` on ``mode`` gives what the reference gives, on contiguous and strided inputs."""
    values = record.values()
    expected, outputs = run_record(record, RAW, values)
    got, _ = run_record(record, mode, values)
    compare(record, got, expected, outputs, "contiguous")
    if any(np.ndim(v) > 0 for v in values):
        got, _ = run_record(record, mode, [strided(np.asarray(v)) for v in values])
        compare(record, got, expected, outputs, "strided")


@contextlib.contextmanager
def installed_as_cuda(backend, compiledir):
    """``backend`` serves mode "cuda" (with its cache in ``compiledir``) inside the block."""
    saved = codegen._INSTANCES.get("cuda")
    codegen._INSTANCES["cuda"] = backend
    with sg.config.change_flags(compiledir=compiledir):
        yield backend
    if saved is None:
        codegen._INSTANCES.pop("cuda", None)
    else:
        codegen._INSTANCES["cuda"] = saved
