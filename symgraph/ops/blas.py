"""Tensor products (dot, matmul, outer, tensordot, batched_dot) and the ``Dot``, ``Matmul`` and
``TensorDot`` ops they build; ``Dot`` and ``Matmul`` are the ops later lowered to BLAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Constant
from symgraph.op import Op
from symgraph.ops import elemwise, reduce, shape
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.type import TensorType, broadcast_static_shapes

__all__ = ["batched_dot", "dot", "matmul", "outer", "tensordot"]


# ---------------------------------------------------------------------------------------------
# Helpers shared with linalg
# ---------------------------------------------------------------------------------------------

def promote_operands(name: str, a: Any, b: Any, kinds: str = "biuf") -> tuple[Any, Any]:
    """Both operands as tensors of their NumPy-promoted dtype.

    Raises
    ------
    TypeError
        Naming the input, for an operand that is not a tensor or has a dtype kind not in
        ``kinds``.
    """
    variables = [as_tensor_variable(a), as_tensor_variable(b)]
    for i, v in enumerate(variables):
        if np.dtype(v.dtype).kind not in kinds:
            raise TypeError(f"{name}: input {i} ({v}) has dtype {v.dtype}, which {name} does "
                            f"not accept")
    common = dt.upcast(variables[0].dtype, variables[1].dtype)
    a, b = (elemwise.cast(v, common) for v in variables)
    return a, b


def swap_last_axes(x: Any) -> Any:
    """``x`` with its last two axes exchanged (the matrix transpose of a stack of matrices)."""
    order = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return elemwise.dimshuffle(x, order)


def sum_to(g: Any, like: Any) -> Any:
    """Sum a gradient ``g`` over the axes that were broadcast to make it from ``like``.

    Leading axes ``like`` lacks are summed away; axes where ``like`` has static length 1 are
    summed with ``keepdims``.
    """
    lead = g.ndim - like.ndim
    if lead > 0:
        g = reduce.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, (want, got) in enumerate(zip(like.type.shape, g.type.shape))
                 if want == 1 and got != 1)
    if axes:
        g = reduce.sum(g, axis=axes, keepdims=True)
    return g


def broadcast_batch(name: str, *batches: Sequence[int | None]) -> tuple[int | None, ...]:
    """Static shape of the broadcast of batch shapes, left-padded with broadcastable axes.

    Raises
    ------
    ValueError
        When two known batch dimensions differ and neither is 1.
    """
    rank = max((len(b) for b in batches), default=0)
    padded = [(1,) * (rank - len(b)) + tuple(b) for b in batches]
    try:
        return broadcast_static_shapes(*padded) if padded else ()
    except ValueError as err:
        raise ValueError(f"{name}: batch dimensions {[tuple(b) for b in batches]} do not "
                         f"broadcast: {err}") from err


def infer_batch(out_batch: Sequence[int | None], statics: Sequence[Sequence[int | None]],
                symbolics: Sequence[Sequence[Any]]) -> list[Any]:
    """Symbolic broadcast batch shape, taken from an input that does not broadcast on each axis."""
    rank = len(out_batch)
    result: list[Any] = []
    for axis, known in enumerate(out_batch):
        if known is not None:
            result.append(known)
            continue
        for static, symbolic in zip(statics, symbolics):
            k = axis - (rank - len(static))
            if k >= 0 and static[k] != 1:
                result.append(symbolic[k])
                break
        else:
            result.append(1)
    return result


def check_batch(name: str, statics: Sequence[Sequence[int | None]],
                runtimes: Sequence[Sequence[int]]) -> None:
    """Raise ``ValueError`` when run-time batch sizes differ where no input is static 1."""
    rank = max((len(s) for s in statics), default=0)
    for axis in range(rank):
        sizes = set()
        for static, runtime in zip(statics, runtimes):
            k = axis - (rank - len(static))
            if k >= 0 and static[k] != 1:
                sizes.add(runtime[k])
        if len(sizes) > 1:
            raise ValueError(
                f"{name}: batch shapes {[tuple(r) for r in runtimes]} do not match on batch "
                f"axis {axis}; only dimensions declared broadcastable (static shape 1) broadcast")


def _check_static_contraction(name: str, left: int | None, right: int | None,
                              where: str) -> None:
    if left is not None and right is not None and left != right:
        raise ValueError(f"{name}: contracted dimensions differ ({left} != {right}) {where}")


def _result(value: Any, dtype: str) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


def _computed_product(product: Any, a: np.ndarray, b: np.ndarray, dtype: str,
                      **kwargs: Any) -> np.ndarray:
    """``product(a, b, **kwargs)`` computed in ``dtype``'s compute dtype, stored as ``dtype``."""
    compute = dt.compute_dtype(dtype)
    return _result(product(a.astype(compute, copy=False), b.astype(compute, copy=False),
                           **kwargs), dtype)


