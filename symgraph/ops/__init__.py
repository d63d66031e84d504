"""Concrete ops (layer L2). ``basic`` comes first: the other modules import names from it."""

from symgraph.ops import basic  # noqa: F401
from symgraph.ops import (  # noqa: F401
    blas, composite, construct, conv, custom, dimensions, elemwise, fused_reduce, ifelse, linalg,
    nnet, random, reduce, shape, subtensor,
)

# Modules whose ``__all__`` is exported as ``sg.<name>``. (``sg.ifelse`` is the callable module
# symgraph.ifelse, Theano's path.)
TOP_LEVEL_MODULES = (elemwise, shape, construct, reduce, subtensor, blas, custom)
