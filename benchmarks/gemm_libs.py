"""The BLAS libraries gemm_survey.py compares, each found if installed and held to one thread,
and the C timing loops (gemm_timer.c) that call them.

A ``Problem`` is ``C = op(A) op(B)`` with ``op(A)`` m x k and ``op(B)`` k x n, in one of three
forms: ``NN``; ``TN`` (``A`` stored k x m, the weight gradient ``X^T dY``); ``NT`` (``B``
stored n x k, the input gradient ``dY W^T``).
"""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

P, I64 = ctypes.c_void_p, ctypes.c_int64
NO_TRANS, TRANS = 111, 112


@dataclass
class Problem:
    m: int
    n: int
    k: int
    form: str
    dtype: str
    a: np.ndarray = field(init=False)
    b: np.ndarray = field(init=False)
    c: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(0)
        a_shape = (self.k, self.m) if self.form == "TN" else (self.m, self.k)
        b_shape = (self.n, self.k) if self.form == "NT" else (self.k, self.n)
        self.a = rng.standard_normal(a_shape).astype(self.dtype)
        self.b = rng.standard_normal(b_shape).astype(self.dtype)
        self.c = np.zeros((self.m, self.n), self.dtype)

    @property
    def op_a(self) -> np.ndarray:
        return self.a.T if self.form == "TN" else self.a

    @property
    def op_b(self) -> np.ndarray:
        return self.b.T if self.form == "NT" else self.b

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k


@dataclass
class Library:
    """``time(problem, calls)``: (wall, process CPU) seconds per call, the product left in
    ``problem.c``."""

    name: str
    note: str
    time: Callable[[Problem, int], tuple[float, float]]
    keep: list = field(default_factory=list)  # buffers the library's code points into


