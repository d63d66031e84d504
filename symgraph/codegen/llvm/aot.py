"""Ahead-of-time object code (for ``sg.export``): entry points and kernels compiled for a
target CPU as position-independent relocatable objects, their global symbols renamed with a
library's prefix so that several exported libraries link into one program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm

from symgraph.codegen.llvm.jit import OPT_LEVEL, engine
from symgraph.codegen.llvm.kernels import KernelSpec, kernel_ir
from symgraph.codegen.llvm.native import ENTRY_SPEED_LEVEL


@dataclass
class Target:
    """The CPU the objects are for: the host's (name and features), or a named one."""

    triple: str
    cpu: str
    features: str

    @classmethod
    def of(cls, cpu: str | None, triple: str | None = None) -> Target:
        """The host (``cpu`` None or "host"), a named CPU of the host's architecture, or
        ``triple`` (say ``aarch64-unknown-linux-gnu``) with ``cpu`` or LLVM's generic one."""
        jit = engine()  # initialises LLVM's native target
        if triple is not None and triple != jit.triple:
            llvm.initialize_all_targets()
            llvm.initialize_all_asmprinters()
            try:
                llvm.Target.from_triple(triple)
            except RuntimeError as err:
                raise ValueError(f"this LLVM cannot generate code for {triple}: {err}") from None
            return cls(triple, cpu if cpu not in (None, "host") else "generic", "")
        if cpu in (None, "host"):
            return cls(jit.triple, jit.cpu, jit.features)
        return cls(jit.triple, cpu, "")

    @property
    def has_scalef(self) -> bool:
        """AVX-512F named in the features (a named CPU's are not known here: False)."""
        return "+avx512f" in self.features.split(",")

    @property
    def is_host(self) -> bool:
        return self.triple == engine().triple

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
        text, symbol = kernel_ir(spec, has_gomp, target.has_scalef)
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
