"""Theano's ``theano.tensor`` (``import symgraph.tensor as T``): constructors, math, and the
submodules ``nnet``, ``signal``, ``shared_randomstreams``, ``nlinalg``, ``slinalg``,
``extra_ops``, ``xlogx``, with Theano's semantics where they differ from ``sg.*`` (listed in
docs/coming_from_theano.md).

The module is also callable: ``sg.tensor(name, dtype, shape)`` makes a tensor variable, as the
API contract says.
"""

from __future__ import annotations

import builtins
import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import ops as _ops
from symgraph.callable_module import make_callable
from symgraph.derivatives import hessian, jacobian  # noqa: F401
from symgraph.gradcheck import verify_grad  # noqa: F401
from symgraph.grad import IdentityMarker, Lop, Rop, disconnected_grad, grad  # noqa: F401
from symgraph.graph import Apply, Constant
from symgraph.ops import elemwise as _elemwise
from symgraph.ops import reduce as _reduce
from symgraph.ops import shape as _shape
from symgraph.ops.basic import (  # noqa: F401
    CONSTRUCTORS as _CONSTRUCTORS,
    TensorConstant,
    TensorSharedVariable,
    TensorVariable,
    as_tensor_variable,
    constant,
    tensor,
)
from symgraph.type import TensorType  # noqa: F401

globals().update(_CONSTRUCTORS)
for _module in _ops.TOP_LEVEL_MODULES:
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})

as_tensor = as_tensor_variable
_tensor = tensor

# Theano's spellings of functions symgraph names after NumPy.
abs_ = _elemwise.abs
sgn = _elemwise.sign
inv = _elemwise.reciprocal
true_div = _elemwise.true_divide
floor_div = _elemwise.int_div
tensor_copy = _elemwise.identity
power = _elemwise.pow


# ---------------------------------------------------------------------------------------------
# Constructors Theano has and sg.* does not: rows and columns
# ---------------------------------------------------------------------------------------------

def _make_row_or_col(static: tuple[int | None, int | None], dtype: str | None) -> Any:
    def constructor(name: str | None = None, dtype: Any = dtype) -> TensorVariable:
        return TensorType(dtype, static).make_variable(name)

    kind = "row (1, n)" if static[0] == 1 else "column (n, 1)"
    constructor.__doc__ = f"A symbolic {kind} input of dtype {dtype or 'config.floatX'}."
    return constructor


def _make_plural(single: Any) -> Any:
    def plural(*names: str) -> list[TensorVariable]:
        return [single(n) for text in names for n in text.replace(",", " ").split()]

    return plural


for _prefix, _dtype in (("", None), ("b", "int8"), ("w", "int16"), ("i", "int32"),
                        ("l", "int64"), ("f", "float32"), ("d", "float64")):
    for _kind, _static in (("row", (1, None)), ("col", (None, 1))):
        _single = _make_row_or_col(_static, _dtype)
        globals()[_prefix + _kind] = _single
        globals()[_prefix + _kind + "s"] = _make_plural(_single)

# Theano's typed constructors (dscalar, fmatrix, irow, ...) are the TensorTypes themselves,
# called with a name to make a variable: ``x.type == T.dscalar`` holds, as the tutorial shows.
# The floatX ones (scalar, matrix, row, ...) stay functions taking a dtype, as in Theano.
_TYPED_SHAPES: dict[str, tuple[int | None, ...]] = {
    "scalar": (), "vector": (None,), "matrix": (None, None), "row": (1, None), "col": (None, 1),
    "tensor3": (None,) * 3, "tensor4": (None,) * 4, "tensor5": (None,) * 5}
for _prefix, _dtype in (("b", "int8"), ("w", "int16"), ("i", "int32"), ("l", "int64"),
                        ("f", "float32"), ("d", "float64")):
    for _kind, _typed_shape in _TYPED_SHAPES.items():
        globals()[_prefix + _kind] = TensorType(_dtype, _typed_shape)


# ---------------------------------------------------------------------------------------------
# Functions with Theano's signatures
# ---------------------------------------------------------------------------------------------

