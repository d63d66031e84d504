"""Neural-network ops (``sg.nnet``): activations, softmax and log-softmax, crossentropies,
dropout, and the convolution and pooling of ``symgraph.ops.conv``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops import conv, elemwise, random, reduce
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType, broadcast_static_shapes

__all__ = ["binary_crossentropy", "categorical_crossentropy", "conv2d",
           "crossentropy_categorical_1hot", "dropout", "elu", "hard_sigmoid", "log_softmax",
           "logsoftmax", "max_pool_2d", "pool_2d", "relu", "selu", "sigmoid", "softmax",
           "softmax_crossentropy", "softplus", "softsign"]


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------

def sigmoid(x: Any) -> Any:
    """Logistic function ``1 / (1 + exp(-x))``, elementwise, without overflow.

    The elementwise table's ``sigmoid`` row (also ``sg.sigmoid``); float result, same shape.
    """
    return elemwise.sigmoid(x)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, elementwise, without overflow (Dugas et al., 2001).

    The elementwise table's ``softplus`` row (also ``sg.softplus``); its derivative is
    ``sigmoid(x)``.
    """
    return elemwise.softplus(x)


def relu(x: Any, alpha: Any = 0) -> Any:
    """Rectifier ``max(x, 0)``, or the leaky rectifier ``x if x > 0 else alpha * x``.

    Parameters
    ----------
    x : tensor of any shape
    alpha : float or scalar tensor
        Slope for negative inputs; with the default 0 this is the elementwise ``relu`` row.

    Returns
    -------
    Tensor of ``x``'s shape (and dtype, promoted with ``alpha``).

    Notes
    -----
    The gradient at ``x == 0`` is ``alpha`` (0 for the plain rectifier), as in Theano.
    """
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha == 0:
        return elemwise.relu(x)
    x = as_tensor_variable(x)
    return elemwise.switch(elemwise.gt(x, 0), x, alpha * x)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    References
    ----------
    Clevert, Unterthiner, Hochreiter, "Fast and Accurate Deep Network Learning by
    Exponential Linear Units (ELUs)", ICLR 2016.
    """
    x = as_tensor_variable(x)
    return elemwise.switch(elemwise.gt(x, 0), x, alpha * elemwise.expm1(x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Any) -> Any:
    """Scaled ELU ``scale * elu(x, alpha)`` with the self-normalising constants.

    References
    ----------
    Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural Networks", NIPS 2017.
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def hard_sigmoid(x: Any) -> Any:
    """Piecewise-linear sigmoid ``clip(0.2 * x + 0.5, 0, 1)`` (Theano's ``hard_sigmoid``)."""
    x = as_tensor_variable(x)
    return elemwise.clip(0.2 * x + 0.5, 0, 1)


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``, elementwise."""
    x = as_tensor_variable(x)
    return x / (1 + elemwise.abs(x))


# ---------------------------------------------------------------------------------------------
# Softmax
# ---------------------------------------------------------------------------------------------

class _SoftmaxBase(Op):
    """What ``Softmax`` and ``LogSoftmax`` share: any rank, ``axis`` int or None."""

    abstract = True

    __props__ = ("axis",)

    def __init__(self, axis: int | None = -1) -> None:
        is_int = isinstance(axis, (int, np.integer)) and not isinstance(axis, bool)
        if axis is not None and not is_int:
            raise TypeError(f"{type(self).__name__}: axis must be an int or None, got {axis!r}")
        self.axis = None if axis is None else int(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not dt.is_float(x.dtype) and not dt.is_integer(x.dtype):
            raise TypeError(f"{self}: input x must be numeric, got {x.dtype} ({x})")
        if self.axis is not None:
            reduce.normalize_axis(self.axis, x.ndim)
        out_type = TensorType(dt.upgrade_to_float(x.dtype), x.type.shape)
        return Apply(self, [x], [out_type.make_variable()])

    def shifted(self, x: np.ndarray, dtype: str) -> np.ndarray:
        """``x`` minus its maximum along the axis, so that ``exp`` cannot overflow."""
        x = np.asarray(x, dtype=dt.compute_dtype(dtype))
        if x.size == 0:
            return x
        return x - np.max(x, axis=self.axis, keepdims=True)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def sum_along(self, value: Any) -> Any:
        return reduce.sum(value, axis=self.axis, keepdims=True)

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (out,), (gz,) = inputs, outputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        return [self._grad(out, gz)]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if eval_points[0] is None:
            return [None]
        return [self._tangent(self(inputs[0]), eval_points[0])]

    def _grad(self, out: Any, gz: Any) -> Any:
        """The input gradient from the output ``out`` and its gradient ``gz``."""
        raise NotImplementedError

    def _tangent(self, out: Any, v: Any) -> Any:
        """The output's tangent along ``v`` from the output ``out``."""
        raise NotImplementedError


