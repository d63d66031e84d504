"""Theano's ``theano.compile.ops``: ``as_op``, a NumPy function as an op."""

from __future__ import annotations

from symgraph.ops.custom import FromFunctionOp, as_op

__all__ = ["FromFunctionOp", "as_op"]
