"""Theano's ``theano.tensor.extra_ops``: ``cumsum``, ``cumprod``, ``repeat``, ``squeeze``,
``to_one_hot``."""

from __future__ import annotations

from typing import Any

from symgraph.ops import construct, elemwise
from symgraph.ops.basic import as_tensor_variable
from symgraph.ops.construct import repeat
from symgraph.ops.reduce import cumprod, cumsum
from symgraph.ops.shape import squeeze

__all__ = ["cumprod", "cumsum", "repeat", "squeeze", "to_one_hot"]


def to_one_hot(y: Any, nb_class: Any, dtype: Any = None) -> Any:
    """A (n, nb_class) matrix whose row ``i`` is one at column ``y[i]``, zero elsewhere.

    Parameters
    ----------
    y : (n,) integer tensor of class indices
    nb_class : int
    dtype : default ``config.floatX``
    """
    y = as_tensor_variable(y)
    hot = elemwise.eq(y.dimshuffle(0, "x"), construct.arange(nb_class).dimshuffle("x", 0))
    return elemwise.cast(hot, "floatX" if dtype is None else dtype)
