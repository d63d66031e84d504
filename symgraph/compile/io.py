"""Theano's ``theano.compile.io``: ``In``, an input with a default value or a keyword name."""

from __future__ import annotations

from symgraph.function import In

__all__ = ["In"]
