"""symgraph: a Theano-style symbolic graph compiler for tensor math.

Build a graph of tensor expressions, differentiate it, and compile it into a callable with
``symgraph.function``. ``import symgraph as sg`` gives the whole public API.

Theano's module paths (``symgraph.tensor``, ``symgraph.ifelse``, ``symgraph.gradient``,
``symgraph.compile``, ``symgraph.sandbox``, ...) load on first use, so importing symgraph stays
cheap; ``symgraph.nnet``, ``symgraph.random`` and ``symgraph.linalg`` import as modules.
"""

import importlib as _importlib
import sys as _sys

from symgraph.config import change_flags, config
from symgraph.codegen import PerformFallbackWarning  # noqa: F401
from symgraph.fgraph import FunctionGraph, MissingInputError
from symgraph.graph import Apply, Constant, Variable, clone
from symgraph.op import Emitter, Op
from symgraph.type import TensorType, Type
from symgraph import ops as _ops
from symgraph.ops.basic import (  # noqa: F401
    CONSTRUCTORS as _CONSTRUCTORS,
    SharedVariable,
    TensorConstant,
    TensorVariable,
    as_tensor_variable,
    constant,
)
from symgraph.ops import conv, linalg, nnet, random  # noqa: F401
from symgraph.grad import (  # noqa: F401
    DisconnectedInputError, Lop, Rop, disconnected_grad, grad, hessian_vector_product,
    stop_gradient,
)
from symgraph.derivatives import hessian, jacobian  # noqa: F401
from symgraph.function import (  # noqa: F401
    Function, In, Mode, Out, UnusedInputError, function, rewrite_graph,
)
from symgraph.debugmode import DebugMode  # noqa: F401
from symgraph.gradcheck import GradientError, verify_grad  # noqa: F401
from symgraph.scan import (  # noqa: F401, A004 - Theano's names
    foldl, foldr, map, reduce, scan, scan_checkpoints, until,
)
from symgraph import cuda, printing  # noqa: F401
from symgraph.devices import shared  # noqa: F401
from symgraph.printing import debugprint, pp, pydotprint  # noqa: F401

globals().update({_name: _f for _name, _f in _CONSTRUCTORS.items() if _name != "scalar"})
for _module in _ops.TOP_LEVEL_MODULES:
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})

# `import symgraph.nnet` finds the op modules under the names `sg.nnet` & co. already have.
for _name in ("nnet", "random", "linalg"):
    _sys.modules.setdefault(f"symgraph.{_name}", globals()[_name])

# Theano's module paths, imported when first used (`sg.tensor(...)`, `sg.ifelse(...)`,
# `sg.scalar(...)`, `sg.tensor.nnet.sigmoid`, `import symgraph.tensor as T` all work).
_LAZY_MODULES = ("tensor", "ifelse", "gradient", "compile", "sandbox", "scan_module", "gof",
                 "scalar", "distributed", "export")


def __getattr__(name: str) -> object:
    if name in _LAZY_MODULES:
        return _importlib.import_module(f"symgraph.{name}")
    raise AttributeError(f"module 'symgraph' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_MODULES))


__version__ = "0.1.0"
