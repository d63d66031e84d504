"""Every CUDA kernel the backend generates compiles with NVRTC (to a cubin for sm_90, through
ptxas): every elementwise table row in every dtype it accepts, every reduction kind in every
dtype, softmax/crossentropy, indexing, Philox, im2col and pooling. No GPU is needed; kernels
are batched into a few programs because each NVRTC run has a fixed cost."""

from __future__ import annotations

import os

import pytest

from symgraph.codegen.cuda import catalog
from symgraph.codegen.cuda import compile as cc
from symgraph.codegen.cuda import kernel as kn
from symgraph.codegen.cuda import reduction as rd

pytest.importorskip("cuda.bindings.nvrtc", reason="NVRTC needs cuda-bindings and "
                    "nvidia-cuda-nvrtc (the test extra)")
if not cc.nvrtc_available():
    pytest.skip("the NVRTC library (nvidia-cuda-nvrtc) cannot be loaded",
                allow_module_level=True)

ARCH = "sm_90"


def _compiles(kernels: list[kn.Kernel]) -> bytes:
    cubin = cc.nvrtc_compile(kn.program_source(kernels), ARCH)
    assert cc.looks_like_cubin(cubin)
    return cubin


def test_every_table_row_compiles_in_every_dtype():
    kernels, missing = catalog.table_kernels()
    assert not missing
    programs, _ = catalog.table_programs()
    rows = {row.name for _, program, _ in programs for row, _, _ in program.steps}
    assert rows >= {row.name for row in catalog.table_rows()}
    cubin = _compiles(kernels)
    assert all(k.name.encode() in cubin for k in kernels)


def test_every_reduction_kind_compiles_in_every_dtype():
    specs = catalog.reduction_specs()
    assert {s.kind for s in specs} == set(rd.KINDS)
    _compiles([rd.reduce_kernels(s)[0] for s in specs])


def test_reduction_modules_compile_whole():
    specs = [s for s in catalog.reduction_specs() if s.acc_dtype == "float32" or
             s.kind in ("argmax", "and_")][:12]
    _compiles([k for s in specs for k in rd.reduce_kernels(s)])


def test_other_kernels_compile():
    _compiles(catalog.other_kernels())


def test_ptx_targets_a_cuda_13_0_driver():
    """PTX newer than the driver cannot be loaded: NVRTC is pinned to the 13.0 series."""
    ptx = cc.nvrtc_compile(kn.program_source(catalog.other_kernels()[:1]), ARCH, "ptx")
    version = next(line for line in ptx.decode().splitlines() if line.startswith(".version"))
    major, minor = (int(p) for p in version.split()[1].split("."))
    assert (major, minor) <= (9, 0), version


def test_compile_errors_carry_the_log():
    with pytest.raises(cc.CompileError, match="undefined"):
        cc.nvrtc_compile('extern "C" __global__ void k() { undefined_thing(); }', ARCH)


def test_cubin_cache_reuses_and_rebuilds_damaged_entries(tmp_path, monkeypatch):
    import symgraph as sg

    source = kn.program_source(catalog.other_kernels()[:1])
    calls = []
    real = cc.nvrtc_compile
    monkeypatch.setattr(cc, "nvrtc_compile", lambda *a, **k: calls.append(1) or real(*a, **k))
    with sg.config.change_flags(compiledir=str(tmp_path)):
        first = cc.compile_cubin(source, ARCH)
        second = cc.compile_cubin(source, ARCH)
        assert first == second and len(calls) == 1
        (entry,) = [p for p in cc.entries() if p.suffix == ".cubin"]
        entry.write_bytes(entry.read_bytes()[:-10])  # truncated: the checksum fails
        assert cc.compile_cubin(source, ARCH) == first and len(calls) == 2


def _counting_nvrtc(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = cc.nvrtc_compile
    monkeypatch.setattr(cc, "nvrtc_compile", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_cubin_cache_rejects_swapped_and_forged_entries(tmp_path, monkeypatch):
    """The cubin cache makes the checks of ``diskcache``: an entry stored under another key, or
    without this user's secret, is compiled again and overwritten."""
    import symgraph as sg
    from symgraph.codegen import diskcache

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    sources = [kn.program_source([k]) for k in catalog.other_kernels()[:2]]
    calls = _counting_nvrtc(monkeypatch)
    with sg.config.change_flags(compiledir=str(tmp_path / "cache")):
        cubins = [cc.compile_cubin(s, ARCH) for s in sources]
        first, second = cc.entries()
        good = first.read_bytes(), second.read_bytes()
        first.write_bytes(good[1])
        second.write_bytes(good[0])
        assert [cc.compile_cubin(s, ARCH) for s in sources] == cubins and len(calls) == 4
        assert (first.read_bytes(), second.read_bytes()) == good
        for entry, other in ((first, cubins[1]), (second, cubins[0])):
            entry.write_bytes(diskcache.encode(cc.MAGIC, entry.stem, other, os.urandom(32)))
        assert [cc.compile_cubin(s, ARCH) for s in sources] == cubins and len(calls) == 6
        assert [cc.compile_cubin(s, ARCH) for s in sources] == cubins and len(calls) == 6


def test_cubin_cache_in_a_directory_others_may_write_stays_in_memory(tmp_path, monkeypatch):
    from collections import OrderedDict

    import symgraph as sg
    from symgraph.codegen import diskcache
    from symgraph.codegen.cachetrust import CacheWarning

    monkeypatch.setattr(diskcache, "_MEMORY", OrderedDict())
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    source = kn.program_source(catalog.other_kernels()[2:3])
    calls = _counting_nvrtc(monkeypatch)
    with sg.config.change_flags(compiledir=str(shared)):
        with pytest.warns(CacheWarning, match="mode 0777"):
            first = cc.compile_cubin(source, ARCH)
        assert cc.compile_cubin(source, ARCH) == first and len(calls) == 1
    assert not list(shared.iterdir())
