"""Convolution and pooling over the last two dimensions, with Theano's semantics: ``conv2d``
(true convolution, ``(batch, channels, rows, cols)``) and ``max_pool_2d`` / ``pool_2d``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from symgraph import dtype as dt
from symgraph.graph import Apply, Constant
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType

__all__ = ["conv2d", "max_pool_2d", "pool_2d"]

BorderMode = str | tuple[int, int]
Shape4 = tuple[int | None, ...] | None

POOL_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


# ---------------------------------------------------------------------------------------------
# Parameter checking shared by the ops
# ---------------------------------------------------------------------------------------------

def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """Two ints ``>= minimum`` from an int or a pair (``ValueError`` otherwise)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not builtins.all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if builtins.any(v < minimum for v in pair):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def normalize_border_mode(border_mode: Any) -> BorderMode:
    """'valid', 'full', 'half', or explicit ``(pad_rows, pad_cols)`` zero padding."""
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half"):
            raise ValueError(f"border_mode must be 'valid', 'full', 'half', an int or a pair "
                             f"of ints, got {border_mode!r}")
        return border_mode
    return _pair(border_mode, "border_mode", 0)


def _pad_for(border_mode: BorderMode, kernel: Any, axis: int) -> Any:
    """Zero padding on each side of spatial ``axis``; ``kernel`` may be an int or symbolic."""
    if border_mode == "valid":
        return 0
    if border_mode == "full":
        return kernel - 1
    if border_mode == "half":
        return kernel // 2
    return border_mode[axis]  # type: ignore[index]


def _conv_out_len(size: Any, kernel: Any, pad: Any, stride: int) -> Any:
    return (size + 2 * pad - kernel) // stride + 1


def _shape_hint(hint: Any, name: str) -> Shape4:
    if hint is None:
        return None
    hint = tuple(None if s is None else int(s) for s in hint)
    if len(hint) != 4:
        raise ValueError(f"{name} must have 4 entries, got {hint}")
    return hint


def _merge_static(static: Sequence[int | None], hint: Shape4, name: str) -> tuple:
    if hint is None:
        return tuple(static)
    merged = []
    for axis, (s, h) in enumerate(zip(static, hint)):
        if s is not None and h is not None and s != h:
            raise ValueError(f"conv2d: {name} has static shape {tuple(static)} but the hint "
                             f"says {hint} (dimension {axis})")
        merged.append(s if s is not None else h)
    return tuple(merged)


def _tensor_input(value: Any, name: str, op: Any, ndim: int | None = None,
                  min_ndim: int = 0, kinds: str = "f") -> Any:
    """``value`` as a tensor; ``TypeError`` naming it for a wrong rank or dtype kind."""
    var = as_tensor_variable(value)
    if ndim is not None and var.ndim != ndim:
        raise TypeError(f"{op}: {name} must be {ndim}-d, got {var.ndim}-d {var} ({var.type})")
    if var.ndim < min_ndim:
        raise TypeError(f"{op}: {name} must have at least {min_ndim} dimensions, got "
                        f"{var.ndim}-d {var}")
    if np.dtype(var.dtype).kind not in kinds:
        allowed = "a float" if kinds == "f" else "a numeric"
        raise TypeError(f"{op}: {name} must have {allowed} dtype, got {var.dtype} ({var})")
    return var


def _int_scalar(value: Any, name: str, op: Any) -> Any:
    var = as_tensor_variable(value)
    if var.ndim != 0 or not dt.is_integer(var.dtype):
        raise TypeError(f"{op}: {name} must be an integer scalar, got {var.type} ({var})")
    return elemwise.cast(var, "int64")


def _static_int(var: Any) -> int | None:
    return int(var.data) if isinstance(var, Constant) else None


# ---------------------------------------------------------------------------------------------
# NumPy kernels of the convolution (correlation form; a true convolution flips the filters)
# ---------------------------------------------------------------------------------------------

def _correlation_filters(w: np.ndarray, filter_flip: bool) -> np.ndarray:
    return w[:, :, ::-1, ::-1] if filter_flip else w


def _padded(x: np.ndarray, pads: tuple[int, int]) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pads[0], pads[0]), (pads[1], pads[1])))


