"""What step rules build a native entry point's IR with (``Code``: the program's slots, arena
buffers and kernels in the frame), and the outlining that keeps the entry point small.

A step's code is rarely emitted inline: steps of the same shape (same rule, types, storage
kinds, and whatever the rule says its code depends on) share one internal function of the
module, called with the frame positions of the step's slots, buffers and kernels. The entry
point is then a list of calls, and LLVM compiles each shape's code once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from symgraph.codegen.llvm import irutil as iu
from symgraph.codegen.llvm.irgen import Frame, Gen, Slot
from symgraph.codegen.llvm.kernel_code import compile_kernel
from symgraph.codegen.llvm.plan import Program, Step
from symgraph.graph import Constant, Variable
from symgraph.type import TensorType


class Code:
    """What step rules build IR with: the program, its slots, buffers and the ``Gen``."""

    def __init__(self, program: Program, layout: Frame, gen: Gen) -> None:
        self.program = program
        self.layout = layout
        self.gen = gen
        self.slots: dict[Variable, Slot] = {}
        self.buffer_words = [layout.buffer() for _ in range(program.n_buffers)]
        self._scratch: dict[int, int] = {}
        self._kernels: dict[Any, int] = {}
        for var, storage in program.storage.items():
            vtype = var.type
            tensor = isinstance(vtype, TensorType)
            slot = layout.slot(vtype.ndim if tensor else 0, vtype.dtype if tensor else None)
            self.slots[var] = slot
            if storage.kind in ("object", "fresh"):
                layout.owned.append(slot.obj)
            if isinstance(var, Constant):
                layout.constants.append((slot, var))

    def slot(self, var: Variable) -> Slot:
        return self.slots[var]

    def scratch_word(self, number: int) -> int:
        if number not in self._scratch:
            self._scratch[number] = self.layout.buffer()
        return self._scratch[number]

    def kernel_word(self, spec: Any) -> Any:
        return self.address_word(spec, lambda: kernel_address(spec))

    def address_word(self, key: Any, resolve: Any) -> int:
        """A frame word holding ``resolve()`` (a C function's address), one per ``key``."""
        word = self._kernels.get(key)
        if word is None:
            word = self.layout.address_word(resolve)
            self._kernels[key] = word
        return word

    def alloc(self, var: Variable, dims: Sequence[Any]) -> None:
        """Give ``var`` the memory its plan says: a fresh ndarray or its arena buffer."""
        g = self.gen
        slot = self.slot(var)
        for d, value in enumerate(dims):
            g.store(slot.dim(d), value)
        storage = self.program.storage[var]
        if storage.kind == "fresh":
            g.new_array(slot)
            return
        g.alloc_arena(slot, self.buffer_word(var), list(dims))

    def buffer_word(self, var: Variable) -> Any:
        """The first word of the arena buffer ``var`` lives in."""
        buffer = self.program.storage[var].buffer
        assert buffer is not None, f"{var} has no arena buffer"
        return self.buffer_words[buffer]

    def constants(self, values: Sequence[int]) -> list[Any]:
        """The ints a step's code uses that its rule's ``outline_constants`` lists: i64
        constants here, the outlined function's value arguments there."""
        return [iu.i64(v) for v in values]

    def nested(self, program: Program) -> Code:
        """The code of a program run by one of this program's steps (a loop body), in the
        same frame and function."""
        return Code(program, self.layout, self.gen)

    def with_gen(self, gen: Gen) -> Code:
        """This code as seen from a function ``gen`` builds (no slots of its own)."""
        return _OutlinedCode(self, gen, {}, {}, {})

    def outline(self, key: Hashable, prefix: str, slots: dict[Variable, Slot],
                emit: Callable[[Code, list[Any]], None], allocates: Sequence[Variable] = (),
                kernels: Sequence[Any] = (), values: Sequence[Any] = ()) -> None:
        """Emit ``emit(code, values)`` as a call of a function of the module, shared by every
        call with an equal ``key`` (which must say all the code depends on besides what
        follows). In it, ``code`` has the slots of ``slots``' variables, the arena buffers
        of ``allocates`` and the kernels ``kernels`` at frame positions passed as
        arguments, and gets ``values`` (IR values) as arguments. The variables' types may
        matter only through their dtype and broadcast pattern, and their storage kinds (in
        this code's program) only for ``allocates``."""
        storage = self.program.storage
        variables = list(slots)
        buffered = [v for v in allocates if storage[v].kind == "arena" and
                    storage[v].buffer is not None]
        words = ([slots[v].word for v in variables] + [self.buffer_word(v) for v in buffered] +
                 [self.kernel_word(spec) for spec in kernels])
        assert all(isinstance(w, int) for w in words), "outline from the entry point only"
        signature = tuple((_type_key(v.type), storage[v].kind if v in allocates else None)
                          for v in variables)
        full_key = (prefix, key, signature, tuple(variables.index(v) for v in buffered),
                    len(kernels), tuple(str(v.type) for v in values))

        def build(gen: Gen, args: list[Any]) -> None:
            at = iter(gen.word_arg(a) for a in args[:len(words)])
            own = {v: Slot(next(at), slots[v].ndim, slots[v].dtype) for v in variables}
            buffers = {v: next(at) for v in buffered}
            code = _OutlinedCode(self, gen, own, buffers, {spec: next(at) for spec in kernels},
                                 args[len(words):])
            emit(code, args[len(words):])

        fn = self.gen.outlined(full_key, [iu.I64] * len(words) + [v.type for v in values],
                               build, prefix)
        self.gen.call_status(fn, [iu.i64(w) for w in words] + list(values))

    def emit_step(self, step: Step) -> None:
        """The step's code: a call of the module's function for steps of its shape (see
        ``Rule.outline_key``), or inline for rules that have none."""
        rule_key = getattr(step.rule, "outline_key", None)
        own = rule_key(step) if rule_key is not None else None
        if own is None:
            step.rule.emit(self, step)
            return
        match = step.match
        variables = [v for v in dict.fromkeys([*match.reads, *step.node.outputs])
                     if v in self.slots]
        kernels = list(getattr(step.rule, "outline_kernels", lambda s: ())(step))
        constants = list(getattr(step.rule, "outline_constants", lambda s: ())(step))
        key = (own, tuple(sorted(match.aliases.items())), match.allocates, match.views,
               tuple(variables.index(v) for v in match.reads if v in self.slots))

        prefix = type(step.rule).__name__.removesuffix("Rule").lower().lstrip("_")
        self.outline(key, prefix, {v: self.slots[v] for v in variables},
                     lambda code, _: step.rule.emit(code, step), step.node.outputs, kernels,
                     [iu.i64(v) for v in constants])


def _type_key(vtype: Any) -> Any:
    if isinstance(vtype, TensorType):
        return vtype.dtype, vtype.broadcastable
    return vtype


class _OutlinedCode(Code):
    """The ``Code`` of an outlined function: its slots, buffers and kernels are at positions
    given as arguments; anything else (scratch buffers, copy kernels, library addresses) is
    the same for every caller in the module, so it is the outer code's."""

    def __init__(self, outer: Code, gen: Gen, slots: dict[Variable, Slot],
                 buffers: dict[Variable, Any], kernels: dict[Any, Any],
                 values: Sequence[Any] = ()) -> None:
        self.program = outer.program
        self.layout = outer.layout
        self.gen = gen
        self.slots = slots
        self._outer = outer
        self._buffers = buffers
        self._kernel_args = kernels
        self._values = list(values)

    def scratch_word(self, number: int) -> int:
        return self._outer.scratch_word(number)

    def kernel_word(self, spec: Any) -> Any:
        found = self._kernel_args.get(spec)
        return found if found is not None else self._outer.kernel_word(spec)

    def address_word(self, key: Any, resolve: Any) -> int:
        return self._outer.address_word(key, resolve)

    def buffer_word(self, var: Variable) -> Any:
        return self._buffers[var]

    def constants(self, values: Sequence[int]) -> list[Any]:
        assert len(values) == len(self._values)
        return self._values


def kernel_address(spec: Any) -> int:
    return compile_kernel(spec).address


def emit_steps(code: Code, steps: Sequence[Step], profile_words: int | None,
               current_step: int | None = None,
               after: Callable[[Code, Step], None] | None = None) -> None:
    """Every step in order; with ``profile_words``, each step's nanoseconds and calls are
    added to two words per step; with ``current_step``, the index of the step running is
    kept in that word (so that an error can name its node); ``after(code, step)`` emits
    code to follow each step (the NaN guard's checks)."""
    g = code.gen
    step_word = g.word_ptr(current_step) if current_step is not None else None
    for step in steps:
        if step_word is not None:
            g.b.store(iu.i64(step.index), step_word)
        start = g.now() if profile_words is not None else None
        code.emit_step(step)
        if profile_words is not None:
            g.add_time(profile_words + 2 * step.index, start)
        if after is not None:
            after(code, step)
