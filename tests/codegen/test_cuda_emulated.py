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


@pytest.mark.parametrize("trusted", [True, False])
def test_host_libraries_stay_out_of_an_untrusted_cache(tmp_path, trusted):
    """The emulator's shared libraries are loaded from a file: from the cache directory when it
    is trusted, else from a private directory of the process, never from the refused one."""
    import ctypes
    import shutil
    import warnings

    import symgraph as sg
    from symgraph.codegen.cuda import compile as cc

    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700 if trusted else 0o777)
    cache.chmod(0o700 if trusted else 0o777)
    source = f'extern "C" int sg_answer() {{ return {42 + trusted}; }}\n'
    with sg.config.change_flags(compiledir=str(cache)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = cc.compile_host(source)
    assert ctypes.CDLL(str(path)).sg_answer() == 42 + trusted
    assert path.is_relative_to(cache) == trusted
    assert path.parent.stat().st_mode & 0o077 == 0
