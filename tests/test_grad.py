"""grad, Lop, Rop, jacobian, hessian, verify_grad, custom-op gradients, a trained model."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import toposort


def test_simple_gradients_match_calculus():
    x = sg.dscalar("x")
    f = sg.function([x], sg.grad(x ** 3 + sg.sin(x), x))
    assert np.isclose(f(0.7), 3 * 0.7 ** 2 + np.cos(0.7))


def test_list_wrt_and_broadcast_reduction():
    w = sg.dmatrix("w")
    b = sg.dvector("b")
    cost = (w + b).sum()  # b is broadcast over rows: its gradient sums them
    gw, gb = sg.grad(cost, [w, b])
    f = sg.function([w, b], [gw, gb])
    rw, rb = f(np.ones((3, 2)), np.ones(2))
    np.testing.assert_array_equal(rw, np.ones((3, 2)))
    np.testing.assert_array_equal(rb, [3.0, 3.0])


def test_non_scalar_cost_is_rejected():
    x = sg.dvector("x")
    with pytest.raises(TypeError, match="scalar"):
        sg.grad(x * 2, x)


def test_disconnected_inputs_policies():
    x, y = sg.dscalars("x y")
    with pytest.raises(sg.DisconnectedInputError, match="y"):
        sg.grad(x * 2, y)
    with pytest.warns(UserWarning):
        g = sg.grad(x * 2, y, disconnected_inputs="warn")
    assert sg.function([y], g)(3.0) == 0.0
    assert sg.grad(x * 2, y, disconnected_inputs="ignore", return_disconnected="none") is None
    marker = sg.grad(x * 2, y, disconnected_inputs="ignore", return_disconnected="disconnected")
    assert type(marker.type).__name__ == "DisconnectedType"


def test_stop_gradient_and_consider_constant():
    x = sg.dscalar("x")
    y = x * x
    g = sg.grad(sg.stop_gradient(y) * x, x)
    assert sg.function([x], g)(3.0) == 9.0
    g2 = sg.grad(y * x, x, consider_constant=[y])
    assert sg.function([x], g2)(3.0) == 9.0
    with pytest.raises(sg.DisconnectedInputError):
        sg.grad(sg.disconnected_grad(x) * 2, x)


def test_integer_inputs_get_zero_float_gradients():
    x = sg.dvector("x")
    i = sg.lvector("i")
    cost = (x * i).sum()
    gi = sg.grad(cost, i)
    assert gi.dtype == sg.config.floatX
    f = sg.function([x, i], gi, on_unused_input="ignore")
    np.testing.assert_array_equal(f(np.ones(2), np.ones(2, "int64")), [0.0, 0.0])


def test_known_grads():
    x = sg.dvector("x")
    h = sg.exp(x)
    g = sg.grad(None, x, known_grads={h: sg.ones_like(h) * 2})
    np.testing.assert_allclose(sg.function([x], g)(np.zeros(2)), [2.0, 2.0])


def test_higher_order_derivatives_of_elementwise_chains():
    x = sg.dscalar("x")
    y = sg.tanh(x) * sg.exp(x)
    d1 = sg.grad(y, x)
    d2 = sg.grad(d1, x)
    d3 = sg.grad(d2, x)
    f = sg.function([x], [d1, d2, d3])
    t, h = 0.3, 1e-3
    value = lambda s: np.tanh(s) * np.exp(s)  # noqa: E731
    num1 = (value(t + h) - value(t - h)) / (2 * h)
    num2 = (value(t + h) - 2 * value(t) + value(t - h)) / h ** 2
    num3 = (value(t + 2 * h) - 2 * value(t + h) + 2 * value(t - h) - value(t - 2 * h)) / \
        (2 * h ** 3)
    r1, r2, r3 = f(t)
    assert np.isclose(r1, num1, rtol=1e-6)
    assert np.isclose(r2, num2, rtol=1e-4)
    assert np.isclose(r3, num3, rtol=1e-3)


def test_rop_and_lop_are_consistent():
    rng = np.random.default_rng(0)
    x = sg.dvector("x")
    w = sg.dmatrix("w")
    u, v = sg.dvector("u"), sg.dvector("v")
    out = sg.tanh(x * w.sum(axis=0)) * sg.exp(-x) + x ** 2
    jv = sg.Rop(out, x, u)
    jtv = sg.Lop(out, x, v)
    f = sg.function([x, w, u, v], [(v * jv).sum(), (jtv * u).sum()])
    lhs, rhs = f(rng.normal(size=4), rng.normal(size=(3, 4)), rng.normal(size=4),
                 rng.normal(size=4))
    assert np.isclose(lhs, rhs)


def test_rop_fallback_for_ops_without_r_op():
    from symgraph.ops.elemwise import Elemwise
    assert not hasattr(Elemwise, "R_op")  # exercised through the L_op-based fallback
    x, u = sg.dvectors("x u")
    jv = sg.Rop(sg.sin(x) * x, x, u)
    f = sg.function([x, u], jv)
    a, b = np.array([0.1, 0.5]), np.array([1.0, -2.0])
    np.testing.assert_allclose(f(a, b), (np.cos(a) * a + np.sin(a)) * b)


def test_jacobian_and_hessian_against_finite_differences():
    x = sg.tensor("x", "float64", shape=(3,))
    y = sg.exp(x) * x.sum()
    jac = sg.function([x], sg.jacobian(y, x))
    hess = sg.function([x], sg.hessian((x ** 3).sum() + x.prod(), x))
    point = np.array([0.1, 0.4, -0.3])
    eps = 1e-6
    numeric = np.stack([(np.exp(point + eps * e) * (point + eps * e).sum()
                         - np.exp(point - eps * e) * (point - eps * e).sum()) / (2 * eps)
                        for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(jac(point), numeric, rtol=1e-6)
    expected = np.diag(6 * point) + np.array(
        [[0, point[2], point[1]], [point[2], 0, point[0]], [point[1], point[0], 0]])
    np.testing.assert_allclose(hess(point), expected, rtol=1e-9)


def test_hessian_vector_product():
    x = sg.dvector("x")
    v = sg.dvector("v")
    hv = sg.hessian_vector_product((x ** 3).sum(), x, v)
    f = sg.function([x, v], hv)
    np.testing.assert_allclose(f(np.array([1.0, 2.0]), np.array([1.0, 1.0])), [6.0, 12.0])


def test_gradient_graph_size_is_linear_in_chain_length():
    def grad_nodes(n):
        x = sg.dscalar("x")
        y = x
        for i in range(n):
            y = sg.sin(y) * 1.5 + y
        return len(toposort([sg.grad(y, x)]))

    small, large = grad_nodes(50), grad_nodes(200)
    assert large / small < 4.5  # O(N): four times the ops, about four times the nodes


def test_deep_gradient_has_no_recursion_limit():
    x = sg.dscalar("x")
    y = x
    for _ in range(3000):
        y = y * 1.0001
    g = sg.function([x], sg.grad(y, x))
    assert np.isclose(g(1.0), 1.0001 ** 3000)


def test_custom_op_gradient_and_missing_gradient_error():
    class Cube(sg.Op):
        __props__ = ()

        def make_node(self, x):
            x = sg.as_tensor_variable(x)
            return sg.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = inputs[0] ** 3

        def grad(self, inputs, output_grads):
            return [output_grads[0] * 3 * inputs[0] ** 2]

    class NoGrad(Cube):
        grad = None

        def __getattribute__(self, name):
            if name == "grad":
                raise AttributeError(name)
            return super().__getattribute__(name)

    x = sg.dvector("x")
    sg.verify_grad(Cube(), [np.array([0.5, -1.0, 2.0])], rng=np.random.default_rng(1))
    with pytest.raises(NotImplementedError, match="NoGrad.*no gradient"):
        sg.grad(NoGrad()(x).sum(), x)


def test_verify_grad_reports_analytic_and_numeric():
    from symgraph.ops.elemwise import Elemwise, ScalarOp

    wrong = Elemwise(ScalarOp("wrong_sin", 1, np.sin, lambda d: d, lambda xs, z, g: [g]))
    with pytest.raises(sg.GradientError) as info:
        sg.verify_grad(wrong, [np.array([0.3, 1.2])], rng=np.random.default_rng(0))
    text = str(info.value)
    assert "analytic" in text and "numeric" in text
    np.testing.assert_allclose(info.value.numeric, np.cos([0.3, 1.2]) * 0 +
                               info.value.numeric)  # numbers are exposed
    assert not np.allclose(info.value.analytic, info.value.numeric)


def test_logistic_regression_trains_on_the_reference_backend():
    rng = np.random.default_rng(0)
    n, d = 200, 5
    true_w = rng.normal(size=d)
    data = rng.normal(size=(n, d))
    labels = (data @ true_w + 0.1 * rng.normal(size=n) > 0).astype("float64")
    x, y = sg.dmatrix("x"), sg.dvector("y")
    w = sg.shared(np.zeros(d), name="w")
    b = sg.shared(0.0, name="b")
    p = sg.sigmoid(sg.dot(x, w) + b)
    cost = -(y * sg.log(p) + (1 - y) * sg.log(1 - p)).mean()
    gw, gb = sg.grad(cost, [w, b])
    train = sg.function([x, y], cost, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)],
                        mode="py")
    losses = [train(data, labels) for _ in range(100)]
    assert losses[-1] < 0.5 * losses[0]
    accuracy = ((data @ w.get_value() + b.get_value() > 0) == labels).mean()
    assert accuracy > 0.9


def test_jacobian_and_hessian_of_unknown_length_use_scan():
    x = sg.dvector("x")
    jac = sg.jacobian(sg.exp(x) * x.sum(), x)
    hess = sg.hessian((x ** 3).sum(), x)
    f = sg.function([x], [jac, hess])
    point = np.array([0.1, 0.4, -0.3, 0.7])
    j, h = f(point)
    expected = np.diag(np.exp(point) * point.sum()) + np.exp(point)[:, None]
    np.testing.assert_allclose(j, expected, rtol=1e-12)
    np.testing.assert_allclose(h, np.diag(6 * point), rtol=1e-12)
    assert any("Scan" in type(n.op).__name__ for n in f.fgraph.toposort())


def test_jacobian_of_a_matrix_expression_has_the_full_shape():
    w = sg.tensor("w", "float64", shape=(2, 2))
    jac = sg.jacobian(sg.tanh(w) * 2, w)
    assert jac.type.shape == (2, 2, 2, 2)
    value = np.array([[0.1, 0.2], [0.3, 0.4]])
    got = sg.function([w], jac)(value)
    expected = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for k in range(2):
            expected[i, k, i, k] = 2 * (1 - np.tanh(value[i, k]) ** 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
