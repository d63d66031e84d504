"""Theano tutorial, "A real example: logistic regression": the probability written out as
1 / (1 + exp(-x.w - b)), cross-entropy plus an L2 penalty, full-batch gradient descent through
updates, on random data the model can fit (a smaller N and fewer features and steps than the
tutorial's 400 x 784 and 10000)."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs


def train_logistic_regression(floatX, N=40, feats=100, training_steps=300):
    rng = numpy.random.RandomState(42)
    D = (rng.randn(N, feats).astype(floatX), rng.randint(size=N, low=0, high=2).astype(floatX))

    x = T.matrix("x", dtype=floatX)
    y = T.vector("y", dtype=floatX)
    w = symgraph.shared(rng.randn(feats).astype(floatX), name="w")
    b = symgraph.shared(numpy.asarray(0., dtype=floatX), name="b")

    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))        # probability that the target is 1
    prediction = p_1 > 0.5                          # the prediction, thresholded
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)   # cross-entropy
    cost = xent.mean() + 0.01 * (w ** 2).sum()      # what gradient descent minimises
    gw, gb = T.grad(cost, [w, b])

    train = symgraph.function(
        inputs=[x, y],
        outputs=[prediction, xent],
        updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = symgraph.function(inputs=[x], outputs=prediction)

    first_err = None
    for i in range(training_steps):
        pred, err = train(D[0], D[1])
        if first_err is None:
            first_err = err.mean()
    return D, predict(D[0]), first_err, err.mean(), w.get_value(), b.get_value()


@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_logistic_regression_example(floatX):
    D, predicted, first_err, last_err, w, b = train_logistic_regression(floatX)
    assert numpy.isfinite(w).all() and numpy.isfinite(b)
    assert w.dtype == floatX and predicted.dtype == bool
    assert last_err < first_err / 2
    assert (predicted == D[1]).mean() >= 0.95


def test_logistic_regression_with_floatX_flag():
    # The version of the printing page: data cast to config.floatX, constructors without dtype.
    with symgraph.config.change_flags(floatX="float32"):
        rng = numpy.random
        rng.seed(1)
        N, feats = 30, 60
        D = (rng.randn(N, feats).astype(symgraph.config.floatX),
             rng.randint(size=N, low=0, high=2).astype(symgraph.config.floatX))
        x = T.matrix("x")
        y = T.vector("y")
        w = symgraph.shared(rng.randn(feats).astype(symgraph.config.floatX), name="w")
        b = symgraph.shared(numpy.asarray(0., dtype=symgraph.config.floatX), name="b")
        p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
        prediction = p_1 > 0.5
        xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
        cost = xent.mean() + 0.01 * (w ** 2).sum()
        gw, gb = T.grad(cost, [w, b])
        train = symgraph.function(inputs=[x, y], outputs=[prediction, xent],
                                  updates=[[w, w - 0.01 * gw], [b, b - 0.01 * gb]],
                                  name="train")
        predict = symgraph.function(inputs=[x], outputs=prediction, name="predict")
        before = train(D[0], D[1])[1].mean()
        for i in range(500):
            pred, err = train(D[0], D[1])
        assert w.get_value().dtype == numpy.float32
        assert err.mean() < before / 2
        assert (predict(D[0]) == D[1]).mean() >= 0.8
