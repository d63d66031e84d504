"""Shared helpers for rewrite tests: compile with and without rewrites and compare."""

from __future__ import annotations

import numpy as np

import symgraph as sg
from symgraph.ops.composite import Composite
from symgraph.ops.elemwise import Elemwise

RAW = sg.Mode("py", rewrites=False)


def compile_both(inputs, outputs, **kwargs):
    rewritten = sg.function(inputs, outputs, mode="py", on_unused_input="ignore", **kwargs)
    raw = sg.function(inputs, outputs, mode=RAW, on_unused_input="ignore", **kwargs)
    return rewritten, raw


def assert_same_results(inputs, outputs, values, rtol=1e-12, atol=1e-12, **kwargs):
    rewritten, raw = compile_both(inputs, outputs, **kwargs)
    got, want = rewritten(*values), raw(*values)
    if not isinstance(got, list):
        got, want = [got], [want]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    return rewritten


def op_names(function) -> list[str]:
    """Names of the ops that run, with Elemwise rows and Composite contents spelled out."""
    names = []
    for node in function.fgraph.toposort():
        op = node.op
        if isinstance(op, Elemwise):
            names.append(op.scalar_op.name)
        elif isinstance(op, Composite):
            names.append("Composite")
            names.extend(row.name for row, _, _ in op.program.steps)
        else:
            names.append(type(op).__name__)
    return names
