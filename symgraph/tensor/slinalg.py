"""Theano's ``theano.tensor.slinalg``: ``solve``, ``cholesky`` (``sg.linalg``'s ops)."""

from __future__ import annotations

from symgraph.ops.linalg import cholesky, solve

__all__ = ["cholesky", "solve"]
