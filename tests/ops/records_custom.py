"""Records for ops wrapped with ``sg.as_op``."""

import numpy as np

import symgraph as sg
from tests.records import F, OpRecord


@sg.as_op(itypes=[sg.dmatrix], otypes=[sg.dvector],
          infer_shape=lambda node, shapes: [(shapes[0][0],)],
          grad=lambda inputs, g: [sg.second(inputs[0], g[0].dimshuffle(0, "x")) * 2.0])
def row_sums_doubled(x):
    return 2.0 * x.sum(axis=1)


RECORDS = [
    OpRecord("as_op_row_sums", row_sums_doubled, [F(3, 4)],
             lambda x: np.array([2 * sum(row) for row in x])),
]
