"""Records for ``sg.nnet``: ``Softmax``, ``LogSoftmax``, the crossentropies
(``CrossentropyCategorical1Hot`` and its gradient op), the fused ``SoftmaxCrossentropy`` and its
gradient op, ``SoftmaxStats``, and the activation compositions.

References use SciPy's ``softmax``/``log_softmax``/``expit`` or textbook formulas.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp

import symgraph as sg
from symgraph.ops import nnet
from tests.records import F, Given, I, OpRecord

U = F(3, 4)
PROBS = F(3, 4, lo=0.1, hi=1.0)
LABELS = Given(np.array([0, 3, 1]))
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _softmax(name, axis, spec=U, **kw):
    return OpRecord(f"nnet_softmax_{name}", lambda x: nnet.softmax(x, axis), [spec],
                    lambda x: sp.softmax(x, axis=axis), **kw)


def _log_softmax(name, axis, spec=U, **kw):
    return OpRecord(f"nnet_log_softmax_{name}", lambda x: nnet.log_softmax(x, axis), [spec],
                    lambda x: sp.log_softmax(x, axis=axis), **kw)


def _softmax_sq_grad(x):
    # d/dx sum(s**2) for s = softmax(x) along rows: 2 s (s - sum(s**2)).
    s = sp.softmax(x, axis=-1)
    return 2 * s * (s - np.sum(s * s, axis=-1, keepdims=True))


def _log_softmax_sq_grad(x):
    # d/dx sum(l**2) for l = log_softmax(x): 2 l - s * sum(2 l).
    s, ls = sp.softmax(x, axis=-1), sp.log_softmax(x, axis=-1)
    return 2 * ls - s * np.sum(2 * ls, axis=-1, keepdims=True)


def _picked(p, t):
    return np.array([p[i, t[i]] for i in range(len(t))])


def _ce_sq_grad(p, t):
    # d/dp sum(ce**2) with ce = -log p[i, t_i]: 2 log(p[i, t_i]) / p[i, t_i] at the true class.
    g = np.zeros_like(p)
    for i, c in enumerate(t):
        g[i, c] = 2 * np.log(p[i, c]) / p[i, c]
    return g


def _ce_grad_op_ref(gy, p, t):
    g = np.zeros_like(p)
    for i, c in enumerate(t):
        g[i, c] = -gy[i] / p[i, c]
    return g


def _sce_grad_ref(gy, x, t):
    # gy * (softmax - onehot) for class indices, gy * (softmax * sum(t) - t) for distributions.
    s = sp.softmax(x, axis=-1)
    target = np.eye(x.shape[-1])[t] if t.ndim < x.ndim else t
    return gy[..., None] * (s * target.sum(axis=-1, keepdims=True) - target)


RECORDS = [
    _softmax("rows", -1),
    _softmax("axis0", 0),
    _softmax("all", None, F(2, 3)),
    _softmax("tensor3_axis1", 1, F(2, 3, 2)),
    _softmax("vector", -1, F(5)),
    _softmax("large_inputs", -1, F(2, 4, lo=500, hi=1000), grad=False),
    _softmax("int_input", -1, I(3, 4, lo=-3, hi=3), grad=False),
    _softmax("float32", -1, F(3, 4, dtype="float32")),
    _softmax("static_shape", -1, F(3, 4, static=(3, 4))),
    _log_softmax("rows", -1),
    _log_softmax("axis0", 0),
    _log_softmax("all", None, F(2, 3)),
    _log_softmax("large_inputs", -1, F(2, 4, lo=-1000, hi=1000), grad=False),
    OpRecord("nnet_softmax_second_order",
             lambda x: sg.grad(sg.sum(nnet.softmax(x) ** 2), x), [U], _softmax_sq_grad),
    OpRecord("nnet_log_softmax_second_order",
             lambda x: sg.grad(sg.sum(nnet.log_softmax(x) ** 2), x), [U], _log_softmax_sq_grad),
    OpRecord("nnet_categorical_crossentropy_int", nnet.categorical_crossentropy,
             [PROBS, LABELS], lambda p, t: -np.log(_picked(p, t))),
    OpRecord("nnet_categorical_crossentropy_int32_labels", nnet.categorical_crossentropy,
             [PROBS, Given(np.array([2, 2, 0], dtype="int32"))],
             lambda p, t: -np.log(_picked(p, t))),
    OpRecord("nnet_categorical_crossentropy_tensor3", nnet.categorical_crossentropy,
             [F(2, 3, 4, lo=0.1, hi=1.0), Given(np.array([[0, 1, 3], [2, 2, 0]]))],
             lambda p, t: -np.log(np.take_along_axis(p, t[..., None], -1)[..., 0])),
    OpRecord("nnet_categorical_crossentropy_onehot", nnet.categorical_crossentropy,
             [PROBS, Given(np.eye(4)[[0, 3, 1]])],
             lambda p, t: -np.log(_picked(p, [0, 3, 1])), grad_inputs=(0,)),
    OpRecord("nnet_categorical_crossentropy_soft", nnet.categorical_crossentropy,
             [PROBS, F(3, 4, lo=0.0, hi=1.0)],
             lambda p, t: -np.einsum("ij,ij->i", t, np.log(p))),
    OpRecord("nnet_categorical_crossentropy_of_softmax",
             lambda x, t: nnet.categorical_crossentropy(nnet.softmax(x), t), [U, LABELS],
             lambda x, t: -_picked(sp.log_softmax(x, axis=1), t)),
    OpRecord("nnet_categorical_crossentropy_second_order",
             lambda p, t: sg.grad(sg.sum(nnet.categorical_crossentropy(p, t) ** 2), p),
             [PROBS, LABELS], _ce_sq_grad),
    OpRecord("nnet_crossentropy_1hot_grad_op",
             lambda gy, p, t: nnet.CrossentropyCategorical1HotGrad()(gy, p, t),
             [F(3), PROBS, LABELS], _ce_grad_op_ref),
    OpRecord("nnet_binary_crossentropy", nnet.binary_crossentropy,
             [F(3, 4, lo=0.05, hi=0.95), F(3, 4, lo=0.0, hi=1.0)],
             lambda o, t: -(t * np.log(o) + (1 - t) * np.log1p(-o))),
    OpRecord("nnet_sigmoid", nnet.sigmoid, [U], sp.expit),
    OpRecord("nnet_softplus", nnet.softplus, [F(3, 4, lo=-4, hi=4)],
             lambda x: np.log1p(np.exp(x))),
    OpRecord("nnet_relu", nnet.relu, [F(3, 4, away_from=(0,))], lambda x: np.where(x > 0, x, 0)),
    OpRecord("nnet_relu_leaky", lambda x: nnet.relu(x, 0.1), [F(3, 4, away_from=(0,))],
             lambda x: np.where(x > 0, x, 0.1 * x)),
    OpRecord("nnet_relu_symbolic_alpha", nnet.relu,
             [F(3, 4, away_from=(0,)), F(1, 1, lo=0.1, hi=0.3, static=(1, 1))],
             lambda x, a: np.where(x > 0, x, a * x)),
    OpRecord("nnet_elu", lambda x: nnet.elu(x, 0.5), [F(3, 4, away_from=(0,))],
             lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    OpRecord("nnet_selu", nnet.selu, [F(3, 4, away_from=(0,))],
             lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1))),
    OpRecord("nnet_hard_sigmoid", nnet.hard_sigmoid, [F(3, 4, lo=-4, hi=4,
                                                       away_from=(-2.5, 2.5))],
             lambda x: np.minimum(1, np.maximum(0, x / 5 + 0.5))),
    OpRecord("nnet_softsign", nnet.softsign, [U], lambda x: x / (1 + np.abs(x))),
    OpRecord("nnet_softmax_crossentropy_int", nnet.softmax_crossentropy, [U, LABELS],
             lambda x, t: -_picked(sp.log_softmax(x, axis=1), t)),
    OpRecord("nnet_softmax_crossentropy_tensor3", nnet.softmax_crossentropy,
             [F(2, 3, 4), Given(np.array([[0, 1, 3], [2, 2, 0]]))],
             lambda x, t: -np.take_along_axis(sp.log_softmax(x, axis=-1), t[..., None],
                                              -1)[..., 0]),
    OpRecord("nnet_softmax_crossentropy_large_logits", nnet.softmax_crossentropy,
             [F(3, 4, lo=-1e4, hi=1e4), LABELS],
             lambda x, t: sp.logsumexp(x, axis=1) - _picked(x, t), grad=False),
    OpRecord("nnet_softmax_crossentropy_soft", nnet.softmax_crossentropy,
             [U, F(3, 4, lo=0.0, hi=1.0)],
             lambda x, t: -np.einsum("ij,ij->i", t, sp.log_softmax(x, axis=1))),
    OpRecord("nnet_softmax_crossentropy_broadcast_labels", nnet.softmax_crossentropy,
             [U, F(1, 4, lo=0.0, hi=1.0, static=(1, None))],
             lambda x, t: -(t * sp.log_softmax(x, axis=1)).sum(axis=1)),
    OpRecord("nnet_softmax_stats",
             lambda x: list(nnet.SoftmaxStats()(x)), [U],
             lambda x: [x.max(axis=1), np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1)]),
    OpRecord("nnet_softmax_crossentropy_grad_op_int",
             lambda gy, x, t: nnet.SoftmaxCrossentropyGrad()(gy, nnet.softmax(x), t),
             [F(3), U, LABELS], _sce_grad_ref),
    OpRecord("nnet_softmax_crossentropy_grad_op_soft",
             lambda gy, x, t: nnet.SoftmaxCrossentropyGrad()(gy, nnet.softmax(x), t),
             [F(3), U, F(3, 4, lo=0.0, hi=1.0)], _sce_grad_ref),
    OpRecord("nnet_softmax_crossentropy_second_order",
             lambda x, t: sg.grad(sg.sum(nnet.softmax_crossentropy(x, t) ** 2), x), [U, LABELS],
             lambda x, t: _sce_grad_ref(2 * (sp.logsumexp(x, axis=1) - _picked(x, t)), x, t)),
]
