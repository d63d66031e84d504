"""Theano's ``theano.sandbox.rng_mrg.MRG_RandomStreams``, with Theano's signatures.

The draws come from NumPy generators, as those of ``sg.random.RandomStream``: the same
distributions as Theano's MRG31k3p generator, not the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.ops import elemwise
from symgraph.ops.basic import as_tensor_variable
from symgraph.ops.random import RandomStream
from symgraph.tensor.shared_randomstreams import binomial_draw, check_trials, one_hot_draw

__all__ = ["MRG_RandomStreams"]


class MRG_RandomStreams(RandomStream):  # noqa: N801 - Theano's name
    """Theano's GPU-friendly random streams: ``uniform(size, low, high)``,
    ``normal(size, avg, std)``, ``binomial(size, p, n)``, ``multinomial(size, n, pvals)``.

    A class of its own (``isinstance(rng, MRG_RandomStreams)`` tells it from
    ``shared_randomstreams.RandomStreams``), built on ``sg.random.RandomStream``. ``nstreams``
    is accepted and ignored. ``rstate`` is the state the next draws' seeds come from.

    Parameters
    ----------
    seed : int, default 12345 (Theano's)
    """

    def __init__(self, seed: Any = 12345) -> None:
        super().__init__(seed)

    @property
    def rstate(self) -> tuple[Any, ...]:
        """Where the seeds of the next draws come from (Theano's ``rng.rstate``): assigning
        one stream's to another makes their next draws alike."""
        seeds = self._seed_sequence
        return (seeds.entropy, seeds.spawn_key, seeds.pool_size, seeds.n_children_spawned)

    @rstate.setter
    def rstate(self, state: tuple[Any, ...]) -> None:
        entropy, spawn_key, pool_size, spawned = state
        self._seed_sequence = np.random.SeedSequence(entropy, spawn_key=spawn_key,
                                                     pool_size=pool_size,
                                                     n_children_spawned=spawned)

    def uniform(self, size: Any, low: Any = 0.0, high: Any = 1.0,  # type: ignore[override]
                ndim: int | None = None, dtype: Any = None, nstreams: Any = None,
                **kwargs: Any) -> Any:
        """Draws uniform on ``[low, high)`` of shape ``size``; dtype default floatX."""
        return RandomStream.uniform(self, low, high, size=size, dtype=dtype)

    def normal(self, size: Any, avg: Any = 0.0, std: Any = 1.0,  # type: ignore[override]
               ndim: int | None = None, dtype: Any = None, nstreams: Any = None,
               truncate: bool = False, **kwargs: Any) -> Any:
        """Gaussian draws of mean ``avg`` and standard deviation ``std``.

        Raises
        ------
        NotImplementedError
            For ``truncate=True``.
        """
        if truncate:
            raise NotImplementedError("MRG_RandomStreams.normal(truncate=True) is not supported")
        return RandomStream.normal(self, avg, std, size=size, dtype=dtype)

    def binomial(self, size: Any = None, p: Any = 0.5, n: Any = 1,  # type: ignore[override]
                 ndim: int | None = None, dtype: Any = "int64", nstreams: Any = None,
                 **kwargs: Any) -> Any:
        """Counts of successes in ``n`` trials of probability ``p`` (note the order: p
        first, as in Theano's MRG), as an integer or float ``dtype``."""
        return binomial_draw(self, size, n, p, dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None,
                    ndim: int | None = None, dtype: Any = "int64", nstreams: Any = None,
                    **kwargs: Any) -> Any:
        """One one-trial draw per row of ``pvals`` (rows, k), as one-hot rows (rows, k).

        Raises
        ------
        NotImplementedError
            For ``n`` other than 1 or a ``size``.
        """
        check_trials(n, "multinomial")
        if size is not None:
            raise NotImplementedError("MRG_RandomStreams.multinomial: size is not supported; "
                                      "the draw has the shape of pvals")
        p = as_tensor_variable(pvals)
        if p.ndim != 2:
            raise TypeError(f"multinomial: pvals must be a (rows, k) matrix, got {p.type}")
        return one_hot_draw(self, p, None, dtype)

    def choice(self, size: Any = 1, a: Any = None, replace: bool = True,  # type: ignore[override]
               p: Any = None, ndim: int | None = None, dtype: Any = "int64",
               nstreams: Any = None, **kwargs: Any) -> Any:
        """Samples of ``a`` (an int ``n`` means ``arange(n)``) with probabilities ``p``."""
        draw = RandomStream.choice(self, a, size=size, replace=replace, p=p)
        return draw if dt.canonical(dtype) == draw.dtype else elemwise.cast(draw, dtype)
