"""Theano's ``theano.compile.debugmode``: ``DebugMode`` and its errors."""

from __future__ import annotations

from symgraph.debugmode import BadThunkOutput, DebugMode, DebugModeError

__all__ = ["BadThunkOutput", "DebugMode", "DebugModeError"]
