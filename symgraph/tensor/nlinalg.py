"""Theano's ``theano.tensor.nlinalg``: ``matrix_inverse``, ``det`` (``sg.linalg``'s ops)."""

from __future__ import annotations

from symgraph.ops.linalg import det, inv

__all__ = ["det", "matrix_inverse"]

matrix_inverse = inv