def build_timer() -> ctypes.CDLL | None:
    """gemm_timer.c compiled into a shared library, or None without a C compiler."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    folder = tempfile.mkdtemp(prefix="gemm-timer-")
    target = os.path.join(folder, "gemm_timer.so")
    source = Path(__file__).resolve().parent / "gemm_timer.c"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", target, str(source)], check=True)
    timer = ctypes.CDLL(target)
    for name in ("cblas32_s", "cblas32_d", "cblas64_s", "cblas64_d", "blis_s", "blis_d",
                 "dnnl_s", "static_kernel", "clock_hz"):
        getattr(timer, name).restype = ctypes.c_double
    return timer


def _symbols(handle: ctypes.CDLL, names: dict[str, str]) -> dict[str, int]:
    return {dtype: ctypes.cast(getattr(handle, name), P).value for dtype, name in names.items()}


def _cblas(timer: ctypes.CDLL, pointers: dict[str, int],
           int_bits: int) -> Callable[[Problem, int], tuple[float, float]]:
    """A timer of the row-major CBLAS ?gemm at ``pointers`` (dtype -> address)."""
    def run(p: Problem, calls: int) -> tuple[float, float]:
        loop = getattr(timer, f"cblas{int_bits}_{'s' if p.dtype == 'float32' else 'd'}")
        ta = TRANS if p.form == "TN" else NO_TRANS
        tb = TRANS if p.form == "NT" else NO_TRANS
        cpu = ctypes.c_double()
        wall = loop(P(pointers[p.dtype]), ta, tb, I64(p.m), I64(p.n), I64(p.k),
                    P(p.a.ctypes.data), I64(p.a.shape[1]), P(p.b.ctypes.data),
                    I64(p.b.shape[1]), P(p.c.ctypes.data), I64(p.n), I64(calls),
                    ctypes.byref(cpu))
        return wall, cpu.value
    return run


def _one_thread(handle: ctypes.CDLL, *names: str) -> None:
    for name in names:
        setter = getattr(handle, name, None)
        if setter is not None:
            setter(1)


def _openblas(timer: ctypes.CDLL, path: str, suffix: str, int_bits: int) -> Callable:
    handle = ctypes.CDLL(path)
    _one_thread(handle, f"scipy_openblas_set_num_threads{suffix}")
    names = {"float32": f"scipy_cblas_sgemm{suffix}", "float64": f"scipy_cblas_dgemm{suffix}"}
    return _cblas(timer, _symbols(handle, names), int_bits)


def _openblas_version(path: str, suffix: str) -> str:
    get = getattr(ctypes.CDLL(path), f"scipy_openblas_get_config{suffix}", None)
    if get is None:
        return os.path.basename(path)
    get.restype = ctypes.c_char_p
    return " ".join(get().decode().split()[:2])


def symgraph_blas(timer: ctypes.CDLL) -> Library | None:
    """The library symgraph's generated code calls today (NumPy's bundled OpenBLAS)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from symgraph.codegen.llvm import blas

    lib = blas.library()
    if lib is None:
        return None
    handle = ctypes.CDLL(lib.path)
    _one_thread(handle, "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                "openblas_set_num_threads")
    pointers = {"float32": lib.addresses["sgemm"], "float64": lib.addresses["dgemm"]}
    run = _cblas(timer, pointers, lib.int_bits)
    return Library("symgraph's BLAS", "NumPy's " + _openblas_version(lib.path, "64_"), run)


def scipy_openblas(timer: ctypes.CDLL, bits: int) -> Library | None:
    try:
        module = __import__(f"scipy_openblas{bits}")
    except ImportError:
        return None
    path = os.path.join(module.get_lib_dir(), f"lib{module.get_library()}.so")
    suffix = "64_" if bits == 64 else ""
    return Library(f"scipy-openblas{bits}", _openblas_version(path, suffix),
                   _openblas(timer, path, suffix, bits))


def mkl(timer: ctypes.CDLL) -> Library | None:
    folders = {os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")}
    found = sorted(p for f in folders for p in glob.glob(os.path.join(f, "libmkl_rt.so*")))
    if not found:
        return None
    handle = ctypes.CDLL(found[0])
    _one_thread(handle, "MKL_Set_Num_Threads")
    version = ctypes.create_string_buffer(256)
    handle.MKL_Get_Version_String(version, 256)
    words = version.value.decode().split()
    note = "MKL " + (words[words.index("Version") + 1] if "Version" in words else "?")
    return Library("MKL", note, _cblas(timer, _symbols(handle, {"float32": "cblas_sgemm",
                                                                 "float64": "cblas_dgemm"}), 32))


def blis(timer: ctypes.CDLL) -> list[Library]:
    """BLIS with the kernels it picks for this CPU, and, when that is its generic (portable C)
    configuration, with a context built for each x86 configuration the CPU can run."""
    try:
        import blis.cy
    except ImportError:
        return []
    handle = ctypes.CDLL(blis.cy.__file__)
    _one_thread(handle, "bli_thread_set_num_threads")
    handle.bli_arch_string.restype = ctypes.c_char_p
    handle.bli_info_get_version_str.restype = ctypes.c_char_p
    chosen = handle.bli_arch_string(handle.bli_arch_query_id()).decode()
    version = handle.bli_info_get_version_str().decode()
    out = [_blis_library(timer, handle, f"BLIS ({chosen})", f"{version}, kernels it picks", None)]
    if chosen != "generic":
        return out
    flags = _cpu_flags()
    for config, needs in (("haswell", {"avx2", "fma"}), ("skx", {"avx512f", "avx512dq"})):
        if needs <= flags and hasattr(handle, f"bli_cntx_init_{config}"):
            context = ctypes.create_string_buffer(1 << 20)  # larger than a cntx_t
            getattr(handle, f"bli_cntx_init_{config}")(context)
            out.append(_blis_library(timer, handle, f"BLIS ({config})",
                                     f"{version}, {config} context forced", context))
    return out


def _blis_library(timer: ctypes.CDLL, handle: ctypes.CDLL, name: str, note: str,
                  context: ctypes.Array | None) -> Library:
    pointers = {"float32": ctypes.cast(handle.bli_sgemm_ex, P).value,
                "float64": ctypes.cast(handle.bli_dgemm_ex, P).value}
    cntx = P(ctypes.addressof(context)) if context is not None else P(0)

    def run(p: Problem, calls: int) -> tuple[float, float]:
        loop = timer.blis_s if p.dtype == "float32" else timer.blis_d
        rsa, csa = (1, p.m) if p.form == "TN" else (p.k, 1)
        rsb, csb = (1, p.k) if p.form == "NT" else (p.n, 1)
        cpu = ctypes.c_double()
        wall = loop(P(pointers[p.dtype]), cntx, I64(p.m), I64(p.n), I64(p.k),
                    P(p.a.ctypes.data), I64(rsa), I64(csa), P(p.b.ctypes.data), I64(rsb),
                    I64(csb), P(p.c.ctypes.data), I64(calls), ctypes.byref(cpu))
        return wall, cpu.value
    return Library(name, note, run, [context])


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def onednn(timer: ctypes.CDLL) -> Library | None:
    """oneDNN's ``dnnl_sgemm`` (a wheel such as ``onednn-cpu-gomp`` puts ``libdnnl.so`` in
    the environment's ``lib``); float32 only, one OpenMP thread (``OMP_NUM_THREADS=1``)."""
    folders = {os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")}
    found = sorted(p for f in folders for p in glob.glob(os.path.join(f, "libdnnl.so*")))
    if not found:
        return None
    handle = ctypes.CDLL(found[0])

    class Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int)]

    handle.dnnl_version.restype = ctypes.POINTER(Version)
    version = handle.dnnl_version().contents
    address = ctypes.cast(handle.dnnl_sgemm, P).value

    def run(p: Problem, calls: int) -> tuple[float, float]:
        if p.dtype != "float32":
            raise NotImplementedError("oneDNN has no float64 gemm")
        cpu = ctypes.c_double()
        wall = timer.dnnl_s(P(address), ctypes.c_char(b"T" if p.form == "TN" else b"N"),
                            ctypes.c_char(b"T" if p.form == "NT" else b"N"), I64(p.m),
                            I64(p.n), I64(p.k), P(p.a.ctypes.data), I64(p.a.shape[1]),
                            P(p.b.ctypes.data), I64(p.b.shape[1]), P(p.c.ctypes.data),
                            I64(p.n), I64(calls), ctypes.byref(cpu))
        if wall < 0:
            raise RuntimeError("dnnl_sgemm failed")
        return wall, cpu.value
    return Library("oneDNN", f"oneDNN {version.major}.{version.minor}.{version.patch} "
                   "dnnl_sgemm", run)


def libraries(timer: ctypes.CDLL) -> list[Library]:
    found = [symgraph_blas(timer), scipy_openblas(timer, 64), scipy_openblas(timer, 32),
             mkl(timer), onednn(timer)]
    return [lib for lib in found if lib is not None] + blis(timer)


def peak(timer: ctypes.CDLL) -> dict[str, float]:
    """Single-core peak GFLOP/s from the measured clock and the FMA width the CPU flags show:
    two FMA pipes, each 512 bits wide on Intel AVX-512 parts and 256 bits otherwise (AMD Zen 4
    runs AVX-512 on 256-bit pipes)."""
    hz = max(timer.clock_hz(I64(20_000_000)) for _ in range(3))
    flags = _cpu_flags()
    vendor = ""
    try:
        vendor = next(line for line in open("/proc/cpuinfo") if line.startswith("vendor_id"))
    except (OSError, StopIteration):
        pass
    bits = 512 if "avx512f" in flags and "GenuineIntel" in vendor else 256
    if "fma" not in flags:
        bits = 128
    return {"GHz": hz / 1e9,
            "float32": hz * 2 * 2 * bits / 32 / 1e9, "float64": hz * 2 * 2 * bits / 64 / 1e9}
