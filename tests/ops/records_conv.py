"""Records for ``conv2d`` (``Conv2d`` and its gradient ops) and pooling (``Pool``,
``MaxPoolGrad``, ``MaxPoolGradGrad``, ``AveragePoolGrad``).

References are independent of the ops: convolutions sum ``scipy.signal.convolve2d`` over
channels, pooling loops over windows, and the gradient ops are checked against the transpose
of those references built one basis vector at a time. Shapes stay small because
``verify_grad`` differentiates element by element.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.signal import convolve2d, correlate2d

from symgraph.ops import conv
from tests.records import F, Given, OpRecord

# -- references --------------------------------------------------------------------------------

def ref_conv2d(x, w, pad=(0, 0), stride=(1, 1), flip=True):
    """Sum over channels of 2-D convolutions of the zero-padded input, then subsampling."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    kernel_op = convolve2d if flip else correlate2d
    rows, cols = xp.shape[2] - w.shape[2] + 1, xp.shape[3] - w.shape[3] + 1
    out = np.zeros((x.shape[0], w.shape[0], rows, cols))
    for b, k, c in itertools.product(range(x.shape[0]), range(w.shape[0]), range(x.shape[1])):
        out[b, k] += kernel_op(xp[b, c], w[k, c], mode="valid")
    return out[:, :, ::stride[0], ::stride[1]]


def ref_transpose(linear, shape, cotangent):
    """``J^T cotangent`` of a linear map of arrays of ``shape``, one basis vector at a time."""
    result = np.zeros(shape)
    for index in np.ndindex(*shape):
        basis = np.zeros(shape)
        basis[index] = 1.0
        result[index] = np.sum(linear(basis) * cotangent)
    return result


def _pool_len(size, ws, stride, ignore_border):
    if ignore_border:
        return max(0, (size - ws) // stride + 1)
    if size == 0:
        return 0
    if stride >= ws:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - ws + stride) // stride) + 1


def _pool_windows(shape, ws, ignore_border, stride, pad, mode):
    """Yield (out_row, out_col, row slice, col slice, divisor) in unpadded coordinates."""
    stride = stride or ws
    rows, cols = shape[-2] + 2 * pad[0], shape[-1] + 2 * pad[1]
    for i in range(_pool_len(rows, ws[0], stride[0], ignore_border)):
        for j in range(_pool_len(cols, ws[1], stride[1], ignore_border)):
            r0, r1 = i * stride[0], min(i * stride[0] + ws[0], rows)
            c0, c1 = j * stride[1], min(j * stride[1] + ws[1], cols)
            inc = (r1 - r0) * (c1 - c0)
            r0, r1 = max(r0 - pad[0], 0), min(r1 - pad[0], shape[-2])
            c0, c1 = max(c0 - pad[1], 0), min(c1 - pad[1], shape[-1])
            count = inc if mode == "average_inc_pad" else (r1 - r0) * (c1 - c0)
            yield i, j, slice(r0, r1), slice(c0, c1), count


def ref_pool(x, ws=(2, 2), ignore_border=True, stride=None, pad=(0, 0), mode="max"):
    """Theano's pooling, one window at a time; padded cells never win a max."""
    st = stride or ws
    n_rows = _pool_len(x.shape[-2] + 2 * pad[0], ws[0], st[0], ignore_border)
    n_cols = _pool_len(x.shape[-1] + 2 * pad[1], ws[1], st[1], ignore_border)
    out = np.zeros(x.shape[:-2] + (n_rows, n_cols), dtype=x.dtype)
    for i, j, rs, cs, count in _pool_windows(x.shape, ws, ignore_border, stride, pad, mode):
        block = x[..., rs, cs]
        if mode == "max":
            out[..., i, j] = block.max(axis=(-2, -1))
        else:
            total = block.sum(axis=(-2, -1))
            out[..., i, j] = total if mode == "sum" else total / count
    return out


def ref_max_pool_grad(x, gz, ws=(2, 2), ignore_border=True, stride=None, pad=(0, 0)):
    """Each window's gradient to its first maximal cell (row-major order)."""
    gx = np.zeros_like(x)
    for lead in np.ndindex(*x.shape[:-2]):
        for i, j, rs, cs, _ in _pool_windows(x.shape, ws, ignore_border, stride, pad, "max"):
            block = x[lead][rs, cs]
            r, c = np.unravel_index(np.argmax(block), block.shape)
            gx[lead][rs.start + r, cs.start + c] += gz[lead][i, j]
    return gx


