"""Compiling generated CUDA C: NVRTC (from the ``cuda-bindings`` and ``nvidia-cuda-nvrtc`` wheels)
to a cubin for an explicit architecture, ``nvcc`` as the fallback, and g++ for the CPU emulator.

Cubins are cached on disk under ``config.compiledir``/cuda, keyed by a hash of the source, the
architecture and the compiler's version, through ``diskcache``: an entry is used only if this
user stored it under that key (HMAC), otherwise it is rebuilt; builds run under a bounded
file lock, so concurrent processes compile each kernel once.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from symgraph.codegen import diskcache

MAGIC = b"SGCUBIN2\n"
CACHE = diskcache.DiskCache("cuda", MAGIC, (".cubin", ".so"))
NVRTC_OPTIONS = ("-default-device", "-std=c++17", "-w")


class CompileError(RuntimeError):
    """The CUDA compiler rejected generated code (a bug in a kernel generator); the message
    holds the compiler's log."""


# -- NVRTC --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _nvrtc() -> object | None:
    try:
        from cuda.bindings import nvrtc
    except ImportError:
        return None
    try:
        err, _, _ = nvrtc.nvrtcVersion()
    except Exception:  # noqa: BLE001 - the wheel is there but libnvrtc cannot be loaded
        return None
    return nvrtc if int(err) == 0 else None


def nvrtc_available() -> bool:
    return _nvrtc() is not None


def nvcc_path() -> str | None:
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)


@functools.lru_cache(maxsize=1)
def compiler_version() -> str:
    """``nvrtc-13.0`` or ``nvcc-...``: part of every cache key."""
    nvrtc = _nvrtc()
    if nvrtc is not None:
        _, major, minor = nvrtc.nvrtcVersion()  # type: ignore[attr-defined]
        return f"nvrtc-{major}.{minor}"
    nvcc = nvcc_path()
    if nvcc is None:
        return "none"
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False).stdout
    return "nvcc-" + hashlib.sha1(out.encode()).hexdigest()[:12]


def _check(nvrtc: object, result: object, prog: object, what: str) -> None:
    err = result[0] if isinstance(result, tuple) else result
    if int(err) != 0:  # type: ignore[call-overload]
        raise CompileError(f"NVRTC {what} failed ({err}):\n{_log(nvrtc, prog)}")


def _log(nvrtc: object, prog: object) -> str:
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)  # type: ignore[attr-defined]
    buffer = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, buffer)  # type: ignore[attr-defined]
    return buffer.rstrip(b"\x00 ").decode(errors="replace")


def nvrtc_compile(source: str, arch: str, target: str = "cubin") -> bytes:
    """Compile ``source`` with NVRTC for ``arch`` (``sm_90``); ``target`` ``cubin`` or ``ptx``.

    Raises
    ------
    CompileError
        With the compiler log, when the source does not compile.
    """
    nvrtc = _nvrtc()
    if nvrtc is None:
        raise CompileError("NVRTC is not available (pip install cuda-bindings "
                           "'nvidia-cuda-nvrtc==13.0.*')")
    create = nvrtc.nvrtcCreateProgram  # type: ignore[attr-defined]
    err, prog = create(source.encode(), b"symgraph.cu", 0, [], [])
    _check(nvrtc, err, prog, "program creation")
    try:
        gpu = arch if target == "cubin" else arch.replace("sm_", "compute_")
        options = [f"--gpu-architecture={gpu}".encode()] + [o.encode() for o in NVRTC_OPTIONS]
        compile_program = nvrtc.nvrtcCompileProgram  # type: ignore[attr-defined]
        result = compile_program(prog, len(options), options)
        _check(nvrtc, result, prog, "compilation")
        if target == "cubin":
            _, size = nvrtc.nvrtcGetCUBINSize(prog)  # type: ignore[attr-defined]
            buffer = b" " * size
            nvrtc.nvrtcGetCUBIN(prog, buffer)  # type: ignore[attr-defined]
        else:
            _, size = nvrtc.nvrtcGetPTXSize(prog)  # type: ignore[attr-defined]
            buffer = b" " * size
            nvrtc.nvrtcGetPTX(prog, buffer)  # type: ignore[attr-defined]
        return bytes(buffer)
    finally:
        nvrtc.nvrtcDestroyProgram(prog)  # type: ignore[attr-defined]


