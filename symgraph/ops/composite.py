"""Fused elementwise kernels: a ``ScalarProgram`` (frozen, hashable inner scalar graph) and the
``Composite`` op that maps it over arrays in one pass, with one or several outputs.

Fusion (symgraph.rewrite.fusion) builds them; a code generator turns each Composite into one
loop nest. The NumPy ``perform`` evaluates the program step by step, as the Elemwise ops would.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph.graph import Apply, Constant, Variable, toposort
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.type import TensorType, broadcast_static_shapes

__all__ = ["ScalarProgram", "Composite", "composite"]


@dataclass(frozen=True)
class ScalarProgram:
    """A straight-line scalar program.

    Slots ``0 .. n_inputs-1`` are the inputs; step ``k`` writes slot ``n_inputs + k``.
    Each step is ``(row, argument slots, output dtype)``; ``constants`` maps a slot to a scalar
    value baked into the program; ``outputs`` lists the slots returned.
    """

    input_dtypes: tuple[str, ...]
    steps: tuple[tuple[elemwise.ScalarOp, tuple[int, ...], str], ...]
    outputs: tuple[int, ...]

    @property
    def n_inputs(self) -> int:
        return len(self.input_dtypes)

    def output_dtypes(self) -> tuple[str, ...]:
        dtypes = list(self.input_dtypes) + [step[2] for step in self.steps]
        return tuple(dtypes[slot] for slot in self.outputs)

    def evaluate(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        slots: list[Any] = list(arrays)
        for row, args, out_dtype in self.steps:
            slots.append(elemwise.apply_scalar_op(row, out_dtype, [slots[a] for a in args]))
        return [slots[o] for o in self.outputs]

    def expand(self, inputs: Sequence[Any]) -> list[Any]:
        """Rebuild the program as Elemwise nodes over tensor ``inputs``."""
        slots: list[Any] = list(inputs)
        for row, args, out_dtype in self.steps:
            if row.nin == 0:
                slots.append(constant(row.params[0], dtype=out_dtype))
                continue
            out = elemwise.Elemwise(row)(*[slots[a] for a in args])
            slots.append(out if out.dtype == out_dtype else elemwise.cast(out, out_dtype))
        return [slots[o] for o in self.outputs]

    @staticmethod
    def from_graph(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> "ScalarProgram":
        """The program computing ``outputs`` from ``inputs`` through Elemwise nodes only.

        Single-element constants become constant steps; DimShuffles that only pad the rank on
        the left are transparent (broadcasting aligns dimensions on the right).

        Raises
        ------
        TypeError
            For a node that is not elementwise, or a variable that is not reachable from
            ``inputs``.
        """
        slot = {var: k for k, var in enumerate(inputs)}
        steps: list[tuple[elemwise.ScalarOp, tuple[int, ...], str]] = []

        def slot_of(var: Variable) -> int:
            if var not in slot and isinstance(var, Constant) and np.size(var.data) == 1:
                value = np.asarray(var.data).reshape(()).item()
                steps.append((constant_scalar_op(value, var.dtype), (), var.dtype))
                slot[var] = len(inputs) + len(steps) - 1
            if var not in slot:
                raise TypeError(f"{var} is not among the program inputs")
            return slot[var]

        for node in toposort(outputs, blockers=inputs):
            if is_rank_padding(node):
                slot[node.outputs[0]] = slot_of(node.inputs[0])
                continue
            if not isinstance(node.op, elemwise.Elemwise):
                raise TypeError(f"{node.op} is not elementwise and cannot be fused")
            args = tuple(slot_of(v) for v in node.inputs)
            steps.append((node.op.scalar_op, args, node.outputs[0].dtype))
            slot[node.outputs[0]] = len(inputs) + len(steps) - 1
        return ScalarProgram(tuple(v.dtype for v in inputs), tuple(steps),
                             tuple(slot[o] for o in outputs))


def program_inputs(op: Op, program: ScalarProgram,
                   inputs: Sequence[Any]) -> tuple[list[Any], tuple[int | None, ...]]:
    """Check ``inputs`` against ``program`` for ``op`` and align their ranks.

    Returns the rank-aligned input variables and their broadcast static shape.

    Raises
    ------
    TypeError
        For a wrong number of inputs or an input of another dtype than the program's.
    """
    if len(inputs) != program.n_inputs:
        raise TypeError(f"{op} takes {program.n_inputs} inputs, got {len(inputs)}")
    variables = [as_tensor_variable(x) for x in inputs]
    for k, (var, dtype) in enumerate(zip(variables, program.input_dtypes)):
        if var.dtype != dtype:
            raise TypeError(f"{op}: input {k} ({var}) has dtype {var.dtype}, expected {dtype}")
    variables = elemwise.pad_ranks(variables)
    return variables, broadcast_static_shapes(*[v.type.shape for v in variables])


class Composite(Op):
    """Several elementwise operations fused into one pass over broadcast inputs.

    Parameters
    ----------
    program : ScalarProgram
    inplace_pattern : tuple of (output, input) pairs
        Outputs written into an input's buffer (set by the inplace rewrite, which checks that
        the input has the output's dtype and static shape and that nothing else reads it).

    Raises
    ------
    TypeError
        From ``make_node``: wrong number of inputs or an input dtype the program does not take.
    ValueError
        From the constructor: an inplace pattern naming a missing output or input, or one
        output or input twice; from ``perform``: inputs whose shapes do not broadcast (Theano
        rule: static-1 only).
    """

    __props__ = ("program", "inplace_pattern")

    def __init__(self, program: ScalarProgram,
                 inplace_pattern: tuple[tuple[int, int], ...] = ()) -> None:
        self.program = program
        self.inplace_pattern = tuple((int(o), int(i)) for o, i in inplace_pattern)
        outs = [o for o, _ in self.inplace_pattern]
        ins = [i for _, i in self.inplace_pattern]
        if len(set(outs)) != len(outs) or len(set(ins)) != len(ins) or any(
                not 0 <= o < len(program.outputs) for o in outs) or any(
                not 0 <= i < program.n_inputs for i in ins):
            raise ValueError(f"invalid inplace pattern {inplace_pattern} for a program with "
                             f"{program.n_inputs} inputs and {len(program.outputs)} outputs")
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}

    def __str__(self) -> str:
        names = ",".join(row.name for row, _, _ in self.program.steps)
        suffix = "_inplace" if self.inplace_pattern else ""
        return f"Composite{{{names}}}{suffix}"

    def make_node(self, *inputs: Any) -> Apply:
        variables, shape = program_inputs(self, self.program, inputs)
        outputs = [TensorType(d, shape).make_variable() for d in self.program.output_dtypes()]
        return Apply(self, variables, outputs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        elemwise.check_runtime_broadcast(node, inputs)
        shape = np.broadcast_shapes(*[np.shape(x) for x in inputs])
        values = [np.array(np.broadcast_to(v, shape)) if v.shape != shape else v
                  for v in self.program.evaluate(inputs)]
        if self.inplace_pattern:
            values = _write_into_inputs(self.inplace_pattern, inputs, values)
        for cell, value in zip(output_storage, values):
            cell[0] = value

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        shape = elemwise.broadcast_dims(node.inputs, input_shapes, node.outputs[0].type.shape)
        return [shape] * len(node.outputs)

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        from symgraph.grad import Lop

        expanded = self.program.expand(inputs)
        pairs = [(o, g) for o, g in zip(expanded, output_grads) if g is not None]
        grads = Lop([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                    disconnected_inputs="ignore")
        return list(grads)

    # Inner graph, for printing (duck-typed by sg.debugprint).
    @property
    def inner_inputs(self) -> list[Variable]:
        return [TensorType(d, ()).make_variable(f"i{k}")
                for k, d in enumerate(self.program.input_dtypes)]

    @property
    def inner_outputs(self) -> list[Variable]:
        return self.program.expand(self.inner_inputs)


def _write_into_inputs(pattern: Sequence[tuple[int, int]], inputs: Sequence[Any],
                       values: list[np.ndarray]) -> list[np.ndarray]:
    """Store each patterned output in its input's buffer, once every output is computed."""
    targets = [inputs[i] for _, i in pattern]
    # An output that is (a view of) a buffer about to be overwritten must be saved first.
    values = [np.array(v, copy=True) if any(np.may_share_memory(v, t) for t in targets) else v
              for v in values]
    for out, i in pattern:
        target, value = inputs[i], values[out]
        if isinstance(target, np.ndarray) and target.flags.writeable and \
                target.shape == value.shape and target.dtype == value.dtype:
            target[...] = value
            values[out] = target
    return values


def composite(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """Fuse the Elemwise graph from ``inputs`` to ``outputs`` into one Composite node."""
    program = ScalarProgram.from_graph(inputs, outputs)
    node = Composite(program).make_node(*inputs)
    return list(node.outputs)


def is_rank_padding(node: Apply) -> bool:
    """True for a DimShuffle that only adds broadcastable dimensions on the left."""
    op = node.op
    if not isinstance(op, elemwise.DimShuffle):
        return False
    pad = len(op.new_order) - op.input_ndim
    return op.new_order == ("x",) * pad + tuple(range(op.input_ndim))


@functools.lru_cache(maxsize=256)
def constant_scalar_op(value: bool | int | float, dtype: str) -> elemwise.ScalarOp:
    """A zero-input program step producing a constant (baked into generated kernels)."""
    return elemwise.ScalarOp(f"constant{{{value!r}:{dtype}}}", 0,
                             lambda: np.asarray(value, dtype=dtype), lambda _: dtype,
                             doc=f"the constant {value!r}", params=(value, dtype))


elemwise.SCALAR_OP_FACTORIES["constant"] = constant_scalar_op
