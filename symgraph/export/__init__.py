"""Ahead-of-time export: compiled functions as a C header plus static and shared libraries
that run them with no Python (``sg.export(...)``; see docs/deploy.md).

The module is callable: ``sg.export(functions, directory, name=...)`` is ``export``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from symgraph.callable_module import make_callable
from symgraph.codegen import ExportError
from symgraph.export.params import read_params, write_params

__all__ = ["ExportError", "ExportResult", "export", "read_params", "write_params"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class ExportResult:
    """What ``export`` wrote, and how to build a C program against it."""

    header: str
    static_library: str
    shared_library: str
    params: str | None
    link_static: list[str]  # what to add to ``cc prog.c`` to link the static library
    link_shared: list[str]  # ... the shared library

    def build_command(self, program: str, output: str, static: bool = True,
                      cc: str = "cc") -> list[str]:
        """``cc program -o output`` with the include path and link line."""
        return [cc, program, "-o", output, "-I", os.path.dirname(self.header),
                *(self.link_static if static else self.link_shared)]


def export(functions: Mapping[str, Any], directory: str, name: str, *,
           bake_params: bool = False, cpu: str | None = None, cc: str = "cc",
           triple: str | None = None, blas_dir: str | None = None) -> ExportResult:
    """Write a C library that runs compiled functions without Python.

    Parameters
    ----------
    functions : mapping of str to Function
        The C name of each function (``{name}_{key}`` in the library) and the function made by
        ``sg.function`` (default "llvm" mode); their shared variables become the parameters
        of the library's context, their updates in-place updates of those parameters.
    directory : str
        Created if missing; receives ``{name}.h``, ``lib{name}.a``, ``lib{name}.so``,
        ``{name}.params`` (the shared variables' current values, when there are any) and
        ``build/`` (objects and the generated C wrapper).
    name : str
        The library's name, a C identifier: the prefix of every symbol.
    bake_params : bool
        Also compile the current values into the library, as the parameters of a context made
        without a parameter file.
    cpu : str, optional
        The LLVM CPU name to compile for (``"x86-64-v3"`` for portable AVX2 binaries); the
        host's CPU and features by default.
    cc : str
        The C compiler (also the linker); for another architecture, its cross compiler
        (``aarch64-linux-gnu-gcc``), whose ``ar`` (``aarch64-linux-gnu-ar``) is used too.
    triple : str, optional
        The target's LLVM triple, for another architecture than the host's (say
        ``"aarch64-unknown-linux-gnu"``, with ``cpu`` LLVM's generic CPU of it by default).
    blas_dir : str, optional
        A directory holding the ``libscipy_openblas64_.so`` to link instead of the installed
        scipy-openblas64 wheel's: for another architecture, that wheel's build for it (matrix
        products need one).

    Returns
    -------
    ExportResult

    Raises
    ------
    TypeError
        When a value of ``functions`` is not a compiled function.
    ValueError
        (``ExportError``) When a name is not a C identifier, or a function cannot be exported:
        an op with no native rule (the message names it and the line that built it), an
        input that is not a tensor, a missing BLAS.
    """
    from symgraph.export.library import write_library

    if not functions:
        raise ExportError("nothing to export: functions is empty")
    if not _IDENTIFIER.match(name):
        raise ExportError(f"the library name {name!r} is not a C identifier")
    for key, function in functions.items():
        if not _IDENTIFIER.match(key):
            raise ExportError(f"the function name {key!r} is not a C identifier")
        if not all(hasattr(function, a) for a in ("fgraph", "shared_inputs", "updates")):
            raise TypeError(f"functions[{key!r}] must be a function made by sg.function, "
                            f"not {type(function).__name__}")
    os.makedirs(directory, exist_ok=True)
    built = write_library(dict(functions), directory, name, bake_params, cpu, cc, triple,
                          blas_dir)
    header = os.path.join(directory, f"{name}.h")
    static = os.path.join(directory, f"lib{name}.a")
    shared = os.path.join(directory, f"lib{name}.so")
    return ExportResult(header, static, shared, built.params_path,
                        [static, *built.libraries],
                        [f"-L{directory}", f"-l{name}", f"-Wl,-rpath,{os.path.abspath(directory)}"])


make_callable(__name__, export)
