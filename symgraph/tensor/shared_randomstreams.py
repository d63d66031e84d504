"""Theano's ``theano.tensor.shared_randomstreams.RandomStreams``: ``sg.random.RandomStream``
with Theano's signatures, the size first (``uniform(size, low, high)``,
``normal(size, avg, std)``, ``binomial(size, n, p, dtype)`` with float dtypes allowed), and
generators that seed and save their state as Theano's ``RandomState`` objects did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.ops import construct, elemwise, reduce, shape
from symgraph.ops.basic import as_tensor_variable
from symgraph.ops.random import RandomStream, RandomVariable

__all__ = ["RandomStreams", "SeedableGenerator", "binomial_draw", "one_hot_draw", "with_rng"]


class SeedableGenerator(np.random.Generator):
    """A ``numpy.random.Generator`` that also has ``RandomState``'s ``seed``, ``get_state``
    and ``set_state``: the value of a Theano draw's ``rng``, which programs reseed in place
    (``rv.rng.get_value(borrow=True).seed(n)``) or rewind (``rng.set_state(saved)``).

    Copies and pickles keep the class. The states are the bit generator's (a dict), not
    ``RandomState``'s tuples.

    Parameters
    ----------
    bit_generator : numpy.random.BitGenerator
    """

    def seed(self, seed: Any = None) -> None:
        """Restart from ``seed``, as a new generator of the same bit generator would."""
        self.bit_generator.state = type(self.bit_generator)(seed).state

    def get_state(self) -> Mapping[str, Any]:
        """The bit generator's state (a dict) to give back to ``set_state``."""
        return self.bit_generator.state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Go back to a state ``get_state`` returned."""
        self.bit_generator.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.bit_generator,)


def with_rng(draw: Any) -> Any:
    """``draw`` with Theano's attributes: ``draw.rng``, the shared generator it comes from,
    and ``draw.update``, the pair ``(rng, next state)``."""
    node = draw.owner
    while node is not None and not isinstance(node.op, RandomVariable):
        node = node.inputs[0].owner
    if node is not None:
        draw.rng = node.inputs[0]
        draw.update = (node.inputs[0], node.outputs[0])
    return draw


def binomial_draw(stream: RandomStream, size: Any, n: Any, p: Any, dtype: Any) -> Any:
    """Binomial counts as ``dtype``, which may be a float dtype (Theano's dropout masks are
    drawn as floatX): the counts are drawn as int64 and cast."""
    dtype = dt.canonical("floatX" if dtype is None else dtype)
    draw = RandomStream.binomial(stream, n, p, size=size, dtype="int64")
    return draw if dtype == "int64" else elemwise.cast(draw, dtype)


def one_hot_draw(stream: RandomStream, pvals: Any, rows: Any, dtype: Any) -> Any:
    """One draw per row of a multinomial with one trial: a (rows, k) one-hot tensor.

    ``pvals`` is (k,), the same probabilities for every row, or (rows, k).
    """
    p = as_tensor_variable(pvals)
    if p.ndim == 1:
        p = elemwise.second(construct.zeros((rows, 1), dtype=p.dtype), p.dimshuffle("x", 0))
    u = RandomStream.uniform(stream, 0.0, 1.0, size=(shape.shape_i(p, 0), 1),
                             dtype=dt.upgrade_to_float(p.dtype))
    below = elemwise.lt(reduce.cumsum(p, axis=1), u)
    index = elemwise.minimum(reduce.sum(below, axis=1, dtype="int64"), shape.shape_i(p, 1) - 1)
    classes = construct.arange(shape.shape_i(p, 1)).dimshuffle("x", 0)
    return elemwise.cast(elemwise.eq(classes, index.dimshuffle(0, "x")),
                         dt.canonical("floatX" if dtype is None else dtype))


def check_trials(n: Any, who: str) -> None:
    if not (isinstance(n, int) and n == 1):
        raise NotImplementedError(f"{who}: only n=1 (one trial per draw) is supported")


class RandomStreams(RandomStream):
    """Theano's ``RandomStreams``: NumPy generators behind Theano's signatures.

    Each draw gets its own generator, a shared variable advanced by the compiled function's
    default updates, exactly as ``sg.random.RandomStream`` (of which this is a subclass); the
    generator is a ``SeedableGenerator``, so that ``draw.rng.get_value()`` has ``seed``,
    ``get_state`` and ``set_state`` as in Theano. The numbers differ from Theano's for the
    same seed.

    Parameters
    ----------
    seed : int, optional

    Examples
    --------
    >>> import symgraph as sg
    >>> from symgraph.tensor.shared_randomstreams import RandomStreams
    >>> srng = RandomStreams(seed=234)
    >>> f = sg.function([], srng.uniform((2, 2)))
    >>> f().shape
    (2, 2)
    """

    def _next_generator(self) -> np.random.Generator:
        (child,) = self._seed_sequence.spawn(1)
        return SeedableGenerator(np.random.PCG64(child))

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0,  # type: ignore[override]
                ndim: int | None = None, dtype: Any = None) -> Any:
        """Draws uniform on ``[low, high)`` of shape ``size``; dtype default floatX."""
        return with_rng(RandomStream.uniform(self, low, high, size=size, dtype=dtype))

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0,  # type: ignore[override]
               ndim: int | None = None, dtype: Any = None) -> Any:
        """Gaussian draws of mean ``avg`` and standard deviation ``std``."""
        return with_rng(RandomStream.normal(self, avg, std, size=size, dtype=dtype))

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5,  # type: ignore[override]
                 ndim: int | None = None, dtype: Any = "int64", prob: Any = None) -> Any:
        """Counts of successes in ``n`` trials of probability ``p`` (``prob`` is its old
        name), as ``dtype``: an integer or a float dtype."""
        return with_rng(binomial_draw(self, size, n, p if prob is None else prob, dtype))

    def random_integers(self, size: Any = None, low: Any = 0, high: Any = 1,
                        ndim: int | None = None, dtype: Any = "int64") -> Any:
        """Integers uniform on ``[low, high]`` (``high`` included, as in Theano)."""
        return with_rng(RandomStream.integers(self, low, as_tensor_variable(high) + 1,
                                              size=size, dtype=dtype))

    def choice(self, size: Any = None, a: Any = 2, replace: bool = True,  # type: ignore[override]
               p: Any = None, ndim: int | None = None, dtype: Any = "int64") -> Any:
        """Samples of ``a`` (an int ``n`` means ``arange(n)``), probabilities ``p``."""
        draw = RandomStream.choice(self, a, size=size, replace=replace, p=p)
        return draw if dt.canonical(dtype) == draw.dtype else elemwise.cast(draw, dtype)

    def permutation(self, size: Any = None, n: Any = 1,  # type: ignore[override]
                    ndim: int | None = None, dtype: Any = "int64") -> Any:
        """Permutations of ``arange(n)``: one for ``size`` None, else one per entry of
        ``size`` (a tuple of ints), stacked: shape ``size + (n,)``."""
        if size in (None, ()):
            return elemwise.cast(RandomStream.permutation(self, n), dtype)
        sizes = (size,) if isinstance(size, int) else tuple(size)
        count = 1
        for s in sizes:
            if not isinstance(s, int):
                raise NotImplementedError("permutation: size must be a tuple of ints")
            count *= s
        draws = [RandomStream.permutation(self, n) for _ in range(count)]
        stacked = shape.stack(draws) if draws else construct.zeros((0, n), dtype="int64")
        return elemwise.cast(shape.reshape(stacked, sizes + (n,)), dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5),
                    ndim: int | None = None, dtype: Any = "int64") -> Any:
        """One-trial multinomial draws as one-hot rows: shape ``size + (k,)`` for ``k``
        probabilities ``pvals`` (a (k,) vector and ``size`` of length 1, or a (rows, k)
        matrix and ``size`` None).

        Raises
        ------
        NotImplementedError
            For ``n`` other than 1, or other combinations of ``size`` and ``pvals``.
        """
        check_trials(n, "multinomial")
        p = as_tensor_variable(pvals)
        if p.ndim == 2 and size is None:
            return one_hot_draw(self, p, None, dtype)
        sizes = (size,) if isinstance(size, int) else (() if size is None else tuple(size))
        if p.ndim == 1 and len(sizes) <= 1:
            draws = one_hot_draw(self, p, sizes[0] if sizes else 1, dtype)
            return draws if sizes else draws[0]
        raise NotImplementedError("multinomial: give pvals (k,) with size (rows,), or "
                                  "pvals (rows, k) with size None")

    def shuffle_row_elements(self, input: Any) -> Any:
        """``input`` with its rows (entries along axis 0) in a random order."""
        input = as_tensor_variable(input)
        return input[RandomStream.permutation(self, shape.shape_i(input, 0))]
