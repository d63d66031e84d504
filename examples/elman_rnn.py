"""An Elman recurrent network that learns English one character at a time, with ``scan``.

h_t = tanh(x_t W_in + h_{t-1} W_rec + b); the next character's probabilities are
softmax(h_t W_out + b_out). Run: python examples/elman_rnn.py [--steps N] [--quick]
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
    steps, n_hidden = (6, 16) if args.quick else (args.steps, args.hidden)

    text = english_text(30_000)
    vocab = Vocabulary(text)
    V, H, dtype = len(vocab), n_hidden, sg.config.floatX
    rng = np.random.default_rng(0)

    def weights(*shape):
        return sg.shared(rng.normal(0, shape[0] ** -0.5, shape).astype(dtype))

    W_in, W_rec, W_out = weights(V, H), weights(H, H), weights(H, V)
    b, b_out = sg.shared(np.zeros(H, dtype=dtype)), sg.shared(np.zeros(V, dtype=dtype))
    params = [W_in, W_rec, b, W_out, b_out]

    def step(x_t, h_prev, W_rec):
        return sg.tanh(x_t + h_prev @ W_rec)

    # x, y: (time, batch) character codes; y is x shifted by one character.
    x, y = sg.lmatrix("x"), sg.lmatrix("y")
    h0 = sg.zeros((x.shape[1], H), dtype=dtype)
    # W_in[x] picks one row per character: the product of a one-hot code with W_in.
    hidden, _ = scan(step, sequences=[W_in[x] + b], outputs_info=[h0], non_sequences=[W_rec])
    probs = sg.nnet.softmax(hidden.reshape((-1, H)) @ W_out + b_out)
    loss = sg.nnet.categorical_crossentropy(probs, y.flatten()).mean()
    train = sg.function([x, y], loss, updates=adam(loss, params, 1e-2, clip_norm=5.0))

    # One character at a time, for sampling: the same step outside the loop.
    code, h = sg.lvector("code"), sg.matrix("h")
    h_next = step(W_in[code] + b, h, W_rec)
    predict = sg.function([code, h], [sg.nnet.softmax(h_next @ W_out + b_out)[0], h_next])

    batches = sequence_batches(vocab.encode(text), 32, 32, rng)
    losses = []
    for i in range(steps):
        losses.append(train(*batches[i % len(batches)]))
        if (i + 1) % max(1, steps // 5) == 0:
            print(f"step {i + 1:4d}  loss {np.mean(losses[-10:]):.3f} nats/char")
    start = [np.zeros((1, H), dtype=dtype)]
    print("sample:", repr(sample_text(predict, vocab, start, "The ", 120, rng)))
    return losses


if __name__ == "__main__":
    main()
