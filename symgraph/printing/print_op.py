"""``Print``: Theano's op that prints a value each time the compiled function computes it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from symgraph.graph import Apply
from symgraph.op import Op
from symgraph.ops.basic import as_tensor_variable

__all__ = ["Print"]


def print_attributes(op: "Print", value: Any) -> None:
    """Theano's way: one line per attribute, ``message attribute = value``."""
    for attr in op.attrs:
        found = getattr(value, attr)
        print(op.message, attr, "=", found() if callable(found) else found, file=sys.stdout)


class Print(Op):
    """``x`` itself, printed each time the graph runs: ``Print("x")(x)``.

    Parameters
    ----------
    message : str
        Printed first on each line.
    attrs : tuple of str
        Attributes (or methods, called) of the NumPy value to print, one line each; the
        default ``("__str__",)`` prints the value.
    global_fn : callable, optional
        ``global_fn(op, value)`` does the printing instead (Theano's hook).

    Notes
    -----
    The op runs its Python ``perform`` on every backend (the llvm one calls it back from
    compiled code), so the printing happens in the order the function computes the nodes,
    also inside a ``scan`` loop. Its gradient is the output gradient: printing a variable does
    not change any derivative.

    Examples
    --------
    >>> import numpy as np
    >>> import symgraph as sg
    >>> from symgraph.printing import Print
    >>> x = sg.dvector("x")
    >>> f = sg.function([x], Print("x is")(x) * 2)
    >>> f(np.array([1.0, 2.0]))
    x is __str__ = [1. 2.]
    array([2., 4.])
    """

    __props__ = ("message", "attrs", "global_fn")
    view_map = {0: [0]}
    # Printing is the point: the backends run perform without a PerformFallbackWarning.
    perform_on_every_backend = True

    def __init__(self, message: str = "", attrs: Sequence[str] = ("__str__",),
                 global_fn: Callable[["Print", Any], None] = print_attributes) -> None:
        self.message = message
        self.attrs = tuple(attrs)
        self.global_fn = global_fn

    def __str__(self) -> str:
        return f"Print{{{self.message}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        (value,) = inputs
        self.global_fn(self, value)
        output_storage[0][0] = value

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        return list(output_grads)

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return list(eval_points)

    def do_constant_folding(self, node: Apply) -> bool:
        return False
