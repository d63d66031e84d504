"""Theano's ``theano.scan_module``: ``scan``, ``until`` and the scan shorthands."""

from __future__ import annotations

from symgraph.scan import foldl, foldr, map, reduce, scan, scan_checkpoints, until  # noqa: A004

__all__ = ["foldl", "foldr", "map", "reduce", "scan", "scan_checkpoints", "until"]
