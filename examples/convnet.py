"""A small convolutional network on scikit-learn's 8x8 digits: conv, ReLU, max-pool, softmax.

Run: python examples/convnet.py [--epochs N] [--quick]
"""

import numpy as np
from _common import parser, train_digits

import symgraph as sg
from symgraph.demo.digits import load_digits_data


def main(argv=None):
    options = parser(__doc__, "one epoch on a fifth of the data")
    options.add_argument("--epochs", type=int, default=8)
    options.add_argument("--filters", type=int, default=16)
    args = options.parse_args(argv)
    epochs = 1 if args.quick else args.epochs

    data = load_digits_data(seed=0)
    n_train = len(data.y_train) // 5 if args.quick else len(data.y_train)
    images = data.x_train[:n_train].reshape(-1, 1, 8, 8)  # (batch, channels, rows, cols)
    test_images = data.x_test.reshape(-1, 1, 8, 8)

    dtype = sg.config.floatX
    rng = np.random.default_rng(0)
    k = args.filters
    filters = sg.shared(rng.normal(0, 1 / 3, (k, 1, 3, 3)).astype(dtype), name="filters")
    conv_bias = sg.shared(np.zeros(k, dtype=dtype), name="conv_bias")
    W = sg.shared(rng.normal(0, (9 * k) ** -0.5, (9 * k, 10)).astype(dtype), name="W")
    b = sg.shared(np.zeros(10, dtype=dtype), name="b")
    params = [filters, conv_bias, W, b]

    x = sg.tensor4("x")
    t = sg.lvector("t")
    # 8x8 -> 3x3 'valid' convolution -> 6x6 -> 2x2 max-pooling -> 3x3, k channels.
    feature_maps = sg.nnet.relu(sg.nnet.conv2d(x, filters) + conv_bias.dimshuffle("x", 0, "x", "x"))
    pooled = sg.nnet.max_pool_2d(feature_maps, ws=(2, 2))
    probs = sg.nnet.softmax(pooled.flatten(2) @ W + b)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()

    learning_rate = 0.1
    grads = sg.grad(loss, params)
    train = sg.function([x, t], loss,
                        updates=[(p, p - learning_rate * g) for p, g in zip(params, grads)])
    predict = sg.function([x], probs.argmax(axis=1))

    return train_digits(train, predict, images, data.y_train[:n_train], test_images, data.y_test,
                        epochs, rng, n_batches=max(1, n_train // 16))


if __name__ == "__main__":
    main()
