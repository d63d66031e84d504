"""Theano's ``theano.ifelse``: ``ifelse(condition, then_branch, else_branch)``, evaluated
lazily (only the chosen branch runs). The module is callable: ``sg.ifelse(...)``."""

from __future__ import annotations

from symgraph.callable_module import make_callable
from symgraph.ops.ifelse import IfElse, ifelse

__all__ = ["IfElse", "ifelse"]

make_callable(__name__, ifelse)