def _multiply(a: Any, b: Any) -> Any:
    """Elementwise product; bool times bool stays bool, as in NumPy's products."""
    if getattr(a, "dtype", None) == "bool" and getattr(b, "dtype", None) == "bool":
        return elemwise.and_(a, b)
    return elemwise.mul(a, b)


# ---------------------------------------------------------------------------------------------
# Dot: vector and matrix products
# ---------------------------------------------------------------------------------------------

class Dot(Op):
    """Product of 1-d and 2-d tensors, as ``numpy.dot``.

    ``(n,)·(n,) -> ()``, ``(m, n)·(n,) -> (m,)``, ``(n,)·(n, p) -> (p,)``,
    ``(m, n)·(n, p) -> (m, p)``. Operands are cast to their promoted dtype when the node is
    built, so both inputs of a node share one dtype.
    """

    __props__ = ()

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = promote_operands("dot", a, b)
        for i, v in enumerate((a, b)):
            if v.ndim not in (1, 2):
                raise TypeError(f"Dot: input {i} ({v}) is {v.ndim}-d; Dot takes 1-d or 2-d "
                                f"operands (use sg.dot or sg.tensordot for other ranks)")
        _check_static_contraction("Dot", a.type.shape[-1], b.type.shape[0],
                                  f"for shapes {a.type.shape} and {b.type.shape}")
        out_shape = a.type.shape[:-1] + b.type.shape[1:]
        return Apply(self, [a, b], [TensorType(a.dtype, out_shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        a, b = inputs
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"Dot: shapes {a.shape} and {b.shape} are not aligned: dimension "
                             f"{a.ndim - 1} of input 0 has length {a.shape[-1]}, dimension 0 "
                             f"of input 1 has length {b.shape[0]}")
        output_storage[0][0] = _computed_product(np.dot, a, b, node.outputs[0].dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        sa, sb = input_shapes
        return [tuple(sa[:-1]) + tuple(sb[1:])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        a, b = inputs
        (gz,) = output_grads
        if not dt.is_float(outputs[0].dtype):
            return [None, None]
        if a.ndim == 1 and b.ndim == 1:
            return [elemwise.mul(gz, b), elemwise.mul(gz, a)]
        if a.ndim == 2 and b.ndim == 1:
            return [outer(gz, b), dot(swap_last_axes(a), gz)]
        if a.ndim == 1:
            return [dot(b, gz), outer(a, gz)]
        return [dot(gz, swap_last_axes(b)), dot(swap_last_axes(a), gz)]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [_product_rule(dot, inputs, eval_points)]


def _product_rule(product: Any, inputs: Sequence[Any], eval_points: Sequence[Any]) -> Any:
    """Tangent of a bilinear ``product(a, b)``: ``product(da, b) + product(a, db)``."""
    (a, b), (da, db) = inputs, eval_points
    terms = []
    if da is not None:
        terms.append(product(da, b))
    if db is not None:
        terms.append(product(a, db))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else elemwise.add(*terms)


# ---------------------------------------------------------------------------------------------
# Matmul: NumPy's matmul with batch broadcasting
# ---------------------------------------------------------------------------------------------

class Matmul(Op):
    """``numpy.matmul``: stacks of matrix products over broadcast leading (batch) dimensions.

    A 1-d first operand is treated as a row ``(1, k)`` and a 1-d second operand as a column
    ``(k, 1)``; the added dimension is removed from the result. Batch dimensions follow
    Theano's rule: only dimensions of static length 1 (or missing ones) broadcast.
    """

    __props__ = ()

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = promote_operands("matmul", a, b)
        for i, v in enumerate((a, b)):
            if v.ndim == 0:
                raise TypeError(f"matmul: input {i} ({v}) is 0-d; matmul needs operands with "
                                f"at least one dimension (use mul for scalars)")
        k_b = b.type.shape[-2] if b.ndim >= 2 else b.type.shape[0]
        _check_static_contraction("matmul", a.type.shape[-1], k_b,
                                  f"for shapes {a.type.shape} and {b.type.shape}")
        batch = broadcast_batch("matmul", a.type.shape[:-2], b.type.shape[:-2])
        rows = a.type.shape[-2:-1] if a.ndim >= 2 else ()
        cols = b.type.shape[-1:] if b.ndim >= 2 else ()
        out_type = TensorType(a.dtype, batch + rows + cols)
        return Apply(self, [a, b], [out_type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        a, b = inputs
        k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if a.shape[-1] != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last "
                             f"dimension of input 0 ({a.shape[-1]}) differs from the "
                             f"contracted dimension of input 1 ({k_b})")
        va, vb = node.inputs
        check_batch("matmul", [va.type.shape[:-2], vb.type.shape[:-2]],
                    [a.shape[:-2], b.shape[:-2]])
        output_storage[0][0] = _computed_product(np.matmul, a, b, node.outputs[0].dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        a, b = node.inputs
        sa, sb = input_shapes
        out_static = node.outputs[0].type.shape
        n_batch = len(out_static) - (a.ndim >= 2) - (b.ndim >= 2)
        batch = infer_batch(out_static[:n_batch], [a.type.shape[:-2], b.type.shape[:-2]],
                            [tuple(sa[:-2]), tuple(sb[:-2])])
        rows = [sa[-2]] if a.ndim >= 2 else []
        cols = [sb[-1]] if b.ndim >= 2 else []
        return [tuple(batch + rows + cols)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        a, b = inputs
        (gz,) = output_grads
        if not dt.is_float(outputs[0].dtype):
            return [None, None]
        # Work with 1-d operands promoted to matrices, as the forward pass does.
        a2 = a if a.ndim >= 2 else elemwise.dimshuffle(a, ("x", 0))
        b2 = b if b.ndim >= 2 else elemwise.dimshuffle(b, (0, "x"))
        n_batch = gz.ndim - (a.ndim >= 2) - (b.ndim >= 2)
        pattern: list[int | str] = list(range(n_batch))
        pattern.append(len(pattern) if a.ndim >= 2 else "x")
        pattern.append(sum(1 for p in pattern if p != "x") if b.ndim >= 2 else "x")
        gz2 = elemwise.dimshuffle(gz, tuple(pattern))
        ga = sum_to(matmul(gz2, swap_last_axes(b2)), a2)
        gb = sum_to(matmul(swap_last_axes(a2), gz2), b2)
        if a.ndim == 1:
            ga = elemwise.dimshuffle(ga, (1,))
        if b.ndim == 1:
            gb = elemwise.dimshuffle(gb, (0,))
        return [ga, gb]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [_product_rule(matmul, inputs, eval_points)]


# ---------------------------------------------------------------------------------------------
# TensorDot: contraction over several axes
# ---------------------------------------------------------------------------------------------

class TensorDot(Op):
    """``numpy.tensordot`` with normalised axes: sum over ``a``'s ``axes_a`` against ``b``'s
    ``axes_b``; the result has ``a``'s other axes, then ``b``'s other axes, in order.
    """

    __props__ = ("axes_a", "axes_b")

    def __init__(self, axes_a: Sequence[int], axes_b: Sequence[int]) -> None:
        self.axes_a = tuple(int(i) for i in axes_a)
        self.axes_b = tuple(int(i) for i in axes_b)
        if len(self.axes_a) != len(self.axes_b):
            raise ValueError(f"tensordot: {len(self.axes_a)} axes of a against "
                             f"{len(self.axes_b)} axes of b; they must pair up")

    def free_axes(self, a_ndim: int, b_ndim: int) -> tuple[list[int], list[int]]:
        return ([i for i in range(a_ndim) if i not in self.axes_a],
                [i for i in range(b_ndim) if i not in self.axes_b])

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = promote_operands("tensordot", a, b)
        for i, (v, axes) in enumerate(((a, self.axes_a), (b, self.axes_b))):
            if len(set(axes)) != len(axes) or any(not 0 <= x < v.ndim for x in axes):
                raise TypeError(f"{self}: axes {axes} are invalid for input {i} ({v}), which "
                                f"is {v.ndim}-d")
        for xa, xb in zip(self.axes_a, self.axes_b):
            _check_static_contraction(str(self), a.type.shape[xa], b.type.shape[xb],
                                      f"on axis {xa} of input 0 and axis {xb} of input 1")
        free_a, free_b = self.free_axes(a.ndim, b.ndim)
        out_shape = tuple(a.type.shape[i] for i in free_a) + tuple(b.type.shape[i] for i in free_b)
        return Apply(self, [a, b], [TensorType(a.dtype, out_shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        a, b = inputs
        for xa, xb in zip(self.axes_a, self.axes_b):
            if a.shape[xa] != b.shape[xb]:
                raise ValueError(f"{self}: shapes {a.shape} and {b.shape} are not aligned: "
                                 f"axis {xa} of input 0 has length {a.shape[xa]}, axis {xb} "
                                 f"of input 1 has length {b.shape[xb]}")
        output_storage[0][0] = _computed_product(np.tensordot, a, b, node.outputs[0].dtype,
                                                 axes=(list(self.axes_a), list(self.axes_b)))

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        a, b = node.inputs
        free_a, free_b = self.free_axes(a.ndim, b.ndim)
        sa, sb = input_shapes
        return [tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b)]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        a, b = inputs
        (gz,) = output_grads
        if not dt.is_float(outputs[0].dtype):
            return [None, None]
        free_a, free_b = self.free_axes(a.ndim, b.ndim)
        n_free_a = len(free_a)
        # gz·b over b's free axes leaves a's free axes, then b's contracted axes in increasing
        # order; each of those stands for its partner axis of a.
        ga = tensordot(gz, b, axes=(list(range(n_free_a, gz.ndim)), free_b))
        source_a = free_a + [self.axes_a[self.axes_b.index(x)] for x in sorted(self.axes_b)]
        ga = elemwise.dimshuffle(ga, tuple(source_a.index(i) for i in range(a.ndim)))
        gb = tensordot(a, gz, axes=(free_a, list(range(n_free_a))))
        source_b = [self.axes_b[self.axes_a.index(x)] for x in sorted(self.axes_a)] + free_b
        gb = elemwise.dimshuffle(gb, tuple(source_b.index(i) for i in range(b.ndim)))
        return [ga, gb]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [_product_rule(self, inputs, eval_points)]


# ---------------------------------------------------------------------------------------------
# BLAS-shaped ops made by the specialize rewrites: Gemm, Gemv, Ger
# ---------------------------------------------------------------------------------------------

BLAS_DTYPES = ("float32", "float64")


def _blas_operand(name: str, index: int, value: Any, ndim: int, dtype: str | None) -> Any:
    v = as_tensor_variable(value)
    if v.ndim != ndim:
        raise TypeError(f"{name}: input {index} ({v}) is {v.ndim}-d, expected {ndim}-d")
    if v.dtype not in BLAS_DTYPES or (dtype is not None and v.dtype != dtype):
        want = dtype or " or ".join(BLAS_DTYPES)
        raise TypeError(f"{name}: input {index} ({v}) has dtype {v.dtype}, expected {want}")
    return v


def _blas_scalar(name: str, index: int, value: Any, dtype: str) -> Any:
    """A 0-d scale factor in ``dtype``: constants are converted now, variables cast."""
    v = as_tensor_variable(value)
    if v.ndim != 0 or np.dtype(v.dtype).kind not in "biuf":
        raise TypeError(f"{name}: input {index} ({v}) must be a 0-d number, got {v.type}")
    if v.dtype == dtype:
        return v
    if isinstance(v, Constant):
        return constant(np.asarray(v.data).astype(dtype))
    return elemwise.cast(v, dtype)


def _accumulated_shape(name: str, z: Any, product: tuple[int | None, ...],
                       inplace: bool) -> tuple[int | None, ...]:
    """Static output shape: the product's, with ``z`` broadcast to it (Theano's rule)."""
    out = []
    for axis, (zs, ps) in enumerate(zip(z.type.shape, product)):
        if zs == 1 and ps != 1:
            if inplace:
                raise TypeError(f"{name}: input 0 ({z}) is broadcast on axis {axis} and cannot "
                                f"be overwritten by the result")
            out.append(ps)
        elif zs is not None and ps is not None and zs != ps:
            raise ValueError(f"{name}: the accumulator of static shape {z.type.shape} does not "
                             f"match the product's shape {product}")
        else:
            out.append(ps if ps is not None else zs)
    return tuple(out)


def _check_accumulator(op: Op, node: Apply, z: np.ndarray, shape: tuple[int, ...]) -> None:
    static = node.inputs[0].type.shape
    for axis, (zs, size) in enumerate(zip(z.shape, shape)):
        if zs != size and static[axis] != 1:
            raise ValueError(f"{op}: the accumulator (input 0) has shape {z.shape}, the product "
                             f"has shape {shape}; they differ on axis {axis}")


def _store(op: Any, result: np.ndarray, z: np.ndarray, shape: tuple[int, ...], dtype: str,
           output_storage: list[list[Any]]) -> None:
    result = np.asarray(result, dtype=dtype)
    if result.shape != tuple(shape):
        result = np.broadcast_to(result, shape).copy()
    if op.inplace and isinstance(z, np.ndarray) and z.shape == result.shape and \
            z.dtype == result.dtype:
        z[...] = result
        result = z
    output_storage[0][0] = result


class _ScaledProduct(Op):
    """``beta * z + alpha * (a @ b)``: what ``Gemm`` and ``Gemv`` share (see ``Gemm``)."""

    abstract = True
    __props__ = ("inplace",)
    b_ndim = 2

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{'inplace' if self.inplace else 'no_inplace'}}}"

    def product_shape(self, a: Any, b: Any) -> tuple:
        return (a[0],) + tuple(b[1:])

    def make_node(self, z: Any, alpha: Any, a: Any, b: Any, beta: Any) -> Apply:
        name = type(self).__name__
        a = _blas_operand(name, 2, a, 2, None)
        b = _blas_operand(name, 3, b, self.b_ndim, a.dtype)
        z = _blas_operand(name, 0, z, self.b_ndim, a.dtype)
        alpha = _blas_scalar(name, 1, alpha, a.dtype)
        beta = _blas_scalar(name, 4, beta, a.dtype)
        _check_static_contraction(name, a.type.shape[1], b.type.shape[0],
                                  f"for shapes {a.type.shape} and {b.type.shape}")
        product = self.product_shape(a.type.shape, b.type.shape)
        shape = _accumulated_shape(name, z, product, self.inplace)
        return Apply(self, [z, alpha, a, b, beta], [TensorType(a.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        z, alpha, a, b, beta = inputs
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"{self}: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{a.shape[1]} != {b.shape[0]}")
        shape = self.product_shape(a.shape, b.shape)
        _check_accumulator(self, node, z, shape)
        dtype = node.outputs[0].dtype
        alpha, beta = float(alpha), float(beta)
        result = np.dot(a, b) * alpha if alpha != 0 else np.zeros(shape, dtype=dtype)
        if beta != 0:
            result = result + beta * z
        _store(self, result, z, shape, dtype, output_storage)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [self.product_shape(input_shapes[2], input_shapes[3])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        z, alpha, a, b, beta = inputs
        (g,) = output_grads
        product = dot(a, b)
        g_a, g_b = Dot().L_op([a, b], [product], [g])
        return [sum_to(beta * g, z), reduce.sum(g * product), alpha * g_a, alpha * g_b,
                reduce.sum(g * z)]


class Gemm(_ScaledProduct):
    """BLAS ``xGEMM``: ``beta * z + alpha * (x @ y)`` for matrices.

    Made by the specialize phase from ``dot``/``matmul`` of matrices and the scalings and
    additions around them; a backend maps it onto one BLAS call (transposed operands arrive
    as ``DimShuffle`` views, which become BLAS transpose flags).

    Parameters
    ----------
    inplace : bool
        Overwrite ``z`` with the result (``destroy_map = {0: [0]}``); set by the inplace
        phase only.

    Inputs: ``z`` (m, n) or broadcastable to it along static length-1 axes, ``alpha`` (),
    ``x`` (m, k), ``y`` (k, n), ``beta`` (). ``z``, ``x`` and ``y`` share one dtype, float32
    or float64; the scale factors are converted to it. Output: (m, n), that dtype.

    Raises
    ------
    TypeError
        Naming the input: a wrong rank or dtype, a scale factor that is not a 0-d number, or
        a broadcast ``z`` with ``inplace=True``.
    ValueError
        Contracted dimensions or ``z``'s dimensions that differ (at build time when static,
        else at run time).

    Notes
    -----
    As in BLAS, ``z`` is not read when ``beta == 0`` and ``x``, ``y`` are not read when
    ``alpha == 0``, so NaNs there do not propagate. Gradients: ``beta * g`` for ``z``
    (summed over its broadcast axes), ``alpha * g @ y.T``, ``alpha * x.T @ g``,
    ``sum(g * (x @ y))`` for ``alpha`` and ``sum(g * z)`` for ``beta``.
    """

    abstract = False


class Gemv(_ScaledProduct):
    """BLAS ``xGEMV``: ``beta * z + alpha * (a @ x)`` for a matrix ``a`` and a vector ``x``.

    Inputs: ``z`` (m,) or (1,), ``alpha`` (), ``a`` (m, n), ``x`` (n,), ``beta`` (); float32
    or float64. Output: (m,). A vector on the left, ``x @ a``, is ``Gemv`` of ``a.T``.
    Parameters, errors and BLAS conventions as for ``Gemm``.
    """

    abstract = False
    b_ndim = 1


class Ger(Op):
    """BLAS ``xGER``: ``a + alpha * outer(x, y)``, the rank-1 update of a matrix.

    Inputs: ``a`` (m, n) or broadcastable to it, ``alpha`` (), ``x`` (m,), ``y`` (n,);
    float32 or float64. Output: (m, n). With ``inplace=True`` the result overwrites ``a``
    (``destroy_map = {0: [0]}``). Made by the specialize phase from ``a + c * outer(x, y)``.
    Errors as for ``Gemm``; ``x`` and ``y`` are not read when ``alpha == 0``.
    """

    __props__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self) -> str:
        return f"Ger{{{'inplace' if self.inplace else 'no_inplace'}}}"

    def make_node(self, a: Any, alpha: Any, x: Any, y: Any) -> Apply:
        x = _blas_operand("Ger", 2, x, 1, None)
        y = _blas_operand("Ger", 3, y, 1, x.dtype)
        a = _blas_operand("Ger", 0, a, 2, x.dtype)
        alpha = _blas_scalar("Ger", 1, alpha, x.dtype)
        shape = _accumulated_shape("Ger", a, (x.type.shape[0], y.type.shape[0]), self.inplace)
        return Apply(self, [a, alpha, x, y], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        a, alpha, x, y = inputs
        shape = (x.shape[0], y.shape[0])
        _check_accumulator(self, node, a, shape)
        alpha = float(alpha)
        update = np.multiply.outer(x, y) * alpha if alpha != 0 else 0
        _store(self, a + update, a, shape, node.outputs[0].dtype, output_storage)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Sequence[Any]]) -> list:
        return [(input_shapes[2][0], input_shapes[3][0])]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        a, alpha, x, y = inputs
        (g,) = output_grads
        return [sum_to(g, a), dot(x, dot(g, y)), alpha * dot(g, y),
                alpha * dot(swap_last_axes(g), x)]


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------

def dot(a: Any, b: Any) -> Any:
    """Dot product with ``numpy.dot`` semantics.

    - 0-d operand: the elementwise product ``a * b``;
    - 1-d and 2-d operands: inner product, matrix-vector or matrix-matrix product (``Dot``);
    - higher ranks: sum over the last axis of ``a`` and the second-to-last axis of ``b`` (its
      only axis when ``b`` is 1-d), i.e. ``tensordot(a, b, ([-1], [-2]))``.

    Parameters
    ----------
    a : (..., n) tensor of bool, integer or float dtype
    b : (n,) or (..., n, p) tensor

    Returns
    -------
    tensor of shape ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]`` and of the NumPy-promoted
    dtype of ``a`` and ``b`` (integer products stay integers; bool products are logical).

    Raises
    ------
    TypeError
        For an operand that is not a tensor or has an unsupported dtype.
    ValueError
        When the contracted dimensions differ: at build time if both are known statically,
        otherwise when the function runs (naming the node and where it was built).

    Notes
    -----
    Differentiable in float dtypes: ``d(A·B) = dA·B + A·dB``, so ``gA = gz·Bᵀ``, ``gB = Aᵀ·gz``.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> a, v = sg.dmatrix("a"), sg.dvector("v")
    >>> f = sg.function([a, v], sg.dot(a, v), mode="py")
    >>> f(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0]))
    array([3., 7.])
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return _multiply(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [max(b.ndim - 2, 0)]))


def matmul(a: Any, b: Any) -> Any:
    """Matrix product with ``numpy.matmul`` semantics (the ``@`` operator).

    Operands of rank >= 3 are stacks of matrices over leading batch dimensions, which
    broadcast against each other with Theano's rule (only static length-1 or missing
    dimensions broadcast). A 1-d ``a`` is a row vector and a 1-d ``b`` a column vector; the
    added dimension is dropped from the result.

    Parameters
    ----------
    a : (..., n, k) or (k,) tensor of bool, integer or float dtype
    b : (..., k, p) or (k,) tensor

    Returns
    -------
    tensor of shape ``broadcast(a.batch, b.batch) + (n,) + (p,)`` (without ``n`` or ``p`` for
    1-d operands), of the NumPy-promoted dtype.

    Raises
    ------
    TypeError
        When an operand is 0-d (NumPy raises ``ValueError`` there) or has an unsupported dtype.
    ValueError
        When the contracted dimensions differ or batch dimensions do not broadcast: at build
        time if known statically, otherwise when the function runs.

    Notes
    -----
    ``gA = gz @ Bᵀ`` and ``gB = Aᵀ @ gz``, each summed over the batch dimensions along which
    its operand was broadcast.

    Examples
    --------
    >>> import symgraph as sg
    >>> a = sg.tensor("a", shape=(5, 1, 2, 3))
    >>> b = sg.tensor("b", shape=(4, 3, 6))
    >>> (a @ b).type.shape
    (5, 4, 2, 6)
    """
    return Matmul()(a, b)


def outer(a: Any, b: Any) -> Any:
    """Outer product ``out[i, j] = a.ravel()[i] * b.ravel()[j]`` (``numpy.outer``).

    Parameters
    ----------
    a, b : tensors of any rank (flattened first)

    Returns
    -------
    (a.size, b.size) tensor of the promoted dtype (bool for two bool operands, as in NumPy).

    Raises
    ------
    TypeError
        For an operand that is not a tensor.

    Examples
    --------
    >>> import numpy as np, symgraph as sg
    >>> x, y = sg.dvectors("x y")
    >>> sg.function([x, y], sg.outer(x, y), mode="py")(np.array([1.0, 2.0]), np.array([3.0]))
    array([[3.],
           [6.]])
    """
    a, b = (_as_vector(as_tensor_variable(v)) for v in (a, b))
    return _multiply(elemwise.dimshuffle(a, (0, "x")), elemwise.dimshuffle(b, ("x", 0)))


def _as_vector(x: Any) -> Any:
    if x.ndim == 0:
        return elemwise.dimshuffle(x, ("x",))
    if x.ndim == 1:
        return x
    return shape.flatten(x, 1)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum of products over chosen axes of ``a`` and ``b`` (``numpy.tensordot``).

    Parameters
    ----------
    a, b : tensors of bool, integer or float dtype
    axes : int or (sequence of int, sequence of int)
        An int ``N`` pairs the last ``N`` axes of ``a`` with the first ``N`` of ``b``, in
        order; a pair ``(axes_a, axes_b)`` (ints or equal-length sequences, negative values
        counting from the end) pairs ``axes_a[i]`` with ``axes_b[i]``.

    Returns
    -------
    tensor with the axes of ``a`` not summed over, then those of ``b``, of the promoted dtype.

    Raises
    ------
    ValueError
        For axes out of range, repeated, or not pairing up, and for paired dimensions of
        different lengths (at build time when known statically, otherwise at run time).
    TypeError
        For an operand that is not a tensor or has an unsupported dtype.

    Examples
    --------
    >>> import symgraph as sg
    >>> a, b = sg.tensor("a", shape=(2, 3, 4)), sg.tensor("b", shape=(4, 3, 5))
    >>> sg.tensordot(a, b, axes=([1, 2], [1, 0])).type.shape
    (2, 5)
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    axes_a, axes_b = _normalize_tensordot_axes(axes, a.ndim, b.ndim)
    if a.ndim in (1, 2) and b.ndim in (1, 2) and axes_a == (a.ndim - 1,) and axes_b == (0,):
        return Dot()(a, b)
    return TensorDot(axes_a, axes_b)(a, b)


def _normalize_tensordot_axes(axes: Any, a_ndim: int, b_ndim: int
                              ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(a_ndim, b_ndim):
            raise ValueError(f"tensordot: axes={n} needs 0 <= axes <= min(a.ndim, b.ndim) = "
                             f"{min(a_ndim, b_ndim)}")
        return tuple(range(a_ndim - n, a_ndim)), tuple(range(n))
    try:
        first, second = axes
    except (TypeError, ValueError) as err:
        raise ValueError(f"tensordot: axes must be an int or a pair of sequences, got "
                         f"{axes!r}") from err
    pair = []
    for name, group, ndim in (("a", first, a_ndim), ("b", second, b_ndim)):
        group = [group] if isinstance(group, (int, np.integer)) else list(group)
        normalized = []
        for x in group:
            if not -ndim <= int(x) < ndim:
                raise ValueError(f"tensordot: axis {x} is out of range for {name}, which is "
                                 f"{ndim}-d")
            normalized.append(int(x) % ndim)
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"tensordot: repeated axis in {group} for {name}")
        pair.append(tuple(normalized))
    if len(pair[0]) != len(pair[1]):
        raise ValueError(f"tensordot: {len(pair[0])} axes of a against {len(pair[1])} axes of "
                         f"b; they must pair up")
    return pair[0], pair[1]


def batched_dot(a: Any, b: Any) -> Any:
    """Dot products along a shared leading batch dimension (Theano's ``batched_dot``).

    For each ``i``: ``out[i] = dot(a[i], b[i])``. The cases are
    ``(B, n, m)·(B, m, p) -> (B, n, p)``, ``(B, n, m)·(B, m) -> (B, n)``,
    ``(B, m)·(B, m, p) -> (B, p)``, ``(B, n)·(B, n) -> (B,)``; a 1-d operand ``(B,)`` scales
    each batch entry of the other. For ranks above 3, the last axis of ``a`` is summed against
    the second-to-last axis of ``b`` (its last axis when ``b`` is 2-d); the result has the
    batch axis, then ``a``'s other axes, then ``b``'s.

    Parameters
    ----------
    a : (B, ...) tensor
    b : (B, ...) tensor

    Returns
    -------
    (B, ...) tensor of the promoted dtype.

    Raises
    ------
    TypeError
        When an operand is 0-d (it has no batch dimension), or has an unsupported dtype.
    ValueError
        When batch sizes or contracted dimensions differ (at build time when known statically,
        otherwise at run time).

    Examples
    --------
    >>> import symgraph as sg
    >>> a, b = sg.tensor("a", shape=(8, 2, 3)), sg.tensor("b", shape=(8, 3))
    >>> sg.batched_dot(a, b).type.shape
    (8, 2)
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    for i, v in enumerate((a, b)):
        if v.ndim == 0:
            raise TypeError(f"batched_dot: input {i} ({v}) is 0-d; both operands need a leading "
                            f"batch dimension")
    if a.ndim == 1:
        return _multiply(elemwise.dimshuffle(a, (0,) + ("x",) * (b.ndim - 1)), b)
    if b.ndim == 1:
        return _multiply(a, elemwise.dimshuffle(b, (0,) + ("x",) * (a.ndim - 1)))
    return _batched_matmul(a, b)


def _batched_matmul(a: Any, b: Any) -> Any:
    """``batched_dot`` for operands of rank >= 2, as one broadcast ``Matmul``."""
    n_free_a, n_pre_b = a.ndim - 2, max(b.ndim - 3, 0)
    b_is_vector = b.ndim == 2
    # With no extra axes in b, a's last free axis can be the matrix row axis; otherwise every
    # free axis is a batch axis and each product is a row vector times a matrix.
    use_rows = n_pre_b == 0 and n_free_a >= 1
    free_a = tuple(range(1, 1 + n_free_a))
    row = () if use_rows else ("x",)
    x = elemwise.dimshuffle(a, (0,) + free_a + ("x",) * n_pre_b + row + (a.ndim - 1,))
    pad_a = ("x",) * (n_free_a - 1 if use_rows else n_free_a)
    core_b = (1, "x") if b_is_vector else (b.ndim - 2, b.ndim - 1)
    y = elemwise.dimshuffle(b, (0,) + pad_a + tuple(range(1, 1 + n_pre_b)) + core_b)
    out = matmul(x, y)
    keep = list(range(out.ndim))
    if b_is_vector:
        keep.pop()
    if not use_rows:
        keep.remove(out.ndim - 2)
    return elemwise.dimshuffle(out, tuple(keep))
