"""Symbolic loops (layer L3): Theano's ``scan`` vocabulary lowered to one canonical ``Scan`` op,
with its gradient (a reverse Scan) and its rewrites.
"""

from symgraph.scan.op import Scan, ScanParts  # noqa: F401  isort: skip
from symgraph.scan import grad, rewrites  # noqa: F401
from symgraph.scan.checkpoints import scan_checkpoints
from symgraph.scan.frontend import Until, foldl, foldr, map, reduce, scan, until

__all__ = ["Scan", "Until", "foldl", "foldr", "map", "reduce", "scan", "scan_checkpoints",
           "until"]
