"""Linear algebra on square float matrices and stacks of them (``sg.linalg``): inverse, solve,
determinant and Cholesky factor, with ``numpy.linalg`` as the reference implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply
from symgraph.op import Op
from symgraph.ops import blas, elemwise
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType

__all__ = ["cholesky", "det", "inv", "solve"]


# ---------------------------------------------------------------------------------------------
# Checks shared by the ops
# ---------------------------------------------------------------------------------------------

def _as_float_tensor(name: str, x: Any, index: int, min_ndim: int) -> Any:
    x = as_tensor_variable(x)
    if not dt.is_float(x.dtype):
        raise TypeError(f"{name}: input {index} ({x}) has dtype {x.dtype}; {name} needs a float "
                        f"tensor (cast it, e.g. x.astype('float64'))")
    if x.ndim < min_ndim:
        raise TypeError(f"{name}: input {index} ({x}) is {x.ndim}-d; {name} needs at least "
                        f"{min_ndim} dimensions")
    return x


def _as_square(name: str, a: Any) -> Any:
    """``a`` as a float tensor whose last two dimensions form square matrices.

    Raises
    ------
    TypeError
        For a non-float dtype or fewer than two dimensions.
    ValueError
        When the last two static dimensions are known and differ.
    """
    a = _as_float_tensor(name, a, 0, 2)
    rows, cols = a.type.shape[-2:]
    if rows is not None and cols is not None and rows != cols:
        raise ValueError(f"{name}: input 0 ({a}) has static shape {a.type.shape}; its last two "
                         f"dimensions must be equal (square matrices)")
    return a


def _check_square(name: str, a: np.ndarray) -> None:
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: input of shape {a.shape} is not square in its last two "
                         f"dimensions")


def _compute(a: np.ndarray, dtype: str) -> np.ndarray:
    # LAPACK has no float16: compute in float32 and store back.
    return a.astype(dt.compute_dtype(dtype), copy=False)


def _matrix_size(static: Sequence[int | None]) -> int | None:
    rows, cols = static[-2:]
    return rows if rows is not None else cols


def _square_matrices_node(op: Op, name: str, a: Any) -> Apply:
    """``op`` applied to square matrices ``a`` (checked by ``_as_square``), with an output of
    ``a``'s dtype and shape (its last two dimensions filled in from each other)."""
    a = _as_square(name, a)
    n = _matrix_size(a.type.shape)
    out_type = TensorType(a.dtype, a.type.shape[:-2] + (n, n))
    return Apply(op, [a], [out_type.make_variable()])


def _square_operand(name: str, a: np.ndarray, dtype: str) -> np.ndarray:
    """The run-time value ``a``, checked square, in the dtype that LAPACK computes ``dtype`` in."""
    _check_square(name, a)
    return _compute(a, dtype)


def _add_matrix_axes(x: Any) -> Any:
    """``x[..., None, None]``: a stack of scalars broadcast against a stack of matrices."""
    return elemwise.dimshuffle(x, tuple(range(x.ndim)) + ("x", "x"))


# ---------------------------------------------------------------------------------------------
# The ops
# ---------------------------------------------------------------------------------------------

