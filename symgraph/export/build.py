"""Object code and libraries: every entry point and kernel compiled by llvmlite for the target
CPU as position-independent objects, the C wrapper compiled by the system C compiler, then
``ar`` (static library) and ``cc -shared`` (shared library, exporting only the public API).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm

from symgraph.codegen.llvm import blas
from symgraph.codegen.llvm.jit import OPT_LEVEL, engine
from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir
from symgraph.codegen.llvm.native import ENTRY_SPEED_LEVEL
from symgraph.export.errors import ExportError


@dataclass
class Target:
    """The CPU the objects are for: the host's (name and features), or a named one."""

    triple: str
    cpu: str
    features: str

    @classmethod
    def of(cls, cpu: str | None) -> Target:
        jit = engine()  # initialises LLVM's native target
        if cpu in (None, "host"):
            return cls(jit.triple, jit.cpu, jit.features)
        return cls(jit.triple, cpu, "")

    def machine(self) -> Any:
        target = llvm.Target.from_triple(self.triple)
        return target.create_target_machine(cpu=self.cpu, features=self.features, opt=OPT_LEVEL,
                                            reloc="pic", codemodel="default")


def compile_object(ir_text: str, target: Target, speed_level: int) -> bytes:
    """``ir_text`` optimised at ``speed_level`` and compiled to a relocatable object."""
    machine = target.machine()
    context = llvm.create_context()
    module = llvm.parse_assembly(ir_text, context=context)
    module.triple = target.triple
    module.data_layout = str(machine.target_data)
    module.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    tuning.loop_vectorization = True
    tuning.slp_vectorization = True
    passes = llvm.create_pass_builder(machine, tuning)
    passes.getModulePassManager().run(module, passes)
    return machine.emit_object(module)


def rename(text: str, names: dict[str, str]) -> str:
    """``text`` with the global symbols ``names`` renamed (``@name`` or ``@"name"``)."""
    for old, new in names.items():
        text = re.sub(r'@"?' + re.escape(old) + r'"?(?![\w.$])', f'@"{new}"', text)
    return text


def kernel_objects(specs: list[KernelSpec], library: str, target: Target,
                   has_gomp: bool) -> tuple[dict[KernelSpec, str], list[bytes]]:
    """Each kernel's object, its symbol prefixed with the library's name (so that two exported
    libraries link into one program)."""
    names: dict[KernelSpec, str] = {}
    objects = []
    done: set[str] = set()
    for spec in specs:
        text, symbol = kernel_ir(spec, has_gomp)
        names[spec] = f"{library}__{symbol}"
        if symbol in done:
            continue
        done.add(symbol)
        text = rename(text, {symbol: names[spec], "sg_num_threads": f"{library}__num_threads"})
        objects.append(compile_object(text, target, OPT_LEVEL))
    return names, objects


def entry_object(ir_text: str, library: str, target: Target) -> bytes:
    return compile_object(rename(ir_text, {"sg_api": f"{library}__sg_api"}), target,
                          ENTRY_SPEED_LEVEL)


@dataclass
class BlasLink:
    """The CBLAS the library links against: symbol names and the link line."""

    description: str
    symbols: dict[str, str]  # routine (sgemm, ...) -> symbol
    link: list[str]


def openblas() -> BlasLink:
    """OpenBLAS from the scipy-openblas64 wheel (the build NumPy bundles: ILP64 CBLAS with
    ``scipy_cblas_*64_`` symbols, the integer width the generated code passes)."""
    try:
        import scipy_openblas64 as wheel  # type: ignore[import-untyped]
    except ImportError as err:
        raise ExportError("exporting matrix products needs a CBLAS: pip install "
                          "'symgraph[export]' (the scipy-openblas64 wheel)") from err
    lib = blas.library()
    if lib is None or lib.int_bits != 64:
        raise ExportError("the native BLAS calls use 64-bit integers here; the export "
                          "links ILP64 OpenBLAS only")
    directory = wheel.get_lib_dir()
    name = wheel.get_library()
    version = getattr(wheel, "__version__", "?")
    return BlasLink(f"OpenBLAS {version} (ILP64) from the scipy-openblas64 wheel",
                    {r: f"scipy_cblas_{r}64_" for r in blas.ROUTINES},
                    [f"-L{directory}", f"-l{name.removeprefix('lib')}",
                     f"-Wl,-rpath,{directory}"])


def run(command: list[str], cwd: str) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ExportError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")


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
    run(["ar", "rcs", static, *paths], directory)
    script = os.path.join(work, f"{library}.map")
    with open(script, "w") as file:
        file.write("{\n  global:\n" + "".join(f"    {s};\n" for s in public) +
                   "  local: *;\n};\n")
    run([cc, "-shared", "-o", os.path.join(directory, f"lib{library}.so"), *paths,
         f"-Wl,--version-script={script}", f"-Wl,-soname,lib{library}.so", *libraries],
        directory)
