"""Inplace: let ops overwrite an input buffer when no other computation needs it."""

from __future__ import annotations

from symgraph.fgraph import FunctionGraph
from symgraph.rewrite.engine import GraphRewrite


def make_inplace(fgraph: FunctionGraph) -> int:
    return 0


inplace = GraphRewrite("inplace", make_inplace)
