"""A multilayer perceptron with dropout on scikit-learn's digits, trained with momentum SGD.

Run: python examples/mlp.py [--epochs N] [--hidden H] [--quick]
"""

import numpy as np
from _common import parser, train_digits

import symgraph as sg
from symgraph.demo.digits import load_digits_data


def layer(n_in, n_out, rng, name):
    """Weights scaled by 1/sqrt(n_in) (keeps activations of order one) and zero biases."""
    dtype = sg.config.floatX
    W = sg.shared(rng.normal(0, n_in ** -0.5, (n_in, n_out)).astype(dtype), name=f"W_{name}")
    b = sg.shared(np.zeros(n_out, dtype=dtype), name=f"b_{name}")
    return W, b


def momentum_updates(loss, params, learning_rate=0.1, momentum=0.9):
    """Classical momentum: v <- m v - lr g; p <- p + v (one velocity per parameter)."""
    updates = []
    for param, grad in zip(params, sg.grad(loss, params)):
        velocity = sg.shared(np.zeros_like(param.get_value()), name=f"v_{param.name}")
        new_velocity = momentum * velocity - learning_rate * grad
        updates += [(velocity, new_velocity), (param, param + new_velocity)]
    return updates


def main(argv=None):
    options = parser(__doc__, "two epochs")
    options.add_argument("--epochs", type=int, default=15)
    options.add_argument("--hidden", type=int, default=256)
    args = options.parse_args(argv)
    epochs = 2 if args.quick else args.epochs

    data = load_digits_data(seed=0)  # float arrays of dtype sg.config.floatX
    x, t = sg.matrix("x"), sg.lvector("t")
    rng = np.random.default_rng(0)
    W1, b1 = layer(64, args.hidden, rng, "hidden")
    W2, b2 = layer(args.hidden, 10, rng, "out")
    srng = sg.random.RandomStream(seed=0)

    def forward(training):
        hidden = sg.nnet.relu(x @ W1 + b1)
        hidden = sg.nnet.dropout(hidden, p=0.2, rng=srng, deterministic=not training)
        return sg.nnet.softmax(hidden @ W2 + b2)

    loss = sg.nnet.categorical_crossentropy(forward(training=True), t).mean()
    train = sg.function([x, t], loss, updates=momentum_updates(loss, [W1, b1, W2, b2]))
    predict = sg.function([x], forward(training=False).argmax(axis=1))

    return train_digits(train, predict, data.x_train, data.y_train, data.x_test, data.y_test,
                        epochs, rng)


if __name__ == "__main__":
    main()
