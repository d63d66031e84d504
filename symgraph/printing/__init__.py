"""Printing graphs, one namespace over both parts: the text printers (``debugprint``, ``pp`` /
Theano's ``pprint``, ``pydotprint``; layer L1, symgraph.printing.text) and ``Print``, the op that
prints a value when the graph runs (Theano's ``theano.printing.Print``), ``html`` (the
interactive viewer, symgraph.viewer) and ``source`` (generated code), loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from symgraph.printing import text  # noqa: F401
from symgraph.printing.text import debugprint, pp, pydotprint

pprint = pp

__all__ = ["Print", "debugprint", "html", "pp", "pprint", "pydotprint", "source", "to_networkx"]


def __getattr__(name: str) -> Any:
    if name == "Print":
        return importlib.import_module(f"{__name__}.print_op").Print
    if name in ("html", "source"):  # the viewer needs compiled functions: layer L6
        return getattr(importlib.import_module("symgraph.viewer"), name)
    if name == "to_networkx":
        return importlib.import_module(f"{__name__}.networkx_graph").to_networkx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
