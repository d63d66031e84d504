"""Stabilization: rewrite numerically fragile expressions into stable equivalents."""

from __future__ import annotations

from symgraph.rewrite.engine import NodeRewrite

RULES: tuple[NodeRewrite, ...] = ()
