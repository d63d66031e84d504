"""Theano 1.0's ``theano.tensor.signal.pool``: ``pool_2d`` with Theano's keywords, the
deprecated ``ds=``, ``st=``, ``padding=`` included, and Theano's default
``ignore_border=False``."""

from __future__ import annotations

from typing import Any

from symgraph.ops import conv as _conv
from symgraph.ops import elemwise as _elemwise
from symgraph.ops.basic import as_tensor_variable

__all__ = ["max_pool_2d_same_size", "pool_2d"]

_MODES = {"max": "max", "sum": "sum", "average_inc_pad": "average_inc_pad",
          "average_exc_pad": "average_exc_pad", "average": "average_inc_pad",
          "max_deterministic": "max"}


def _renamed(new: Any, old: Any, new_name: str, old_name: str, unset: Any = None) -> Any:
    if old is None:
        return new
    if new is not unset and new != unset:
        raise ValueError(f"pool_2d: give {new_name} or its old name {old_name}, not both")
    return old


def pool_2d(input: Any, ws: Any = None, ignore_border: bool | None = None, stride: Any = None,
            pad: Any = (0, 0), mode: str = "max", ds: Any = None, st: Any = None,
            padding: Any = None) -> Any:
    """Pooling over the last two dimensions of ``input``, as Theano 1.0's ``pool_2d``.

    Parameters
    ----------
    input : (..., rows, cols) tensor, rank >= 2
    ws : (int, int)
        Window size (``ds`` is its deprecated name).
    ignore_border : bool, optional
        Theano's default is False: windows that stick out past the end are kept (partial
        windows), unlike ``sg.nnet.pool_2d`` whose default is True.
    stride : (int, int), optional
        Default ``ws`` (``st`` is its deprecated name).
    pad : (int, int)
        Zero padding on each side (``padding`` is its deprecated name); needs
        ``ignore_border=True``.
    mode : {'max', 'sum', 'average_inc_pad', 'average_exc_pad'}
        ``'average'`` is taken as ``'average_inc_pad'``.

    Returns
    -------
    (..., out_rows, out_cols), the input's dtype.

    Raises
    ------
    ValueError
        For no window size, a keyword given under both its names, an unknown mode, or
        padding without ``ignore_border=True``.
    NotImplementedError
        For an input of rank < 2.
    """
    ws = _renamed(ws, ds, "ws", "ds")
    stride = _renamed(stride, st, "stride", "st")
    pad = _renamed(pad, padding, "pad", "padding", unset=(0, 0))
    if ws is None:
        raise ValueError("pool_2d: give the window size ws")
    if mode not in _MODES:
        raise ValueError(f"pool_2d: unknown mode {mode!r}; known: {sorted(_MODES)}")
    input = as_tensor_variable(input)
    if input.ndim < 2:
        raise NotImplementedError(f"pool_2d needs an input of rank >= 2, got {input.type}")
    return _conv.pool_2d(input, ws, bool(ignore_border), stride,
                         (0, 0) if pad is None else pad, _MODES[mode])


def max_pool_2d_same_size(input: Any, patch_size: Any) -> Any:
    """``input`` where each cell keeps its value if it is a maximum of its patch of
    ``patch_size`` (patches do not overlap; the last ones may be partial), else 0."""
    input = as_tensor_variable(input)
    rows, cols = patch_size
    pooled = pool_2d(input, patch_size, ignore_border=False)
    spread = pooled.repeat(rows, axis=-2).repeat(cols, axis=-1)
    index = (slice(None),) * (input.ndim - 2) + (slice(0, input.shape[-2]),
                                                 slice(0, input.shape[-1]))
    return _elemwise.switch(_elemwise.eq(input, spread[index]), input, 0)
