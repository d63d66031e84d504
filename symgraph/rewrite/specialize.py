"""Specialization: replace general ops by faster special cases (gemm/gemv, sqr, ...)."""

from __future__ import annotations

from symgraph.rewrite.engine import NodeRewrite

RULES: tuple[NodeRewrite, ...] = ()
