"""Every op record runs on the "llvm" backend and gives what the reference ("py", graph as
built) gives, on contiguous inputs and on strided (non-contiguous) views of the same values."""

from __future__ import annotations

import pytest

import symgraph as sg
from tests.codegen.cuda_support import assert_matches_reference
from tests.records import all_records

pytest.importorskip("llvmlite")

RECORDS = all_records()
LLVM = sg.Mode("llvm")


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_llvm_matches_reference(record):
    assert_matches_reference(record, LLVM)
