"""Theano's ``theano.gradient``: ``grad``, ``jacobian``, ``hessian``, ``Lop``, ``Rop``,
``verify_grad``, and the ops that only change a gradient (``disconnected_grad``,
``zero_grad``, ``grad_clip``, ``grad_scale``, ``undefined_grad``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symgraph.derivatives import hessian, jacobian
from symgraph.gradcheck import GradientError, verify_grad
from symgraph.grad import (
    DisconnectedInputError,
    DisconnectedType,
    IdentityMarker,
    Lop,
    Rop,
    disconnected_grad,
    grad,
    hessian_vector_product,
    stop_gradient,
)
from symgraph.ops import elemwise

__all__ = ["DisconnectedInputError", "DisconnectedType", "GradientError", "GradientOverride",
           "Lop", "NullTypeGradError", "Rop", "consider_constant", "disconnected_grad",
           "grad", "grad_clip", "grad_scale", "hessian", "hessian_vector_product", "jacobian",
           "stop_gradient", "undefined_grad", "verify_grad", "zero_grad"]


class NullTypeGradError(TypeError):
    """A gradient was asked through ``undefined_grad``."""


class GradientOverride(IdentityMarker):
    """``x`` itself in the forward pass; its gradient is changed by ``kind``.

    ``'zero'``: zeros (``zero_grad``, ``consider_constant``); ``'clip'``: the output gradient
    clipped to ``[low, high]``; ``'scale'``: multiplied by ``factor``; ``'undefined'``: asking
    for it raises ``NullTypeGradError``. Compiling removes the op: it changes gradients only.
    """

    __props__ = ("kind", "low", "high", "factor")

    def __init__(self, kind: str, low: float = 0.0, high: float = 0.0,
                 factor: float = 1.0) -> None:
        if kind not in ("zero", "clip", "scale", "undefined"):
            raise ValueError(f"GradientOverride: unknown kind {kind!r}")
        self.kind = kind
        self.low, self.high, self.factor = float(low), float(high), float(factor)

    def __str__(self) -> str:
        return {"zero": "ZeroGrad", "clip": f"GradClip{{{self.low}, {self.high}}}",
                "scale": f"GradScale{{{self.factor}}}", "undefined": "UndefinedGrad"}[self.kind]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        (g,) = output_grads
        if self.kind == "zero":
            return [elemwise.zeros_like(g)]
        if self.kind == "clip":
            return [elemwise.clip(g, self.low, self.high)]
        if self.kind == "scale":
            return [g * self.factor]
        raise NullTypeGradError(f"the gradient through undefined_grad({inputs[0]}) is undefined")

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [eval_points[0]]


def zero_grad(x: Any) -> Any:
    """``x`` in the forward pass; its gradient is zero (still connected, unlike
    ``disconnected_grad``)."""
    return GradientOverride("zero")(x)


def consider_constant(x: Any) -> Any:
    """Theano's older ``zero_grad``."""
    return zero_grad(x)


def grad_clip(x: Any, lower_bound: float, upper_bound: float) -> Any:
    """``x`` in the forward pass; the gradient through it is clipped to
    ``[lower_bound, upper_bound]``.

    Raises
    ------
    ValueError
        If ``lower_bound > upper_bound``.
    """
    if lower_bound > upper_bound:
        raise ValueError(f"grad_clip: lower_bound {lower_bound} > upper_bound {upper_bound}")
    return GradientOverride("clip", low=lower_bound, high=upper_bound)(x)


def grad_scale(x: Any, multiplier: float) -> Any:
    """``x`` in the forward pass; the gradient through it is multiplied by ``multiplier``."""
    return GradientOverride("scale", factor=multiplier)(x)


def undefined_grad(x: Any) -> Any:
    """``x`` in the forward pass; asking for a gradient through it raises
    ``NullTypeGradError``."""
    return GradientOverride("undefined")(x)
