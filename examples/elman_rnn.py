"""An Elman recurrent network that learns English one character at a time, with ``scan``.

h_t = tanh(x_t W_in + h_{t-1} W_rec + b); the next character's probabilities are
softmax(h_t W_out + b_out). Run: python examples/elman_rnn.py [--steps N] [--quick]
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

    start = [np.zeros((1, H), dtype=dtype)]
    return train_and_sample(train, predict, text, vocab, steps, start, rng)


if __name__ == "__main__":
    main()
