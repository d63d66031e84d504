"""Theano's ``theano.compile.mode``: ``Mode``, the named modes and their look-up."""

from __future__ import annotations

from typing import Any

from symgraph.debugmode import DebugMode  # noqa: F401 - registers "DebugMode"
from symgraph.function import NAMED_MODES, THEANO_LINKERS, Mode, as_mode

__all__ = ["FAST_COMPILE", "FAST_RUN", "Mode", "get_default_mode", "get_mode",
           "predefined_linkers", "predefined_modes", "predefined_optimizers"]

FAST_RUN = NAMED_MODES["FAST_RUN"]()
FAST_COMPILE = NAMED_MODES["FAST_COMPILE"]()
predefined_modes = {name: make() for name, make in NAMED_MODES.items()}
predefined_linkers = dict(THEANO_LINKERS)
predefined_optimizers = {"None": None, "fast_compile": "fast_compile", "fast_run": "fast_run",
                         "merge": "merge", "o1": "o1", "o4": "o4"}


def get_mode(mode: Any) -> Mode:
    """The ``Mode`` a mode argument of ``function()`` stands for (a name, a Mode or None:
    ``config.mode``)."""
    return as_mode(mode)


def get_default_mode() -> Mode:
    """The mode of ``function()`` calls that give none: ``config.mode``'s."""
    return as_mode(None)