class Softmax(_SoftmaxBase):
    """``exp(x) / sum(exp(x), axis)``, computed as ``exp(x - max)`` so it never overflows.

    Output: ``x``'s shape, float dtype (integer inputs are upgraded as ``exp`` does).
    Gradient: ``(gz - sum(gz * sm, axis)) * sm``.
    """

    abstract = False

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        dtype = node.outputs[0].dtype
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(self.shifted(inputs[0], dtype))
            out = e / np.sum(e, axis=self.axis, keepdims=True)
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def _grad(self, out: Any, gz: Any) -> Any:
        return (gz - self.sum_along(gz * out)) * out

    def _tangent(self, out: Any, v: Any) -> Any:
        return (v - self.sum_along(v * out)) * out


class LogSoftmax(_SoftmaxBase):
    """``x - max - log(sum(exp(x - max), axis))``: the log of ``Softmax``, stable for large and
    very negative inputs alike.

    Output: ``x``'s shape, float dtype. Gradient: ``gz - exp(out) * sum(gz, axis)``.
    """

    abstract = False

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        dtype = node.outputs[0].dtype
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            z = self.shifted(inputs[0], dtype)
            out = z - np.log(np.sum(np.exp(z), axis=self.axis, keepdims=True))
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def _grad(self, out: Any, gz: Any) -> Any:
        return gz - elemwise.exp(out) * self.sum_along(gz)

    def _tangent(self, out: Any, v: Any) -> Any:
        return v - self.sum_along(v * elemwise.exp(out))


