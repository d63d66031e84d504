"""Logistic (softmax) regression on scikit-learn's digits: the first model of the Theano tutorial.

Run: python examples/logistic_regression.py [--epochs N] [--quick]
"""

import numpy as np
from _common import parser, train_digits

import symgraph as sg
from symgraph.demo.digits import load_digits_data


def main(argv=None):
    options = parser(__doc__, "two epochs")
    options.add_argument("--epochs", type=int, default=20)
    args = options.parse_args(argv)
    epochs = 2 if args.quick else args.epochs

    data = load_digits_data(seed=0)
    n_features = data.x_train.shape[1]

    # The model: class probabilities softmax(x W + b), the weights in shared variables.
    x = sg.matrix("x")
    t = sg.lvector("t")
    W = sg.shared(np.zeros((n_features, 10), dtype=x.dtype), name="W")
    b = sg.shared(np.zeros(10, dtype=x.dtype), name="b")
    probs = sg.nnet.softmax(x @ W + b)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean() + 1e-4 * (W ** 2).sum()

    # Plain gradient descent: the updates replace W and b after every call.
    g_W, g_b = sg.grad(loss, [W, b])
    learning_rate = 0.5
    train = sg.function([x, t], loss, updates=[(W, W - learning_rate * g_W),
                                               (b, b - learning_rate * g_b)])
    predict = sg.function([x], probs.argmax(axis=1))

    rng = np.random.default_rng(0)
    return train_digits(train, predict, data.x_train, data.y_train, data.x_test, data.y_test,
                        epochs, rng)


if __name__ == "__main__":
    main()
