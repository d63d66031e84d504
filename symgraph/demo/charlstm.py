"""Part two of the demo: a character-level LSTM, written with ``scan``, on English prose.

The model reads a window of characters and predicts each next one; the recurrence over time
is one ``scan``, and its gradient (a reverse scan) comes from ``sg.grad``. After training it
writes a few sentences of its own, one character at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import symgraph as sg
from symgraph.demo.corpus import Vocabulary, english_text, sample_text, sequence_batches
from symgraph.demo.training import Stopwatch, adam, progress_bar


class ScanUnavailableError(RuntimeError):
    """``scan`` cannot be imported from this installation."""


def get_scan() -> Any:
    """``sg.scan``, or ``symgraph.scan.scan``.

    Raises
    ------
    ScanUnavailableError
        When neither exists.
    """
    scan = getattr(sg, "scan", None)
    if callable(scan):
        return scan
    try:
        from symgraph.scan import scan
    except ImportError as err:
        raise ScanUnavailableError(f"symgraph.scan is not available ({err})") from err
    return scan


@dataclass
class LSTMParams:
    """Input projection (one row per character), recurrent weights, bias and readout."""

    n_hidden: int
    w_in: Any
    w_rec: Any
    bias: Any
    w_out: Any
    b_out: Any

    def all(self) -> list[Any]:
        return [self.w_in, self.w_rec, self.bias, self.w_out, self.b_out]


def init_params(vocab_size: int, n_hidden: int, rng: np.random.Generator,
                dtype: str) -> LSTMParams:
    """Small random weights; the forget gates' bias starts at 1 so that memory is kept early."""
    def weights(*shape: int) -> np.ndarray:
        return rng.normal(0.0, shape[0] ** -0.5, shape).astype(dtype)

    bias = np.zeros(4 * n_hidden, dtype=dtype)
    bias[n_hidden:2 * n_hidden] = 1.0
    return LSTMParams(
        n_hidden,
        sg.shared(weights(vocab_size, 4 * n_hidden), name="W_in"),
        sg.shared(weights(n_hidden, 4 * n_hidden), name="W_rec"),
        sg.shared(bias, name="b"),
        sg.shared(weights(n_hidden, vocab_size), name="W_out"),
        sg.shared(np.zeros(vocab_size, dtype=dtype), name="b_out"),
    )


def lstm_step(x_projected: Any, h_prev: Any, c_prev: Any, w_rec: Any,
              n_hidden: int) -> tuple[Any, Any]:
    """One LSTM time step (Hochreiter and Schmidhuber, 1997; forget gate of Gers et al., 2000).

    ``x_projected`` is the input's contribution ``x_t @ W_in + b``, computed for all steps
    before the loop; only the recurrent product runs inside it.
    """
    z = x_projected + h_prev @ w_rec
    h = n_hidden
    input_gate = sg.nnet.sigmoid(z[:, :h])
    forget_gate = sg.nnet.sigmoid(z[:, h:2 * h])
    output_gate = sg.nnet.sigmoid(z[:, 2 * h:3 * h])
    candidate = sg.tanh(z[:, 3 * h:])
    c = forget_gate * c_prev + input_gate * candidate
    return output_gate * sg.tanh(c), c


def sequence_loss(params: LSTMParams) -> tuple[Any, Any, Any]:
    """Symbolic ``(inputs, targets, mean cross-entropy per character)``.

    ``inputs`` and ``targets`` are ``(time, batch)`` int64 character codes.
    """
    scan = get_scan()
    inputs, targets = sg.lmatrix("inputs"), sg.lmatrix("targets")
    projected = params.w_in[inputs] + params.bias  # (time, batch, 4 * hidden)
    start = sg.zeros((inputs.shape[1], params.n_hidden), dtype=params.bias.dtype)
    (hidden, _), _ = scan(
        lambda x_t, h, c, w_rec: lstm_step(x_t, h, c, w_rec, params.n_hidden),
        sequences=[projected], outputs_info=[start, start], non_sequences=[params.w_rec])
    flat = hidden.reshape((-1, params.n_hidden))
    probs = sg.nnet.softmax(flat @ params.w_out + params.b_out)
    loss = sg.nnet.categorical_crossentropy(probs, targets.flatten()).mean()
    return inputs, targets, loss


def compile_sampler(params: LSTMParams, mode: str) -> Any:
    """``step(code, h, c) -> [probabilities, h, c]`` for one character (batch of one)."""
    code = sg.lvector("code")
    h_prev = sg.matrix("h", dtype=params.bias.dtype)
    c_prev = sg.matrix("c", dtype=params.bias.dtype)
    projected = params.w_in[code] + params.bias
    h, c = lstm_step(projected, h_prev, c_prev, params.w_rec, params.n_hidden)
    probs = sg.nnet.softmax(h @ params.w_out + params.b_out)
    return sg.function([code, h_prev, c_prev], [probs[0], h, c], mode=mode, name="lstm_sample")


@dataclass
class LSTMResult:
    corpus_chars: int
    vocab_size: int
    compile_seconds: float
    epoch_seconds: list[float] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    sample: str = ""


@dataclass
class LSTMConfig:
    n_hidden: int = 128
    seq_len: int = 32
    batch_size: int = 32
    corpus_chars: int = 50_000
    learning_rate: float = 1e-2
    sample_chars: int = 160


def train_lstm(epochs: int, mode: str, config: LSTMConfig | None = None, seed: int = 0,
               show_progress: bool = True) -> LSTMResult:
    """Train on the corpus for ``epochs`` passes, then sample; see ``LSTMResult``."""
    config = config or LSTMConfig()
    text = english_text(config.corpus_chars)
    vocab = Vocabulary(text)
    codes = vocab.encode(text)
    rng = np.random.default_rng(seed)
    dtype = sg.config.floatX
    params = init_params(len(vocab), config.n_hidden, rng, dtype)
    watch = Stopwatch()
    with watch("compile"):
        inputs, targets, loss = sequence_loss(params)
        updates = adam(loss, params.all(), config.learning_rate, clip_norm=5.0)
        train = sg.function([inputs, targets], loss, updates=updates, mode=mode,
                            name="lstm_train_step")
        step = compile_sampler(params, mode)
    result = LSTMResult(len(text), len(vocab), watch.total("compile"))
    for epoch in range(1, epochs + 1):
        batches = sequence_batches(codes, config.seq_len, config.batch_size, rng)
        bar = progress_bar(len(batches), f"LSTM epoch {epoch}/{epochs}", show_progress)
        losses = []
        with watch("epoch"):
            for x, y in batches:
                losses.append(float(train(x, y)))
                bar.update()
        bar.set_postfix_str(f"loss {np.mean(losses):.3f} nats/char")
        bar.close()
        result.epoch_seconds.append(watch.seconds["epoch"][-1])
        result.batch_losses += losses
        result.epoch_losses.append(float(np.mean(losses)))
    zeros = np.zeros((1, config.n_hidden), dtype=dtype)
    result.sample = sample_text(step, vocab, [zeros, zeros], "The ", config.sample_chars, rng)
    return result