def stack(*tensors: Any, axis: int = 0) -> Any:
    """Join tensors of one shape along a new axis: ``stack([a, b])``, or Theano's older
    ``stack(a, b)``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return _shape.stack(list(tensors), axis=axis)


def join(axis: Any, *tensors: Any) -> Any:
    """``concatenate(tensors, axis)``, Theano's argument order."""
    return _shape.concatenate(list(tensors), axis=axis)


def flatten(x: Any, ndim: int | None = None, outdim: int | None = None) -> Any:
    """Keep ``ndim`` dimensions (default 1), the last one collecting the rest; ``outdim`` is
    Theano's older name of ``ndim``."""
    return _shape.flatten(x, ndim or outdim or 1)


def sum(input: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False,  # noqa: A001
        acc_dtype: Any = None) -> Any:
    """Sum over ``axis`` (Theano's argument order; ``acc_dtype`` is accepted and unused)."""
    return _reduce.sum(input, axis=axis, keepdims=keepdims, dtype=dtype)


def prod(input: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False,
         acc_dtype: Any = None, no_zeros_in_input: bool = False) -> Any:
    """Product over ``axis`` (Theano's argument order)."""
    return _reduce.prod(input, axis=axis, keepdims=keepdims, dtype=dtype)


def mean(input: Any, axis: Any = None, dtype: Any = None, op: bool = False,
         keepdims: bool = False, acc_dtype: Any = None) -> Any:
    """Mean over ``axis`` (Theano's argument order)."""
    return _reduce.mean(input, axis=axis, keepdims=keepdims, dtype=dtype)


def var(input: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False,
        corrected: bool = False) -> Any:
    """Variance over ``axis``, Theano's argument order ``(input, axis, ddof, keepdims)``."""
    return _reduce.var(input, axis=axis, keepdims=keepdims, ddof=ddof)


def std(input: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False,
        corrected: bool = False) -> Any:
    """Standard deviation over ``axis``, Theano's argument order."""
    return _reduce.std(input, axis=axis, keepdims=keepdims, ddof=ddof)


def max_and_argmax(a: Any, axis: Any = None, keepdims: bool = False) -> tuple[Any, Any]:
    """``(max(a, axis), argmax(a, axis))``."""
    return _reduce.max(a, axis, keepdims), _reduce.argmax(a, axis, keepdims)


def round(a: Any, mode: str | None = None) -> Any:  # noqa: A001
    """Round to integers: ``mode='half_to_even'`` (the default, as NumPy and Theano 1.0) or
    ``'half_away_from_zero'``."""
    if mode in (None, "half_to_even"):
        return _elemwise.round(a)
    if mode == "half_away_from_zero":
        a = as_tensor_variable(a)
        return _elemwise.sign(a) * _elemwise.floor(_elemwise.abs(a) + 0.5)
    raise ValueError(f"round: mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}")


def iround(a: Any, mode: str | None = None) -> Any:
    """``round(a, mode)`` cast to int64."""
    return _elemwise.cast(round(a, mode), "int64")


def largest(*args: Any) -> Any:
    """The elementwise maximum of all the arguments."""
    result = args[0]
    for other in args[1:]:
        result = _elemwise.maximum(result, other)
    return result


def smallest(*args: Any) -> Any:
    """The elementwise minimum of all the arguments."""
    result = args[0]
    for other in args[1:]:
        result = _elemwise.minimum(result, other)
    return result


