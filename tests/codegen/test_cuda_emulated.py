"""The CUDA backend on the CPU emulator: every op record gives what the reference gives, on
contiguous and strided inputs. The kernels are the generated CUDA C, built as host C++ and run
as one block of one thread, so this checks their meaning (indexing, broadcasting, dtypes, the
scalar rules), the placement and transfers, views and the cuBLAS calls, but not parallel
execution: that needs a GPU (tests marked ``cuda``)."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph import codegen
from tests.codegen.cuda_support import compare, emulated_backend, strided
from tests.records import all_records

RECORDS = all_records()
RAW = sg.Mode("py", rewrites=False)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    backend = emulated_backend()
    saved = codegen._INSTANCES.get("cuda")
    codegen._INSTANCES["cuda"] = backend
    with sg.config.change_flags(compiledir=str(tmp_path_factory.getbasetemp() / "cache")):
        yield backend
    if saved is None:
        codegen._INSTANCES.pop("cuda", None)
    else:
        codegen._INSTANCES["cuda"] = saved


def _run(record, mode, values):
    variables, outputs = record.build()
    f = sg.function(variables, outputs, mode=mode, on_unused_input="ignore")
    return f(*[np.array(v, copy=True) for v in values]), outputs


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_emulated_cuda_matches_reference(emulated, record):
    values = record.values()
    expected, outputs = _run(record, RAW, values)
    got, _ = _run(record, "cuda", values)
    compare(record, got, expected, outputs, "contiguous")
    if any(np.ndim(v) > 0 for v in values):
        got, _ = _run(record, "cuda", [strided(np.asarray(v)) for v in values])
        compare(record, got, expected, outputs, "strided")
