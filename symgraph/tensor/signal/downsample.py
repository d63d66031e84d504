"""Theano's older ``theano.tensor.signal.downsample``: ``max_pool_2d(input, ds, ...)``."""

from __future__ import annotations

from typing import Any

from symgraph.tensor.signal.pool import pool_2d

__all__ = ["max_pool_2d"]


def max_pool_2d(input: Any, ds: Any, ignore_border: bool | None = None, st: Any = None,
                padding: Any = (0, 0), mode: str = "max") -> Any:
    """``pool.pool_2d(input, ws=ds, ignore_border, stride=st, pad=padding, mode)``."""
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)
