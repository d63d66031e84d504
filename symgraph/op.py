"""The op contract and the backend-neutral scalar ``Emitter`` protocol.

An ``Op`` is a value: the attributes named in ``__props__`` define its equality and hash, so two
ops built with equal parameters are interchangeable (and merge).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol

from symgraph.graph import Apply


class Op:
    """Base class of every operation, built-in or user-defined.

    Subclasses implement
    - ``make_node(*inputs) -> Apply``: check inputs, return an Apply with fresh outputs;
    - ``perform(node, inputs, output_storage)``: the NumPy reference; store output ``i`` in
      ``output_storage[i][0]``;
    and optionally
    - ``infer_shape(fgraph, node, input_shapes)`` (or the two-argument Theano form
      ``infer_shape(node, input_shapes)``): one tuple of symbolic dimensions per output;
    - ``grad(inputs, output_grads)`` or ``L_op(inputs, outputs, output_grads)``;
    - ``R_op(inputs, eval_points)`` for forward-mode differentiation;
    - ``connection_pattern(node)``: which inputs each output depends on, for the gradient.

    Class attributes
    ----------------
    __props__ : tuple of str
        The parameters that define equality and hash.
    default_output : int or None
        Which output ``op(*inputs)`` returns when there are several.
    lazy : bool
        True for ops such as ``ifelse`` that pick which inputs they need at run time
        (see ``needed_inputs``).
    destroy_map, view_map : dict
        ``{output: [input]}``: outputs that overwrite, or alias, an input.
    """

    __props__: tuple[str, ...] = ()
    default_output: int | None = None
    lazy: bool = False
    destroy_map: dict[int, list[int]] = {}
    view_map: dict[int, list[int]] = {}

    # -- value semantics ------------------------------------------------------------------
    def _props(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__props__)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other):
            return False
        if not _declares_props(type(self)):
            return False
        return self._props() == other._props()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        # Ops are values that never change once built, so the hash is computed once (props
        # such as a fused program or an inner graph are expensive to hash).
        try:
            return self.__dict__["_op_hash"]
        except (KeyError, AttributeError):
            pass
        if not _declares_props(type(self)):
            return id(self)
        value = hash((type(self).__name__, self._props()))
        try:
            self.__dict__["_op_hash"] = value
        except AttributeError:  # an op with __slots__: nowhere to keep it
            pass
        return value

    def __getstate__(self) -> Any:
        # The cached hash is not part of the value (string hashes differ between processes).
        state = super().__getstate__()
        if isinstance(state, dict) and "_op_hash" in state:
            state = {k: v for k, v in state.items() if k != "_op_hash"}
        return state

    def __str__(self) -> str:
        if not self.__props__:
            return type(self).__name__
        params = ", ".join(_short(v) for v in self._props())
        return f"{type(self).__name__}{{{params}}}"

    def __repr__(self) -> str:
        return str(self)

    # -- the contract ---------------------------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError(f"{type(self).__name__} must define make_node")

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define perform")

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        node = self.make_node(*inputs, **kwargs)
        if self.default_output is not None:
            return node.outputs[self.default_output]
        if len(node.outputs) == 1:
            return node.outputs[0]
        return list(node.outputs)

    def needed_inputs(self, node: Apply, values: dict[int, Any]) -> list[int] | None:
        """For lazy ops: indices of inputs still needed given those already computed.

        ``values`` maps input index to value for the inputs computed so far. Return ``[]`` once
        ``perform`` can run; the linker then passes ``None`` for inputs never computed.
        """
        return []

    def do_constant_folding(self, node: Apply) -> bool:
        return True


def _declares_props(cls: type) -> bool:
    """Ops without their own ``__props__`` compare by identity, as in Theano."""
    try:
        return _DECLARES_PROPS[cls]
    except KeyError:
        pass
    result = _DECLARES_PROPS[cls] = any("__props__" in c.__dict__ for c in cls.__mro__
                                        if c is not Op)
    return result


_DECLARES_PROPS: dict[type, bool] = {}


def call_infer_shape(op: Op, fgraph: Any, node: Apply,
                     input_shapes: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Call ``op.infer_shape`` in whichever signature it was written (PyTensor's or Theano's)."""
    method = op.infer_shape  # type: ignore[attr-defined]
    if _positional_arity(method) == 2:
        return list(method(node, input_shapes))
    return list(method(fgraph, node, input_shapes))


