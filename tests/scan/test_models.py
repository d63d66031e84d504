"""Recurrent networks built with scan learn: an Elman RNN and an LSTM trained for a few steps
on a character corpus (docstrings of standard-library modules) lower their loss."""

from __future__ import annotations

import collections
import itertools
import json
import string
import textwrap

import numpy as np

import symgraph as sg
from symgraph.scan import scan

TEXT = json.__doc__ + textwrap.__doc__ + string.__doc__ + itertools.__doc__ + \
    collections.__doc__
VOCAB = sorted(set(TEXT))
INDEX = {c: i for i, c in enumerate(VOCAB)}


def batches(rng: np.random.Generator, length: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` random windows of ``length + 1`` characters: inputs and next characters."""
    codes = np.array([INDEX[c] for c in TEXT], dtype="int64")
    starts = rng.integers(0, len(codes) - length - 1, size=batch)
    windows = np.stack([codes[s:s + length + 1] for s in starts], axis=1)  # (T+1, batch)
    return windows[:-1], windows[1:]


def params(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> dict[str, object]:
    return {name: sg.shared(rng.normal(0.0, 0.3 / np.sqrt(shape[0]), size=shape), name=name)
            for name, shape in shapes.items()}


def next_char_loss(hidden: object, inputs: object, targets: object, out_w: object,
                   out_b: object) -> object:
    """Mean cross-entropy of the next character from every hidden state (T, batch, H)."""
    logits = sg.dot(hidden.reshape((-1, hidden.shape[2])), out_w) + out_b
    return -sg.mean(sg.nnet.log_softmax(logits)[sg.arange(targets.size), targets.flatten()])


def train(loss: object, shared: dict[str, object], inputs: list, rng, steps: int,
          rate: float) -> list[float]:
    """Adagrad on a fresh batch each step; the losses measured on one fixed batch."""
    variables = list(shared.values())
    grads = sg.grad(loss, variables)
    memory = [sg.shared(np.zeros_like(v.get_value())) for v in variables]
    updates = []
    for v, g, m in zip(variables, grads, memory):
        new_m = m + g ** 2
        updates += [(m, new_m), (v, v - rate * g / sg.sqrt(new_m + 1e-8))]
    step = sg.function(inputs, loss, updates=updates)
    measure = sg.function(inputs, loss)
    fixed = batches(np.random.default_rng(99), 16, 16)
    losses = [float(measure(*fixed))]
    for _ in range(steps):
        step(*batches(rng, 16, 16))
    losses.append(float(measure(*fixed)))
    return losses


def test_elman_rnn_learns_characters():
    rng = np.random.default_rng(0)
    V, H = len(VOCAB), 32
    p = params(rng, {"E": (V, H), "W": (H, H), "U": (H, H), "Wo": (H, V)})
    b, bo = sg.shared(np.zeros(H), name="b"), sg.shared(np.zeros(V), name="bo")
    x, y = sg.lmatrix("x"), sg.lmatrix("y")

    def step(x_t, h, W, U, b):
        return sg.tanh(sg.dot(x_t, W) + sg.dot(h, U) + b)

    hs, _ = scan(step, sequences=p["E"][x], outputs_info=sg.zeros((x.shape[1], H)),
                 non_sequences=[p["W"], p["U"], b])
    loss = next_char_loss(hs, x, y, p["Wo"], bo)
    before, after = train(loss, {**p, "b": b, "bo": bo}, [x, y], rng, steps=20, rate=0.1)
    assert before > 0.9 * np.log(V)  # starts near chance
    assert after < before - 0.5, (before, after)


def test_lstm_learns_characters():
    rng = np.random.default_rng(1)
    V, H = len(VOCAB), 32
    p = params(rng, {"E": (V, 4 * H), "U": (H, 4 * H), "Wo": (H, V)})
    b = sg.shared(np.concatenate([np.zeros(H), np.ones(H), np.zeros(2 * H)]), name="b")
    bo = sg.shared(np.zeros(V), name="bo")
    x, y = sg.lmatrix("x"), sg.lmatrix("y")

    def step(gates_x, h, c, U, b):
        gates = gates_x + sg.dot(h, U) + b
        i = sg.sigmoid(gates[:, :H])
        f = sg.sigmoid(gates[:, H:2 * H])
        o = sg.sigmoid(gates[:, 2 * H:3 * H])
        g = sg.tanh(gates[:, 3 * H:])
        c_new = f * c + i * g
        return o * sg.tanh(c_new), c_new

    zeros = sg.zeros((x.shape[1], H))
    (hs, _), _ = scan(step, sequences=p["E"][x], outputs_info=[zeros, zeros],
                      non_sequences=[p["U"], b])
    loss = next_char_loss(hs, x, y, p["Wo"], bo)
    before, after = train(loss, {**p, "b": b, "bo": bo}, [x, y], rng, steps=20, rate=0.1)
    assert before > 0.9 * np.log(V)
    assert after < before - 0.5, (before, after)
