"""The NaN guard (``Mode(nan_guard=True)``, Theano's NanGuardMode): every node's float outputs
checked for NaN and Inf as the function runs, the first offender reported.

The reference schedule checks with NumPy here; the llvm entry point checks in compiled code
(codegen/llvm/nan_check.py) and hands a failing call to the guarded reference schedule, which
raises the error below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgraph.graph import Apply, format_trace

Thunk = Callable[[], None]


def first_nonfinite(value: Any) -> tuple[int, ...] | None:
    """The index of the first NaN or Inf of a float (or complex) array, None if all are
    finite; ``isfinite`` over the whole array first, so finite arrays cost one pass."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc":
        return None
    if value.size == 0 or bool(np.isfinite(value).all()):
        return None
    flat = int(np.flatnonzero(~np.isfinite(value.ravel(order="C")))[0])
    return tuple(int(i) for i in np.unravel_index(flat, value.shape))


def describe_range(value: Any) -> str:
    """``'(32, 10) float64 in [-3.2, 4.1]'``, with the count of NaNs and Infs if any."""
    if not isinstance(value, np.ndarray):
        return repr(value)
    text = f"{tuple(value.shape)} {value.dtype}"
    if value.size == 0 or value.dtype.kind not in "fciub":
        return text
    if value.dtype.kind in "fc":
        finite = value[np.isfinite(value)]
        nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
        if finite.size:
            text += f" in [{finite.real.min():.6g}, {finite.real.max():.6g}]"
        if nan or inf:
            text += f", {nan} NaN, {inf} Inf"
        return text
    return text + f" in [{value.min()}, {value.max()}]"


def nonfinite_error(node: Apply, inputs: Sequence[Any], output: int, value: np.ndarray,
                    index: tuple[int, ...]) -> FloatingPointError:
    """The guard's error: the op the user wrote, what it produced where, its inputs' ranges
    and the user's line."""
    from symgraph.codegen.linker import node_title

    bad = value[index] if index else value[()]
    what = "NaN" if np.isnan(bad) else "Inf"
    lines = [f"NaN guard: {node_title(node)} produced {what} in output {output} at index "
             f"{index} (first of its {int((~np.isfinite(value)).sum())} non-finite values; "
             f"output {describe_range(value)})"]
    for k, x in enumerate(inputs):
        lines.append(f"  input {k}: {describe_range(x)}")
    lines.append(f"  built at {format_trace(node.trace)}")
    err = FloatingPointError("\n".join(lines))
    err.node = node  # type: ignore[attr-defined]
    err.index = index  # type: ignore[attr-defined]
    return err


def check_node(node: Apply, inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
    """Raise ``FloatingPointError`` when an output of ``node`` holds a NaN or an Inf."""
    for k, value in enumerate(outputs):
        index = first_nonfinite(value)
        if index is not None:
            raise nonfinite_error(node, inputs, k, value, index)


def guard_thunk(node: Apply, thunk: Thunk, input_cells: Sequence[list[Any]],
                output_cells: Sequence[list[Any]]) -> Thunk:
    """``thunk``, then a check of ``node``'s outputs."""

    def checked() -> None:
        thunk()
        outputs = [cell[0] for cell in output_cells]
        if any(isinstance(v, np.ndarray) and v.dtype.kind in "fc" for v in outputs):
            check_node(node, [cell[0] for cell in input_cells], outputs)

    return checked
