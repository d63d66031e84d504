"""A character-level LSTM with ``scan``: the four gates come from one matrix product per step.

The recurrence carries two states (h, c), so ``outputs_info`` has two entries and the step
returns two values. Run: python examples/lstm.py [--steps N] [--quick]
(``python -m symgraph.demo`` trains a larger one and writes text with it.)
"""

import numpy as np
from _common import character_model_args, corpus, train_and_sample, weight_maker

import symgraph as sg
from symgraph.demo.training import adam
from symgraph.scan import scan


def main(argv=None):
    steps, H = character_model_args(__doc__, argv)
    text, vocab = corpus()
    V, dtype = len(vocab), sg.config.floatX
    rng = np.random.default_rng(0)
    weights = weight_maker(rng, dtype)

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

    start = [np.zeros((1, H), dtype=dtype)] * 2
    return train_and_sample(train, predict, text, vocab, steps, start, rng)


if __name__ == "__main__":
    main()