def _conv_geometry(op: Any, size: Sequence[int], kernel: Sequence[int]
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Pads and output lengths for a spatial ``size`` and ``kernel``; ``ValueError`` if empty."""
    pads = (_pad_for(op.border_mode, kernel[0], 0), _pad_for(op.border_mode, kernel[1], 1))
    out = tuple(_conv_out_len(size[a], kernel[a], pads[a], op.subsample[a]) for a in (0, 1))
    if builtins.min(out) < 1:
        raise ValueError(f"{op}: an input of spatial size {tuple(size)} padded by {pads} is "
                         f"smaller than the filters' {tuple(kernel)}")
    return pads, out  # type: ignore[return-value]


def _window_slice(start: int, stride: int, count: int) -> slice:
    """Rows ``start, start + stride, ...`` (``count`` of them) of a padded image."""
    return slice(start, start + stride * (count - 1) + 1, stride)


def conv_forward(op: Any, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Theano's conv2d on arrays: ``x`` (b, c, r, s), ``w`` (k, c, kr, ks)."""
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{op}: the input has {x.shape[1]} channels (shape {x.shape}) but the "
                         f"filters expect {w.shape[1]} (shape {w.shape})")
    pads, out = _conv_geometry(op, x.shape[2:], w.shape[2:])
    windows = sliding_window_view(_padded(x, pads), w.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::op.subsample[0], ::op.subsample[1]][:, :, :out[0], :out[1]]
    result = np.tensordot(windows, _correlation_filters(w, op.filter_flip),
                          axes=([1, 4, 5], [1, 2, 3]))
    return result.transpose(0, 3, 1, 2)


def _check_output_grad(op: Any, gz: np.ndarray, out: tuple[int, int], batch: int,
                       channels: int) -> None:
    expected = (batch, channels, *out)
    if gz.shape != expected:
        raise ValueError(f"{op}: the output gradient has shape {gz.shape}, the convolution's "
                         f"output has shape {expected}")


def conv_grad_inputs(op: Any, w: np.ndarray, gz: np.ndarray, size: tuple[int, int]
                     ) -> np.ndarray:
    """Gradient of ``conv_forward`` with respect to an input of spatial ``size``."""
    pads, out = _conv_geometry(op, size, w.shape[2:])
    _check_output_grad(op, gz, out, gz.shape[0], w.shape[0])
    wc = _correlation_filters(w, op.filter_flip)
    grad = np.zeros((gz.shape[0], w.shape[1], size[0] + 2 * pads[0], size[1] + 2 * pads[1]),
                    dtype=np.result_type(w, gz))
    for u in range(w.shape[2]):
        for v in range(w.shape[3]):
            rows = _window_slice(u, op.subsample[0], out[0])
            cols = _window_slice(v, op.subsample[1], out[1])
            grad[:, :, rows, cols] += np.einsum("bkij,kc->bcij", gz, wc[:, :, u, v])
    return grad[:, :, pads[0]:pads[0] + size[0], pads[1]:pads[1] + size[1]]


def conv_grad_weights(op: Any, x: np.ndarray, gz: np.ndarray, kernel: tuple[int, int]
                      ) -> np.ndarray:
    """Gradient of ``conv_forward`` with respect to filters of spatial size ``kernel``."""
    pads, out = _conv_geometry(op, x.shape[2:], kernel)
    _check_output_grad(op, gz, out, x.shape[0], gz.shape[1])
    xp = _padded(x, pads)
    grad = np.zeros((gz.shape[1], x.shape[1], *kernel), dtype=np.result_type(x, gz))
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            patch = xp[:, :, _window_slice(u, op.subsample[0], out[0]),
                       _window_slice(v, op.subsample[1], out[1])]
            grad[:, :, u, v] = np.einsum("bkij,bcij->kc", gz, patch)
    return _correlation_filters(grad, op.filter_flip)


# ---------------------------------------------------------------------------------------------
# Convolution ops
# ---------------------------------------------------------------------------------------------

