"""Jacobians and Hessians: one gradient per element of the expression.

When the expression's length is known statically the rows are built one by one; otherwise
they are computed by a ``scan`` over the rows, as Theano does, so any length works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symgraph.graph import Variable
from symgraph.grad import as_list_and_flag, grad
from symgraph.ops import construct, elemwise
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import as_tensor_variable
from symgraph.scan import scan

# Up to this many rows, a statically known Jacobian is unrolled (no loop at run time).
UNROLL_LIMIT = 64


def jacobian(expression: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
             disconnected_inputs: str = "raise") -> Any:
    """Jacobian of ``expression`` with respect to ``wrt``: shape ``expression.shape + wrt.shape``.

    Parameters
    ----------
    expression : Variable of any rank (a 0-d one gives the gradient)
    wrt : Variable or list of Variables

    Returns
    -------
    Variable or list of Variables, matching ``wrt``.

    Raises
    ------
    DisconnectedInputError
        With ``disconnected_inputs='raise'``, for a variable the expression does not use.
    """
    expression = as_tensor_variable(expression)
    wrt_list, as_list = as_list_and_flag(wrt)
    if expression.ndim == 0:
        rows = grad(expression, wrt_list, consider_constant, disconnected_inputs)
        return rows if as_list else rows[0]
    flat = shape_ops.flatten(expression, 1) if expression.ndim > 1 else expression
    length = flat.type.shape[0]
    results = []
    for w in wrt_list:
        if length is not None and length <= UNROLL_LIMIT:
            rows = [grad(flat[i], w, consider_constant, disconnected_inputs)
                    for i in range(length)]
            stacked = shape_ops.stack(rows) if rows else elemwise.zeros_like(w)
        else:
            stacked, _ = scan(lambda i, w=w: grad(flat[i], w, consider_constant,
                                                  disconnected_inputs),
                              sequences=[construct.arange(shape_ops.shape_i(flat, 0))])
        if expression.ndim > 1:
            dims = [shape_ops.shape_i(expression, i) for i in range(expression.ndim)]
            dims += [shape_ops.shape_i(w, i) for i in range(w.ndim)]
            stacked = shape_ops.reshape(stacked, tuple(dims))
        results.append(stacked)
    return results if as_list else results[0]


def hessian(cost: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """Hessian of a scalar ``cost`` with respect to each variable in ``wrt``
    (shape ``wrt.shape + wrt.shape``)."""
    wrt_list, as_list = as_list_and_flag(wrt)
    results = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant, disconnected_inputs)
        results.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return results if as_list else results[0]
