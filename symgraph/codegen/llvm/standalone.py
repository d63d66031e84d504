"""A function lowered to a Python-free native entry point (for ``sg.export``): the same plan,
rules and kernels as ``native.py``, but ``int32 run(int64 *frame)`` instead of a CPython
builtin, and a description of the frame (where each input, parameter, constant, output and
kernel address lives) from which ``symgraph/export`` writes the C wrapper that fills it.

Results stay in the frame's arena buffers (the caller receives descriptors into them), so no
step allocates a Python object; a node only ``perform`` can run is an ``ExportError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llvmlite import ir

from symgraph.codegen import ExportError
from symgraph.codegen.linker import node_title
from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.backend import LLVMBackend
from symgraph.codegen.llvm.code import Code, emit_steps
from symgraph.codegen.llvm.irgen import Frame, Gen, Slot
from symgraph.codegen.llvm.kernels import KernelSpec
from symgraph.codegen.llvm.plan import Program
from symgraph.codegen.llvm.native_random import PhiloxRule
from symgraph.codegen.llvm.rules import NativeRules
from symgraph.graph import Apply, Variable, format_trace
from symgraph.ops.random import RandomGeneratorType
from symgraph.type import TensorType

MAX_DIMS = 8


def where(node: Apply) -> str:
    """``Dot (compiled as Gemm{no_inplace}) built at file.py:12: ...``"""
    return f"{node_title(node)} built at {format_trace(node.trace)}"


class ExportRules(NativeRules):
    """The native rules, and Philox random draws, with no ``perform`` fallback: a node no rule
    runs is an error."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.rules.insert(0, PhiloxRule())

    def __call__(self, node: Apply, program: Any) -> tuple[Any, Any]:
        for rule in self.rules:
            match = rule.match(node, program)
            if match is not None:
                return rule, match
        raise ExportError(f"cannot export {where(node)}: the op has no native (LLVM) rule, "
                          "only a Python perform, and exported code runs without Python")


class ExportCode(Code):
    """``Code`` whose kernel and BLAS addresses are link-time symbols filled in by the C
    wrapper (``imports``: frame word -> the key a rule asked for)."""

    exports = True  # rules call CBLAS alone (no library that only this process has)

    def __init__(self, program: Program, layout: Frame, gen: Gen,
                 outer: ExportCode | None = None) -> None:
        super().__init__(program, layout, gen)
        self.imports: dict[int, Any] = outer.imports if outer is not None else {}
        if outer is not None:
            self._kernels = outer._kernels

    def nested(self, program: Program) -> Code:
        return ExportCode(program, self.layout, self.gen, self)

    def address_word(self, key: Any, resolve: Any) -> int:
        word = self._kernels.get(key)
        if word is None:
            word = self.layout.reserve(1)
            self._kernels[key] = word
            self.imports[word] = key
        return word


@dataclass
class Value:
    """A tensor in the frame: its slot, and what the C wrapper says about it."""

    name: str
    slot: Slot
    static_shape: tuple[int | None, ...]
    storage: str = ""  # the plan's storage kind (outputs and updates)
    param: int = -1  # a parameter: its index in the context; an update: the one it writes
    generator: bool = False  # a random stream: the slot points to its [key, draws] words


@dataclass
class Lowered:
    """One function's entry point and frame description."""

    name: str
    ir_text: str
    symbol: str
    frame_size: int
    current_step: int
    inputs: list[Value]
    params: list[Value]
    outputs: list[Value]
    updates: list[Value]
    constants: list[tuple[Slot, np.ndarray]]
    imports: dict[int, Any]
    buffers: list[int]
    steps: list[tuple[str, list[Slot]]] = field(default_factory=list)  # messages, input slots