class _ConvParams:
    """The geometry shared by ``Conv2d`` and its gradient ops."""

    border_mode: BorderMode
    subsample: tuple[int, int]
    filter_flip: bool

    def _set_geometry(self, border_mode: Any, subsample: Any, filter_flip: bool) -> None:
        self.border_mode = normalize_border_mode(border_mode)
        self.subsample = _pair(subsample, "subsample", 1)
        self.filter_flip = bool(filter_flip)

    def geometry(self) -> tuple[BorderMode, tuple[int, int], bool]:
        return self.border_mode, self.subsample, self.filter_flip

    def out_lengths(self, size: Sequence[Any], kernel: Sequence[Any]) -> tuple[Any, Any]:
        """Output rows and cols: ints, symbolic scalars, or ``None`` when not known."""
        lengths: list[Any] = []
        for axis in (0, 1):
            if size[axis] is None or kernel[axis] is None:
                lengths.append(None)
                continue
            pad = _pad_for(self.border_mode, kernel[axis], axis)
            lengths.append(_conv_out_len(size[axis], kernel[axis], pad, self.subsample[axis]))
        return lengths[0], lengths[1]

    def static_out_lengths(self, size: Sequence[int | None], kernel: Sequence[int | None]
                           ) -> tuple[int | None, int | None]:
        lengths = self.out_lengths(size, kernel)
        if builtins.any(n is not None and n < 1 for n in lengths):
            raise ValueError(f"{self}: an input of spatial size {tuple(size)} is smaller than "
                             f"the filters' {tuple(kernel)} with border_mode "
                             f"{self.border_mode!r}")
        return lengths


class Conv2d(_ConvParams, Op):
    """2-D convolution of a batch of multi-channel images (see ``conv2d``).

    Inputs are ``input`` (b, c, r, s) and ``filters`` (k, c, kr, ks), both floats; the output is
    (b, k, out_r, out_s) in their promoted dtype. ``input_shape`` / ``filter_shape`` are optional
    hints (entries may be ``None``) that give static shapes and are checked at run time.
    """

    __props__ = ("border_mode", "subsample", "filter_flip", "input_shape", "filter_shape")

    def __init__(self, border_mode: Any = "valid", subsample: Any = (1, 1),
                 filter_flip: bool = True, input_shape: Any = None,
                 filter_shape: Any = None) -> None:
        self._set_geometry(border_mode, subsample, filter_flip)
        self.input_shape = _shape_hint(input_shape, "input_shape")
        self.filter_shape = _shape_hint(filter_shape, "filter_shape")

    def make_node(self, input: Any, filters: Any) -> Apply:
        x = _tensor_input(input, "input", self, ndim=4)
        w = _tensor_input(filters, "filters", self, ndim=4)
        xs = _merge_static(x.type.shape, self.input_shape, "input")
        ws = _merge_static(w.type.shape, self.filter_shape, "filters")
        if xs[1] is not None and ws[1] is not None and xs[1] != ws[1]:
            raise ValueError(f"{self}: the input has {xs[1]} channels but the filters expect "
                             f"{ws[1]}")
        rows, cols = self.static_out_lengths(xs[2:], ws[2:])
        out_type = TensorType(dt.upcast(x.dtype, w.dtype), (xs[0], ws[0], rows, cols))
        return Apply(self, [x, w], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, w = inputs
        for name, value, hint in (("input", x, self.input_shape),
                                  ("filters", w, self.filter_shape)):
            if hint is not None and builtins.any(
                    h is not None and h != s for h, s in zip(hint, value.shape)):
                raise ValueError(f"{self}: {name} has shape {value.shape}, the hint says {hint}")
        dtype = node.outputs[0].dtype
        compute = dt.compute_dtype(dtype)
        out = conv_forward(self, x.astype(compute, copy=False), w.astype(compute, copy=False))
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        xs, ws = input_shapes
        return [(xs[0], ws[0], *self.out_lengths(xs[2:], ws[2:]))]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x, w), (gz,) = inputs, output_grads
        gx = Conv2dGradInputs(*self.geometry())(
            w, gz, shape_ops.shape_i(x, 2), shape_ops.shape_i(x, 3))
        gw = Conv2dGradWeights(*self.geometry())(
            x, gz, shape_ops.shape_i(w, 2), shape_ops.shape_i(w, 3))
        return [gx, gw]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        (x, w), (ex, ew) = inputs, eval_points
        plain = Conv2d(*self.geometry())
        terms = [t for t in (None if ex is None else plain(ex, w),
                             None if ew is None else plain(x, ew)) if t is not None]
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