def nvcc_compile(source: str, arch: str) -> bytes:
    """The fallback: ``nvcc -cubin`` (slower to start: 0.3-1 s a module)."""
    nvcc = nvcc_path()
    if nvcc is None:
        raise CompileError("neither NVRTC nor nvcc is available to compile CUDA C")
    return _run_compiler(source, "k.cu", "k.cubin",
                         [nvcc, "-cubin", f"-arch={arch}", "-std=c++17", "-w"],
                         lambda stderr: f"nvcc failed:\n{stderr}")


def _run_compiler(source: str, source_name: str, output_name: str, command: list[str],
                  failure: Callable[[str], str]) -> bytes:
    """Run ``command + ["-o", output, source file]`` in a temporary directory; the output's
    bytes, or CompileError with ``failure(stderr)``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / source_name
        path.write_text(source)
        out = Path(tmp) / output_name
        proc = subprocess.run([*command, "-o", str(out), str(path)], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise CompileError(failure(proc.stderr))
        return out.read_bytes()


def compile_cubin(source: str, arch: str) -> bytes:
    """A cubin of ``source`` for ``arch``, from the disk cache when it has one."""
    key = hashlib.sha256(f"{arch}\n{compiler_version()}\n{source}".encode()).hexdigest()

    def build() -> bytes:
        if nvrtc_available():
            return nvrtc_compile(source, arch)
        return nvcc_compile(source, arch)

    return get_or_build(key, build, ".cubin", looks_like_cubin)


# -- g++ for the CPU emulator -------------------------------------------------------------------
def compile_host(source: str) -> Path:
    """A shared library of ``source`` built as host C++ (``SG_HOST``), cached on disk."""
    key = hashlib.sha256(("host\n" + source).encode()).hexdigest()

    def build() -> bytes:
        compiler = shutil.which("g++") or shutil.which("c++")
        if compiler is None:
            raise CompileError("the CUDA emulator needs a C++ compiler (g++)")
        return _run_compiler(source, "k.cpp", "k.so",
                             [compiler, "-O1", "-shared", "-fPIC", "-std=gnu++17",
                              "-fno-strict-aliasing"],
                             lambda stderr: "host compilation of generated CUDA C failed:\n"
                                            f"{stderr[:20000]}")

    data = get_or_build(key, build, ".so", lambda d: d[:4] == b"\x7fELF")
    # The dynamic loader needs a file: in the cache directory when it is trusted, else in a
    # directory of this process's own.
    folder = directory() / "host" if CACHE.is_on_disk() else _scratch_directory()
    target = folder / f"{key}.so"
    if not target.exists() or target.read_bytes() != data:
        diskcache.write_atomic(target, data)
    return target


@functools.lru_cache(maxsize=1)
def _scratch_directory() -> Path:
    folder = tempfile.mkdtemp(prefix="symgraph-host-")  # mode 0700
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


# -- the disk cache -----------------------------------------------------------------------------
def directory() -> Path:
    return CACHE.directory()


def looks_like_cubin(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def load(key: str, suffix: str, valid: Callable[[bytes], bool]) -> bytes | None:
    """The entry stored under ``key``, or None if absent, damaged or not stored by this user
    under this key."""
    return CACHE.load(key, suffix, valid)


def store(key: str, suffix: str, data: bytes) -> None:
    """Write atomically (rename); errors are ignored: the cache is an optimisation."""
    CACHE.store(key, suffix, data)


def get_or_build(key: str, build: Callable[[], bytes], suffix: str = ".cubin",
                 valid: Callable[[bytes], bool] = looks_like_cubin) -> bytes:
    return CACHE.get_or_build(key, build, suffix, valid)[0]


def entries() -> list[Path]:
    return CACHE.entries()
