"""Records for ``RandomVariable``. A draw is a pure function of the generator's state, so each
record seeds its generator and the reference makes the same NumPy call on an equal generator."""

from __future__ import annotations

import numpy as np

import symgraph as sg
from symgraph.ops.random import RandomVariable
from tests.records import F, Given, I, OpRecord

SEED = 20240611


def _generator() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _draw(dist, dtype, ndim, size, *params):
    """The draw of ``dist`` from a fresh shared generator seeded with SEED."""
    rng = sg.shared(_generator())
    return RandomVariable(dist, dtype, ndim)(rng, size, *params)


def _stream_reference(k: int = 0) -> np.random.Generator:
    """The generator of the k-th draw of ``RandomStream(SEED)``."""
    return np.random.default_rng(np.random.SeedSequence(SEED).spawn(k + 1)[k])


PROBS = Given(np.array([0.1, 0.2, 0.3, 0.4]))
SCALE = F(3, 4, lo=0.5, hi=2.0)

RECORDS = [
    OpRecord("random_normal_size", lambda loc, scale: _draw("normal", "float64", 2, (3, 4),
                                                             loc, scale),
             [F(3, 4), SCALE], lambda loc, scale: _generator().normal(loc, scale, (3, 4)),
             grad=False),
    OpRecord("random_normal_stream_broadcast_params",
             lambda loc, scale: sg.random.RandomStream(SEED).normal(loc, scale),
             [F(3, 1, static=(None, 1)), F(1, 4, lo=0.5, hi=2.0, static=(1, None))],
             lambda loc, scale: _stream_reference().normal(loc, scale), grad=False),
    OpRecord("random_normal_second_stream_draw",
             lambda loc: _second_draw(loc), [F(5)],
             lambda loc: _stream_reference(1).normal(loc, 1.0), grad=False),
    OpRecord("random_uniform_float32",
             lambda low: _draw("uniform", "float32", 1, (6,), low, 2.0),
             [F(6, dtype="float32")],
             lambda low: _generator().uniform(low, 2.0, (6,)).astype("float32"), grad=False),
    OpRecord("random_uniform_size_from_shape",
             lambda x: sg.random.RandomStream(SEED).uniform(-1.0, 1.0, size=x.shape),
             [F(2, 3)], lambda x: _stream_reference().uniform(-1.0, 1.0, x.shape), grad=False),
    OpRecord("random_binomial", lambda n, p: _draw("binomial", "int64", 1, (5,), n, p),
             [I(5, lo=1, hi=20), F(5, lo=0.1, hi=0.9)],
             lambda n, p: _generator().binomial(n, p, (5,)), grad=False),
    OpRecord("random_integers_int32",
             lambda low, high: _draw("integers", "int32", 2, (2, 3), low, high),
             [I(3, lo=-5, hi=0, dtype="int32"), I(3, lo=1, hi=9, dtype="int32")],
             lambda low, high: _generator().integers(low, high, (2, 3), dtype="int32"),
             grad=False),
    OpRecord("random_integers_stream_one_bound",
             lambda high: sg.random.RandomStream(SEED).integers(high, size=(7,)),
             [Given(np.int64(4))], lambda high: _stream_reference().integers(0, 4, (7,)),
             grad=False),
    OpRecord("random_choice_with_p",
             lambda a, p: sg.random.RandomStream(SEED).choice(a, size=(2, 5), p=p),
             [F(4), PROBS], lambda a, p: _stream_reference().choice(a, (2, 5), p=p),
             grad=False),
    OpRecord("random_choice_without_replacement",
             lambda a: _draw("choice_without_replacement", "int64", 1, (4,), a),
             [Given(np.int64(10))],
             lambda a: _generator().choice(10, (4,), replace=False), grad=False),
    OpRecord("random_choice_scalar_draw",
             lambda a: sg.random.RandomStream(SEED).choice(a),
             [I(6, lo=0, hi=100)], lambda a: np.asarray(_stream_reference().choice(a)),
             grad=False),
    OpRecord("random_permutation_of_rows",
             lambda x: sg.random.RandomStream(SEED).permutation(x), [F(5, 2)],
             lambda x: _stream_reference().permutation(x), grad=False),
    OpRecord("random_permutation_of_n", lambda n: _draw("permutation", "int64", 1, None, n),
             [Given(np.int64(6))], lambda n: _generator().permutation(6), grad=False),
]


def _second_draw(loc):
    stream = sg.random.RandomStream(SEED)
    stream.normal(size=(2,))
    return stream.normal(loc, 1.0)
