"""Records for fused Composite nodes (built directly from small Elemwise graphs)."""

import numpy as np

import symgraph as sg
from symgraph.ops.composite import composite
from tests.records import F, OpRecord


def _tanh_mix(x, y):
    out = sg.tanh(x * y) * sg.exp(-x * x) + 0.5 * sg.log1p(abs(y))
    return composite([x, y], [out])


def _two_outputs(x, y):
    e = sg.exp(x)
    return composite([x, y], [e * y, e + y])


RECORDS = [
    OpRecord("composite_benchmark_expression", _tanh_mix, [F(3, 4), F(3, 4, away_from=(0,))],
             lambda x, y: np.tanh(x * y) * np.exp(-x * x) + 0.5 * np.log1p(np.abs(y))),
    OpRecord("composite_two_outputs_broadcast", _two_outputs,
             [F(3, 4), F(1, 4, static=(1, None))],
             lambda x, y: [np.exp(x) * y, np.exp(x) + y]),
]
