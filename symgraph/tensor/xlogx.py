"""Theano's ``theano.tensor.xlogx``: ``xlogx(x) = x log x`` and ``xlogy0(x, y) = x log y``,
both taken as 0 where ``x`` is 0 (entropies and cross-entropies of binary values)."""

from __future__ import annotations

from typing import Any

from symgraph.ops import elemwise
from symgraph.ops.basic import as_tensor_variable

__all__ = ["xlogx", "xlogy0"]


def xlogx(x: Any) -> Any:
    """``x * log(x)``, 0 where ``x == 0``.

    Notes
    -----
    Written as ``x * log(switch(x == 0, 1, x))``, so that no NaN reaches the value or the
    gradient: the gradient, ``log(x) + 1``, is taken as 0 at 0 (Theano's is -inf there).
    """
    x = as_tensor_variable(x)
    return x * elemwise.log(elemwise.switch(elemwise.eq(x, 0), elemwise.ones_like(x), x))


def xlogy0(x: Any, y: Any) -> Any:
    """``x * log(y)``, 0 where ``x == 0`` (whatever ``y``, ``log(0)`` included).

    Notes
    -----
    Written as ``x * log(switch(x == 0, 1, y))``: where ``x`` is 0 both partial derivatives
    are 0 (Theano's gave ``log(y)`` and ``x / y``, NaN when ``y`` is 0 too).
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    safe_y = elemwise.switch(elemwise.eq(x, 0), elemwise.ones_like(y), y)
    return x * elemwise.log(safe_y)
