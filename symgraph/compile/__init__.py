"""Theano's ``theano.compile``: ``function``, ``shared``, ``In``, ``Out``, ``Mode`` and the named
modes, ``DebugMode``, ``NanGuardMode``, ``as_op`` (also under Theano's submodule paths
``compile.mode``, ``compile.io``, ``compile.ops``, ``compile.sharedvalue``,
``compile.debugmode``, ``compile.nanguardmode``)."""

from __future__ import annotations

from symgraph.compile import debugmode, io, mode, nanguardmode, ops, sharedvalue  # noqa: F401
from symgraph.compile.debugmode import DebugMode
from symgraph.compile.io import In, Out
from symgraph.compile.nanguardmode import NanGuardMode
from symgraph.compile.mode import (
    FAST_COMPILE,
    FAST_RUN,
    Mode,
    get_default_mode,
    get_mode,
    predefined_linkers,
    predefined_modes,
    predefined_optimizers,
)
from symgraph.compile.ops import as_op
from symgraph.compile.sharedvalue import SharedVariable, shared
from symgraph.function import Function, UnusedInputError, function
from symgraph.profiling import ProfileStats

__all__ = ["DebugMode", "FAST_COMPILE", "FAST_RUN", "Function", "In", "Mode", "NanGuardMode", "Out",
           "ProfileStats", "SharedVariable", "UnusedInputError", "as_op", "function",
           "get_default_mode", "get_mode", "predefined_linkers", "predefined_modes",
           "predefined_optimizers", "shared"]
