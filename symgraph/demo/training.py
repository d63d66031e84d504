"""Pieces the demo's models share: the Adam update rule, progress bars and epoch timing.

Everything here builds symbolic graphs or wraps plain Python loops; nothing is model-specific.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

import symgraph as sg


def adam(cost: Any, params: Sequence[Any], learning_rate: Any = 1e-3, beta1: float = 0.9,
         beta2: float = 0.999, epsilon: float = 1e-8,
         clip_norm: float | None = None) -> list[tuple[Any, Any]]:
    """Updates for one step of Adam on ``cost`` (a list of ``(shared, new_value)`` pairs).

    Parameters
    ----------
    cost : scalar float Variable
    params : list of float shared variables
    learning_rate : float or scalar Variable (a shared one can be changed between calls)
    clip_norm : float, optional
        Rescale the gradients so that their joint L2 norm is at most this (recurrent nets
        need it: their gradients occasionally explode).

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """
    grads = sg.grad(cost, list(params))
    if clip_norm is not None:
        norm = sg.sqrt(sum((g ** 2).sum() for g in grads))
        scale = sg.minimum(1.0, clip_norm / (norm + 1e-12))
        grads = [g * scale for g in grads]
    dtype = params[0].dtype
    step = sg.shared(np.asarray(0.0, dtype=dtype), name="adam_step")
    next_step = step + 1
    # The bias corrections of both moments folded into one step size.
    rate = learning_rate * sg.sqrt(1 - beta2 ** next_step) / (1 - beta1 ** next_step)
    updates = [(step, next_step)]
    for param, grad in zip(params, grads):
        zeros = np.zeros_like(param.get_value(borrow=True))
        mean = sg.shared(zeros, name=f"{param.name}_mean")
        var = sg.shared(zeros.copy(), name=f"{param.name}_var")
        new_mean = beta1 * mean + (1 - beta1) * grad
        new_var = beta2 * var + (1 - beta2) * grad * grad
        updates += [(mean, new_mean), (var, new_var),
                    (param, param - rate * new_mean / (sg.sqrt(new_var) + epsilon))]
    return updates


class _PlainBar:
    """What ``progress_bar`` returns without tqdm: one summary line per epoch on stderr."""

    def __init__(self, description: str, enabled: bool) -> None:
        self.description = description
        self.enabled = enabled
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        if self.enabled:
            print(f"{self.description}: {self.postfix}", file=sys.stderr)


def progress_bar(total: int, description: str, enabled: bool = True) -> Any:
    """A tqdm progress bar on stderr (``update``, ``set_postfix_str``, ``close``).

    Without tqdm installed, a stand-in that prints one line when closed.
    """
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
    except ImportError:
        return _PlainBar(description, enabled)
    return tqdm(total=total, desc=description, disable=not enabled, leave=True,
                file=sys.stderr, dynamic_ncols=True, unit="batch")


class Stopwatch:
    """Accumulates wall-clock time of labelled sections: ``with watch("compile"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self._label = ""
        self._start = 0.0

    def __call__(self, label: str) -> Stopwatch:
        self._label = label
        return self

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds.setdefault(self._label, []).append(time.perf_counter() - self._start)

    def total(self, label: str) -> float:
        return sum(self.seconds.get(label, []))

    def mean(self, label: str) -> float:
        values = self.seconds.get(label, [])
        return sum(values) / len(values) if values else 0.0


def minibatches(n_items: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A fresh random partition of ``range(n_items)`` into batches (the last may be short)."""
    order = rng.permutation(n_items)
    return [order[i:i + batch_size] for i in range(0, n_items, batch_size)]


@contextlib.contextmanager
def blas_threads(limit: int | None) -> Iterator[str]:
    """Limit the BLAS library's threads inside the block; yields a note on what was done.

    The demo's matrices are small (a batch of 32 rows): there, waking BLAS threads costs more
    than it saves, many times over on a busy machine. Needs ``threadpoolctl`` (installed with
    scikit-learn); without it, or with ``limit=None``, nothing changes.
    """
    if limit is None:
        yield "BLAS threads: the library's default"
        return
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:
        yield "BLAS threads: the library's default (threadpoolctl is not installed)"
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield f"BLAS threads: {limit} (small matrices: more threads only add overhead)"
