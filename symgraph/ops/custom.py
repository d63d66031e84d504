"""Wrapping plain NumPy functions as ops: ``@sg.as_op(itypes=[...], otypes=[...])``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType, Type

__all__ = ["as_op", "FromFunctionOp"]


def _as_type(spec: Any) -> Type:
    """Accept a Type, or a Theano-style constructor such as ``sg.dmatrix``."""
    if isinstance(spec, Type):
        return spec
    if callable(spec):
        made = spec()
        if isinstance(made, Variable):
            return made.type
    raise TypeError(f"as_op: {spec!r} is neither a Type nor a variable constructor")


class FromFunctionOp(Op):
    """An op whose ``perform`` calls a Python function on NumPy arrays.

    It has no gradient unless one is given, and an ``infer_shape`` only when the decorator
    received one (``infer_shape(node, input_shapes)``, Theano's form).
    """

    __props__ = ("fn", "itypes", "otypes", "infer_shape_fn", "grad_fn")

    def __init__(self, fn: Callable[..., Any], itypes: Sequence[Type], otypes: Sequence[Type],
                 infer_shape: Callable[..., Any] | None = None,
                 grad: Callable[..., Any] | None = None) -> None:
        self.fn = fn
        self.itypes = tuple(itypes)
        self.otypes = tuple(otypes)
        self.infer_shape_fn = infer_shape
        self.grad_fn = grad
        self.__name__ = getattr(fn, "__name__", "as_op")
        self.__doc__ = fn.__doc__

    def __str__(self) -> str:
        return f"FromFunctionOp{{{self.__name__}}}"

    def __reduce__(self) -> Any:
        # ``@as_op`` replaces the function by the op under the function's own name, so the
        # function cannot be pickled by reference: the op is, when that name leads to it.
        module, qualname = getattr(self.fn, "__module__", None), self.fn.__qualname__
        if module and _find_global(module, qualname) is self:
            return (_load_global, (module, qualname))
        return super().__reduce__()

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != len(self.itypes):
            raise TypeError(f"{self}: expected {len(self.itypes)} inputs, got {len(inputs)}")
        variables = []
        for i, (value, itype) in enumerate(zip(inputs, self.itypes)):
            var = as_tensor_variable(value)
            if not itype.is_compatible(var.type):
                raise TypeError(f"{self}: input {i} ({var}) has type {var.type}, expected {itype}")
            variables.append(var)
        return Apply(self, variables, [t.make_variable() for t in self.otypes])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        results = self.fn(*inputs)
        if len(self.otypes) == 1:
            results = [results]
        if len(results) != len(self.otypes):
            raise ValueError(f"{self}: the function returned {len(results)} values, declared "
                             f"{len(self.otypes)} outputs")
        for cell, value, otype in zip(output_storage, results, self.otypes):
            cell[0] = np.asarray(value, dtype=otype.dtype) if isinstance(
                otype, TensorType) else value

    def infer_shape(self, node: Apply, input_shapes: Sequence[Any]) -> list:
        if self.infer_shape_fn is None:
            raise NotImplementedError(f"{self} was made without infer_shape")
        return list(self.infer_shape_fn(node, input_shapes))

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        if self.grad_fn is None:
            raise NotImplementedError(
                f"{self} has no gradient: pass grad=... to as_op or subclass sg.Op and define "
                f"grad/L_op")
        return list(self.grad_fn(inputs, output_grads))


def _find_global(module: str, qualname: str) -> Any:
    """``module.qualname`` if that module is imported and has it, else None."""
    target: Any = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target


def _load_global(module: str, qualname: str) -> Any:
    """``module.qualname``, importing the module as unpickling any global does."""
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def as_op(itypes: Sequence[Any], otypes: Sequence[Any],
          infer_shape: Callable[..., Any] | None = None,
          grad: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Op]:
    """Decorator turning a NumPy function into an op (Theano's ``as_op``).

    Parameters
    ----------
    itypes, otypes : list of TensorType (or constructors such as ``sg.dmatrix``)
        Input and output types; inputs are checked against ``itypes``.
    infer_shape : callable, optional
        ``infer_shape(node, input_shapes) -> [output shape, ...]``.
    grad : callable, optional
        ``grad(inputs, output_grads) -> [input gradient, ...]`` built from symgraph ops.

    Returns
    -------
    A function that builds the op's node when called on symbolic inputs.

    Raises
    ------
    TypeError
        When called on inputs of the wrong number or type.
    """
    input_types = [_as_type(t) for t in itypes]
    output_types = [_as_type(t) for t in otypes]

    def decorator(fn: Callable[..., Any]) -> Op:
        return FromFunctionOp(fn, input_types, output_types, infer_shape, grad)

    return decorator
