"""A character-level GRU with ``scan``: update and reset gates, one carried state.

z = sigmoid(x W_z + h U_z), r = sigmoid(x W_r + h U_r), candidate = tanh(x W_h + (r h) U_h),
h' = (1 - z) h + z candidate (Cho et al., 2014). Run: python examples/gru.py [--quick]
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

    # Columns: update gate, reset gate, candidate.
    W_in, W_out = weights(V, 3 * H), weights(H, V)
    U_gates, U_h = weights(H, 2 * H), weights(H, H)
    b, b_out = sg.shared(np.zeros(3 * H, dtype=dtype)), sg.shared(np.zeros(V, dtype=dtype))
    params = [W_in, U_gates, U_h, b, W_out, b_out]

    def step(x_t, h_prev, U_gates, U_h):
        gates = sg.nnet.sigmoid(x_t[:, :2 * H] + h_prev @ U_gates)
        z, r = gates[:, :H], gates[:, H:]
        candidate = sg.tanh(x_t[:, 2 * H:] + (r * h_prev) @ U_h)
        return (1 - z) * h_prev + z * candidate

    x, y = sg.lmatrix("x"), sg.lmatrix("y")  # (time, batch) character codes
    h0 = sg.zeros((x.shape[1], H), dtype=dtype)
    hidden, _ = scan(step, sequences=[W_in[x] + b], outputs_info=[h0],
                     non_sequences=[U_gates, U_h])
    probs = sg.nnet.softmax(hidden.reshape((-1, H)) @ W_out + b_out)
    loss = sg.nnet.categorical_crossentropy(probs, y.flatten()).mean()
    train = sg.function([x, y], loss, updates=adam(loss, params, 1e-2, clip_norm=5.0))

    code, h = sg.lvector("code"), sg.matrix("h")
    h_next = step(W_in[code] + b, h, U_gates, U_h)
    predict = sg.function([code, h], [sg.nnet.softmax(h_next @ W_out + b_out)[0], h_next])

    start = [np.zeros((1, H), dtype=dtype)]
    return train_and_sample(train, predict, text, vocab, steps, start, rng)


if __name__ == "__main__":
    main()
