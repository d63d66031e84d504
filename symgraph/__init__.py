"""symgraph: a Theano-style symbolic graph compiler for tensor math.

Build a graph of tensor expressions, differentiate it, and compile it into a callable with
``symgraph.function``. ``import symgraph as sg`` gives the whole public API.
"""

from symgraph.config import change_flags, config
from symgraph.codegen import PerformFallbackWarning  # noqa: F401
from symgraph.fgraph import FunctionGraph, MissingInputError
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.type import TensorType, Type
from symgraph import ops as _ops
from symgraph.ops.basic import (  # noqa: F401
    CONSTRUCTORS as _CONSTRUCTORS,
    SharedVariable,
    TensorConstant,
    TensorVariable,
    as_tensor_variable,
    constant,
    shared,
    tensor,
)
from symgraph.ops import conv, linalg, nnet, random  # noqa: F401
from symgraph.grad import (  # noqa: F401
    DisconnectedInputError, Lop, Rop, disconnected_grad, grad, hessian_vector_product,
    stop_gradient,
)
from symgraph.derivatives import hessian, jacobian  # noqa: F401
from symgraph.function import (  # noqa: F401
    Function, In, Mode, UnusedInputError, function, rewrite_graph,
)
from symgraph.debugmode import DebugMode  # noqa: F401
from symgraph.gradcheck import GradientError, verify_grad  # noqa: F401
from symgraph.scan import (  # noqa: F401, A004 - Theano's names
    foldl, foldr, map, reduce, scan, scan_checkpoints, until,
)
from symgraph import cuda, printing  # noqa: F401
from symgraph.printing import debugprint, pp, pydotprint  # noqa: F401

globals().update(_CONSTRUCTORS)
for _module in _ops.TOP_LEVEL_MODULES:
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})

__version__ = "0.1.0"
