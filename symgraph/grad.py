"""Symbolic differentiation: ``grad``, ``Lop``, ``Rop``, ``jacobian``, ``hessian``.

Gradients are graphs built from existing ops by walking the graph backwards and calling each
op's ``L_op`` (or Theano's ``grad``), so they compile, rewrite and can be differentiated again.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable, clone_replace, gc_paused, toposort
from symgraph.op import Op
from symgraph.ops import elemwise, reduce
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType


class DisconnectedInputError(ValueError):
    """The cost does not depend on a variable its gradient was asked for."""


class DisconnectedType(TensorType):
    """Type of the marker returned for disconnected inputs with ``return_disconnected=
    'disconnected'``."""

    def __repr__(self) -> str:
        return "DisconnectedType"


class IdentityMarker(Op):
    """Base of the ops that are their input itself when the graph runs and only change its
    gradient or its type (``disconnected_grad``, ``zero_grad``, ``unbroadcast``, ...): the
    canonicalize phase removes them where the input's type can stand for the output's, and
    compiled backends run the others as views."""

    view_map = {0: [0]}

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        output_storage[0][0] = inputs[0]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])]


class DisconnectedGrad(IdentityMarker):
    """Identity in the forward pass; blocks the gradient (``disconnected_grad``)."""

    __props__ = ()

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        return [None]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        return [None]


def disconnected_grad(x: Any) -> Any:
    """``x`` in the forward pass; no gradient flows through it (``stop_gradient`` in JAX)."""
    return DisconnectedGrad()(x)


stop_gradient = disconnected_grad


# ---------------------------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------------------------

def as_list_and_flag(x: Any) -> tuple[list[Any], bool]:
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def _depends_on(order: Sequence[Apply], sources: set[Variable],
                blocked: set[Variable]) -> set[Variable]:
    """Variables computed (in ``order``) from any of ``sources``, not through ``blocked``."""
    reached = {s for s in sources if s not in blocked}
    for node in order:
        if any(i in reached for i in node.inputs):
            reached.update(o for o in node.outputs if o not in blocked)
    return reached


def sum_terms(terms: list[Any]) -> Any:
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else elemwise.add(*terms)


def _call_L_op(node: Apply, output_grads: list[Any],
               wanted: Sequence[int] | None = None) -> list[Any]:
    op = node.op
    if wanted is not None and type(op) is elemwise.Elemwise:
        grads = op.input_grads(node.inputs, node.outputs, output_grads, wanted)
    elif hasattr(op, "L_op"):
        grads = op.L_op(node.inputs, node.outputs, output_grads)
    elif hasattr(op, "grad"):
        grads = op.grad(node.inputs, output_grads)
    else:
        raise NotImplementedError(
            f"{op} ({type(op).__name__}) has no gradient: define grad(inputs, output_grads) or "
            f"L_op(inputs, outputs, output_grads) on the op"
        )
    grads = list(grads)
    if len(grads) != len(node.inputs):
        raise ValueError(f"{op}.grad returned {len(grads)} gradients for {len(node.inputs)} "
                         f"inputs")
    return grads


def _check_term(node: Apply, index: int, term: Any) -> Any:
    inp = node.inputs[index]
    term = as_tensor_variable(term)
    if term.ndim != inp.ndim:
        raise TypeError(f"{node.op}: the gradient for input {index} has {term.ndim} dimensions, "
                        f"the input has {inp.ndim}")
    if term.dtype != inp.dtype and dt.is_float(inp.dtype):
        term = elemwise.cast(term, inp.dtype)
    return term


def _backpropagate(outputs_with_grads: list[tuple[Variable, Variable]], wrt: list[Variable],
                   consider_constant: Sequence[Variable]) -> dict[Variable, Any]:
    """Map every variable between ``wrt`` and the outputs to its summed gradient."""
    blocked = set(consider_constant or ())
    order = toposort([o for o, _ in outputs_with_grads])
    on_path = _depends_on(order, set(wrt), blocked)
    terms: dict[Variable, list[Any]] = {}
    for out, g in outputs_with_grads:
        terms.setdefault(out, []).append(g)
    for node in reversed(order):
        if not any(o in terms for o in node.outputs):
            continue
        wanted = [i for i, inp in enumerate(node.inputs) if inp in on_path and
                  inp not in blocked]
        if not wanted:
            continue
        output_grads = []
        for out in node.outputs:
            g = sum_terms(terms.get(out, []))
            if g is None and isinstance(out.type, TensorType) and dt.is_float(out.dtype):
                g = elemwise.zeros_like(out)
            output_grads.append(g)
        input_grads = _call_L_op(node, output_grads, wanted)
        for i in wanted:
            term = input_grads[i]
            if term is None or isinstance(getattr(term, "type", None), DisconnectedType):
                continue
            terms.setdefault(node.inputs[i], []).append(_check_term(node, i, term))
    return {var: sum_terms(ts) for var, ts in terms.items()}


def grad(cost: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", known_grads: Mapping[Variable, Any] | None = None,
         return_disconnected: str = "zero") -> Any:
    """Gradient of a scalar ``cost`` with respect to ``wrt``, as symbolic expressions.

    Parameters
    ----------
    cost : 0-d float Variable, or None when ``known_grads`` is given
    wrt : Variable or list of Variables
        Each gradient has the shape and dtype of its variable. Integer and boolean variables
        get zeros of ``config.floatX`` (they are not differentiable, as in Theano).
    consider_constant : list of Variable
        Variables treated as constants: no gradient flows through them.
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when the cost does not depend on an element of ``wrt``.
    known_grads : dict
        Gradients already known for intermediate variables (backpropagated from there).
    return_disconnected : {'zero', 'none', 'disconnected'}
        What to return for a disconnected variable: zeros, ``None``, or a DisconnectedType
        marker variable.

    Returns
    -------
    Variable or list of Variable, matching ``wrt``.

    Raises
    ------
    TypeError
        If ``cost`` is not a 0-d float tensor.
    DisconnectedInputError
        With ``disconnected_inputs='raise'`` for a variable the cost does not depend on.
    NotImplementedError
        Naming the op, when an op on the path has no gradient.
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore'")
    if return_disconnected not in ("zero", "none", "disconnected"):
        raise ValueError("return_disconnected must be 'zero', 'none' or 'disconnected'")
    wrt_list, as_list = as_list_and_flag(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt element {w!r} is not a Variable")
    seeds: list[tuple[Variable, Variable]] = []
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar (0-d), got a {cost.ndim}-d "
                            f"{cost.type}; sum it or use jacobian/Lop")
        if not dt.is_float(cost.dtype):
            raise TypeError(f"grad: the cost must be a float, got {cost.dtype}")
        seeds.append((cost, elemwise.ones_like(cost)))
    for var, g in (known_grads or {}).items():
        g = as_tensor_variable(g)
        if g.ndim != var.ndim:  # type: ignore[attr-defined]
            raise TypeError(f"grad: known gradient of {var} has {g.ndim} dimensions, "
                            f"expected {var.ndim}")  # type: ignore[attr-defined]
        seeds.append((var, g))
    if not seeds:
        raise TypeError("grad: give a cost, or known_grads")
    with gc_paused():
        grads = _backpropagate(seeds, wrt_list, consider_constant or ())
    results = []
    for w in wrt_list:
        g = grads.get(w)
        if not dt.is_float(w.dtype):  # type: ignore[attr-defined]
            from symgraph.config import config

            results.append(elemwise.zeros_like(w, dtype=config.floatX))
            continue
        if g is None:
            g = _disconnected(w, disconnected_inputs, return_disconnected)
        results.append(g)
    return results if as_list else results[0]