def lower(function: Any, fn_name: str, symbol: str,
          param_index: dict[Any, int]) -> Lowered:
    """Plan and emit ``function`` (a compiled ``sg.function``) as ``i32 symbol(ptr frame)``:
    0 when it ran, 1 when a step failed (the frame's ``current_step`` word says which), 2 when
    memory ran out. ``param_index`` numbers the context's parameters (shared variables)."""
    fgraph = function.fgraph
    n_args = len(function.inputs)
    for var in fgraph.inputs[:n_args]:
        _check_tensor(var, f"{fn_name}: input {var}")
    program = Program(fgraph, fgraph.outputs, ExportRules(LLVMBackend()), fresh_results=False)
    code, current_step = _emit_entry(program, symbol, fn_name)

    def value(var: Variable, label: str, param: int = -1) -> Value:
        vtype = _check_tensor(var, label)
        return Value(label, code.slot(var), tuple(vtype.shape), program.storage[var].kind,
                     param)

    inputs = [value(v, v.name or f"input{i}") for i, v in enumerate(fgraph.inputs[:n_args])]
    params, updates = [], []
    for var, shared in zip(fgraph.inputs[n_args:], function.shared_inputs):
        label = shared.name or f"param{param_index[shared]}"
        if isinstance(var.type, RandomGeneratorType):
            params.append(Value(label, code.slot(var), (2,), "external", param_index[shared],
                                generator=True))
        else:
            params.append(value(var, label, param_index[shared]))
    outputs = [value(v, f"output {k}") for k, v in enumerate(fgraph.outputs[:function.n_outputs])]
    for var, (shared, _) in zip(fgraph.outputs[function.n_outputs:], function.updates):
        label = f"update of {shared.name or param_index[shared]}"
        if isinstance(var.type, RandomGeneratorType):
            # Draws advance the stream in place: its new state is its own memory.
            source = fgraph.inputs[n_args + function.shared_inputs.index(shared)]
            if program.storage[var].root is not source:
                raise ExportError(f"{fn_name}: the {label} is not the stream's own next state")
            continue
        updates.append(value(var, label, param_index[shared]))
    steps = [(where(step.node), [code.slot(v) for v in step.node.inputs
                                 if v in code.slots and code.slot(v).dtype is not None])
             for step in program.steps]
    return Lowered(fn_name, str(code.gen.module), symbol, code.layout.size, current_step,
                   inputs, params, outputs, updates, _constants(code.layout, fn_name),
                   code.imports, list(code.layout.buffers), steps)


def _emit_entry(program: Program, symbol: str, fn_name: str) -> tuple[ExportCode, int]:
    """The entry point's module (``code.gen.module``) and the frame word of the current
    step."""
    layout = Frame()
    current_step = layout.reserve(1)
    module = ir.Module(name=symbol)
    fn = ir.Function(module, ir.FunctionType(iu.I32, [iu.PTR]), name=symbol)
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    gen = Gen(module, fn, layout, builder, fn.args[0])
    code = ExportCode(program, layout, gen)
    emit_steps(code, program.steps, None, current_step)
    builder.ret(ir.Constant(iu.I32, 0))
    for block, status in ((gen.bail_block, 1), (gen.error_block, 2)):
        builder.position_at_end(block)
        builder.ret(ir.Constant(iu.I32, status))
    if layout.objects or layout.owned or layout.addresses:
        raise ExportError(f"{fn_name}: a step needs Python objects or JIT-compiled code at "
                          "run time")
    return code, current_step


def _constants(layout: Frame, fn_name: str) -> list[tuple[Slot, np.ndarray]]:
    """The constants' slots and C-ordered values (the wrapper compiles them in)."""
    constants = []
    for slot, var in layout.constants:
        if slot.dtype is None:
            raise ExportError(f"{fn_name}: the constant {var} is not a tensor")
        constants.append((slot, np.array(var.data, dtype=slot.dtype, order="C", copy=True)))
    return constants


def _check_tensor(var: Variable, label: str) -> TensorType:
    vtype = var.type
    if not isinstance(vtype, TensorType):
        raise ExportError(f"{label}: only tensors can be exported, not {vtype}")
    if vtype.ndim > MAX_DIMS:
        raise ExportError(f"{label}: rank {vtype.ndim} is above the export's {MAX_DIMS}")
    return vtype


def import_symbol(key: Any, kernels: dict[KernelSpec, str], blas_names: dict[str, str]) -> str:
    """The link-time symbol a frame word's key names: a kernel of this library, or a
    CBLAS routine."""
    if isinstance(key, KernelSpec):
        return kernels[key]
    if isinstance(key, tuple) and key[:1] == ("blas",):
        return blas_names[key[1]]
    raise ExportError(f"cannot export a native step that calls {key!r}")
