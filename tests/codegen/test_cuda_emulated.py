"""The CUDA backend on the CPU emulator: every op record gives what the reference gives, on
contiguous and strided inputs. The kernels are the generated CUDA C, built as host C++ and run
as one block of one thread, so this checks their meaning (indexing, broadcasting, dtypes, the
scalar rules), the placement and transfers, views and the cuBLAS calls, but not parallel
execution: that needs a GPU (tests marked ``cuda``)."""

from __future__ import annotations

import pytest

from tests.codegen.cuda_support import (assert_matches_reference, emulated_backend,
                                        installed_as_cuda)
from tests.records import all_records

RECORDS = all_records()


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    with installed_as_cuda(emulated_backend(),
                           str(tmp_path_factory.getbasetemp() / "cache")) as backend:
        yield backend


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_emulated_cuda_matches_reference(emulated, record):
    assert_matches_reference(record, "cuda")
