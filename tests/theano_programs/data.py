"""The small data sets that stand in for MNIST, ATIS and IMDB in the ported programs: scikit-learn's
8x8 digits (cached, scaled to [0, 1]) and synthetic labelled sequences."""

from __future__ import annotations

import functools

import numpy


@functools.lru_cache(maxsize=1)
def digits() -> tuple[numpy.ndarray, numpy.ndarray]:
    """Return (images (1797, 64) float64 in [0, 1], labels (1797,) int64), shuffled once."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = numpy.random.RandomState(0).permutation(len(bunch.target))
    return bunch.data[order] / 16.0, bunch.target[order]


def digit_splits(n_train: int, n_valid: int, n_test: int):
    """Three (images, labels) pairs cut from the digits, as MNIST's pickle held them."""
    images, labels = digits()
    edges = numpy.cumsum([0, n_train, n_valid, n_test])
    return [(images[a:b], labels[a:b]) for a, b in zip(edges[:-1], edges[1:])]
