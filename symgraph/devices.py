"""Where a shared variable's value lives: ``sg.shared(value, target=...)``.

The ops layer makes host shared variables (symgraph.ops.basic.shared); a device's shared
variables are made by its own module (symgraph.cuda), which sits above it. This module, above
both, holds the table from target name to maker, so no layer registers into another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from symgraph import cuda
from symgraph.ops import basic

# Target name -> the function making a shared variable there.
TARGETS: dict[str, Callable[..., Any]] = {"cpu": basic.shared, "cuda": cuda.shared}


def shared(value: Any, name: str | None = None, borrow: bool = False, strict: bool = False,
           allow_downcast: bool | None = None, shape: Sequence[int | None] | None = None,
           target: str | None = None, broadcastable: Sequence[bool] | None = None) -> Any:
    """Make a shared variable holding ``value``.

    Parameters
    ----------
    value : array_like or numpy.random.Generator
        Python floats take ``config.floatX``; arrays keep their dtype.
    name : str, optional
    borrow : bool
        Keep a reference to ``value`` instead of copying it.
    shape : sequence of (int or None), optional
        Static shape; by default every dimension is unknown, so ``set_value`` may change it.
    target : {None, 'cpu', 'cuda'}
        Where the value lives; ``'cuda'`` keeps it in GPU memory (``sg.cuda.shared``).
    broadcastable : sequence of bool, optional
        Theano's form of ``shape``: ``True`` for a dimension of length 1 that broadcasts
        (static shape 1), ``False`` for any other.

    Raises
    ------
    ValueError
        For an unknown ``target`` (the known ones are the keys of ``TARGETS``).
    RuntimeError
        For ``'cuda'`` when no GPU is usable.
    TypeError
        If ``value`` cannot become an array of a supported dtype; if both ``shape`` and
        ``broadcastable`` are given.
    """
    make = TARGETS.get("cpu" if target is None else target)
    if make is None:
        raise ValueError(f"shared(): unknown target {target!r}; known: {sorted(TARGETS)}")
    if broadcastable is not None:
        if shape is not None:
            raise TypeError("shared(): give shape or broadcastable, not both")
        shape = tuple(1 if b else None for b in broadcastable)
    return make(value, name=name, borrow=borrow, strict=strict, allow_downcast=allow_downcast,
                shape=shape)
