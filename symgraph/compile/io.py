"""Theano's ``theano.compile.io``: ``In``, an input with a default value or a keyword name,
and ``Out``, an output with a ``borrow`` flag."""

from __future__ import annotations

from symgraph.function import In, Out

__all__ = ["In", "Out"]