def set_subtensor(x: Any, y: Any, inplace: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Any:
    """``x`` with the indexed part replaced by ``y`` (Theano's extra flags are accepted)."""
    return _ops.subtensor.set_subtensor(x, y)


def inc_subtensor(x: Any, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Any:
    """``x`` with ``y`` added to the indexed part (Theano's extra flags are accepted)."""
    return _ops.subtensor.inc_subtensor(x, y, set_instead_of_inc=set_instead_of_inc)


def zeros_like(model: Any, dtype: Any = None, opt: bool = False) -> Any:
    return _elemwise.zeros_like(model, dtype)


def ones_like(model: Any, dtype: Any = None, opt: bool = False) -> Any:
    return _elemwise.ones_like(model, dtype)


# ---------------------------------------------------------------------------------------------
# Broadcastable patterns
# ---------------------------------------------------------------------------------------------

def shape_padleft(t: Any, n_ones: int = 1) -> Any:
    """``t`` with ``n_ones`` broadcastable dimensions added on the left."""
    t = as_tensor_variable(t)
    return t.dimshuffle(*(["x"] * n_ones + list(range(t.ndim))))


def shape_padright(t: Any, n_ones: int = 1) -> Any:
    """``t`` with ``n_ones`` broadcastable dimensions added on the right."""
    t = as_tensor_variable(t)
    return t.dimshuffle(*(list(range(t.ndim)) + ["x"] * n_ones))


def shape_padaxis(t: Any, axis: int) -> Any:
    """``t`` with a broadcastable dimension inserted at ``axis``."""
    t = as_tensor_variable(t)
    axis = axis if axis >= 0 else axis + t.ndim + 1
    if not 0 <= axis <= t.ndim:
        raise IndexError(f"shape_padaxis: axis {axis} out of range for {t.ndim} dimensions")
    pattern: list[Any] = list(range(t.ndim))
    pattern.insert(axis, "x")
    return t.dimshuffle(*pattern)


def addbroadcast(x: Any, *axes: int) -> Any:
    """``x`` with ``axes`` made broadcastable (static length 1, checked at run time)."""
    x = as_tensor_variable(x)
    wanted = {a % x.ndim for a in axes}
    return _shape.specify_shape(x, [1 if i in wanted else None for i in range(x.ndim)])


class Unbroadcast(IdentityMarker):
    """``x`` itself, with the static length 1 of ``axes`` forgotten (Theano's ``Rebroadcast``
    towards False). It only changes the type the graph is built with: compiling removes it, or
    runs it as a view where the input's type cannot stand for the output's."""

    __props__ = ("axes",)

    def __init__(self, axes: Sequence[int]) -> None:
        self.axes = tuple(sorted(set(axes)))

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        static = tuple(None if i in self.axes else s for i, s in enumerate(x.type.shape))
        return Apply(self, [x], [TensorType(x.dtype, static).make_variable()])

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (x,), (g,) = inputs, output_grads
        broadcast = [i for i in self.axes if x.type.shape[i] == 1]
        return [addbroadcast(g, *broadcast) if broadcast else g]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


def unbroadcast(x: Any, *axes: int) -> Any:
    """``x`` with ``axes`` no longer broadcastable (static length unknown)."""
    x = as_tensor_variable(x)
    axes_set = {a % x.ndim for a in axes if x.type.shape[a % x.ndim] == 1}
    return Unbroadcast(tuple(axes_set))(x) if axes_set else x


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> Any:
    """``x`` with the broadcastable pattern ``broadcastable`` (one flag per dimension)."""
    x = as_tensor_variable(x)
    flags = list(broadcastable)
    if len(flags) != x.ndim:
        raise ValueError(f"patternbroadcast: {len(flags)} flags for {x.ndim} dimensions")
    x = unbroadcast(x, *[i for i, b in enumerate(flags) if not b])
    add = [i for i, b in enumerate(flags) if b and x.type.shape[i] != 1]
    return addbroadcast(x, *add) if add else x


# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

class NotScalarConstantError(TypeError):
    """The variable is not a constant holding a single value."""


def get_scalar_constant_value(v: Any, elemwise: bool = True,
                              only_process_constants: bool = False) -> Any:
    """The value of ``v`` if it is a number or a constant whose elements are all equal.

    Raises
    ------
    NotScalarConstantError
        Otherwise.
    """
    if isinstance(v, (int, float, builtins.bool)):
        return v
    if isinstance(v, Constant):
        data = np.asarray(v.data)
        if data.size and (data == data.flat[0]).all():
            return data.flat[0].copy() if data.ndim == 0 else data.flat[0]
    raise NotScalarConstantError(f"{v} is not a scalar constant")


# ---------------------------------------------------------------------------------------------
# Submodules, loaded on first use: T.nnet.sigmoid works after `import symgraph.tensor as T`
# ---------------------------------------------------------------------------------------------

_SUBMODULES = ("nnet", "signal", "shared_randomstreams", "nlinalg", "slinalg", "extra_ops",
               "xlogx")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))


make_callable(__name__, _tensor)

__all__ = sorted(name for name in globals() if not name.startswith("_") and name not in {
    "annotations", "builtins", "importlib", "make_callable", "np", "Any", "Sequence"})
