"""Theano's ``theano.scalar`` as far as Python ops use it: ``upcast`` (the dtype two dtypes
combine to). The module is callable: ``sg.scalar(name, dtype)`` makes a 0-d tensor, as the API
says."""

from __future__ import annotations

from symgraph.callable_module import make_callable
from symgraph.dtype import upcast
from symgraph.ops.basic import CONSTRUCTORS

__all__ = ["upcast"]

make_callable(__name__, CONSTRUCTORS["scalar"])
