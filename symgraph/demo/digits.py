"""Part one of the demo: a multilayer perceptron on scikit-learn's handwritten digits.

8x8 grey-level images (1,797 of them, shipped inside scikit-learn: no download), 64 -> hidden
(tanh) -> 10 (softmax), trained with Adam on minibatches; reports test accuracy per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import symgraph as sg
from symgraph.demo.training import Stopwatch, adam, minibatches, progress_bar


@dataclass
class DigitsData:
    """Train/test split; images flattened to 64 features scaled to [0, 1]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass
class DigitsResult:
    compile_seconds: float
    epoch_seconds: list[float] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    train_function: Any = None
    predict_function: Any = None
    example_batch: tuple[Any, ...] = ()  # one training batch (for the graph viewer's shapes)


def load_digits_data(seed: int = 0, test_fraction: float = 0.2,
                     dtype: str | None = None) -> DigitsData:
    """scikit-learn's digits, shuffled with ``seed`` and split into train and test sets."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    digits = load_digits()
    images = (digits.data / 16.0).astype(dtype or sg.config.floatX)
    labels = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = round(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return DigitsData(images[train], labels[train], images[test], labels[test])


def build_mlp(n_in: int, n_hidden: int, n_out: int, rng: np.random.Generator,
              dtype: str) -> tuple[Any, Any, Any, list[Any]]:
    """Symbolic images ``x``, labels ``t``, class probabilities and the parameters."""
    x = sg.matrix("x", dtype=dtype)
    t = sg.lvector("t")
    w1 = sg.shared(rng.normal(0, n_in ** -0.5, (n_in, n_hidden)).astype(dtype), name="W1")
    b1 = sg.shared(np.zeros(n_hidden, dtype=dtype), name="b1")
    w2 = sg.shared(rng.normal(0, n_hidden ** -0.5, (n_hidden, n_out)).astype(dtype), name="W2")
    b2 = sg.shared(np.zeros(n_out, dtype=dtype), name="b2")
    hidden = sg.tanh(x @ w1 + b1)
    probs = sg.nnet.softmax(hidden @ w2 + b2)
    return x, t, probs, [w1, b1, w2, b2]


def train_mlp(epochs: int, mode: str, n_hidden: int = 128, batch_size: int = 32,
              learning_rate: float = 3e-3, seed: int = 0,
              show_progress: bool = True) -> DigitsResult:
    """Train the MLP for ``epochs`` passes over the training set; see ``DigitsResult``."""
    data = load_digits_data(seed)
    dtype = data.x_train.dtype.name
    rng = np.random.default_rng(seed)
    x, t, probs, params = build_mlp(data.x_train.shape[1], n_hidden, 10, rng, dtype)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    # A shared learning rate, decayed linearly between epochs, settles the test accuracy.
    rate = sg.shared(np.asarray(learning_rate, dtype=dtype), name="learning_rate")
    watch = Stopwatch()
    with watch("compile"):
        train = sg.function([x, t], loss, updates=adam(loss, params, rate),
                            mode=mode, name="mlp_train_step")
        predict = sg.function([x], probs.argmax(axis=1), mode=mode, name="mlp_predict")
    result = DigitsResult(watch.total("compile"), train_function=train,
                          predict_function=predict,
                          example_batch=(data.x_train[:batch_size], data.y_train[:batch_size]))
    for epoch in range(1, epochs + 1):
        rate.set_value(np.asarray(learning_rate * (1 - (epoch - 1) / (epochs + 1)), dtype))
        batches = minibatches(len(data.y_train), batch_size, rng)
        bar = progress_bar(len(batches), f"MLP  epoch {epoch}/{epochs}", show_progress)
        losses = []
        with watch("epoch"):
            for batch in batches:
                losses.append(float(train(data.x_train[batch], data.y_train[batch])))
                bar.update()
        accuracy = float(np.mean(predict(data.x_test) == data.y_test))
        bar.set_postfix_str(f"loss {np.mean(losses):.3f}, test accuracy {accuracy:.3f}")
        bar.close()
        result.epoch_seconds.append(watch.seconds["epoch"][-1])
        result.batch_losses += losses
        result.epoch_losses.append(float(np.mean(losses)))
        result.test_accuracy.append(accuracy)
    return result
