"""Stabilize rules: structure after rewriting, equal numbers before and after, and stability on
inputs where the expression as written loses precision or overflows."""

import numpy as np
import pytest
import scipy.special as sp

import symgraph as sg
from symgraph.graph import toposort
from symgraph.ops.elemwise import Elemwise
from tests.rewrite.helpers import RAW, assert_same_results

RNG = np.random.default_rng(0)
X = RNG.uniform(-2.0, 2.0, size=(3, 4))
LABELS = np.array([0, 3, 1])
UP_TO_STABILIZE = ("merge", "canonicalize", "stabilize")


def names(outputs) -> set[str]:
    """Elemwise rows by name, other ops by class name."""
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return {n.op.scalar_op.name if isinstance(n.op, Elemwise) else type(n.op).__name__
            for n in toposort(outputs)}


def stabilized(build, *inputs):
    """Rewrite a fresh graph up to stabilize: (op names, fired rules)."""
    out, fired = sg.rewrite_graph(build(*inputs), include=UP_TO_STABILIZE)
    return names(out), fired


# -- one case per rule: (build, inputs, values, rule, ops present, ops absent) -------------------

def _x():
    return sg.dmatrix("x")


CASES = [
    ("log1p", lambda x: sg.log(1 + x), X + 2.5, "log_one_plus_to_log1p", {"log1p"},
     {"log", "add"}),
    ("log1p_constant_right", lambda x: sg.log(x + 1.0), X + 2.5, "log_one_plus_to_log1p",
     {"log1p"}, {"log", "add"}),
    ("log1p_fill", lambda x: sg.log(sg.ones_like(x) + sg.sqr(x)), X, "log_one_plus_to_log1p",
     {"log1p"}, {"log"}),
    ("softplus", lambda x: sg.log(1 + sg.exp(x)), X, "log1p_of_exp_to_softplus", {"softplus"},
     {"log", "log1p", "exp"}),
    ("log1p_three_terms", lambda x: sg.log(x + 1.0 + sg.sqr(x)), X + 2.5,
     "log_one_plus_to_log1p", {"log1p"}, {"log"}),
    ("log1m", lambda x: sg.log(1 - x), X / 4, "log_one_minus_to_log1p", {"log1p", "neg"},
     {"log"}),
    ("expm1", lambda x: sg.exp(x) - 1, X, "exp_minus_one_to_expm1", {"expm1"}, {"exp", "sub"}),
    ("expm1_added", lambda x: -1.0 + sg.exp(x), X, "exp_minus_one_to_expm1", {"expm1"},
     {"exp"}),
    ("expm1_among_terms", lambda x: sg.exp(x) + x - 1.0, X, "exp_minus_one_to_expm1",
     {"expm1"}, {"exp"}),
    ("log_sigmoid", lambda x: sg.log(sg.sigmoid(x)), X, "log_sigmoid_to_softplus",
     {"softplus", "neg"}, {"log", "sigmoid"}),
    ("log_sigmoid_of_neg", lambda x: sg.log(sg.sigmoid(-x)), X, "log_sigmoid_to_softplus",
     {"softplus"}, {"log", "sigmoid"}),
    ("log_one_minus_sigmoid", lambda x: sg.log(1 - sg.sigmoid(x)), X,
     "log_one_minus_sigmoid_to_softplus", {"softplus", "neg"}, {"log", "sigmoid", "sub"}),
    ("log_softmax", lambda x: sg.log(sg.nnet.softmax(x)), X, "log_softmax_from_softmax",
     {"LogSoftmax"}, {"log", "Softmax"}),
    ("log_softmax_axis0", lambda x: sg.log(sg.nnet.softmax(x, axis=0)), X,
     "log_softmax_from_softmax", {"LogSoftmax"}, {"Softmax"}),
    ("logsumexp", lambda x: sg.log(sg.sum(sg.exp(x), axis=1)), X, "log_sum_exp_to_logsumexp",
     {"CAReduce", "isinf"}, set()),
    ("logsumexp_all", lambda x: sg.log(sg.exp(x).sum()), X, "log_sum_exp_to_logsumexp",
     {"isinf"}, set()),
    ("logsumexp_keepdims", lambda x: sg.log(sg.sum(sg.exp(x), axis=0, keepdims=True)), X,
     "log_sum_exp_to_logsumexp", {"isinf"}, set()),
    # The logistic function spelled out (Theano's tutorial writes it so), and logs of it.
    ("sigmoid_spelled_out", lambda x: 1 / (1 + sg.exp(-x)), X, "spelled_out_sigmoid_to_sigmoid",
     {"sigmoid"}, {"exp", "true_divide", "add", "neg"}),
    ("sigmoid_of_minus", lambda x: 1.0 / (sg.exp(x * 2.0) + 1.0), X,
     "spelled_out_sigmoid_to_sigmoid", {"sigmoid", "neg"}, {"exp", "true_divide", "add"}),
    ("sigmoid_inv", lambda x: sg.reciprocal(1 + sg.exp(-x)), X,
     "spelled_out_sigmoid_to_sigmoid", {"sigmoid"}, {"exp", "reciprocal"}),
    ("sigmoid_pow", lambda x: (1 + sg.exp(-x)) ** -1, X, "spelled_out_sigmoid_to_sigmoid",
     {"sigmoid"}, {"exp", "pow", "reciprocal"}),
    ("sigmoid_exp_ratio", lambda x: sg.exp(x) / (1 + sg.exp(x)), X,
     "spelled_out_sigmoid_to_sigmoid", {"sigmoid"}, {"exp", "true_divide"}),
    ("log_sigmoid_spelled_out", lambda x: sg.log(1 / (1 + sg.exp(-x))), X,
     "log_sigmoid_to_softplus", {"softplus"}, {"log", "sigmoid", "exp"}),
    ("log_one_minus_sigmoid_spelled_out", lambda x: sg.log(1 - 1 / (1 + sg.exp(-x))), X,
     "log_one_minus_sigmoid_to_softplus", {"softplus", "neg"}, {"log", "sigmoid", "exp"}),
    ("one_minus_sigmoid_factor", lambda x: x * (1 - sg.sigmoid(x)), X,
     "one_minus_sigmoid_to_sigmoid", {"sigmoid", "neg"}, {"sub"}),
    ("sigmoid_derivative", lambda x: sg.exp(x) / sg.sqr(1 + sg.exp(x)), X,
     "sigmoid_derivative_to_sigmoids", {"sigmoid"}, {"exp", "sqr", "true_divide"}),
    ("exp_times_sigmoid", lambda x: sg.exp(x) * sg.sigmoid(-x), X,
     "exp_times_sigmoid_to_sigmoid", {"sigmoid"}, {"exp", "mul"}),
    ("cancel_divisor", lambda x: (x / sg.sigmoid(x) + x) * sg.sigmoid(x), X,
     "cancel_positive_divisors", {"sigmoid"}, {"true_divide"}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_rule_structure_and_numbers(case):
    _, build, values, rule, present, absent = case
    found, fired = stabilized(build, _x())
    assert rule in fired
    assert present <= found, f"missing {present - found} in {found}"
    assert not absent & found, f"still there: {absent & found}"
    x = _x()
    assert_same_results([x], build(x), [values])


def test_log_softmax_rule_keeps_axis():
    out, _ = sg.rewrite_graph(sg.log(sg.nnet.softmax(_x(), axis=0)), include=UP_TO_STABILIZE)
    (node,) = [n for n in toposort([out]) if type(n.op).__name__ == "LogSoftmax"]
    assert node.op.axis == 0


def test_logsumexp_rule_does_not_apply_twice():
    _, fired = stabilized(lambda x: sg.log(sg.sum(sg.exp(x), axis=1)), _x())
    assert fired.count("log_sum_exp_to_logsumexp") == 1
    _, fired = stabilized(lambda x: sg.logsumexp(x, axis=1), _x())
    assert "log_sum_exp_to_logsumexp" not in fired


def test_log1p_keeps_dtype_of_a_float32_graph():
    x = sg.fmatrix("x")
    out = sg.log(1 + x)
    rewritten, _ = sg.rewrite_graph(out, include=UP_TO_STABILIZE)
    assert rewritten.dtype == "float32" and "log1p" in names(rewritten)


# -- log1p / expm1 / softplus are exact where the naive forms are not --------------------------

@pytest.mark.parametrize("build, reference", [
    (lambda x: sg.log(1 + x), np.log1p),
    (lambda x: sg.log(x + 1), np.log1p),
    (lambda x: sg.exp(x) - 1, np.expm1),
])
def test_log1p_and_expm1_exact_on_tiny_inputs(build, reference):
    x = sg.dvector("x")
    tiny = np.array([1e-10, -3e-12, 2e-16, 0.0])
    got = sg.function([x], build(x), mode="py")(tiny)
    np.testing.assert_array_equal(got, reference(tiny))
    naive = sg.function([x], build(x), mode=RAW)(tiny)
    assert not np.array_equal(naive, reference(tiny))  # what the rewrite is for


def test_log_sigmoid_and_softplus_finite_for_large_inputs():
    x = sg.dvector("x")
    values = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    for build, reference in [(lambda v: sg.log(sg.sigmoid(v)), -np.logaddexp(0, -values)),
                             (lambda v: sg.log(1 - sg.sigmoid(v)), -np.logaddexp(0, values)),
                             (lambda v: sg.log(1 + sg.exp(v)), np.logaddexp(0, values))]:
        got = sg.function([x], build(x), mode="py")(values)
        np.testing.assert_allclose(got, reference, rtol=1e-12)
        assert not np.all(np.isfinite(sg.function([x], build(x), mode=RAW)(values)))


# -- spelled-out sigmoids: finite values and gradients where the naive forms overflow ----------

SPELLED_OUT = {
    "div": lambda x: 1 / (1 + sg.exp(-x)),
    "inv": lambda x: sg.reciprocal(1 + sg.exp(-x)),
    "pow": lambda x: (1 + sg.exp(-x)) ** -1,
    "shifted": lambda x: 1 / (1 + sg.exp(-x * 2.0 + x)),  # exp of something other than -x
    "op": sg.sigmoid,
}
EXTREMES = [("float64", [-40.0, -1.0, 0.0, 1.0, 40.0]),
            ("float32", [-90.0, -20.0, 0.0, 20.0, 90.0])]


def _softplus_ref(v):
    return np.logaddexp(0, v)


def _sigmoid_ref(v):
    return sp.expit(v)


@pytest.mark.parametrize("mode", ["py", "llvm"])
@pytest.mark.parametrize("dtype, values", EXTREMES, ids=["float64", "float32"])
@pytest.mark.parametrize("form", SPELLED_OUT, ids=list(SPELLED_OUT))
def test_log_of_spelled_out_sigmoid_and_its_gradient_are_finite(form, dtype, values, mode):
    x = sg.vector("x", dtype=dtype)
    p = SPELLED_OUT[form](x)
    log1mp, logp = sg.log(1 - p), sg.log(p)
    outputs = [log1mp, sg.grad(log1mp.sum(), x), logp, sg.grad(logp.sum(), x)]
    got = sg.function([x], outputs, mode=mode)(np.array(values, dtype=dtype))
    v = np.array(values)
    tol = {"rtol": 1e-12 if dtype == "float64" else 2e-6, "atol": 1e-30}
    # log(1 - p) = -softplus(x): -40 at x = 40, and its gradient -sigmoid(x), -1 there.
    np.testing.assert_allclose(got[0], -_softplus_ref(v), **tol)
    np.testing.assert_allclose(got[1], -_sigmoid_ref(v), **tol)
    np.testing.assert_allclose(got[2], -_softplus_ref(-v), **tol)
    np.testing.assert_allclose(got[3], _sigmoid_ref(-v), **tol)
    assert all(o.dtype == dtype for o in got)


@pytest.mark.parametrize("dtype, values", [("float64", [-800.0, -40.0, 0.0, 40.0, 800.0]),
                                           ("float32", [-100.0, -20.0, 0.0, 20.0, 100.0])])
def test_spelled_out_softplus_and_its_gradient_are_finite(dtype, values):
    x = sg.vector("x", dtype=dtype)
    out = sg.log(1 + sg.exp(x))
    got = sg.function([x], [out, sg.grad(out.sum(), x)])(np.array(values, dtype=dtype))
    v = np.array(values)
    tol = {"rtol": 1e-12 if dtype == "float64" else 2e-6, "atol": 1e-45}
    np.testing.assert_allclose(got[0], _softplus_ref(v), **tol)
    np.testing.assert_allclose(got[1], _sigmoid_ref(v), **tol)  # exp(x) * sigmoid(-x) was nan


def test_spelled_out_sigmoid_overflows_without_the_rewrites():
    x = sg.dvector("x")
    p = SPELLED_OUT["div"](x)
    log1mp = sg.log(1 - p)
    raw = sg.function([x], [log1mp, sg.grad(log1mp.sum(), x)], mode=RAW)
    with np.errstate(all="ignore"):
        value, grad = raw(np.array([40.0]))
    assert value[0] == -np.inf and not np.isfinite(grad[0])  # what the rewrites are for


@pytest.mark.parametrize("form", SPELLED_OUT, ids=list(SPELLED_OUT))
def test_spelled_out_sigmoid_keeps_the_numbers_on_moderate_inputs(form):
    x, t = sg.dvectors("x t")
    p = SPELLED_OUT[form](x)
    xent = -t * sg.log(p) - (1 - t) * sg.log(1 - p)
    cost = xent.mean() + 0.01 * (p ** 2).sum()
    values = [RNG.uniform(-4, 4, size=7), RNG.integers(0, 2, size=7).astype(float)]
    assert_same_results([x, t], [p, xent, sg.grad(cost, x)], values)


@pytest.mark.parametrize("dtype, logit", [("float64", 40.0), ("float32", 90.0)])
@pytest.mark.parametrize("build", [
    lambda p, t: -(t * sg.log(p) + (1 - t) * sg.log(1 - p)),
    lambda p, t: sg.nnet.binary_crossentropy(p, t),
], ids=["written", "nnet"])
def test_binary_crossentropy_of_a_sigmoid_is_stable(build, dtype, logit):
    x, t = sg.vector("x", dtype=dtype), sg.vector("t", dtype=dtype)
    loss = build(sg.sigmoid(x), t)
    found, _ = stabilized(lambda x, t: build(sg.sigmoid(x), t), x, t)
    assert "softplus" in found and not {"log", "log1p"} & found
    f = sg.function([x, t], [loss, sg.grad(loss.sum(), x)])
    v = np.array([-logit, -1.0, 0.0, 1.0, logit])
    labels = np.array([1.0, 0.0, 1.0, 1.0, 0.0])  # confidently wrong at both ends
    got_loss, got_grad = f(v.astype(dtype), labels.astype(dtype))
    tol = {"rtol": 1e-12 if dtype == "float64" else 2e-6}
    np.testing.assert_allclose(got_loss, labels * _softplus_ref(-v) +
                               (1 - labels) * _softplus_ref(v), **tol)
    np.testing.assert_allclose(got_grad, _sigmoid_ref(v) - labels, atol=1e-7, **tol)


def _train_logistic_regression(dtype, mode, steps=200):
    """Theano's tutorial logistic regression (random 400 x 784 data), as its users write it:
    the sigmoid and the crossentropy spelled out, weight decay, plain gradient descent."""
    rng = np.random.default_rng(0)
    n, feats = 400, 784
    data = (rng.standard_normal((n, feats)).astype(dtype),
            rng.integers(0, 2, size=n).astype(dtype))
    x, y = sg.matrix("x", dtype=dtype), sg.vector("y", dtype=dtype)
    w = sg.shared(rng.standard_normal(feats).astype(dtype), name="w")
    b = sg.shared(np.asarray(0.0, dtype=dtype), name="b")
    p_1 = 1 / (1 + sg.exp(-sg.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * sg.log(p_1) - (1 - y) * sg.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = sg.grad(cost, [w, b])
    train = sg.function([x, y], [prediction, xent], mode=mode,
                        updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    predict = sg.function([x], prediction, mode=mode)
    for _ in range(steps):
        _, err = train(*data)
    return w.get_value(), err, np.mean(predict(data[0]) == data[1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_theano_tutorial_logistic_regression_trains_without_nan(dtype):
    w, err, accuracy = _train_logistic_regression(dtype, None)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(err))
    assert accuracy > 0.85  # random labels: the 784 features let it fit the training set
    w_py, err_py, accuracy_py = _train_logistic_regression(dtype, "py")
    np.testing.assert_allclose(w, w_py, rtol=1e-3 if dtype == "float32" else 1e-9, atol=1e-4)
    assert accuracy == accuracy_py
    with np.errstate(all="ignore"):
        w_raw, _, _ = _train_logistic_regression(dtype, RAW, steps=20)
    assert not np.all(np.isfinite(w_raw))  # as written, the tutorial's weights become NaN


def test_logsumexp_rewrite_is_stable():
    x = sg.dmatrix("x")
    values = np.array([[1e4, -1e4, 3.0], [-1e4, -1e4 + 1.0, -1e4], [-np.inf, -np.inf, -np.inf]])
    out = sg.log(sg.sum(sg.exp(x), axis=1))
    got = sg.function([x], out, mode="py")(values)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(got, sp.logsumexp(values, axis=1), rtol=1e-12)


# -- softmax crossentropy -----------------------------------------------------------------------

def _int_loss(x, y):
    return sg.nnet.categorical_crossentropy(sg.nnet.softmax(x), y)


def _onehot_loss(x, t):
    return sg.nnet.categorical_crossentropy(sg.nnet.softmax(x), t)


def test_integer_crossentropy_of_softmax_becomes_one_op():
    found, fired = stabilized(_int_loss, _x(), sg.lvector("y"))
    assert "crossentropy_of_softmax_to_fused" in fired
    assert "SoftmaxCrossentropy" in found
    assert not {"Softmax", "CrossentropyCategorical1Hot"} & found
    x, y = _x(), sg.lvector("y")
    assert_same_results([x, y], _int_loss(x, y), [X, LABELS])


def test_onehot_crossentropy_of_softmax_becomes_one_op():
    found, fired = stabilized(_onehot_loss, _x(), sg.dmatrix("t"))
    assert "onehot_crossentropy_of_softmax_to_fused" in fired
    assert "SoftmaxCrossentropy" in found
    assert not {"Softmax", "LogSoftmax", "log", "neg"} & found  # the two minus signs cancel
    x, t = _x(), sg.dmatrix("t")
    assert_same_results([x, t], _onehot_loss(x, t), [X, np.eye(4)[LABELS]])
    soft = RNG.uniform(0, 1, size=(3, 4))
    assert_same_results([x, t], _onehot_loss(x, t), [X, soft])


# The crossentropy gradient becomes the fused gradient op; the log-softmax gradient never
# divides by the softmax.
@pytest.mark.parametrize("loss, target, labels, rule, present, absent", [
    (lambda x, y: _int_loss(x, y).mean(), lambda: sg.lvector("y"), LABELS,
     "crossentropy_softmax_grad_to_fused", {"SoftmaxCrossentropyGrad"},
     {"CrossentropyCategorical1HotGrad"}),
    (lambda x, t: _onehot_loss(x, t).sum(), lambda: sg.dmatrix("t"), np.eye(4)[LABELS],
     "log_softmax_grad_to_stable", set(), {"true_divide"}),
], ids=["crossentropy_gradient_fused", "log_softmax_gradient_stable"])
def test_gradient_is_stabilized(loss, target, labels, rule, present, absent):
    def loss_and_grad(x, t):
        value = loss(x, t)
        return [value, sg.grad(value, x)]

    found, fired = stabilized(loss_and_grad, _x(), target())
    assert rule in fired
    assert present <= found
    assert not absent & found
    x, t = _x(), target()
    assert_same_results([x, t], loss_and_grad(x, t), [X, labels])


def test_rules_can_be_excluded_by_name():
    x, y = _x(), sg.lvector("y")
    f = sg.function([x, y], _int_loss(x, y),
                    mode=sg.Mode("py", excluding=["crossentropy_of_softmax_to_fused"]))
    found = {type(n.op).__name__ for n in f.fgraph.toposort()}
    assert "CrossentropyCategorical1Hot" in found and "SoftmaxCrossentropy" not in found


# -- stability on logits of +-1e4 against a float64 NumPy reference ------------------------------

BIG = np.array([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, 1e4], [3.0, -1e4, 1e4, 1e4]])


def _log_softmax_ref(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _softmax_ref(x):
    return np.exp(_log_softmax_ref(x))


@pytest.mark.parametrize("labels", ["integer", "onehot"])
def test_crossentropy_on_huge_logits_is_finite_and_correct(labels):
    x = _x()
    y = sg.lvector("y") if labels == "integer" else sg.dmatrix("y")
    y_value = LABELS if labels == "integer" else np.eye(4)[LABELS]
    loss = sg.nnet.categorical_crossentropy(sg.nnet.softmax(x), y)
    g = sg.grad(loss.sum(), x)
    got_loss, got_grad = sg.function([x, y], [loss, g], mode="py")(BIG, y_value)
    onehot = np.eye(4)[LABELS]
    np.testing.assert_allclose(got_loss, -(_log_softmax_ref(BIG) * onehot).sum(axis=1),
                               rtol=1e-12)
    np.testing.assert_allclose(got_grad, _softmax_ref(BIG) - onehot, rtol=1e-12, atol=1e-300)
    raw_loss, raw_grad = sg.function([x, y], [loss, g], mode=RAW)(BIG, y_value)
    assert not (np.all(np.isfinite(raw_loss)) and np.all(np.isfinite(raw_grad)))


def test_log_softmax_on_huge_logits_is_finite_and_correct():
    x = _x()
    w = RNG.uniform(-1, 1, size=BIG.shape)
    out = sg.log(sg.nnet.softmax(x))
    g = sg.grad((out * w).sum(), x)
    got, got_grad = sg.function([x], [out, g], mode="py")(BIG)
    np.testing.assert_allclose(got, _log_softmax_ref(BIG), rtol=1e-12)
    expected_grad = w - _softmax_ref(BIG) * w.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got_grad, expected_grad, rtol=1e-12, atol=1e-12)
    assert np.all(np.isfinite(got)) and np.all(np.isfinite(got_grad))


def test_fused_op_gradient_on_huge_logits():
    x, y = _x(), sg.lvector("y")
    g = sg.grad(sg.nnet.softmax_crossentropy(x, y).sum(), x)
    got = sg.function([x, y], g, mode=RAW)(BIG, LABELS)
    np.testing.assert_allclose(got, _softmax_ref(BIG) - np.eye(4)[LABELS], atol=1e-300)


# -- the compiled MLP ---------------------------------------------------------------------------

def test_debugprint_of_mlp_loss_and_grad_shows_the_stable_fused_graph():
    rng = np.random.default_rng(1)
    x, y = sg.dmatrix("x"), sg.lvector("y")
    w1 = sg.shared(rng.normal(size=(4, 5)), name="W1")
    b1 = sg.shared(np.zeros(5), name="b1")
    w2 = sg.shared(rng.normal(size=(5, 3)), name="W2")
    b2 = sg.shared(np.zeros(3), name="b2")
    hidden = sg.tanh(sg.dot(x, w1) + b1)
    probs = sg.nnet.softmax(sg.dot(hidden, w2) + b2)
    loss = sg.nnet.categorical_crossentropy(probs, y).mean()
    outputs = [loss, *sg.grad(loss, [w1, b1, w2, b2])]
    f = sg.function([x, y], outputs, mode="py")
    text = sg.debugprint(f, file="str")
    for expected in ("SoftmaxCrossentropy ", "SoftmaxCrossentropyGrad", "Gemm", "Composite"):
        assert expected in text, f"{expected!r} not in\n{text}"
    for unexpected in ("CrossentropyCategorical1Hot", "Dot ", "Elemwise{log}"):
        assert unexpected not in text
    values = [rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)]
    raw = sg.function([x, y], outputs, mode=RAW)
    for got, want in zip(f(*values), raw(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


# -- the contract of the fused op --------------------------------------------------------------

def test_softmax_crossentropy_rejects_bad_labels():
    x = _x()
    with pytest.raises(TypeError, match="labels"):
        sg.nnet.softmax_crossentropy(x, sg.dvector("t"))
    with pytest.raises(TypeError, match="labels"):
        sg.nnet.softmax_crossentropy(x, sg.lmatrix("t"))
    with pytest.raises(TypeError, match="logits"):
        sg.nnet.softmax_crossentropy(sg.lmatrix("i"), sg.lvector("t"))


def test_softmax_crossentropy_checks_labels_at_run_time():
    x, y = _x(), sg.lvector("y")
    f = sg.function([x, y], sg.nnet.softmax_crossentropy(x, y), mode=RAW)
    with pytest.raises(ValueError, match="class indices"):
        f(X, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="shape"):
        f(X, np.array([0, 1]))
