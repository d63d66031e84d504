"""What the example scripts share: command-line options, the digits training loop, and the
character models' corpus, weights and training-then-sampling loop.

The scripts import it as ``_common``; run as ``python examples/NAME.py`` its folder is on the path.
"""

import argparse

import numpy as np

import symgraph as sg
from symgraph.demo.corpus import Vocabulary, english_text, sample_text, sequence_batches


def parser(doc, quick_help):
    """The script's argument parser, described by its docstring's first line, with ``--quick``."""
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--quick", action="store_true", help=quick_help)
    return result


# Digits (logistic regression, MLP, convnet).

def train_digits(train, predict, x_train, y_train, x_test, y_test, epochs, rng, n_batches=45):
    """Minibatch epochs in a fresh random order; prints loss and test accuracy, returns the last."""
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y_train))
        losses = [train(x_train[i], y_train[i]) for i in np.array_split(order, n_batches)]
        accuracy = np.mean(predict(x_test) == y_test)
        print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}  test accuracy {accuracy:.3f}")
    return accuracy


# Character models (Elman network, LSTM, GRU).

def character_model_args(doc, argv):
    """(training steps, hidden units) from the command line; ``--quick`` gives (6, 16)."""
    options = parser(doc, "a tiny model, a few steps")
    options.add_argument("--steps", type=int, default=100, help="training batches")
    options.add_argument("--hidden", type=int, default=64)
    args = options.parse_args(argv)
    return (6, 16) if args.quick else (args.steps, args.hidden)


def corpus():
    """English text and its vocabulary of characters."""
    text = english_text(30_000)
    return text, Vocabulary(text)


def weight_maker(rng, dtype):
    """``weights(*shape)``: a shared matrix scaled by 1/sqrt(shape[0])."""
    def weights(*shape):
        return sg.shared(rng.normal(0, shape[0] ** -0.5, shape).astype(dtype))
    return weights


def train_and_sample(train, predict, text, vocab, steps, start, rng):
    """Trains on (time, batch) batches of 32 by 32 characters, then samples 120 characters
    after "The " with ``predict(code, *state) -> (probabilities, *state)`` from ``start``.
    Returns the losses."""
    batches = sequence_batches(vocab.encode(text), 32, 32, rng)
    losses = []
    for i in range(steps):
        losses.append(train(*batches[i % len(batches)]))
        if (i + 1) % max(1, steps // 5) == 0:
            print(f"step {i + 1:4d}  loss {np.mean(losses[-10:]):.3f} nats/char")
    print("sample:", repr(sample_text(predict, vocab, start, "The ", 120, rng)))
    return losses
