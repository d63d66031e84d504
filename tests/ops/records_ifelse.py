"""Records for ``ifelse`` (the ``IfElse`` op): either branch, several outputs, branches of
different shapes, and conditions of bool, integer and float dtype."""

from __future__ import annotations

import numpy as np

import symgraph as sg
from tests.records import F, Given, I, OpRecord

TRUE, FALSE = Given(np.bool_(True)), Given(np.bool_(False))


def _pick(c, then_value, else_value):
    return then_value if c else else_value


RECORDS = [
    OpRecord("ifelse_then", sg.ifelse, [TRUE, F(3, 4), F(3, 4)], _pick, grad_inputs=(1, 2)),
    OpRecord("ifelse_else", sg.ifelse, [FALSE, F(3, 4), F(3, 4)], _pick, grad_inputs=(1, 2)),
    OpRecord("ifelse_int_condition_zero", sg.ifelse, [Given(np.int64(0)), F(4), F(4)],
             lambda c, x, y: y, grad_inputs=(1, 2)),
    OpRecord("ifelse_int8_condition_nonzero", sg.ifelse, [Given(np.int8(-3)), F(4), F(4)],
             lambda c, x, y: x, grad_inputs=(1, 2)),
    OpRecord("ifelse_float_condition", sg.ifelse, [Given(np.float64(0.25)), F(2), F(2)],
             lambda c, x, y: x, grad_inputs=(1, 2)),
    OpRecord("ifelse_branch_shapes_differ_else", sg.ifelse, [FALSE, F(3, 4), F(2, 5)],
             lambda c, x, y: y, grad_inputs=(1, 2)),
    OpRecord("ifelse_branch_shapes_differ_then", sg.ifelse, [TRUE, F(3, 4), F(2, 5)],
             lambda c, x, y: x, grad_inputs=(1, 2)),
    OpRecord("ifelse_static_shapes", sg.ifelse,
             [TRUE, F(3, 4, static=(3, 4)), F(3, 4, static=(3, None))], _pick,
             grad_inputs=(1, 2)),
    OpRecord("ifelse_several_outputs",
             lambda c, x, y: sg.ifelse(c, [x, y * 2.0], [y, sg.exp(x)]),
             [TRUE, F(3), F(3)], lambda c, x, y: [x, 2 * y], grad_inputs=(1, 2)),
    OpRecord("ifelse_several_outputs_else",
             lambda c, x, y: sg.ifelse(c, [x, y * 2.0], [y, sg.exp(x)]),
             [FALSE, F(3), F(3)], lambda c, x, y: [y, np.e ** x], grad_inputs=(1, 2)),
    OpRecord("ifelse_integer_values", sg.ifelse, [FALSE, I(5), I(5)], _pick, grad=False),
    OpRecord("ifelse_python_number_branch", lambda c, x: sg.ifelse(c, x.sum(), 0),
             [TRUE, F(3)], lambda c, x: np.add.reduce(x), grad_inputs=(1,)),
    OpRecord("ifelse_symbolic_condition",
             lambda a, x, y: sg.ifelse(sg.lt(a.sum(), 0.0), x, y),
             [F(3), F(2, 2), F(2, 2)], lambda a, x, y: x if np.add.reduce(a) < 0 else y,
             grad_inputs=(1, 2)),
]
