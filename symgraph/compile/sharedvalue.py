"""Theano's ``theano.compile.sharedvalue``: ``shared`` and ``SharedVariable``."""

from __future__ import annotations

from symgraph.devices import shared
from symgraph.ops.basic import SharedVariable

__all__ = ["SharedVariable", "shared"]
