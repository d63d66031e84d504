"""Theano's ``theano.compile.sharedvalue``: ``shared`` and ``SharedVariable``."""

from __future__ import annotations

from symgraph.ops.basic import SharedVariable, shared

__all__ = ["SharedVariable", "shared"]
