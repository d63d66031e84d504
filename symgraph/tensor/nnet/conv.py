"""Theano's older ``theano.tensor.nnet.conv``: ``conv2d(input, filters, image_shape,
filter_shape, border_mode, subsample)``, a true convolution ('valid' or 'full')."""

from __future__ import annotations

from typing import Any

from symgraph.ops import conv as _conv

__all__ = ["conv2d"]


def conv2d(input: Any, filters: Any, image_shape: Any = None, filter_shape: Any = None,
           border_mode: str = "valid", subsample: Any = (1, 1), **kwargs: Any) -> Any:
    """2-D convolution of (batch, channels, rows, cols) images with (out_channels, channels,
    rows, cols) filters, flipped as in Theano; ``image_shape`` and ``filter_shape`` are
    shape hints.

    Raises
    ------
    ValueError
        For a ``border_mode`` other than 'valid' or 'full'.
    """
    if border_mode not in ("valid", "full"):
        raise ValueError(f"conv.conv2d: border_mode must be 'valid' or 'full', got "
                         f"{border_mode!r}")
    return _conv.conv2d(input, filters, image_shape, filter_shape, border_mode, subsample, True)