def _positional_arity(method: Any) -> int:
    cache = _ARITY_CACHE.get(getattr(method, "__func__", method))
    if cache is not None:
        return cache
    params = [p for p in inspect.signature(method).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    _ARITY_CACHE[getattr(method, "__func__", method)] = len(params)
    return len(params)


_ARITY_CACHE: dict[Any, int] = {}


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_short(v) for v in value)
    name = getattr(value, "name", None)
    if isinstance(name, str) and not isinstance(value, str):
        return name
    return str(value)


# The math functions ``Emitter.call`` takes, by the name rules use: C99 <math.h>'s real
# functions, under NumPy's name where NumPy's differs (``arcsin`` for ``asin``), with their
# C names and arities. Both code generators take their vocabulary from here (plus their own
# ``sigmoid`` and ``softplus``), so a row written with any of them compiles on both.
MATH_FUNCTIONS: dict[str, tuple[str, int]] = {
    **{name: (name, 1) for name in (
        "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "sin", "cos",
        "tan", "sinh", "cosh", "tanh", "erf", "erfc", "lgamma", "tgamma", "fabs", "floor",
        "ceil", "trunc", "rint", "round", "nearbyint", "asin", "acos", "atan", "asinh", "acosh",
        "atanh")},
    **{name: (name, 2) for name in (
        "pow", "atan2", "copysign", "fmod", "hypot", "fmax", "fmin", "fdim", "remainder",
        "nextafter")},
    "arcsin": ("asin", 1), "arccos": ("acos", 1), "arctan": ("atan", 1),
    "arcsinh": ("asinh", 1), "arccosh": ("acosh", 1), "arctanh": ("atanh", 1),
    "arctan2": ("atan2", 2),
}


class EmitError(NotImplementedError):
    """A scalar rule asked for something a backend cannot generate; the node then runs its
    ``perform`` (the backend names it in the profile and warns)."""


class Emitter(Protocol):
    """What a scalar kernel rule may ask of a code generator (LLVM and CUDA implement it).

    A rule is ``emit(e, *xs) -> value`` where ``xs`` are backend values of the op's scalar
    inputs, already in the op's compute dtype ``e.dtype``. Values remember their dtype, so
    ``compare`` and ``cast`` know signedness; results of ``compare`` are bool.

    - ``div``/``rem``: float division and ``fmod``; for integers C's truncating division and
      remainder (the rule must keep the divisor non-zero, e.g. with ``select``).
    - ``compare(predicate, a, b)``: ``==, !=, <, <=, >, >=`` (only ``!=`` is true for NaN).
    - ``select(cond, a, b)``: a non-bool ``cond`` counts as ``cond != 0``.
    - ``cast(a, dtype)``: NumPy ``astype``.
    - ``and_``, ``or_``, ``xor``, ``invert``: bitwise (logical on bool).
    - ``call(function, *args)``: float math by NumPy name (``exp``, ``log1p``, ``sin``, ``pow``,
      ``arctan2``, ``erf``, ``sigmoid``, ``softplus``, ...) and ``fabs``, ``floor``, ``ceil``,
      ``trunc``, ``rint``, ``copysign``, and the other functions of C99's <math.h> by their C
      names (``cbrt``, ``hypot``, ...): ``MATH_FUNCTIONS``. A rule (or an emitter) raises
      ``EmitError`` (or any ``NotImplementedError``) for what it cannot generate; the node
      then runs ``perform``.
    - ``fail_if(cond, error, message)``: the call raises ``error(message)`` where ``cond``
      holds, as NumPy does (integer powers with negative exponents); backends check after the
      kernel (LLVM re-runs the call on the reference path, CUDA sets its error flag).
    """

    dtype: str

    def constant(self, value: float | int | bool, dtype: str | None = None) -> Any: ...
    def add(self, a: Any, b: Any) -> Any: ...
    def sub(self, a: Any, b: Any) -> Any: ...
    def mul(self, a: Any, b: Any) -> Any: ...
    def div(self, a: Any, b: Any) -> Any: ...
    def rem(self, a: Any, b: Any) -> Any: ...
    def neg(self, a: Any) -> Any: ...
    def compare(self, predicate: str, a: Any, b: Any) -> Any: ...
    def select(self, cond: Any, a: Any, b: Any) -> Any: ...
    def cast(self, a: Any, dtype: str) -> Any: ...
    def and_(self, a: Any, b: Any) -> Any: ...
    def or_(self, a: Any, b: Any) -> Any: ...
    def xor(self, a: Any, b: Any) -> Any: ...
    def invert(self, a: Any) -> Any: ...
    def call(self, function: str, *args: Any) -> Any: ...
    def fail_if(self, cond: Any, error: type[Exception], message: str) -> None: ...
