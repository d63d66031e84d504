"""Theano's ``theano.gof``: the graph vocabulary (``Op``, ``Apply``, ``Variable``, ``Type``,
``FunctionGraph``) for programs that define their own ops."""

from __future__ import annotations

from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.type import Type

__all__ = ["Apply", "Constant", "FunctionGraph", "Op", "Type", "Variable"]