def ref_max_pool_grad_grad(x, ggx, ws=(2, 2), ignore_border=True, stride=None, pad=(0, 0)):
    """``ggx`` read at each window's first maximal cell."""
    out = ref_pool(x, ws, ignore_border, stride, pad, "max")
    for lead in np.ndindex(*x.shape[:-2]):
        for i, j, rs, cs, _ in _pool_windows(x.shape, ws, ignore_border, stride, pad, "max"):
            block = x[lead][rs, cs]
            r, c = np.unravel_index(np.argmax(block), block.shape)
            out[lead][i, j] = ggx[lead][rs.start + r, cs.start + c]
    return out


# -- records -----------------------------------------------------------------------------------

X = F(2, 2, 5, 5)          # (batch, channels, rows, cols)
W = F(3, 2, 3, 2)          # (out_channels, channels, rows, cols)


def _conv(name, pad, border_mode, subsample=(1, 1), flip=True, x=X, w=W, **kw):
    return OpRecord(
        f"conv_{name}",
        lambda a, b: conv.conv2d(a, b, border_mode=border_mode, subsample=subsample,
                                 filter_flip=flip, **kw),
        [x, w], lambda a, b: ref_conv2d(a, b, pad, subsample, flip))


def _grad(wrt, name, pad, border_mode, subsample, shape=None, known=None, flip=True):
    """The gradient of a convolution with respect to its input (``wrt="inputs"``: ``known`` are
    the filters, ``shape`` the input's) or to its filters (``"weights"``: ``known`` is the input,
    ``shape`` the filters'); the reference transposes ``ref_conv2d``."""
    to_inputs = wrt == "inputs"
    op = conv.Conv2dGradInputs if to_inputs else conv.Conv2dGradWeights
    shape = shape or ((2, 2, 5, 5) if to_inputs else (3, 2, 3, 2))
    known = known or (W if to_inputs else X)

    def forward(given, wanted):  # the convolution as a function of what the gradient is for
        x, w = (wanted, given) if to_inputs else (given, wanted)
        return ref_conv2d(x, w, pad, subsample, flip)

    out_shape = forward(np.zeros(known.shape), np.zeros(shape)).shape
    return OpRecord(
        f"conv_grad_{wrt}_{name}",
        lambda given, gz: op(border_mode, subsample, flip)(given, gz, shape[2], shape[3]),
        [known, F(*out_shape)],
        lambda given, gz: ref_transpose(lambda wanted: forward(given, wanted), shape, gz))


P = F(1, 2, 5, 6)  # pooling input: two images of 5 x 6


def _pool(name, x=P, ws=(2, 2), ignore_border=True, stride=None, pad=(0, 0), mode="max",
          **kw):
    return OpRecord(
        f"pool_{name}",
        lambda a: conv.pool_2d(a, ws, ignore_border, stride, pad, mode),
        [x], lambda a: ref_pool(a, ws, ignore_border, stride, pad, mode), **kw)


def _pool_grad(name, op, ref, x=P, **geometry):
    pooled = ref_pool(np.zeros(x.shape), **geometry).shape
    return OpRecord(f"pool_{name}", lambda a, g: op(**geometry)(a, g), [x, F(*pooled)],
                    lambda a, g: ref(a, g, **geometry))


def _pool_grad_grad(name, x=P, **geometry):
    return OpRecord(f"pool_{name}", lambda a, g: conv.MaxPoolGradGrad(**geometry)(a, g),
                    [x, F(*x.shape)], lambda a, g: ref_max_pool_grad_grad(a, g, **geometry))


def _average_pool_grad(name, mode, x=P, **geometry):
    pooled = ref_pool(np.zeros(x.shape), **geometry, mode=mode).shape
    return OpRecord(
        f"pool_{name}",
        lambda a, g: conv.AveragePoolGrad(**geometry, mode=mode)(a, g), [x, F(*pooled)],
        lambda a, g: ref_transpose(lambda v: ref_pool(v, **geometry, mode=mode), x.shape, g))


