"""Lazy conditional: ``ifelse(cond, then, else)`` evaluates only the branch taken.

The ``IfElse`` op is ``lazy``: the linker asks it which inputs it needs, condition first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply, Variable, equal_computations
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.type import TensorType

__all__ = ["ifelse"]


class IfElse(Op):
    """Choose between two lists of ``n_outs`` tensors on a scalar condition, lazily.

    Inputs are ``[condition, *then_values, *else_values]``; output ``i`` is ``then_values[i]``
    when the condition is nonzero, else ``else_values[i]``. Only the chosen branch is computed
    (see ``needed_inputs``); the values of the other branch reach ``perform`` as None.
    Outputs are the chosen inputs themselves, not copies (``view_map``). Theano's ``IfElse``.

    Parameters
    ----------
    n_outs : int
        Number of outputs (pairs of branch values).

    Raises
    ------
    TypeError
        From ``make_node``: a condition that is not a 0-d numeric or bool tensor, a wrong
        number of inputs, or branch values of different dtype or rank at some position.

    Notes
    -----
    Gradient: the condition gets none; the then-values get the output gradient when the
    condition holds and zeros otherwise, the else-values the reverse. The gradient graph
    needs the forward values of both branches.
    """

    __props__ = ("n_outs",)
    lazy = True

    def __init__(self, n_outs: int) -> None:
        self.n_outs = int(n_outs)
        if self.n_outs < 1:
            raise ValueError(f"IfElse needs at least one output, got n_outs={n_outs}")
        self.view_map = {i: [1 + i, 1 + self.n_outs + i] for i in range(self.n_outs)}

    def make_node(self, condition: Any, *values: Any) -> Apply:
        if len(values) != 2 * self.n_outs:
            raise TypeError(f"{self}: expected a condition and {2 * self.n_outs} branch values, "
                            f"got {len(values)} branch values")
        cond = _as_condition(condition)
        then_values = [as_tensor_variable(v) for v in values[:self.n_outs]]
        else_values = [as_tensor_variable(v) for v in values[self.n_outs:]]
        outputs = []
        for i, (t, e) in enumerate(zip(then_values, else_values)):
            _check_pair(i, t, e)
            static = tuple(a if a == b else None for a, b in zip(t.type.shape, e.type.shape))
            outputs.append(TensorType(t.dtype, static).make_variable())
        return Apply(self, [cond, *then_values, *else_values], outputs)

    def needed_inputs(self, node: Apply, values: dict[int, Any]) -> list[int]:
        if 0 not in values:
            return [0]
        chosen = self._branch_indices(values[0])
        return [i for i in chosen if i not in values]

    def _branch_indices(self, condition: Any) -> range:
        if _is_true(condition):
            return range(1, 1 + self.n_outs)
        return range(1 + self.n_outs, 1 + 2 * self.n_outs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        for cell, index in zip(output_storage, self._branch_indices(inputs[0])):
            cell[0] = inputs[index]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        cond = node.inputs[0]
        then_shapes = input_shapes[1:1 + self.n_outs]
        else_shapes = input_shapes[1 + self.n_outs:]
        result = []
        for out, t_shape, e_shape in zip(node.outputs, then_shapes, else_shapes):
            dims = []
            for static, t, e in zip(out.type.shape, t_shape, e_shape):
                if static is not None:
                    dims.append(static)
                elif _same_dimension(t, e):
                    dims.append(t)
                else:
                    dims.append(ifelse(cond, _as_int64(t), _as_int64(e)))
            result.append(tuple(dims))
        return result

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        cond = inputs[0]
        then_values = inputs[1:1 + self.n_outs]
        else_values = inputs[1 + self.n_outs:]
        then_grads: list[Any] = []
        else_grads: list[Any] = []
        for t, e, gz in zip(then_values, else_values, output_grads):
            if gz is None or not dt.is_float(t.dtype):
                then_grads.append(None)
                else_grads.append(None)
                continue
            then_grads.append(ifelse(cond, gz, elemwise.zeros_like(t)))
            else_grads.append(ifelse(cond, elemwise.zeros_like(e), gz))
        return [None, *then_grads, *else_grads]

    def R_op(self, inputs: Sequence[Any], eval_points: Sequence[Any]) -> list[Any]:
        cond = inputs[0]
        then_points = eval_points[1:1 + self.n_outs]
        else_points = eval_points[1 + self.n_outs:]
        results: list[Any] = []
        for i, (tp, ep) in enumerate(zip(then_points, else_points)):
            if tp is None and ep is None:
                results.append(None)
                continue
            t, e = inputs[1 + i], inputs[1 + self.n_outs + i]
            tp = elemwise.zeros_like(t) if tp is None else tp
            ep = elemwise.zeros_like(e) if ep is None else ep
            results.append(ifelse(cond, tp, ep))
        return results


def _is_true(condition: Any) -> bool:
    return bool(np.asarray(condition))


def _as_condition(condition: Any) -> Any:
    cond = as_tensor_variable(condition)
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a 0-d tensor, got {cond} ({cond.type})")
    if np.dtype(cond.dtype).kind not in "biuf":
        raise TypeError(f"ifelse: the condition has dtype {cond.dtype}; give a bool or "
                        f"numeric 0-d tensor")
    return cond


def _check_pair(position: int, then_value: Any, else_value: Any) -> None:
    if then_value.dtype != else_value.dtype or then_value.ndim != else_value.ndim:
        raise TypeError(
            f"ifelse: the branches differ at position {position}: then gives {then_value} "
            f"({then_value.type}), else gives {else_value} ({else_value.type}); they must "
            f"have the same dtype and number of dimensions (cast one with .astype)"
        )


def _same_dimension(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, Variable) and isinstance(b, Variable):
        return equal_computations([a], [b])
    if isinstance(a, Variable) or isinstance(b, Variable):
        return False
    return int(a) == int(b)


def _as_int64(dim: Any) -> Any:
    if isinstance(dim, Variable):
        return elemwise.cast(dim, "int64")
    return constant(int(dim), dtype="int64")


def _is_python_number(x: Any) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic)


def _convert_pair(then_value: Any, else_value: Any) -> tuple[Any, Any]:
    """Tensor variables for one pair; a Python number takes the other branch's dtype."""
    then_number, else_number = _is_python_number(then_value), _is_python_number(else_value)
    if then_number and else_number:
        common = dt.upcast(then_value, else_value)
        return constant(then_value, dtype=common), constant(else_value, dtype=common)
    if then_number:
        else_var = as_tensor_variable(else_value)
        return constant(then_value, dtype=else_var.dtype), else_var
    then_var = as_tensor_variable(then_value)
    if else_number:
        return then_var, constant(else_value, dtype=then_var.dtype)
    return then_var, as_tensor_variable(else_value)


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """``then_branch`` if ``condition`` is nonzero, else ``else_branch``, computing only one.

    Unlike ``switch``, which is elementwise and computes both sides, ``ifelse`` picks whole
    values on a scalar condition and evaluates only the branch taken (Theano's ``ifelse``).

    Parameters
    ----------
    condition : 0-d tensor of any numeric or bool dtype (or a Python number)
        Nonzero means true (NaN is true, as ``bool(numpy.nan)``).
    then_branch, else_branch : tensor or list of tensors
        Branch values; lists must have the same length. Corresponding values must have the
        same dtype and rank; their shapes may differ. A Python number takes the dtype of
        the value it is paired with.
    name : str, optional
        Name of the output (``name[i]`` for list outputs).

    Returns
    -------
    Tensor, or a list of tensors when the branches are lists. An output's static shape keeps
    the dimensions both branches agree on.

    Raises
    ------
    TypeError
        If the condition is not 0-d; if one branch is a list and the other not, or the lists
        differ in length or are empty; if paired values differ in dtype or rank (naming the
        position and both types).

    Examples
    --------
    >>> import symgraph as sg
    >>> a, b = sg.dscalars("a b")
    >>> f = sg.function([a, b], sg.ifelse(sg.lt(a, b), a, b))
    >>> float(f(1.0, 2.0))
    1.0
    """
    then_is_list = isinstance(then_branch, (list, tuple))
    else_is_list = isinstance(else_branch, (list, tuple))
    if then_is_list != else_is_list:
        raise TypeError("ifelse: then_branch and else_branch must both be lists or both be "
                        "single values")
    then_list = list(then_branch) if then_is_list else [then_branch]
    else_list = list(else_branch) if else_is_list else [else_branch]
    if len(then_list) != len(else_list):
        raise TypeError(f"ifelse: then_branch has {len(then_list)} values, else_branch "
                        f"{len(else_list)}; they must match")
    if not then_list:
        raise TypeError("ifelse: the branches are empty lists")
    pairs = [_convert_pair(t, e) for t, e in zip(then_list, else_list)]
    cond = _as_condition(condition)
    node = IfElse(len(pairs)).make_node(cond, *[t for t, _ in pairs], *[e for _, e in pairs])
    outputs = list(node.outputs)
    if name is not None:
        for i, out in enumerate(outputs):
            out.name = f"{name}[{i}]" if then_is_list else name
    return outputs if then_is_list else outputs[0]
