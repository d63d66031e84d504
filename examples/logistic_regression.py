"""Logistic (softmax) regression on scikit-learn's digits: the first model of the Theano tutorial.

Run: python examples/logistic_regression.py [--epochs N] [--quick]
"""

import argparse

import numpy as np

import symgraph as sg
from symgraph.demo.digits import load_digits_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="two epochs")
    args = parser.parse_args(argv)
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
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(data.y_train))
        losses = [train(data.x_train[i], data.y_train[i]) for i in np.array_split(order, 45)]
        accuracy = np.mean(predict(data.x_test) == data.y_test)
        print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}  test accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