RECORDS = [
    _conv("valid", (0, 0), "valid"),
    _conv("full", (2, 1), "full"),
    _conv("half", (1, 1), "half"),
    _conv("pad_int", (1, 1), 1),
    _conv("pad_pair", (2, 0), (2, 0)),
    _conv("subsample", (0, 0), "valid", subsample=(2, 1)),
    _conv("full_subsample", (2, 1), "full", subsample=(2, 3)),
    _conv("no_flip", (1, 1), "half", flip=False),
    _conv("static_shapes", (0, 0), "valid", x=F(2, 2, 5, 5, static=(2, 2, 5, 5)),
          w=F(3, 2, 3, 2, static=(3, 2, 3, 2))),
    _conv("shape_hints", (0, 0), "valid", input_shape=(2, 2, 5, 5),
          filter_shape=(None, 2, 3, 2)),
    _conv("float32", (0, 0), "valid", x=F(1, 2, 4, 4, dtype="float32"),
          w=F(2, 2, 2, 2, dtype="float32")),
    _conv("one_by_one", (0, 0), "valid", w=F(3, 2, 1, 1)),
    _conv("batch1_channel1_odd", (1, 1), "half", x=F(1, 1, 7, 5), w=F(2, 1, 3, 3)),
    _conv("many_channels", (0, 0), "valid", x=F(1, 9, 4, 3), w=F(5, 9, 2, 2)),
    _grad("inputs", "valid", (0, 0), "valid", (1, 1)),
    _grad("inputs", "full_subsample", (2, 1), "full", (2, 2)),
    _grad("inputs", "pad_stride_uneven", (1, 0), (1, 0), (2, 2), shape=(1, 2, 6, 5)),
    _grad("weights", "valid", (0, 0), "valid", (1, 1)),
    _grad("weights", "half_subsample", (1, 1), "half", (2, 1)),
    _grad("inputs", "half_no_flip", (1, 1), "half", (1, 1), flip=False),
    _grad("inputs", "pad_pair", (2, 0), (2, 0), (1, 2)),
    _grad("weights", "full_subsample", (2, 1), "full", (2, 3)),
    _grad("weights", "pad_no_flip", (1, 0), (1, 0), (1, 1), flip=False),
    _pool("max", ws=(2, 2)),
    _pool("max_partial", ws=(2, 4), ignore_border=False),
    _pool("max_overlap", ws=(3, 2), stride=(1, 2)),
    _pool("max_overlap_partial", ws=(3, 3), stride=(2, 2), ignore_border=False),
    _pool("max_pad", ws=(3, 3), stride=(2, 2), pad=(1, 2)),
    _pool("max_stride_past_window", ws=(2, 2), stride=(3, 3), ignore_border=False),
    _pool("max_matrix", x=F(5, 7), ws=(2, 3)),
    _pool("max_tensor4", x=F(2, 2, 4, 4), ws=(2, 2)),
    _pool("max_window_too_big", ws=(6, 2), grad=False),
    _pool("max_int", x=Given(np.arange(24, dtype="int32").reshape(2, 3, 4) % 7), ws=(2, 2),
          ignore_border=False, grad=False),
    _pool("sum", mode="sum", ws=(2, 3), ignore_border=False),
    _pool("average_inc_pad", mode="average_inc_pad", ws=(3, 3), stride=(2, 2), pad=(1, 1)),
    _pool("average_exc_pad", mode="average_exc_pad", ws=(3, 3), stride=(2, 2), pad=(1, 1)),
    _pool("average_partial", mode="average_exc_pad", ws=(2, 4), ignore_border=False),
    _pool_grad("max_grad", conv.MaxPoolGrad, ref_max_pool_grad, ws=(2, 2),
               ignore_border=False, stride=None, pad=(0, 0)),
    _pool_grad("max_grad_overlap_pad", conv.MaxPoolGrad, ref_max_pool_grad, ws=(3, 3),
               ignore_border=True, stride=(1, 2), pad=(1, 1)),
    _pool_grad_grad("max_grad_grad", ws=(3, 2), ignore_border=False, stride=(2, 1),
                    pad=(0, 0)),
    _average_pool_grad("sum_grad", "sum", ws=(2, 3), ignore_border=False, stride=None,
                       pad=(0, 0)),
    _average_pool_grad("average_inc_pad_grad", "average_inc_pad", ws=(3, 3),
                       ignore_border=True, stride=(2, 2), pad=(1, 1)),
    _average_pool_grad("average_exc_pad_grad", "average_exc_pad", ws=(3, 2),
                       ignore_border=True, stride=(1, 1), pad=(1, 1)),
]
