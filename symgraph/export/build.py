"""Libraries from object code: the C wrapper compiled by the system C compiler, then ``ar``
(static library) and ``cc -shared`` (shared library exporting only the public API), linked
against the CBLAS the export chose.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from symgraph.codegen import ExportError
from symgraph.codegen.llvm import blas


@dataclass
class BlasLink:
    """The CBLAS the library links against: symbol names and the link line."""

    description: str
    symbols: dict[str, str]  # routine (sgemm, ...) -> symbol
    link: list[str]


def openblas(directory: str | None = None) -> BlasLink:
    """OpenBLAS from the scipy-openblas64 wheel (the build NumPy bundles: ILP64 CBLAS with
    ``scipy_cblas_*64_`` symbols, the integer width the generated code passes): the installed
    wheel's, or the ``libscipy_openblas64_.so`` in ``directory`` (from the wheel of another
    platform, for a cross target)."""
    lib = blas.library()
    if lib is None or lib.int_bits != 64:
        raise ExportError("the native BLAS calls use 64-bit integers here; the export "
                          "links ILP64 OpenBLAS only")
    if directory is not None:
        if not os.path.exists(os.path.join(directory, "libscipy_openblas64_.so")):
            raise ExportError(f"blas_dir: {directory} has no libscipy_openblas64_.so")
        description = f"OpenBLAS (ILP64) from {os.path.abspath(directory)}"
    else:
        try:
            import scipy_openblas64 as wheel  # type: ignore[import-untyped]
        except ImportError as err:
            raise ExportError("exporting matrix products needs a CBLAS: pip install "
                              "'symgraph[export]' (the scipy-openblas64 wheel)") from err
        directory = wheel.get_lib_dir()
        description = f"OpenBLAS {getattr(wheel, '__version__', '?')} (ILP64) from the " \
                      "scipy-openblas64 wheel"
    directory = os.path.abspath(directory)
    return BlasLink(description, {r: f"scipy_cblas_{r}64_" for r in blas.ROUTINES},
                    [f"-L{directory}", "-lscipy_openblas64_", f"-Wl,-rpath,{directory}",
                     f"-Wl,-rpath-link,{directory}", "-Wl,-rpath,$ORIGIN"])


def run(command: list[str], cwd: str) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ExportError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")


def archiver(cc: str) -> str:
    """``ar`` of the toolchain of the compiler ``cc`` (``aarch64-linux-gnu-ar`` for
    ``aarch64-linux-gnu-gcc``), or the system's."""
    for suffix in ("gcc", "cc", "clang"):
        if cc.endswith("-" + suffix):
            candidate = cc[:-len(suffix)] + "ar"
            if shutil.which(candidate):
                return candidate
    return "ar"


def link(directory: str, library: str, objects: list[tuple[str, bytes]], c_source: str,
         public: list[str], libraries: list[str], cc: str) -> None:
    """Write the objects and the wrapper under ``directory/build``, then ``lib{library}.a`` and
    ``lib{library}.so`` in ``directory``."""
    work = os.path.join(directory, "build")
    os.makedirs(work, exist_ok=True)
    paths = []
    for name, data in objects:
        path = os.path.join(work, name)
        with open(path, "wb") as file:
            file.write(data)
        paths.append(path)
    wrapper = os.path.join(work, f"{library}.c")
    with open(wrapper, "w") as file:
        file.write(c_source)
    wrapper_object = os.path.join(work, f"{library}_wrapper.o")
    run([cc, "-std=c11", "-O2", "-fPIC", "-Wall", "-I", directory, "-c", wrapper,
         "-o", wrapper_object], directory)
    paths.append(wrapper_object)
    static = os.path.join(directory, f"lib{library}.a")
    if os.path.exists(static):
        os.remove(static)
    run([archiver(cc), "rcs", static, *paths], directory)
    script = os.path.join(work, f"{library}.map")
    with open(script, "w") as file:
        file.write("{\n  global:\n" + "".join(f"    {s};\n" for s in public) +
                   "  local: *;\n};\n")
    run([cc, "-shared", "-o", os.path.join(directory, f"lib{library}.so"), *paths,
         f"-Wl,--version-script={script}", f"-Wl,-soname,lib{library}.so", *libraries],
        directory)
