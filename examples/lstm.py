"""A character-level LSTM with ``scan``: the four gates come from one matrix product per step.

The recurrence carries two states (h, c), so ``outputs_info`` has two entries and the step
returns two values. Run: python examples/lstm.py [--steps N] [--quick]
(``python -m symgraph.demo`` trains a larger one and writes text with it.)
"""

import argparse

import numpy as np

import symgraph as sg
from symgraph.demo.corpus import Vocabulary, english_text, sample_text, sequence_batches
from symgraph.demo.training import adam
from symgraph.scan import scan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training batches")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="a tiny model, a few steps")
    args = parser.parse_args(argv)
    steps, H = (6, 16) if args.quick else (args.steps, args.hidden)

    text = english_text(30_000)
    vocab = Vocabulary(text)
    V, dtype = len(vocab), sg.config.floatX
    rng = np.random.default_rng(0)

    def weights(*shape):
        return sg.shared(rng.normal(0, shape[0] ** -0.5, shape).astype(dtype))

    # Gates side by side in the columns: input, forget, output, candidate.
    W_in, W_rec, W_out = weights(V, 4 * H), weights(H, 4 * H), weights(H, V)
    b = sg.shared(np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)].astype(dtype))
    b_out = sg.shared(np.zeros(V, dtype=dtype))
    params = [W_in, W_rec, b, W_out, b_out]

    def step(x_t, h_prev, c_prev, W_rec):
        z = x_t + h_prev @ W_rec
        i, f, o = (sg.nnet.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c = f * c_prev + i * sg.tanh(z[:, 3 * H:])
        return o * sg.tanh(c), c

    x, y = sg.lmatrix("x"), sg.lmatrix("y")  # (time, batch) character codes
    zeros = sg.zeros((x.shape[1], H), dtype=dtype)
    (hidden, _), _ = scan(step, sequences=[W_in[x] + b], outputs_info=[zeros, zeros],
                          non_sequences=[W_rec])
    probs = sg.nnet.softmax(hidden.reshape((-1, H)) @ W_out + b_out)
    loss = sg.nnet.categorical_crossentropy(probs, y.flatten()).mean()
    train = sg.function([x, y], loss, updates=adam(loss, params, 1e-2, clip_norm=5.0))

    code, h, c = sg.lvector("code"), sg.matrix("h"), sg.matrix("c")
    h_next, c_next = step(W_in[code] + b, h, c, W_rec)
    predict = sg.function([code, h, c],
                          [sg.nnet.softmax(h_next @ W_out + b_out)[0], h_next, c_next])

    batches = sequence_batches(vocab.encode(text), 32, 32, rng)
    losses = []
    for i in range(steps):
        losses.append(train(*batches[i % len(batches)]))
        if (i + 1) % max(1, steps // 5) == 0:
            print(f"step {i + 1:4d}  loss {np.mean(losses[-10:]):.3f} nats/char")
    start = [np.zeros((1, H), dtype=dtype)] * 2
    print("sample:", repr(sample_text(predict, vocab, start, "The ", 120, rng)))
    return losses


if __name__ == "__main__":
    main()
