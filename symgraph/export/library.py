"""``sg.export``'s work: number the parameters, lower each function, compile its kernels and
entry point, write the header, the wrapper, the parameter file and the libraries."""

from __future__ import annotations

import copy
import os
import shlex
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph.codegen.llvm.jit import engine
from symgraph.codegen.llvm.kernels import KernelSpec
from symgraph.export import build, csource
from symgraph.codegen.llvm import aot
from symgraph.codegen.llvm.standalone import Lowered, import_symbol, lower
from symgraph.codegen import ExportError
from symgraph.export.params import write_params


@dataclass
class Built:
    params_path: str | None
    libraries: list[str]  # link flags a program using the static library adds


def collect_params(functions: dict[str, Any]) -> tuple[dict[Any, int], list[csource.Param]]:
    """Every shared variable of the functions, numbered in order of first use, with a unique
    name (its own where it has one)."""
    index: dict[Any, int] = {}
    params: list[csource.Param] = []
    taken: set[str] = set()
    for function in functions.values():
        for shared in function.shared_inputs:
            if shared in index:
                continue
            base = shared.name if shared.name and shared.name.isidentifier() else \
                f"param{len(params)}"
            name, k = base, 2
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            value = shared.get_value(borrow=True)
            index[shared] = len(params)
            if isinstance(value, np.random.Generator):
                # A random stream: a key from (a copy of) the generator, and no draw yet.
                key = copy.deepcopy(value).integers(0, 2 ** 63, dtype=np.int64)
                params.append(csource.Param(name, np.array([key, 0], dtype=np.uint64), True))
                continue
            params.append(csource.Param(name, np.array(value, order="C", copy=True)))
    return index, params


def write_library(functions: dict[str, Any], directory: str, library: str, bake: bool,
                  cpu: str | None, cc: str, triple: str | None = None,
                  blas_dir: str | None = None) -> Built:
    index, params = collect_params(functions)
    lowered: list[Lowered] = [lower(f, key, f"{library}__{key}_run", index)
                              for key, f in functions.items()]
    for p in params:  # after lowering, which names the op of a value that is no tensor
        if p.value.dtype.name not in csource.DTYPES:
            raise ExportError(f"the shared variable {p.name} holds {p.value.dtype} values, "
                              "which the export does not take")
    try:
        target = aot.Target.of(cpu, triple)
    except ValueError as err:
        raise ExportError(str(err)) from None
    specs = list(dict.fromkeys(k for low in lowered for k in low.imports.values()
                               if isinstance(k, KernelSpec)))
    uses_blas = any(isinstance(k, tuple) and k[:1] == ("blas",)
                    for low in lowered for k in low.imports.values())
    if uses_blas and not target.is_host and blas_dir is None:
        raise ExportError(f"matrix products for {target.triple} need a CBLAS built for it: "
                          "pass blas_dir, a directory with its libscipy_openblas64_.so (from "
                          "the scipy-openblas64 wheel for that platform)")
    blas = build.openblas(blas_dir) if uses_blas else None
    has_gomp = engine().has_gomp
    kernel_names, kernel_objects = aot.kernel_objects(specs, library, target, has_gomp)
    symbols = [{word: import_symbol(key, kernel_names, blas.symbols if blas else {})
                for word, key in low.imports.items()} for low in lowered]
    objects = [(f"{library}_k{i}.o", data) for i, data in enumerate(kernel_objects)]
    objects += [(f"{library}_{low.name}.o", aot.entry_object(low.ir_text, library, target))
                for low in lowered]
    libraries = (blas.link if blas else []) + (["-lgomp"] if has_gomp else []) + ["-lm"]
    notes = _notes(library, directory, target, blas, libraries, cc)
    with open(os.path.join(directory, f"{library}.h"), "w") as file:
        file.write(csource.header(library, lowered, params, notes))
    c_source = csource.source(library, lowered, params, symbols, bake)
    public = [f"{library}_{s}" for s in ("context_new", "context_free", "error_message",
                                         "params_load", "params_save", "param",
                                         "set_num_threads")]
    public += [f"{library}_{low.name}" for low in lowered]
    build.link(directory, library, objects, c_source, public, libraries, cc)
    params_path = None
    if params:
        params_path = os.path.join(directory, f"{library}.params")
        write_params(params_path, {p.name: p.value for p in params})
    return Built(params_path, libraries)


def _notes(library: str, directory: str, target: aot.Target, blas: build.BlasLink | None,
           libraries: list[str], cc: str) -> str:
    where = os.path.abspath(directory)
    return "\n".join([
        f"Target: {target.triple}, CPU {target.cpu}.",
        "BLAS: " + (blas.description if blas else "none (no matrix products)") + ".",
        "Build a program against the static library:",
        f"    {cc} prog.c -I{where} {where}/lib{library}.a {shlex.join(libraries)}",
        "or the shared one:",
        f"    {cc} prog.c -I{where} -L{where} -l{library} -Wl,-rpath,{where}",
        "Thread safety: a context runs one call at a time; calls on different contexts may",
        f"run at the same time in any threads. {library}_set_num_threads is process-wide.",
        "Errors: functions return SG_OK (0) or an sg_status code and keep a message",
        f"({library}_error_message); the library never aborts, exits or prints.",
    ])