class _ConvGrad(_ConvParams):
    """The shared body of ``Conv2dGradInputs`` and ``Conv2dGradWeights``.

    Inputs: a 4-d float ``first`` operand (``filters`` or ``input``), ``output_grad``
    (b, k, out_r, out_s), and the spatial size ``rows``, ``cols`` of the result (integer
    scalars). A subclass names its first input, the result's two leading axes, its NumPy
    kernel, and the order of ``Conv2d``'s operands in its gradient; ``_partner`` (the other
    gradient op) is set after both classes are defined.
    """

    __props__ = ("border_mode", "subsample", "filter_flip")
    _first_name: str
    # The result's leading axes: (input, axis) pairs, input 0 the first operand, 1 output_grad.
    _lead_axes: tuple[tuple[int, int], tuple[int, int]]
    # The NumPy kernel ``(op, first, output_grad, size) -> result``.
    _kernel: Any
    # The gradient op with respect to the first operand (set once both classes exist).
    _partner: Any
    # Whether the gradient with respect to ``output_grad`` is ``Conv2d(gg, first)`` rather
    # than ``Conv2d(first, gg)``.
    _grad_first: bool

    def __init__(self, border_mode: Any = "valid", subsample: Any = (1, 1),
                 filter_flip: bool = True) -> None:
        self._set_geometry(border_mode, subsample, filter_flip)

    def _make_node(self, first: Any, output_grad: Any, rows: Any, cols: Any) -> Apply:
        a = _tensor_input(first, self._first_name, self, ndim=4)
        gz = _tensor_input(output_grad, "output_grad", self, ndim=4)
        rows, cols = _int_scalar(rows, "rows", self), _int_scalar(cols, "cols", self)
        static = (a.type.shape, gz.type.shape)
        (i0, a0), (i1, a1) = self._lead_axes
        shape = (static[i0][a0], static[i1][a1], _static_int(rows), _static_int(cols))
        out_type = TensorType(dt.upcast(a.dtype, gz.dtype), shape)
        return Apply(self, [a, gz, rows, cols], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        a, gz, rows, cols = inputs
        dtype = node.outputs[0].dtype
        compute = dt.compute_dtype(dtype)
        grad = self._kernel(self, a.astype(compute, copy=False),
                            gz.astype(compute, copy=False), (int(rows), int(cols)))
        output_storage[0][0] = np.asarray(grad, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        (i0, a0), (i1, a1) = self._lead_axes
        return [(input_shapes[i0][a0], input_shapes[i1][a1], node.inputs[2], node.inputs[3])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (a, gz, _, _), (gg,) = inputs, output_grads
        g_a = self._partner(*self.geometry())(
            gg, gz, shape_ops.shape_i(a, 2), shape_ops.shape_i(a, 3))
        g_gz = Conv2d(*self.geometry())(*((gg, a) if self._grad_first else (a, gg)))
        return [g_a, g_gz, None, None]


class Conv2dGradInputs(_ConvGrad, Op):
    """Gradient of ``Conv2d`` with respect to its input (a transposed convolution).

    Inputs: ``filters`` (k, c, kr, ks), ``output_grad`` (b, k, out_r, out_s), and the input's
    spatial size ``rows``, ``cols`` (integer scalars: with ``subsample`` the size is ambiguous).
    Output: (b, c, rows, cols). It is linear in ``filters`` and in ``output_grad``; its own
    gradients are a ``Conv2dGradWeights`` and a ``Conv2d`` with the same geometry.
    """

    _first_name = "filters"
    _lead_axes = ((1, 0), (0, 1))
    _kernel = staticmethod(conv_grad_inputs)
    _grad_first = True

    def make_node(self, filters: Any, output_grad: Any, rows: Any, cols: Any) -> Apply:
        return self._make_node(filters, output_grad, rows, cols)


class Conv2dGradWeights(_ConvGrad, Op):
    """Gradient of ``Conv2d`` with respect to its filters.

    Inputs: ``input`` (b, c, r, s), ``output_grad`` (b, k, out_r, out_s), and the filters'
    spatial size ``rows``, ``cols`` (integer scalars). Output: (k, c, rows, cols). Linear in
    ``input`` and ``output_grad``; its gradients are a ``Conv2dGradInputs`` and a ``Conv2d``.
    """

    _first_name = "input"
    _lead_axes = ((1, 1), (0, 1))
    _kernel = staticmethod(conv_grad_weights)
    _grad_first = False

    def make_node(self, input: Any, output_grad: Any, rows: Any, cols: Any) -> Apply:
        return self._make_node(input, output_grad, rows, cols)


Conv2dGradInputs._partner = Conv2dGradWeights
Conv2dGradWeights._partner = Conv2dGradInputs


def conv2d(input: Any, filters: Any, input_shape: Any = None,
           filter_shape: Any = None, border_mode: Any = "valid", subsample: Any = (1, 1),
           filter_flip: bool = True) -> Any:
    """2-D convolution of a batch of multi-channel images with a bank of filters (Theano).

    ``out[b, k] = sum_c input[b, c] * filters[k, c]`` where ``*`` is a true 2-D convolution
    (the filters are flipped in both spatial axes) unless ``filter_flip=False``, which gives
    the cross-correlation that most deep-learning libraries call convolution.

    Parameters
    ----------
    input : (batch, channels, rows, cols) float
    filters : (out_channels, channels, filter_rows, filter_cols) float
    input_shape, filter_shape : 4 ints or None each, optional
        Shape hints: they fill in static shapes and are checked when the graph runs.
    border_mode : 'valid', 'full', 'half', int or (int, int)
        Zero padding of the input: none ('valid'), ``filter - 1`` ('full'),
        ``filter // 2`` ('half', which keeps the size for odd filters), or explicit.
    subsample : int or (int, int)
        Strides: keep every ``subsample``-th output row and column.
    filter_flip : bool
        Flip the filters (a convolution, Theano's default) or not (a correlation).

    Returns
    -------
    (batch, out_channels, out_rows, out_cols), the promoted dtype of the inputs, with
    ``out_rows = (rows + 2 * pad_rows - filter_rows) // subsample[0] + 1`` (likewise for cols).

    Raises
    ------
    TypeError
        If ``input`` or ``filters`` is not 4-d or not float.
    ValueError
        For a bad ``border_mode`` or ``subsample``; when channels do not match or the padded
        input is smaller than the filters (at build time when static shapes say so, otherwise
        at run time); when a shape contradicts a hint.

    Notes
    -----
    The gradients are the ops ``Conv2dGradInputs`` (a transposed convolution) and
    ``Conv2dGradWeights``; all three ops are bilinear, so gradients of any order are exact.
    With ``subsample > 1``, input rows and columns no window reaches get a zero gradient.
    """
    op = Conv2d(border_mode, subsample, filter_flip, input_shape, filter_shape)
    return op(input, filters)


# ---------------------------------------------------------------------------------------------
# Pooling: NumPy kernels
# ---------------------------------------------------------------------------------------------

def _pool_out_len(size: Any, ws: int, stride: int, pad: int, ignore_border: bool) -> Any:
    """Theano's number of pooling windows along one axis (``size`` int or symbolic)."""
    is_int = isinstance(size, (int, np.integer))
    clip_low = builtins.max if is_int else elemwise.maximum
    padded = size + 2 * pad
    if ignore_border:
        return clip_low((padded - ws) // stride + 1, 0)
    if stride >= ws:
        return (padded - 1) // stride + 1
    # Partial windows at the end count; an empty axis still has no window.
    at_most_one = builtins.min if is_int else elemwise.minimum
    return clip_low((padded - 1 - ws + stride) // stride, 0) + at_most_one(padded, 1)


class _PoolParams:
    """The window geometry shared by the pooling ops."""

    ws: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    ignore_border: bool

    def _set_geometry(self, ws: Any, ignore_border: bool, stride: Any, pad: Any) -> None:
        self.ws = _pair(ws, "ws", 1)
        self.ignore_border = bool(ignore_border)
        self.stride = self.ws if stride is None else _pair(stride, "stride", 1)
        self.pad = _pair(pad, "pad", 0)
        if self.pad != (0, 0) and not self.ignore_border:
            raise ValueError("pooling with padding needs ignore_border=True (as in Theano)")
        if self.pad[0] >= self.ws[0] or self.pad[1] >= self.ws[1]:
            raise ValueError(f"pad {self.pad} must be smaller than the window {self.ws}")

    def pool_shape(self, shape: Sequence[Any]) -> tuple[Any, ...]:
        """Output shape of pooling an input of ``shape`` (static entries may be None)."""
        spatial = []
        for axis in (0, 1):
            size = shape[-2 + axis]
            spatial.append(None if size is None else _pool_out_len(
                size, self.ws[axis], self.stride[axis], self.pad[axis], self.ignore_border))
        return (*shape[:-2], *spatial)

    def extended_size(self, r: int, c: int) -> tuple[int, int]:
        """Size of the padded image, grown so that every window (partial ones too) fits."""
        out = self.pool_shape((r, c))
        return tuple(builtins.max((out[a] - 1) * self.stride[a] + self.ws[a],  # type: ignore
                                  (r, c)[a] + 2 * self.pad[a], self.ws[a]) for a in (0, 1))

    def extended(self, x3: np.ndarray, fill: Any) -> np.ndarray:
        """``x3`` (n, r, c) padded with ``fill`` so that every window lies inside it."""
        n, r, c = x3.shape
        ext = np.full((n, *self.extended_size(r, c)), fill, dtype=x3.dtype)
        ext[:, self.pad[0]:self.pad[0] + r, self.pad[1]:self.pad[1] + c] = x3
        return ext

    def crop(self, ext: np.ndarray, r: int, c: int) -> np.ndarray:
        return ext[:, self.pad[0]:self.pad[0] + r, self.pad[1]:self.pad[1] + c]

    def windows(self, ext: np.ndarray, out: Sequence[int]) -> np.ndarray:
        """View (n, out_r, out_c, ws_r, ws_c) of the windows of an extended array."""
        view = sliding_window_view(ext, self.ws, axis=(1, 2))
        return view[:, ::self.stride[0], ::self.stride[1]][:, :out[0], :out[1]]

    def window_counts(self, r: int, c: int, mode: str) -> np.ndarray:
        """(out_r, out_c) divisors: cells of the image, plus those of the padding for
        'average_inc_pad'; cells past the padded image (partial windows) never count."""
        mask = np.zeros((1, *self.extended_size(r, c)))
        if mode == "average_inc_pad":
            mask[:, :r + 2 * self.pad[0], :c + 2 * self.pad[1]] = 1.0
        else:
            mask[:, self.pad[0]:self.pad[0] + r, self.pad[1]:self.pad[1] + c] = 1.0
        return self.windows(mask, self.pool_shape((r, c))).sum(axis=(-2, -1))[0]

    def argmax_positions(self, x3: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices into the extended array of each window's maximum: the first in row-major
        order on ties; NaN counts as the maximum (as ``numpy.argmax``)."""
        out = self.pool_shape(x3.shape[1:])
        flat = self.windows(self.extended(x3, _lowest(x3.dtype)), out).reshape(
            x3.shape[0], out[0], out[1], self.ws[0] * self.ws[1])
        arg = flat.argmax(axis=-1)
        rows = (np.arange(out[0]) * self.stride[0])[None, :, None] + arg // self.ws[1]
        cols = (np.arange(out[1]) * self.stride[1])[None, None, :] + arg % self.ws[1]
        batch = np.broadcast_to(np.arange(x3.shape[0])[:, None, None], rows.shape)
        return batch, rows, cols


def _lowest(dtype: np.dtype) -> Any:
    if np.dtype(dtype).kind == "f":
        return -np.inf
    return np.iinfo(dtype).min


def _as_3d(x: np.ndarray) -> np.ndarray:
    """(n, rows, cols) view of an array pooled over its last two axes."""
    return x.reshape((int(np.prod(x.shape[:-2])), *x.shape[-2:]))


def pool_forward(params: _PoolParams, mode: str, x3: np.ndarray) -> np.ndarray:
    """Pool ``x3`` (n, r, c) with Theano's ``mode``: windows may be partial at the far edge
    (``ignore_border=False``); padded cells never win a max and count as zeros in sums."""
    r, c = x3.shape[1:]
    out = params.pool_shape((r, c))
    if mode == "max":
        return params.windows(params.extended(x3, _lowest(x3.dtype)), out).max(axis=(-2, -1))
    total = params.windows(params.extended(x3, 0), out).sum(axis=(-2, -1))
    if mode == "sum":
        return total
    return total / params.window_counts(r, c, mode)


# ---------------------------------------------------------------------------------------------
# Pooling ops
# ---------------------------------------------------------------------------------------------

def _check_pooled_shape(op: Any, what: str, value: np.ndarray, expected: Sequence[int]) -> None:
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{op}: {what} has shape {value.shape}, expected {tuple(expected)}")


class Pool(_PoolParams, Op):
    """Pooling over the last two dimensions of an input of rank >= 2 (see ``pool_2d``).

    The output has the input's dtype and leading dimensions. 'max' and 'sum' accept integer
    and float inputs, the averages floats only.
    """

    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")

    def __init__(self, ws: Any = (2, 2), ignore_border: bool = True, stride: Any = None,
                 pad: Any = (0, 0), mode: str = "max") -> None:
        self._set_geometry(ws, ignore_border, stride, pad)
        if mode not in POOL_MODES:
            raise ValueError(f"pooling mode must be one of {POOL_MODES}, got {mode!r}")
        self.mode = mode

    def make_node(self, input: Any) -> Apply:
        kinds = "f" if self.mode.startswith("average") else "iuf"
        x = _tensor_input(input, "input", self, min_ndim=2, kinds=kinds)
        out_type = TensorType(x.dtype, self.pool_shape(x.type.shape))
        return Apply(self, [x], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = inputs[0]
        dtype = node.outputs[0].dtype
        out3 = pool_forward(self, self.mode, _as_3d(x.astype(dt.compute_dtype(dtype),
                                                             copy=False)))
        output_storage[0][0] = np.asarray(out3, dtype=dtype).reshape(self.pool_shape(x.shape))

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [self.pool_shape(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (gz,) = inputs, output_grads
        if not dt.is_float(x.dtype):
            return [None]
        geometry = (self.ws, self.ignore_border, self.stride, self.pad)
        if self.mode == "max":
            return [MaxPoolGrad(*geometry)(x, gz)]
        return [AveragePoolGrad(*geometry, mode=self.mode)(x, gz)]


class _PoolGradBase(_PoolParams):
    """Input checking shared by the pooling gradient ops: ``x`` and a second float tensor."""

    def _inputs(self, x: Any, other: Any, other_name: str) -> tuple[Any, Any]:
        x = _tensor_input(x, "input", self, min_ndim=2)
        other = _tensor_input(other, other_name, self, ndim=x.ndim)
        return x, other

    def _geometry(self) -> tuple[Any, ...]:
        return self.ws, self.ignore_border, self.stride, self.pad


class MaxPoolGrad(_PoolGradBase, Op):
    """Gradient of max pooling: each window's output gradient goes to its maximum.

    Inputs: ``input`` (..., r, c) and ``output_grad`` (the pooled shape); output: the input's
    shape and dtype. Ties go to the *first* maximal element of the window in row-major order
    (Theano's CPU code instead gives every tied element the full gradient, which double
    counts); a window's NaN is its maximum. Overlapping windows add up their contributions.
    """

    __props__ = ("ws", "ignore_border", "stride", "pad")

    def __init__(self, ws: Any = (2, 2), ignore_border: bool = True, stride: Any = None,
                 pad: Any = (0, 0)) -> None:
        self._set_geometry(ws, ignore_border, stride, pad)

    def make_node(self, input: Any, output_grad: Any) -> Apply:
        x, gz = self._inputs(input, output_grad, "output_grad")
        return Apply(self, [x, gz], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, gz = inputs
        _check_pooled_shape(self, "the output gradient", gz, self.pool_shape(x.shape))
        compute = dt.compute_dtype(x.dtype)
        x3, gz3 = _as_3d(x), _as_3d(gz.astype(compute, copy=False))
        grad = np.zeros((x3.shape[0], *self.extended_size(*x3.shape[1:])), dtype=compute)
        np.add.at(grad, self.argmax_positions(x3), gz3)
        result = self.crop(grad, *x3.shape[1:]).reshape(x.shape)
        output_storage[0][0] = np.asarray(result, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        # Piecewise constant in the input: where the arg-max is unique its derivative is 0.
        (x, _), (ggx,) = inputs, output_grads
        return [elemwise.zeros_like(x), MaxPoolGradGrad(*self._geometry())(x, ggx)]


class MaxPoolGradGrad(_PoolGradBase, Op):
    """Adjoint of ``MaxPoolGrad`` in its output gradient: picks, in each window of ``input``,
    the value of ``input_grad`` (input-shaped) at the window's arg-max (same tie rule).

    Output: the pooled shape, in ``input_grad``'s dtype.
    """

    __props__ = ("ws", "ignore_border", "stride", "pad")

    def __init__(self, ws: Any = (2, 2), ignore_border: bool = True, stride: Any = None,
                 pad: Any = (0, 0)) -> None:
        self._set_geometry(ws, ignore_border, stride, pad)

    def make_node(self, input: Any, input_grad: Any) -> Apply:
        x, ggx = self._inputs(input, input_grad, "input_grad")
        out_type = TensorType(ggx.dtype, self.pool_shape(x.type.shape))
        return Apply(self, [x, ggx], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, ggx = inputs
        _check_pooled_shape(self, "the input gradient", ggx, x.shape)
        picked = self.extended(_as_3d(ggx), 0)[self.argmax_positions(_as_3d(x))]
        output_storage[0][0] = np.asarray(picked, dtype=node.outputs[0].dtype).reshape(
            self.pool_shape(x.shape))

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [self.pool_shape(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x, _), (g,) = inputs, output_grads
        return [elemwise.zeros_like(x), MaxPoolGrad(*self._geometry())(x, g)]


class AveragePoolGrad(_PoolGradBase, Op):
    """Gradient of 'sum' and average pooling: each window's output gradient, divided by the
    window's count for the averages, is added to every image cell of the window.

    Inputs: ``input`` (only its shape matters) and ``output_grad``; output: the input's shape
    and dtype. Linear in ``output_grad``: its gradient is the pooling itself.
    """

    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")

    def __init__(self, ws: Any = (2, 2), ignore_border: bool = True, stride: Any = None,
                 pad: Any = (0, 0), mode: str = "average_inc_pad") -> None:
        self._set_geometry(ws, ignore_border, stride, pad)
        if mode not in POOL_MODES or mode == "max":
            raise ValueError(f"AveragePoolGrad: mode must be 'sum' or an average, got {mode!r}")
        self.mode = mode

    def make_node(self, input: Any, output_grad: Any) -> Apply:
        x, gz = self._inputs(input, output_grad, "output_grad")
        return Apply(self, [x, gz], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x, gz = inputs
        out = self.pool_shape(x.shape)
        _check_pooled_shape(self, "the output gradient", gz, out)
        compute = dt.compute_dtype(x.dtype)
        r, c = x.shape[-2:]
        gz3 = _as_3d(gz.astype(compute, copy=False))
        if self.mode != "sum":
            gz3 = gz3 / self.window_counts(r, c, self.mode)
        grad = np.zeros((gz3.shape[0], *self.extended_size(r, c)), dtype=compute)
        if gz3.size:
            for u in range(self.ws[0]):
                for v in range(self.ws[1]):
                    grad[:, _window_slice(u, self.stride[0], out[-2]),
                         _window_slice(v, self.stride[1], out[-1])] += gz3
        result = self.crop(grad, r, c).reshape(x.shape)
        output_storage[0][0] = np.asarray(result, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x, _), (ggx,) = inputs, output_grads
        pool = Pool(self.ws, self.ignore_border, self.stride, self.pad, self.mode)
        return [elemwise.zeros_like(x), pool(ggx)]


def pool_2d(input: Any, ws: Any = (2, 2), ignore_border: bool = True,
            stride: Any = None, pad: Any = (0, 0), mode: str = "max") -> Any:
    """Pooling over the last two dimensions of ``input`` (Theano's ``pool_2d``).

    Windows of ``ws`` cells start every ``stride`` cells (default: ``ws``, no overlap) on the
    input zero-padded by ``pad`` on each side, and are reduced by ``mode``: 'max', 'sum',
    'average_inc_pad' (the padding counts in the divisor) or 'average_exc_pad' (it does not).

    Parameters
    ----------
    input : (..., rows, cols), rank >= 2; float, or integer for 'max' and 'sum'
    ws, stride : int or (int, int), >= 1
    ignore_border : bool
        True: only whole windows, ``out = (rows + 2 * pad - ws) // stride + 1``. False:
        windows that stick out past the end are kept and reduce over the cells they hold
        (needs ``pad == 0``).
    pad : int or (int, int), each smaller than ``ws``
    mode : {'max', 'sum', 'average_inc_pad', 'average_exc_pad'}

    Returns
    -------
    (..., out_rows, out_cols), the input's dtype.

    Raises
    ------
    TypeError
        For an input of rank < 2, a bool input, or an integer input to an average.
    ValueError
        For an unknown mode, a window or stride < 1, ``pad >= ws``, or padding with
        ``ignore_border=False``.

    Notes
    -----
    The gradient of 'max' goes to each window's first maximum in row-major order
    (``MaxPoolGrad``); those of the other modes spread evenly (``AveragePoolGrad``).
    Padded cells never win a max.
    """
    return Pool(ws, ignore_border, stride, pad, mode)(input)


def max_pool_2d(input: Any, ws: Any = (2, 2), ignore_border: bool = True,
                stride: Any = None, pad: Any = (0, 0), mode: str = "max") -> Any:
    """Max pooling over the last two dimensions (``pool_2d`` with ``mode='max'``; other modes
    are accepted too). See ``pool_2d`` for the parameters, shapes and errors."""
    return pool_2d(input, ws, ignore_border, stride, pad, mode)
