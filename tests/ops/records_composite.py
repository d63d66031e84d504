"""Records for fused Composite nodes (built directly from small Elemwise graphs)."""

import numpy as np

import symgraph as sg
from symgraph.ops.composite import ScalarProgram, composite
from symgraph.ops.fused_reduce import FusedCAReduce
from symgraph.ops.reduce import CAReduce
from tests.records import F, OpRecord


def _tanh_mix(x, y):
    out = sg.tanh(x * y) * sg.exp(-x * x) + 0.5 * sg.log1p(abs(y))
    return composite([x, y], [out])


def _two_outputs(x, y):
    e = sg.exp(x)
    return composite([x, y], [e * y, e + y])


def _fused_sum_of_products(x, y):
    program = ScalarProgram.from_graph([x, y], [sg.exp(x) * y])
    return FusedCAReduce(program, CAReduce("add", (1,)))(x, y)


def _fused_max_broadcast(x, b):
    program = ScalarProgram.from_graph([x, b], [sg.tanh(x - b)])
    return FusedCAReduce(program, CAReduce("maximum", (0,)))(x, b)


RECORDS = [
    OpRecord("composite_benchmark_expression", _tanh_mix, [F(3, 4), F(3, 4, away_from=(0,))],
             lambda x, y: np.tanh(x * y) * np.exp(-x * x) + 0.5 * np.log1p(np.abs(y))),
    OpRecord("composite_two_outputs_broadcast", _two_outputs,
             [F(3, 4), F(1, 4, static=(1, None))],
             lambda x, y: [np.exp(x) * y, np.exp(x) + y]),
    OpRecord("composite_fused_sum_of_products", _fused_sum_of_products, [F(3, 4), F(3, 4)],
             lambda x, y: (np.exp(x) * y).sum(axis=1)),
    OpRecord("composite_fused_max_broadcast", _fused_max_broadcast,
             [F(3, 4), F(1, 4, static=(1, None))], lambda x, b: np.tanh(x - b).max(axis=0)),
]
