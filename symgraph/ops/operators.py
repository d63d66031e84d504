"""The NumPy-style operators and methods of tensor variables (``x + y``, ``x[i]``, ``x.sum()``).

``TensorOperators`` is mixed into ``TensorVariable``, ``TensorConstant`` and
``TensorSharedVariable`` (symgraph.ops.basic). Each method builds its node through an op module;
those modules make tensor variables themselves, so each method imports its op module when it
runs (a cached lookup, ~0.3 µs) rather than at module level, and this module imports no op module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgraph.type import TensorType

# symgraph.function (layer 5) sets this to its evaluator when it is imported: ``Variable.eval``
# is the one place where the ops layer calls the compiler, and a lower layer may not import it.
EVALUATE: Any = None

# The comparisons whose results refuse ``bool()`` (see ``TensorOperators.__bool__``).
COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "neq"})


class TensorOperators:
    """NumPy-style operators and methods shared by every tensor Variable."""

    type: TensorType

    # -- attributes -----------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self) -> Any:
        from symgraph.ops import shape
        return shape.shape(self)

    @property
    def size(self) -> Any:
        from symgraph.ops import reduce
        from symgraph.ops import shape
        return reduce.prod(shape.shape(self))

    @property
    def T(self) -> Any:
        from symgraph.ops import shape
        return shape.transpose(self)

    # -- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.add(self, other)
    def __radd__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.add(other, self)
    def __sub__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.sub(self, other)
    def __rsub__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.sub(other, self)
    def __mul__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.mul(self, other)
    def __rmul__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.mul(other, self)
    def __truediv__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.true_divide(self, other)
    def __rtruediv__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.true_divide(other, self)
    def __floordiv__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.int_div(self, other)
    def __rfloordiv__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.int_div(other, self)
    def __mod__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.mod(self, other)
    def __rmod__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.mod(other, self)
    def __pow__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.pow(self, other)
    def __rpow__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.pow(other, self)
    def __neg__(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.neg(self)
    def __pos__(self) -> Any:
        return self
    def __abs__(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.abs(self)
    def __invert__(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.invert(self)
    def __and__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.and_(self, other)
    def __rand__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.and_(other, self)
    def __or__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.or_(self, other)
    def __ror__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.or_(other, self)
    def __xor__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.xor(self, other)
    def __rxor__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.xor(other, self)
    def __lt__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.lt(self, other)
    def __le__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.le(self, other)
    def __gt__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.gt(self, other)
    def __ge__(self, other: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.ge(self, other)
    def __matmul__(self, other: Any) -> Any:
        from symgraph.ops import blas
        return blas.matmul(self, other)
    def __rmatmul__(self, other: Any) -> Any:
        from symgraph.ops import blas
        return blas.matmul(other, self)

    # Equality stays identity (variables are dict keys); sg.eq builds the elementwise test.
    # (object's own hash: defining __lt__ & co. here must not lose it.)
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        # Theano's rule: every variable is truthy (``if not W:`` tests that one was given),
        # except a comparison's result, so that ``a < b < c`` (``(a < b) and (b < c)``) raises
        # instead of silently building ``b < c``.
        owner = self.owner  # type: ignore[attr-defined]
        if owner is not None and getattr(getattr(owner.op, "scalar_op", None), "name",
                                         None) in COMPARISONS:
            raise TypeError(
                f"the result of a comparison ({self}) has no truth value: Python runs "
                f"`a < b < c` as `(a < b) and (b < c)`; use sg.and_ on the comparisons, or "
                f"sg.ifelse / sg.switch to branch on one"
            )
        return True

    def __len__(self) -> int:
        if self.ndim and self.type.shape[0] is not None:
            return int(self.type.shape[0])
        raise TypeError("len() of a symbolic variable of unknown length; use x.shape[0]")

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: Any) -> Any:
        from symgraph.ops import subtensor
        return subtensor.getitem(self, index)

    # -- methods --------------------------------------------------------------------------
    def abs(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.abs(self)
    def exp(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.exp(self)
    def log(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.log(self)
    def sqrt(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.sqrt(self)
    def round(self) -> Any:
        from symgraph.ops import elemwise
        return elemwise.round(self)

    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
        from symgraph.ops import reduce
        return reduce.sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
        from symgraph.ops import reduce
        return reduce.mean(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def prod(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
        from symgraph.ops import reduce
        return reduce.prod(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        from symgraph.ops import reduce
        return reduce.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        from symgraph.ops import reduce
        return reduce.min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Any:
        from symgraph.ops import reduce
        return reduce.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Any:
        from symgraph.ops import reduce
        return reduce.argmin(self, axis=axis, keepdims=keepdims)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        from symgraph.ops import reduce
        return reduce.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        from symgraph.ops import reduce
        return reduce.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        from symgraph.ops import reduce
        return reduce.all(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        from symgraph.ops import reduce
        return reduce.any(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis: int | None = None) -> Any:
        from symgraph.ops import reduce
        return reduce.cumsum(self, axis=axis)

    def cumprod(self, axis: int | None = None) -> Any:
        from symgraph.ops import reduce
        return reduce.cumprod(self, axis=axis)

    def reshape(self, *new_shape: Any, ndim: int | None = None) -> Any:
        from symgraph.ops import shape
        if len(new_shape) == 1 and not isinstance(new_shape[0], (int, np.integer)):
            new_shape = new_shape[0]
        return shape.reshape(self, new_shape, ndim=ndim)

    def dimshuffle(self, *pattern: Any) -> Any:
        from symgraph.ops import elemwise
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return elemwise.dimshuffle(self, pattern)

    def flatten(self, ndim: int = 1) -> Any:
        from symgraph.ops import shape
        return shape.flatten(self, ndim)

    def ravel(self) -> Any:
        from symgraph.ops import shape
        return shape.flatten(self, 1)

    def transpose(self, *axes: Any) -> Any:
        from symgraph.ops import shape
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return shape.transpose(self, axes or None)

    def squeeze(self, axis: Any = None) -> Any:
        from symgraph.ops import shape
        return shape.squeeze(self, axis)

    def astype(self, dtype: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.cast(self, dtype)

    def dot(self, other: Any) -> Any:
        from symgraph.ops import blas
        return blas.dot(self, other)

    def clip(self, a_min: Any, a_max: Any) -> Any:
        from symgraph.ops import elemwise
        return elemwise.clip(self, a_min, a_max)

    def take(self, indices: Any, axis: int | None = None) -> Any:
        from symgraph.ops import subtensor
        return subtensor.take(self, indices, axis=axis)

    def repeat(self, repeats: Any, axis: int | None = None) -> Any:
        from symgraph.ops import construct
        return construct.repeat(self, repeats, axis=axis)

    def copy(self, name: str | None = None) -> Any:
        from symgraph.ops import elemwise
        out = elemwise.identity(self)
        out.name = name
        return out

    def eval(self, inputs_to_values: dict[Any, Any] | None = None, **kwargs: Any) -> Any:
        """Compile (once, cached on the variable) and evaluate this variable.

        ``inputs_to_values`` maps input Variables (or their names) to values.
        """
        if EVALUATE is None:
            raise RuntimeError("import symgraph to use Variable.eval")
        return EVALUATE(self, inputs_to_values or {}, **kwargs)