class MatrixInverse(Op):
    """Inverse of square matrices ``(..., n, n)`` (``numpy.linalg.inv``).

    Gradient: ``gA = -A⁻ᵀ gz A⁻ᵀ`` (from ``d(A⁻¹) = -A⁻¹ dA A⁻¹``).
    """

    __props__ = ()

    def make_node(self, a: Any) -> Apply:
        return _square_matrices_node(self, "inv", a)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        dtype = node.outputs[0].dtype
        value = np.linalg.inv(_square_operand("inv", inputs[0], dtype))
        output_storage[0][0] = np.asarray(value, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        inverse_t = blas.swap_last_axes(outputs[0])
        return [elemwise.neg(blas.matmul(blas.matmul(inverse_t, output_grads[0]), inverse_t))]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        if eval_points[0] is None:
            return [None]
        inverse = self(inputs[0])
        return [elemwise.neg(blas.matmul(blas.matmul(inverse, eval_points[0]), inverse))]


class Solve(Op):
    """Solution ``x`` of ``a @ x = b`` (``numpy.linalg.solve``, NumPy 2 rules).

    ``a`` is ``(..., n, n)``. A 1-d ``b`` of shape ``(n,)`` is one right-hand side (result
    ``(..., n)``); otherwise ``b`` is ``(..., n, k)`` and the batch dimensions of ``a`` and
    ``b`` broadcast (only static length-1 or missing dimensions broadcast).

    Gradient: ``gb = solve(aᵀ, gz)`` and ``ga = -gb xᵀ``, summed over broadcast batch axes.
    """

    __props__ = ()

    def make_node(self, a: Any, b: Any) -> Apply:
        a = _as_square("solve", a)
        b = _as_float_tensor("solve", b, 1, 1)
        a, b = blas.promote_operands("solve", a, b, kinds="f")
        n = _matrix_size(a.type.shape)
        rhs_n = b.type.shape[0] if b.ndim == 1 else b.type.shape[-2]
        if n is not None and rhs_n is not None and n != rhs_n:
            raise ValueError(f"solve: a has static shape {a.type.shape} and b {b.type.shape}; "
                             f"b must have {n} rows")
        n = n if n is not None else rhs_n
        if b.ndim == 1:
            out_shape = a.type.shape[:-2] + (n,)
        else:
            batch = blas.broadcast_batch("solve", a.type.shape[:-2], b.type.shape[:-2])
            out_shape = batch + (n, b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(a.dtype, out_shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        a, b = inputs
        _check_square("solve", a)
        rhs_n = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != rhs_n:
            raise ValueError(f"solve: a of shape {a.shape} needs b with {a.shape[-1]} rows, got "
                             f"b of shape {b.shape}")
        va, vb = node.inputs
        if b.ndim > 1:
            blas.check_batch("solve", [va.type.shape[:-2], vb.type.shape[:-2]],
                             [a.shape[:-2], b.shape[:-2]])
        dtype = node.outputs[0].dtype
        value = np.linalg.solve(_compute(a, dtype), _compute(b, dtype))
        output_storage[0][0] = np.asarray(value, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        a, b = node.inputs
        sa, sb = input_shapes
        n = sa[-1]
        if b.ndim == 1:
            return [tuple(sa[:-2]) + (n,)]
        out_static = node.outputs[0].type.shape
        batch = blas.infer_batch(out_static[:-2], [a.type.shape[:-2], b.type.shape[:-2]],
                                 [tuple(sa[:-2]), tuple(sb[:-2])])
        return [tuple(batch) + (n, sb[-1])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        a, b = inputs
        x, gz = outputs[0], output_grads[0]
        if b.ndim == 1:
            # One right-hand side: work with it as an (n, 1) matrix.
            b2 = elemwise.dimshuffle(b, (0, "x"))
            x = elemwise.dimshuffle(x, tuple(range(x.ndim)) + ("x",))
            gz = elemwise.dimshuffle(gz, tuple(range(gz.ndim)) + ("x",))
        else:
            b2 = b
        gb = solve(blas.swap_last_axes(a), gz)
        ga = elemwise.neg(blas.matmul(gb, blas.swap_last_axes(x)))
        gb = blas.sum_to(gb, b2)
        if b.ndim == 1:
            gb = elemwise.dimshuffle(gb, (0,))
        return [blas.sum_to(ga, a), gb]


class Det(Op):
    """Determinant of square matrices ``(..., n, n)`` (``numpy.linalg.det``).

    Gradient (Jacobi's formula): ``gA = gz · det(A) · A⁻ᵀ``; it needs ``A`` invertible.
    """

    __props__ = ()

    def make_node(self, a: Any) -> Apply:
        a = _as_square("det", a)
        return Apply(self, [a], [TensorType(a.dtype, a.type.shape[:-2]).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        dtype = node.outputs[0].dtype
        value = np.linalg.det(_square_operand("det", inputs[0], dtype))
        output_storage[0][0] = np.asarray(value, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0][:-2])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (a,), (d,), (gz,) = inputs, outputs, output_grads
        scale = _add_matrix_axes(elemwise.mul(gz, d))
        return [elemwise.mul(scale, blas.swap_last_axes(inv(a)))]


class LowerTriangle(Op):
    """Lower triangle of the last two axes with the diagonal scaled by ``diagonal_scale``.

    With ``diagonal_scale=0.5`` this is the function Φ of Murray (2016) used by the Cholesky
    gradient. It is linear and self-adjoint (an elementwise mask), so its gradient is itself.
    """

    __props__ = ("diagonal_scale",)

    def __init__(self, diagonal_scale: float = 1.0) -> None:
        self.diagonal_scale = float(diagonal_scale)

    def make_node(self, x: Any) -> Apply:
        x = _as_float_tensor(str(self), x, 0, 2)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        (x,) = inputs
        out = np.tril(x)
        if self.diagonal_scale != 1.0:
            diagonal = np.arange(min(x.shape[-2:]))
            out[..., diagonal, diagonal] *= self.diagonal_scale
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        return [self(output_grads[0])]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None if eval_points[0] is None else self(eval_points[0])]


class Cholesky(Op):
    """Cholesky factor of symmetric positive-definite matrices ``(..., n, n)``.

    ``lower=True`` gives ``L`` with ``A = L Lᵀ``; ``lower=False`` gives ``U = Lᵀ``. As in
    ``numpy.linalg.cholesky``, only the lower triangle of ``A`` is read.

    Gradient (Murray 2016): with ``P = Φ(Lᵀ gL)``, ``Ā = L⁻ᵀ P L⁻¹`` and ``gA = (Ā + Āᵀ) / 2``,
    the gradient with respect to a symmetric ``A``.
    """

    __props__ = ("lower",)

    def __init__(self, lower: bool = True) -> None:
        self.lower = bool(lower)

    def make_node(self, a: Any) -> Apply:
        return _square_matrices_node(self, "cholesky", a)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        dtype = node.outputs[0].dtype
        factor = np.linalg.cholesky(_square_operand("cholesky", inputs[0], dtype))
        if not self.lower:
            factor = np.swapaxes(factor, -1, -2)
        output_storage[0][0] = np.asarray(factor, dtype=dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [tuple(input_shapes[0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        factor, g_factor = outputs[0], output_grads[0]
        if not self.lower:
            factor, g_factor = blas.swap_last_axes(factor), blas.swap_last_axes(g_factor)
        factor_t = blas.swap_last_axes(factor)
        phi = LowerTriangle(0.5)(blas.matmul(factor_t, g_factor))
        # Ā = L⁻ᵀ P L⁻¹, as two solves with Lᵀ: X = L⁻ᵀ P, then Ā = (L⁻ᵀ Xᵀ)ᵀ.
        left = solve(factor_t, phi)
        a_bar = blas.swap_last_axes(solve(factor_t, blas.swap_last_axes(left)))
        return [elemwise.mul(0.5, elemwise.add(a_bar, blas.swap_last_axes(a_bar)))]


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------

def inv(a: Any) -> Any:
    """Inverse of a square matrix, or of each matrix in a stack (``numpy.linalg.inv``).

    Parameters
    ----------
    a : (..., n, n) float tensor

    Returns
    -------
    (..., n, n) tensor of ``a``'s dtype.

    Raises
    ------
    TypeError
        When ``a`` is not a float tensor of at least two dimensions.
    ValueError
        When the matrices are not square (at build time if known statically).
    numpy.linalg.LinAlgError
        At run time for a singular matrix; the message names the node and where it was built.

    Notes
    -----
    Gradient: ``gA = -A⁻ᵀ gz A⁻ᵀ``. float16 is computed in float32.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> a = sg.dmatrix("a")
    >>> sg.function([a], sg.linalg.inv(a), mode="py")(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    return MatrixInverse()(a)


def solve(a: Any, b: Any) -> Any:
    """Solve the linear system ``a @ x = b`` for ``x`` (``numpy.linalg.solve``, NumPy 2 rules).

    Parameters
    ----------
    a : (..., n, n) float tensor
    b : (n,) or (..., n, k) float tensor
        A 1-d ``b`` is a single right-hand side; otherwise each ``(n, k)`` matrix holds ``k``
        right-hand sides, and the batch dimensions of ``a`` and ``b`` broadcast (Theano rule:
        only static length-1 or missing dimensions broadcast).

    Returns
    -------
    (..., n) or (..., n, k) tensor of the promoted float dtype.

    Raises
    ------
    TypeError
        For non-float operands, a ``b`` of rank 0 or an ``a`` of rank below 2.
    ValueError
        When ``a`` is not square, ``b`` does not have ``n`` rows or batch dimensions do not
        broadcast (at build time if known statically, otherwise at run time).
    numpy.linalg.LinAlgError
        At run time for a singular ``a``, naming the node and where it was built.

    Notes
    -----
    Gradient: ``gb = solve(aᵀ, gz)``, ``ga = -gb xᵀ``.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> a, b = sg.dmatrix("a"), sg.dvector("b")
    >>> f = sg.function([a, b], sg.linalg.solve(a, b), mode="py")
    >>> f(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0]))
    array([0.5 , 0.25])
    """
    return Solve()(a, b)


def det(a: Any) -> Any:
    """Determinant of a square matrix, or of each matrix in a stack (``numpy.linalg.det``).

    Parameters
    ----------
    a : (..., n, n) float tensor

    Returns
    -------
    (...) tensor of ``a``'s dtype.

    Raises
    ------
    TypeError
        When ``a`` is not a float tensor of at least two dimensions.
    ValueError
        When the matrices are not square.

    Notes
    -----
    Gradient (Jacobi's formula): ``gA = gz · det(A) · A⁻ᵀ``, which is undefined (raises
    ``LinAlgError`` when evaluated) at singular ``A``.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> a = sg.dmatrix("a")
    >>> f = sg.function([a], sg.linalg.det(a), mode="py")
    >>> round(float(f(np.array([[2.0, 1.0], [1.0, 3.0]]))), 12)
    5.0
    """
    return Det()(a)


def cholesky(a: Any, lower: bool = True) -> Any:
    """Cholesky factor of a symmetric positive-definite matrix (or a stack of them).

    Returns ``L``, lower triangular with a positive diagonal and ``a = L Lᵀ``, or ``U = Lᵀ``
    when ``lower=False``. Only the lower triangle of ``a`` is read (``numpy.linalg.cholesky``).

    Parameters
    ----------
    a : (..., n, n) float tensor, symmetric positive definite
    lower : bool

    Returns
    -------
    (..., n, n) tensor of ``a``'s dtype.

    Raises
    ------
    TypeError
        When ``a`` is not a float tensor of at least two dimensions.
    ValueError
        When the matrices are not square.
    numpy.linalg.LinAlgError
        At run time when a matrix is not positive definite, naming the node and where it was
        built.

    Notes
    -----
    The gradient is the symmetric one, ``(Ā + Āᵀ) / 2`` with ``Ā = L⁻ᵀ Φ(Lᵀ gL) L⁻¹`` and
    ``Φ`` taking the lower triangle with its diagonal halved (Murray 2016): it is the
    derivative along symmetric perturbations of ``a``. To differentiate with respect to an
    unconstrained matrix ``m``, factor a symmetric expression of it, e.g.
    ``cholesky((m + m.T) / 2)``.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> a = sg.dmatrix("a")
    >>> sg.function([a], sg.linalg.cholesky(a), mode="py")(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])

    References
    ----------
    I. Murray, "Differentiation of the Cholesky decomposition", arXiv:1602.07527, 2016.
    """
    return Cholesky(lower)(a)