def _disconnected(w: Variable, policy: str, returned: str) -> Any:
    message = (f"grad: the cost does not depend on {w} (or only through non-differentiable or "
               f"stopped paths); pass disconnected_inputs='ignore' or 'warn' to allow this")
    if policy == "raise":
        raise DisconnectedInputError(message)
    if policy == "warn":
        warnings.warn(message, stacklevel=3)
    if returned == "zero":
        return elemwise.zeros_like(w)
    if returned == "none":
        return None
    return DisconnectedType(w.type.dtype, w.type.shape).make_variable()  # type: ignore


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant: Sequence[Variable] | None = None,
        disconnected_inputs: str = "raise") -> Any:
    """Vector-Jacobian product ``eval_pointsᵀ · ∂f/∂wrt`` (reverse mode).

    ``f`` and ``eval_points`` are matching Variables or lists; the result matches ``wrt``.
    """
    f_list, _ = as_list_and_flag(f)
    v_list, _ = as_list_and_flag(eval_points)
    if len(f_list) != len(v_list):
        raise ValueError("Lop: f and eval_points must have the same length")
    known = {fi: as_tensor_variable(vi) for fi, vi in zip(f_list, v_list)}
    return grad(None, wrt, consider_constant=consider_constant, known_grads=known,
                disconnected_inputs=disconnected_inputs)


