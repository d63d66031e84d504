"""Finite-difference checking of symbolic gradients: ``verify_grad``.

It compiles functions, so it sits beside ``function.py`` (layer L5) rather than in ``grad.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.function import function
from symgraph.grad import as_list_and_flag, sum_terms, grad
from symgraph.ops import reduce
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.type import TensorType


class GradientError(AssertionError):
    """``verify_grad`` found the analytic gradient differs from finite differences."""

    def __init__(self, message: str, analytic: Any = None, numeric: Any = None) -> None:
        super().__init__(message)
        self.analytic = analytic
        self.numeric = numeric


# (eps, abs_tol, rel_tol) per dtype, for central differences.
GRAD_TOLERANCES = {"float64": (1e-6, 1e-5, 1e-5), "float32": (1e-3, 1e-2, 1e-2),
                   "float16": (1e-1, 5e-2, 5e-2)}
_FULL_DIFFERENCE_LIMIT = 600


def verify_grad(fun: Callable[..., Any], pt: Sequence[Any], n_tests: int = 2,
                rng: Any = None, eps: float | None = None, abs_tol: float | None = None,
                rel_tol: float | None = None, mode: Any = "py",
                static_shapes: Sequence[Sequence[int | None]] | None = None) -> None:
    """Check ``grad`` of ``fun`` at ``pt`` against central finite differences.

    The (possibly non-scalar) output of ``fun`` is projected on a random array to make a scalar
    cost; its gradient is compared with finite differences, element by element for small
    inputs and along random directions for large ones.

    Parameters
    ----------
    fun : callable
        Symbolic inputs (one per array of ``pt``) -> Variable or list of Variables.
    pt : list of float arrays
    rng : numpy Generator, RandomState or seed
    static_shapes : list of static shapes, optional
        Static shapes of the symbolic inputs (default: all dimensions unknown), for functions
        whose broadcasting depends on them.
    eps, abs_tol, rel_tol : float
        Defaults from ``GRAD_TOLERANCES`` for the inputs' dtype. An element passes when its
        absolute *or* relative error is within tolerance.

    Raises
    ------
    GradientError
        Showing the analytic and numeric values, the input and the largest errors.
    """
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        None if rng is None or not isinstance(rng, (int, np.integer)) else rng)
    if isinstance(rng, np.random.RandomState):
        generator = np.random.default_rng(rng.randint(2**31))
    points = [np.array(p, dtype=p.dtype if isinstance(p, np.ndarray) and
                       dt.is_float(p.dtype.name) else "float64", copy=True) for p in pt]
    shapes = static_shapes or [(None,) * p.ndim for p in points]
    inputs = [TensorType(p.dtype, s).make_variable(f"input{i}")
              for i, (p, s) in enumerate(zip(points, shapes))]
    outputs, _ = as_list_and_flag(fun(*inputs))
    outputs = [as_tensor_variable(o) for o in outputs]
    # The least precise float dtype among inputs and outputs sets the step and tolerances.
    floats = [p.dtype.name for p in points] + [o.dtype for o in outputs if dt.is_float(o.dtype)]
    narrowest = min(floats, key=lambda d: np.dtype(d).itemsize)
    default_eps, default_abs, default_rel = GRAD_TOLERANCES[narrowest]
    eps = default_eps if eps is None else eps
    abs_tol = default_abs if abs_tol is None else abs_tol
    rel_tol = default_rel if rel_tol is None else rel_tol
    probe = function(inputs, outputs, mode=mode, on_unused_input="ignore")
    values = probe(*points)
    projections = [constant(generator.uniform(0.5, 1.5, size=np.shape(v)).astype(o.dtype))
                   for o, v in zip(outputs, values)]
    cost = sum_terms([reduce.sum(o * p) for o, p in zip(outputs, projections)])
    cost_fn = function(inputs, cost, mode=mode, on_unused_input="ignore")
    grad_fn = function(inputs, grad(cost, inputs, disconnected_inputs="ignore"), mode=mode,
                       on_unused_input="ignore")
    for _ in range(max(1, n_tests if sum(p.size for p in points) > _FULL_DIFFERENCE_LIMIT
                       else 1)):
        analytic = [np.asarray(g, dtype="float64") for g in grad_fn(*points)]
        _compare(points, analytic, cost_fn, eps, abs_tol, rel_tol, generator)


def _compare(points: list[np.ndarray], analytic: list[np.ndarray], cost_fn: Any, eps: float,
             abs_tol: float, rel_tol: float, generator: np.random.Generator) -> None:
    total = sum(p.size for p in points)

    def cost_at(shifted: list[np.ndarray]) -> float:
        return float(cost_fn(*shifted))

    if total <= _FULL_DIFFERENCE_LIMIT:
        for k, point in enumerate(points):
            numeric = np.zeros(point.shape, dtype="float64")
            for index in np.ndindex(*point.shape):
                plus = [p.copy() for p in points]
                minus = [p.copy() for p in points]
                plus[k][index] += eps
                minus[k][index] -= eps
                numeric[index] = (cost_at(plus) - cost_at(minus)) / (2 * eps)
            _assert_close(k, analytic[k], numeric, abs_tol, rel_tol)
    else:
        directions = [generator.standard_normal(p.shape) for p in points]
        plus = [(p + eps * d).astype(p.dtype) for p, d in zip(points, directions)]
        minus = [(p - eps * d).astype(p.dtype) for p, d in zip(points, directions)]
        numeric = np.asarray((cost_at(plus) - cost_at(minus)) / (2 * eps))
        projected = np.asarray(sum(float(np.sum(a * d)) for a, d in zip(analytic, directions)))
        _assert_close(None, projected, numeric, abs_tol * np.sqrt(total), rel_tol)


def _assert_close(index: int | None, analytic: np.ndarray, numeric: np.ndarray,
                  abs_tol: float, rel_tol: float) -> None:
    abs_err = np.abs(analytic - numeric)
    rel_err = abs_err / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-300)
    bad = (abs_err > abs_tol) & (rel_err > rel_tol)
    if not np.any(bad) and np.all(np.isfinite(analytic)):
        return
    where = "a random direction" if index is None else f"input {index}"
    raise GradientError(
        f"verify_grad: analytic and numeric gradients differ for {where}\n"
        f"  max abs error {np.max(abs_err):.3g} (tol {abs_tol:g}), "
        f"max rel error {np.max(rel_err):.3g} (tol {rel_tol:g})\n"
        f"  analytic:\n{np.array2string(np.asarray(analytic), precision=6)}\n"
        f"  numeric:\n{np.array2string(np.asarray(numeric), precision=6)}",
        analytic, numeric,
    )
