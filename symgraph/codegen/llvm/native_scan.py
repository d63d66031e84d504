"""Scan in native entry points: the whole loop (the body's kernels and BLAS calls included)
runs as native code, with no Python and no allocation per step.

The body is planned as its own ``Program`` whose arena buffers persist in the frame (sized
at the first step, reused by the others). The loop states live in the buffers of the node's
final-state outputs: the body reads them in place, and each step copies the new states in
(through temporaries when a new state could alias an old one). Per-step outputs are copied
into row ``t`` of stacked outputs, allocated once the first step has told their shape. The
meaning of a step is ``symgraph.scan.op.Loop``'s; anything unusual (a sequence too short, a
state changing shape, ...) hands the call to the Python path, which reports it.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.native import Code, emit_steps
from symgraph.codegen.llvm.native_ops import contiguous_strides, copy_into
from symgraph.codegen.llvm.plan import Match, Program, Step
from symgraph.graph import Apply
from symgraph.scan.op import Scan
from symgraph.type import TensorType


class ScanRule:
    """A ``Scan`` node whose body and outer values are all tensors."""

    name = "native loop"

    def __init__(self, rules: Any) -> None:
        self.rules = rules

    def match(self, node: Apply, program: Program) -> Match | None:
        op = node.op
        if not isinstance(op, Scan):
            return None
        inner = op.inner.fgraph()
        variables = list(node.inputs) + list(node.outputs) + list(inner.variables)
        if not all(isinstance(v.type, TensorType) for v in variables):
            return None
        body = Program(inner, inner.outputs, self.rules, fresh_results=False,
                       exact_inputs=False)
        notes = sorted({step.note.split(" (")[0] for step in body.steps})
        return Match(node.inputs, allocates=tuple(range(len(node.outputs))), info=body,
                     note=f"native loop ({', '.join(notes) or 'empty body'})")

    def emit(self, code: Any, step: Step) -> None:
        body_code = Code(step.match.info, code.layout, code.gen)
        _LoopEmitter(code, body_code, step, emit_steps).emit()


class _LoopEmitter:
    def __init__(self, code: Any, body: Any, step: Step, emit_steps: Any) -> None:
        self.code = code
        self.body = body
        self.step = step
        self.node = step.node
        self.op: Scan = step.node.op  # type: ignore[assignment]
        self.g = code.gen
        self.b = code.gen.b
        self.emit_steps = emit_steps
        inner = body.program.fgraph
        nc, nk = self.op.n_consts, self.op.n_carries
        self.inner_consts = inner.inputs[:nc]
        self.inner_carries = inner.inputs[nc:nc + nk]
        self.inner_xs = inner.inputs[nc + nk:]
        outs = inner.outputs
        self.new_carries = outs[:nk]
        self.inner_ys = outs[nk:nk + self.op.n_ys]
        self.cond = outs[-1] if self.op.until else None
        n_steps, consts, inits, seqs = self.op.split_outer_inputs(self.node.inputs)
        self.n_steps, self.consts, self.inits, self.seqs = n_steps, consts, inits, seqs
        self.finals, self.ys, self.n_done = self.op.split_outer_outputs(self.node.outputs)

    def emit(self) -> None:
        g, b = self.g, self.b
        n = g.read_scalar(self.code.slot(self.n_steps), "int64")
        g.bail_if(b.icmp_signed("<", n, iu.i64(0)))
        for seq in self.seqs:
            g.bail_if(b.icmp_signed("<", g.load(self.code.slot(seq).dim(0)), n))
        self._start_states()
        for outer, inner in zip(self.consts, self.inner_consts):
            self._bind(self.code.slot(outer), self.body.slot(inner))
        for final, inner in zip(self.finals, self.inner_carries):
            self._bind(self.code.slot(final), self.body.slot(inner))
        with b.if_then(b.icmp_signed("==", n, iu.i64(0))):
            for j in range(len(self.ys)):
                self._allocate_empty(j)
        done = self._loop(n)
        if self.n_done is not None:
            self.code.alloc(self.n_done, [])
            b.store(done, g.data(self.code.slot(self.n_done)))
            for y in self.ys:
                g.store(self.code.slot(y).dim(0), done)

    def _bind(self, source: Any, target: Any) -> None:
        self.g.copy_slot(source, target)

    def _start_states(self) -> None:
        """Each final-state output starts as a copy of its initial state."""
        g = self.g
        for init, final in zip(self.inits, self.finals):
            source = self.code.slot(init)
            dims = [g.load(source.dim(d)) for d in range(source.ndim)]
            self.code.alloc(final, dims)
            target = self.code.slot(final)
            copy_into(self.code, source, dims, g.data(target),
                      [g.load(target.stride(d)) for d in range(target.ndim)])

    def _allocate_empty(self, j: int) -> None:
        """A loop of no step: ``(0, ...)`` outputs shaped like ``Loop._empty``'s."""
        y = self.inner_ys[j]
        if y in self.new_carries:
            carry = self.code.slot(self.inits[self.new_carries.index(y)])
            dims = [self.g.load(carry.dim(d)) for d in range(carry.ndim)]
        else:
            dims = [iu.i64(0 if s is None else s) for s in y.type.shape]
        self.code.alloc(self.ys[j], [iu.i64(0)] + dims)

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self, n: Any) -> Any:
        g, b = self.g, self.b
        fn = g.function
        head = fn.append_basic_block("scan.head")
        body = fn.append_basic_block("scan.body")
        exit_block = fn.append_basic_block("scan.exit")
        done = iu.entry_alloca(b, iu.I64, "scan.done")
        b.store(n, done)
        before = b.block
        b.branch(head)
        b.position_at_end(head)
        t = b.phi(iu.I64, name="t")
        t.add_incoming(iu.i64(0), before)
        b.cbranch(b.icmp_signed("<", t, n), body, exit_block)
        b.position_at_end(body)
        self._bind_rows(t)
        self.emit_steps(self.body, self.body.program.steps, None)
        self._store_outputs(t, n)
        self._update_states()
        following = b.add(t, iu.i64(1))
        if self.cond is not None:
            stop = b.icmp_unsigned("!=", b.load(g.data(self.body.slot(self.cond)), typ=iu.I8),
                                   ir.Constant(iu.I8, 0))
            with b.if_then(stop):
                b.store(following, done)
                b.branch(exit_block)
        t.add_incoming(following, b.block)
        b.branch(head)
        b.position_at_end(exit_block)
        return b.load(done, typ=iu.I64)

    def _bind_rows(self, t: Any) -> None:
        """``x_i = sequence_i[t]``: a view one dimension down."""
        g, b = self.g, self.b
        for seq, inner in zip(self.seqs, self.inner_xs):
            source, target = self.code.slot(seq), self.body.slot(inner)
            offset = b.mul(t, g.load(source.stride(0)))
            g.store(target.data, b.gep(g.data(source), [offset], source_etype=iu.I8))
            for d in range(target.ndim):
                g.store(target.dim(d), g.load(source.dim(d + 1)))
                g.store(target.stride(d), g.load(source.stride(d + 1)))

    def _store_outputs(self, t: Any, n: Any) -> None:
        """Row ``t`` of every stacked output (allocated at the first step)."""
        g, b = self.g, self.b
        for y_inner, y_outer in zip(self.inner_ys, self.ys):
            source, target = self.body.slot(y_inner), self.code.slot(y_outer)
            dims = [g.load(source.dim(d)) for d in range(source.ndim)]
            with b.if_else(b.icmp_signed("==", t, iu.i64(0))) as (first, later):
                with first:
                    self.code.alloc(y_outer, [n] + dims)
                with later:
                    for d in range(source.ndim):
                        g.bail_if(b.icmp_signed("!=", dims[d], g.load(target.dim(d + 1))))
            row = b.gep(g.data(target), [b.mul(t, g.load(target.stride(0)))],
                        source_etype=iu.I8)
            copy_into(self.code, source, dims, row,
                      [g.load(target.stride(d + 1)) for d in range(source.ndim)])

    def _update_states(self) -> None:
        """Copy the new states into the state buffers; values that may alias a state (an
        inner input, a view of one) go through a temporary first, so that every new state
        is read before any state is overwritten."""
        g = self.g
        # (slot to read, dims, state slot, data and strides to read instead of the slot's)
        staged: list[tuple[Any, list[Any], Any, Any, list[Any] | None]] = []
        for k, (new, final) in enumerate(zip(self.new_carries, self.finals)):
            source, target = self.body.slot(new), self.code.slot(final)
            dims = [g.load(target.dim(d)) for d in range(target.ndim)]
            for d in range(target.ndim):
                g.bail_if(self.b.icmp_signed("!=", g.load(source.dim(d)), dims[d]))
            if self._safe(new):
                staged.append((source, dims, target, None, None))
                continue
            strides, nbytes = contiguous_strides(g, dims, target.itemsize)
            temp = g.reserve(self.code.scratch_word(100 + k), nbytes)
            copy_into(self.code, source, dims, temp, strides)
            staged.append((target, dims, target, temp, strides))
        for source, dims, target, data, strides in staged:
            copy_into(self.code, source, dims, g.data(target),
                      [g.load(target.stride(d)) for d in range(target.ndim)],
                      source_strides=strides, source_data=data)

    def _safe(self, var: Any) -> bool:
        """The body computed ``var`` into an arena buffer of its own (no state aliased)."""
        storage = self.body.program.storage[var]
        return storage.kind == "arena" and not storage.depends and \
            storage.root.owner is not None