class SoftmaxStats(Op):
    """Each row's maximum and sum of shifted exponentials, ``(m, s)`` with ``m = max(x, 1)``
    and ``s = sum(exp(x - m[:, None]), 1)``, for a float matrix: the two statistics of a row
    softmax, read from ``x`` once where compiled ("Online normalizer calculation for
    softmax", Milakov & Gimelshein 2018).

    Input: ``x`` (rows, columns) float32 or float64. Outputs: ``m`` and ``s``, (rows,) in
    ``x``'s dtype; ``s`` is summed in float64 for float32 (as ``sum`` is). A row holding NaN,
    or +inf, gives NaN for ``s``; a row of -inf gives ``m = -inf`` and ``s`` NaN, as the two
    separate reductions give. A row whose maximum is a zero may give either sign for it
    (``x - m`` is the same).

    Made by the specialize phase (``max_and_sum_exp_to_stats``) from ``max(x, 1)`` and
    ``sum(exp(x - max(x, 1, keepdims=True)), 1)``, the softmax denominator and
    ``logsumexp``'s inner sum. Gradient: ``gs[:, None] * exp(x - m[:, None])`` plus the
    maximum's gradient for ``gm - gs * s`` (``m`` moves ``s`` through the shift).

    Raises
    ------
    TypeError
        If ``x`` is not a float32 or float64 matrix.
    ValueError
        At run time, when ``x`` has no columns (a maximum has no identity).
    """

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 2 or x.dtype not in ("float32", "float64"):
            raise TypeError(f"{self}: input x must be a float32 or float64 matrix, got "
                            f"{x.type} ({x})")
        row = TensorType(x.dtype, x.type.shape[:1])
        return Apply(self, [x], [row.make_variable(), row.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        if x.shape[1] == 0:
            raise ValueError(f"{self}: cannot take the maximum of rows of shape {x.shape} "
                             f"over an empty axis")
        m = np.max(x, axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(x - m[:, None])
            s = np.sum(e, axis=1, dtype=reduce.accumulator_dtype("add", x.dtype))
        output_storage[0][0] = m
        output_storage[1][0] = np.asarray(s, dtype=x.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        rows = (input_shapes[0][0],)
        return [rows, rows]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (m, s), (gm, gs) = inputs, outputs, output_grads
        if gs is None and gm is None:
            return [None]
        through_max = gm if gs is None else (-gs * s if gm is None else gm - gs * s)
        largest = reduce.max(x, axis=1)
        g = largest.owner.op.L_op([x], [largest], [through_max])[0]
        if gs is not None:
            column = (0, "x")
            g = g + elemwise.dimshuffle(gs, column) * \
                elemwise.exp(x - elemwise.dimshuffle(m, column))
        return [g]


def _softmax_axis(x: Any, axis: Any) -> int | None:
    return None if axis is None else reduce.normalize_axis(axis, x.ndim)[0]


def softmax(x: Any, axis: Any = -1) -> Any:
    """Softmax along ``axis``: ``exp(x) / sum(exp(x), axis, keepdims=True)``.

    Parameters
    ----------
    x : tensor of rank >= 1 (any dtype; integers give a float result)
    axis : int or None
        The axis that sums to one (``None``: all the elements together).

    Returns
    -------
    Tensor of ``x``'s shape; float dtype.

    Raises
    ------
    TypeError
        For a non-integer axis or a non-numeric ``x``.
    ValueError
        For an axis out of range.

    Notes
    -----
    The maximum along ``axis`` is subtracted first, so large inputs do not overflow. The
    gradient is a graph, ``(gz - sum(gz * sm, axis)) * sm``, so it can be differentiated again.
    """
    x = as_tensor_variable(x)
    return Softmax(_softmax_axis(x, axis))(x)


def log_softmax(x: Any, axis: Any = -1) -> Any:
    """``log(softmax(x, axis))``, computed stably as ``x - logsumexp(x, axis)``.

    Parameters, shapes and errors as for ``softmax``. The gradient is the graph
    ``gz - exp(out) * sum(gz, axis)``.
    """
    x = as_tensor_variable(x)
    return LogSoftmax(_softmax_axis(x, axis))(x)


logsoftmax = log_softmax


# ---------------------------------------------------------------------------------------------
# Crossentropies
# ---------------------------------------------------------------------------------------------

def _match_static(a: Sequence[int | None], b: Sequence[int | None], what: str) -> tuple:
    merged = []
    for axis, (x, y) in enumerate(zip(a, b)):
        if x is not None and y is not None and x != y:
            raise ValueError(f"{what}: static shapes {tuple(a)} and {tuple(b)} differ on axis "
                             f"{axis}")
        merged.append(x if x is not None else y)
    return tuple(merged)


def _class_inputs(op: Op, coding_dist: Any, true_one_of_n: Any) -> tuple[Any, Any]:
    p = as_tensor_variable(coding_dist)
    t = as_tensor_variable(true_one_of_n)
    if p.ndim < 1 or not dt.is_float(p.dtype):
        raise TypeError(f"{op}: coding_dist must be a float tensor of rank >= 1, got {p.type}")
    if t.ndim != p.ndim - 1 or not dt.is_integer(t.dtype):
        raise TypeError(f"{op}: true_one_of_n must be an integer tensor of rank {p.ndim - 1} "
                        f"(one class index per row of coding_dist), got {t.type}")
    return p, t


def _picked(op: Op, p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``p[..., t]`` row by row; ``ValueError`` for shapes that differ or classes out of range."""
    if p.shape[:-1] != t.shape:
        raise ValueError(f"{op}: coding_dist of shape {p.shape} needs class indices of shape "
                         f"{p.shape[:-1]}, got {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= p.shape[-1]):
        raise ValueError(f"{op}: class indices must lie in [0, {p.shape[-1]}), got values from "
                         f"{t.min()} to {t.max()}")
    return np.take_along_axis(p, t[..., None].astype(np.intp), axis=-1)[..., 0]


class CrossentropyCategorical1Hot(Op):
    """``-log(coding_dist[..., true_one_of_n])``: crossentropy against integer class labels.

    Inputs: ``coding_dist`` (..., n_classes) float, ``true_one_of_n`` (...) integer.
    Output: (...) in ``coding_dist``'s dtype. Gradient with respect to ``coding_dist``:
    ``CrossentropyCategorical1HotGrad``; none for the labels.
    """

    __props__ = ()

    def make_node(self, coding_dist: Any, true_one_of_n: Any) -> Apply:
        p, t = _class_inputs(self, coding_dist, true_one_of_n)
        shape = _match_static(p.type.shape[:-1], t.type.shape, str(self))
        return Apply(self, [p, t], [TensorType(p.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        p, t = inputs
        dtype = node.outputs[0].dtype
        picked = _picked(self, np.asarray(p, dtype=dt.compute_dtype(dtype)), t)
        with np.errstate(divide="ignore"):
            output_storage[0][0] = np.asarray(-np.log(picked), dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[1])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (p, t), (gy,) = inputs, output_grads
        return [CrossentropyCategorical1HotGrad()(gy, p, t), None]


class CrossentropyCategorical1HotGrad(Op):
    """Gradient of ``CrossentropyCategorical1Hot``: zeros of ``coding_dist``'s shape except
    ``-output_grad / coding_dist`` at each row's true class.

    Inputs: ``output_grad`` (...), ``coding_dist`` (..., n), ``true_one_of_n`` (...) integer.
    Differentiable in ``output_grad`` and ``coding_dist`` (second derivatives of the
    crossentropy); the op itself supplies the rows' selections, so no division by a
    probability outside the true class ever happens.
    """

    __props__ = ()

    def make_node(self, output_grad: Any, coding_dist: Any, true_one_of_n: Any) -> Apply:
        p, t = _class_inputs(self, coding_dist, true_one_of_n)
        gy = as_tensor_variable(output_grad)
        if gy.ndim != t.ndim or not dt.is_float(gy.dtype):
            raise TypeError(f"{self}: output_grad must be a float tensor of rank {t.ndim}, got "
                            f"{gy.type}")
        rows = _match_static(_match_static(p.type.shape[:-1], t.type.shape, str(self)),
                             gy.type.shape, str(self))
        out_type = TensorType(dt.upcast(gy.dtype, p.dtype), (*rows, p.type.shape[-1]))
        return Apply(self, [gy, p, t], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        gy, p, t = inputs
        dtype = node.outputs[0].dtype
        p = np.asarray(p, dtype=dt.compute_dtype(dtype))
        picked = _picked(self, p, t)
        if gy.shape != t.shape:
            raise ValueError(f"{self}: output_grad has shape {gy.shape}, expected {t.shape}")
        grad = np.zeros_like(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.put_along_axis(grad, t[..., None].astype(np.intp), (-gy / picked)[..., None],
                              axis=-1)
        output_storage[0][0] = np.asarray(grad, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[1])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        # out = -gy / p at the true class: d/dgy = -1 / p there, d/dp = gy / p**2 there; both
        # are written with this op so that only the true class's probability is divided by.
        (gy, p, t), (out,), (g,) = inputs, outputs, output_grads
        per_unit = self(elemwise.ones_like(gy), p, t)
        g_gy = reduce.sum(per_unit * g, axis=-1)
        g_p = out * per_unit * g
        return [g_gy, g_p, None]


def crossentropy_categorical_1hot(coding_dist: Any, true_one_of_n: Any) -> Any:
    """``-log(coding_dist[i, true_one_of_n[i]])`` for each row ``i`` (Theano's name).

    See ``categorical_crossentropy`` for shapes and errors.
    """
    return CrossentropyCategorical1Hot()(coding_dist, true_one_of_n)


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> Any:
    """Crossentropy between predicted class probabilities and the true classes (Theano).

    ``-sum(true_dist * log(coding_dist), axis=-1)`` when ``true_dist`` is a distribution
    (one-hot or soft labels, same shape as ``coding_dist``), or
    ``-log(coding_dist[i, true_dist[i]])`` when it is a vector of integer class indices.

    Parameters
    ----------
    coding_dist : (..., n_classes) float
        Predicted probabilities, e.g. the output of ``softmax``; each row should sum to one.
    true_dist : (..., n_classes) tensor or (...) integer tensor

    Returns
    -------
    (...) float: one crossentropy per row.

    Raises
    ------
    TypeError
        When ``true_dist`` has neither ``coding_dist``'s rank nor one less with an integer
        dtype, or ``coding_dist`` is not float.
    ValueError
        At run time, for class indices outside ``[0, n_classes)`` or mismatched shapes.

    Notes
    -----
    A probability of 0 at the true class gives ``inf``. For stability compute
    ``-log_softmax(logits)`` instead of the log of a softmax.
    """
    p = as_tensor_variable(coding_dist)
    t = as_tensor_variable(true_dist)
    if t.ndim == p.ndim and p.ndim >= 1:
        if not dt.is_float(p.dtype):
            raise TypeError(f"categorical_crossentropy: coding_dist must be float, got {p.type}")
        return -reduce.sum(t * elemwise.log(p), axis=-1)
    return CrossentropyCategorical1Hot()(p, t)


def _logit_inputs(op: Op, logits: Any, labels: Any) -> tuple[Any, Any, bool]:
    """Logits and labels of the fused softmax crossentropy; True for integer class labels."""
    x = as_tensor_variable(logits)
    t = as_tensor_variable(labels)
    if x.ndim < 1 or not dt.is_float(x.dtype):
        raise TypeError(f"{op}: logits must be a float tensor of rank >= 1, got {x.type}")
    if t.ndim == x.ndim - 1 and dt.is_integer(t.dtype):
        _match_static(x.type.shape[:-1], t.type.shape, str(op))
        return x, t, True
    if t.ndim == x.ndim and dt.is_float(t.dtype):
        return x, t, False
    raise TypeError(f"{op}: labels must be integer class indices of rank {x.ndim - 1} or a "
                    f"float distribution of rank {x.ndim}, got {t.type}")


def _check_dense(op: Op, variables: Sequence[Any], values: Sequence[Any]) -> None:
    """Theano broadcasting at run time: sizes may differ only along static length-1 axes."""
    for axis in range(variables[0].ndim):
        sizes = {np.shape(v)[axis] for var, v in zip(variables, values)
                 if var.type.shape[axis] != 1}
        if len(sizes) > 1:
            raise ValueError(f"{op}: shapes {[np.shape(v) for v in values]} do not match on "
                             f"axis {axis}; only static length-1 dimensions broadcast")


def _broadcast_dims(shapes: Sequence[Sequence[Any]],
                    statics: Sequence[Sequence[int | None]]) -> tuple[Any, ...]:
    """Symbolic broadcast shape: on each axis, the size of an input not static 1 there."""
    dims = []
    for axis in range(len(statics[0])):
        sizes = [shape[axis] for shape, static in zip(shapes, statics) if static[axis] != 1]
        dims.append(sizes[0] if sizes else 1)
    return tuple(dims)


def _stable_log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


class SoftmaxCrossentropy(Op):
    """``-sum(labels * log_softmax(logits), axis=-1)`` from the logits, without overflow.

    Inputs: ``logits`` (..., n) float; ``labels`` either (...) integer class indices (the
    result is ``logsumexp(x) - x[..., t]``) or a (..., n) float distribution (one-hot or
    soft). Output: (...) in the logits' dtype (promoted with dense labels).

    Made by the stabilize phase from ``categorical_crossentropy(softmax(x), labels)``. The
    gradient with respect to the logits is ``gy * (softmax(x) * sum(labels) - labels)``
    (``gy * (softmax(x) - onehot)`` for class indices), computed by
    ``SoftmaxCrossentropyGrad``: it never divides by a probability, so it stays finite for
    logits of any size. Dense labels get ``-gy * log_softmax(x)``; class indices none.
    """

    __props__ = ()

    def make_node(self, logits: Any, labels: Any) -> Apply:
        x, t, is_index = _logit_inputs(self, logits, labels)
        if is_index:
            shape = _match_static(x.type.shape[:-1], t.type.shape, str(self))
            dtype = x.dtype
        else:
            shape = broadcast_static_shapes(x.type.shape, t.type.shape)[:-1]
            dtype = dt.upcast(x.dtype, t.dtype)
        return Apply(self, [x, t], [TensorType(dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, t = inputs
        dtype = node.outputs[0].dtype
        compute = dt.compute_dtype(dtype)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            log_sm = _stable_log_softmax(np.asarray(x, dtype=compute))
            if dt.is_integer(node.inputs[1].dtype):
                out = -_picked(self, log_sm, t)
            else:
                _check_dense(self, node.inputs, [x, t])
                out = -np.sum(np.asarray(t, dtype=compute) * log_sm, axis=-1)
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        x, t = node.inputs
        if t.ndim < x.ndim:
            return [tuple(input_shapes[1])]
        return [_broadcast_dims(input_shapes, [x.type.shape, t.type.shape])[:-1]]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x, t), (gy,) = inputs, output_grads
        g_x = SoftmaxCrossentropyGrad()(gy, softmax(x), t)
        if dt.is_integer(t.dtype):
            return [_reduce_like(g_x, x), None]
        g_t = -elemwise.dimshuffle(gy, (*range(gy.ndim), "x")) * log_softmax(x)
        return [_reduce_like(g_x, x), _reduce_like(g_t, t)]


def _reduce_like(g: Any, like: Any) -> Any:
    """``g`` summed over the axes along which ``like`` was broadcast, in ``like``'s dtype."""
    axes = tuple(i for i, (want, got) in enumerate(zip(like.type.shape, g.type.shape))
                 if want == 1 and got != 1)
    if axes:
        g = reduce.sum(g, axis=axes, keepdims=True)
    return elemwise.cast(g, like.dtype)


class SoftmaxCrossentropyGrad(Op):
    """Gradient of ``SoftmaxCrossentropy`` with respect to the logits.

    Inputs: ``output_grad`` (...), ``sm`` (..., n) the softmax of the logits, ``labels`` as
    for ``SoftmaxCrossentropy``. Output (..., n): ``output_grad * (sm - onehot(labels))``
    for class indices, ``output_grad * (sm * sum(labels, -1) - labels)`` for a distribution.
    Differentiable in ``output_grad``, ``sm`` and dense labels (second derivatives).
    """

    __props__ = ()

    def make_node(self, output_grad: Any, sm: Any, labels: Any) -> Apply:
        p, t, is_index = _logit_inputs(self, sm, labels)
        gy = as_tensor_variable(output_grad)
        if gy.ndim != p.ndim - 1 or not dt.is_float(gy.dtype):
            raise TypeError(f"{self}: output_grad must be a float tensor of rank {p.ndim - 1}, "
                            f"got {gy.type}")
        if is_index:
            rows = _match_static(p.type.shape[:-1], t.type.shape, str(self))
            shape = (*_match_static(rows, gy.type.shape, str(self)), p.type.shape[-1])
            dtype = dt.upcast(gy.dtype, p.dtype)
        else:
            shape = broadcast_static_shapes(p.type.shape, t.type.shape,
                                            (*gy.type.shape, 1))
            dtype = dt.upcast(gy.dtype, p.dtype, t.dtype)
        return Apply(self, [gy, p, t], [TensorType(dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        gy, p, t = inputs
        dtype = node.outputs[0].dtype
        compute = dt.compute_dtype(dtype)
        p = np.asarray(p, dtype=compute)
        if dt.is_integer(node.inputs[2].dtype):
            _picked(self, p, t)  # checks the shapes and the class range
            if gy.shape != t.shape:
                raise ValueError(f"{self}: output_grad has shape {gy.shape}, expected {t.shape}")
            diff = p.copy()
            np.put_along_axis(diff, t[..., None].astype(np.intp),
                              np.take_along_axis(p, t[..., None].astype(np.intp), -1) - 1, -1)
        else:
            _check_dense(self, node.inputs[1:], [p, t])
            t = np.asarray(t, dtype=compute)
            diff = p * np.sum(t, axis=-1, keepdims=True) - t
        out = np.asarray(gy, dtype=compute)[..., None] * diff
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        gy, p, t = node.inputs
        if t.ndim < p.ndim:
            return [tuple(input_shapes[1])]
        shapes = [input_shapes[1], input_shapes[2], (*input_shapes[0], 1)]
        statics = [p.type.shape, t.type.shape, (*gy.type.shape, 1)]
        return [_broadcast_dims(shapes, statics)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        # out = gy[..., None] * (sm * s - t) with s = sum(t, -1) (1 for class indices).
        (gy, p, t), (g,) = inputs, output_grads
        per_unit = self(elemwise.ones_like(gy), p, t)
        g_gy = _reduce_like(reduce.sum(per_unit * g, axis=-1), gy)
        gy_col = elemwise.dimshuffle(gy, (*range(gy.ndim), "x"))
        if dt.is_integer(t.dtype):
            return [g_gy, _reduce_like(gy_col * g, p), None]
        total = reduce.sum(t, axis=-1, keepdims=True)
        g_p = gy_col * total * g
        g_t = gy_col * (reduce.sum(g * p, axis=-1, keepdims=True) - g)
        return [g_gy, _reduce_like(g_p, p), _reduce_like(g_t, t)]


def softmax_crossentropy(logits: Any, labels: Any) -> Any:
    """``categorical_crossentropy(softmax(logits), labels)``, computed stably as one op.

    Parameters
    ----------
    logits : (..., n_classes) float
    labels : (...) integer class indices or (..., n_classes) float distribution

    Returns
    -------
    (...) float: ``logsumexp(logits) - logits[..., labels]`` for class indices, else
    ``-sum(labels * log_softmax(logits), axis=-1)``.

    Raises
    ------
    TypeError
        For labels of neither form, or non-float logits.
    ValueError
        At run time, for class indices outside ``[0, n_classes)`` or mismatched shapes.

    Notes
    -----
    Finite for logits of any magnitude, and so is its gradient
    ``softmax(logits) - onehot(labels)`` (Theano's ``crossentropy_softmax_1hot``). The
    stabilize phase builds this op from the two-step expression.
    """
    return SoftmaxCrossentropy()(logits, labels)


def binary_crossentropy(output: Any, target: Any) -> Any:
    """Elementwise ``-(target * log(output) + (1 - target) * log(1 - output))`` (Theano).

    Parameters
    ----------
    output : float tensor of probabilities in (0, 1)
    target : tensor broadcasting with ``output``, values in [0, 1]

    Returns
    -------
    The broadcast shape, float dtype. ``output`` equal to 0 or 1 gives ``inf`` or NaN; for
    stability with logits use ``softplus``: ``softplus(-x) * t + softplus(x) * (1 - t)``.
    """
    o = as_tensor_variable(output)
    t = as_tensor_variable(target)
    return -(t * elemwise.log(o) + (1 - t) * elemwise.log(1 - o))


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------

_DEFAULT_STREAM: list[Any] = []
DEFAULT_DROPOUT_SEED = 12345


def default_stream() -> Any:
    """The ``RandomStream`` dropout draws from when given none (made on first use)."""
    if not _DEFAULT_STREAM:
        _DEFAULT_STREAM.append(random.RandomStream(DEFAULT_DROPOUT_SEED))
    return _DEFAULT_STREAM[0]


def dropout(x: Any, p: Any = 0.5, rng: Any = None, deterministic: bool = False) -> Any:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by
    ``1 / (1 - p)``, so the expected value is unchanged and inference needs no rescaling.

    Parameters
    ----------
    x : float tensor
    p : float in [0, 1) or float scalar tensor
        Drop probability.
    rng : sg.random.RandomStream, optional
        Source of the mask; by default a module-level stream (seed ``DEFAULT_DROPOUT_SEED``).
        Every call of a compiled function draws a new mask.
    deterministic : bool
        True (inference): return ``x`` unchanged.

    Returns
    -------
    Tensor of ``x``'s shape and dtype.

    Raises
    ------
    TypeError
        For a non-float ``x``.
    ValueError
        For a Python ``p`` outside [0, 1).

    References
    ----------
    Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, "Dropout: A Simple Way to Prevent
    Neural Networks from Overfitting", JMLR 15, 2014.
    """
    x = as_tensor_variable(x)
    if not dt.is_float(x.dtype):
        raise TypeError(f"dropout: x must be a float tensor, got {x.type} ({x})")
    if not isinstance(p, Variable):
        p = float(p)
        if not 0.0 <= p < 1.0 or math.isnan(p):
            raise ValueError(f"dropout: p must lie in [0, 1), got {p}")
        if p == 0.0:
            return x
    if deterministic:
        return x
    keep = 1 - p
    stream = default_stream() if rng is None else rng
    mask = stream.binomial(n=1, p=keep, size=x.shape, dtype="int8")
    # A symbolic keep probability must not upcast x (a float64 p with float32 x).
    scale = elemwise.cast(keep, x.dtype) if isinstance(keep, Variable) else keep
    return x * mask / scale


# ---------------------------------------------------------------------------------------------
# Convolution and pooling (defined in symgraph.ops.conv)
# ---------------------------------------------------------------------------------------------

def conv2d(input: Any, filters: Any, input_shape: Any = None,
           filter_shape: Any = None, border_mode: Any = "valid", subsample: Any = (1, 1),
           filter_flip: bool = True) -> Any:
    """2-D convolution, Theano's ``conv2d``: see ``symgraph.ops.conv.conv2d``."""
    return conv.conv2d(input, filters, input_shape, filter_shape, border_mode, subsample,
                       filter_flip)


def max_pool_2d(input: Any, ws: Any = (2, 2), ignore_border: bool = True,
                stride: Any = None, pad: Any = (0, 0), mode: str = "max") -> Any:
    """Pooling over the last two dimensions: see ``symgraph.ops.conv.pool_2d``."""
    return conv.max_pool_2d(input, ws, ignore_border, stride, pad, mode)


def pool_2d(input: Any, ws: Any = (2, 2), ignore_border: bool = True,
            stride: Any = None, pad: Any = (0, 0), mode: str = "max") -> Any:
    """Pooling over the last two dimensions: see ``symgraph.ops.conv.pool_2d``."""
    return conv.pool_2d(input, ws, ignore_border, stride, pad, mode)
