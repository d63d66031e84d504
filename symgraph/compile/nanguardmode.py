"""Theano's ``theano.compile.nanguardmode``: ``NanGuardMode``, here a ``Mode`` with the compiled
NaN guard (``Mode(nan_guard=True)``: every node's float outputs checked in the kernels)."""

from __future__ import annotations

import warnings
from typing import Any

from symgraph.function import FROM_CONFIG, Mode

__all__ = ["NanGuardMode"]


class NanGuardMode(Mode):
    """Theano's NanGuardMode: raise ``FloatingPointError`` at the first node that makes a
    NaN or an Inf, naming the op you wrote, the first bad index and your line.

    Parameters
    ----------
    nan_is_error, inf_is_error : bool, optional
        The guard runs unless both are ``False``; it checks NaN and Inf together.
    big_is_error : bool, optional
        Theano also flagged values above 1e10; symgraph does not check that, and says so
        (``UserWarning``) when asked to.
    optimizer, linker
        As for ``Mode`` (Theano's names: ``linker='c'`` is the llvm backend).
    """

    def __init__(self, nan_is_error: bool | None = None, inf_is_error: bool | None = None,
                 big_is_error: bool | None = None, optimizer: Any = FROM_CONFIG,
                 linker: str | None = None) -> None:
        guard = nan_is_error is not False or inf_is_error is not False
        super().__init__(linker=linker, optimizer=optimizer, nan_guard=guard)
        if big_is_error:
            warnings.warn("NanGuardMode(big_is_error=True): symgraph's guard checks NaN and "
                          "Inf only, not large values", UserWarning, stacklevel=2)