def Rop(f: Any, wrt: Any, eval_points: Any) -> Any:
    """Jacobian-vector product ``∂f/∂wrt · eval_points`` (forward mode).

    Ops defining ``R_op(inputs, eval_points)`` propagate tangents forwards; for an op without
    one, its tangent is computed from its ``L_op`` by differentiating the (linear) vector-
    Jacobian product with respect to the vector — exact, never an approximation.
    """
    f_list, f_is_list = as_list_and_flag(f)
    wrt_list, _ = as_list_and_flag(wrt)
    v_list, _ = as_list_and_flag(eval_points)
    if len(wrt_list) != len(v_list):
        raise ValueError("Rop: wrt and eval_points must have the same length")
    tangents: dict[Variable, Any] = {}
    for w, v in zip(wrt_list, v_list):
        v = as_tensor_variable(v)
        if v.ndim != w.ndim:  # type: ignore[attr-defined]
            raise TypeError(f"Rop: eval point for {w} has {v.ndim} dimensions, expected "
                            f"{w.ndim}")  # type: ignore[attr-defined]
        tangents[w] = v
    for node in toposort(f_list):
        points = [tangents.get(i) for i in node.inputs]
        if all(p is None for p in points):
            continue
        out_tangents = _node_R_op(node, points)
        for out, t in zip(node.outputs, out_tangents):
            if t is not None:
                tangents[out] = t
    results = []
    for fi in f_list:
        t = tangents.get(fi)
        results.append(elemwise.zeros_like(fi) if t is None else t)
    return results if f_is_list else results[0]


def _node_R_op(node: Apply, points: list[Any]) -> list[Any]:
    op = node.op
    if hasattr(op, "R_op"):
        try:
            return list(op.R_op(node.inputs, points))
        except NotImplementedError:
            pass
    # Fallback: u ↦ L_op(u) = Jᵀu is linear, so ∂(Jᵀu · v)/∂u = J v.
    dummies = [o.type.make_variable(f"u{i}") for i, o in enumerate(node.outputs)]
    input_grads = _call_L_op(node, dummies)
    pairs = [(g, p) for g, p in zip(input_grads, points) if g is not None and p is not None]
    if not pairs:
        return [None] * len(node.outputs)
    inner = sum_terms([reduce.sum(g * p) for g, p in pairs])
    results = grad(inner, dummies, disconnected_inputs="ignore", return_disconnected="none")
    zeros = {d: elemwise.zeros_like(o) for d, o in zip(dummies, node.outputs)}
    return [None if r is None else clone_replace([r], zeros)[0] for r in results]


def hessian_vector_product(cost: Any, wrt: Any, vector: Any) -> Any:
    """``H · vector`` without forming H: the gradient of ``grad(cost, wrt) · vector``."""
    g = grad(cost, wrt)
    return grad(reduce.sum(g * vector), wrt)
