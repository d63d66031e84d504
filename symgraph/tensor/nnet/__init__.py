"""Theano's ``theano.tensor.nnet``: activations, softmax, crossentropies and ``conv2d``.

Theano's semantics hold here where they differ from ``sg.nnet``: ``softmax`` and
``logsoftmax`` of a vector return a ``(1, n)`` row, and ``conv2d`` takes Theano 1.0's keywords
(``image_shape``, ``filter_dilation``, ``num_groups``).
"""

from __future__ import annotations

from typing import Any

from symgraph.ops import conv as _conv
from symgraph.ops import elemwise as _elemwise
from symgraph.ops import nnet as _nnet
from symgraph.ops.basic import as_tensor_variable
from symgraph.ops.nnet import (  # noqa: F401
    binary_crossentropy,
    categorical_crossentropy,
    crossentropy_categorical_1hot,
    elu,
    hard_sigmoid,
    relu,
    selu,
    sigmoid,
    softplus,
    softsign,
)
from symgraph.tensor.nnet import bn, conv  # noqa: F401

__all__ = ["binary_crossentropy", "bn", "categorical_crossentropy", "conv", "conv2d",
           "crossentropy_categorical_1hot", "crossentropy_softmax_1hot", "elu",
           "hard_sigmoid", "log_softmax", "logsoftmax", "relu", "selu", "sigmoid",
           "sigmoid_binary_crossentropy", "softmax", "softmax_graph", "softmax_with_bias",
           "softplus", "softsign", "ultra_fast_sigmoid"]

# Theano's fast approximation; symgraph's sigmoid is exact and fast.
ultra_fast_sigmoid = sigmoid


def _as_rows(c: Any) -> Any:
    c = as_tensor_variable(c)
    return c.dimshuffle("x", 0) if c.ndim == 1 else c


def softmax(c: Any, axis: Any = None) -> Any:
    """Softmax of each row (Theano): a vector gives a ``(1, n)`` row.

    Parameters
    ----------
    c : (n,) or (rows, n) tensor; more dimensions take the softmax over the last axis
    axis : int, optional
        PyTensor's keyword: given, the softmax runs over that axis and a vector stays a
        vector (``sg.nnet.softmax``'s semantics).

    Returns
    -------
    (1, n) for a vector, else ``c``'s shape; float dtype.
    """
    if axis is not None:
        return _nnet.softmax(c, axis=axis)
    return _nnet.softmax(_as_rows(c), axis=-1)


def logsoftmax(c: Any, axis: Any = None) -> Any:
    """``log(softmax(c))`` computed stably; a vector gives a ``(1, n)`` row (Theano)."""
    if axis is not None:
        return _nnet.log_softmax(c, axis=axis)
    return _nnet.log_softmax(_as_rows(c), axis=-1)


log_softmax = logsoftmax


def softmax_graph(c: Any) -> Any:
    """The softmax written out: ``exp(c) / exp(c).sum(axis=-1, keepdims=True)``."""
    e = _elemwise.exp(as_tensor_variable(c))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_with_bias(x: Any, b: Any) -> Any:
    """``softmax(x + b)`` for a (rows, n) ``x`` and an (n,) bias."""
    return softmax(as_tensor_variable(x) + b)


def crossentropy_softmax_1hot(x: Any, y_idx: Any) -> tuple[Any, Any]:
    """``(crossentropy, softmax)`` of logits ``x`` (rows, n) and class indices ``y_idx``."""
    return _nnet.softmax_crossentropy(x, y_idx), softmax(x)


def sigmoid_binary_crossentropy(output: Any, target: Any) -> Any:
    """``binary_crossentropy(sigmoid(output), target)`` computed stably from the logits
    ``output``: ``target * softplus(-output) + (1 - target) * softplus(output)``."""
    output = as_tensor_variable(output)
    return target * _elemwise.softplus(-output) + (1 - target) * _elemwise.softplus(output)


def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           image_shape: Any = None, filter_dilation: Any = (1, 1), num_groups: int = 1,
           unshared: bool = False, **kwargs: Any) -> Any:
    """Theano 1.0's ``conv2d``: ``sg.nnet.conv2d`` with ``image_shape`` as the old name of
    ``input_shape``.

    Raises
    ------
    NotImplementedError
        For ``filter_dilation`` other than (1, 1), ``num_groups`` other than 1, or
        ``unshared=True``.
    """
    if tuple(filter_dilation) != (1, 1) or num_groups != 1 or unshared:
        raise NotImplementedError("conv2d: filter_dilation, num_groups and unshared are not "
                                  "supported")
    if image_shape is not None:
        if input_shape is not None:
            raise ValueError("conv2d: give input_shape or its old name image_shape, not both")
        input_shape = image_shape
    return _conv.conv2d(input, filters, input_shape, filter_shape, border_mode, subsample,
                        filter_flip)
