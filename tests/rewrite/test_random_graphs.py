"""Property test: fully rewritten random expression graphs (elementwise, broadcasting,
reductions, indexing, dot) and their gradients give the results of the unrewritten graphs."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgraph as sg
from tests.rewrite.helpers import RAW

UNARY = [sg.tanh, sg.sin, sg.sigmoid, sg.neg, sg.sqr, lambda v: sg.log1p(abs(v)),
         lambda v: sg.exp(-sg.sqr(v)), lambda v: v * 1.0, lambda v: -(-v), lambda v: v ** 2,
         lambda v: sg.log(sg.exp(v))]
BINARY = [sg.add, sg.sub, sg.mul, sg.maximum, lambda a, b: a / (1.0 + sg.sqr(b)),
          lambda a, b: a - a + b]
SHAPES = {"m": (3, 4), "v": (4,), "c": (3,), "s": ()}


@st.composite
def graphs(draw):
    m, v, s = sg.dmatrix("m"), sg.dvector("v"), sg.dscalar("s")
    pool = [("m", m), ("v", v), ("s", s), ("m", m * 2.0)]
    for _ in range(draw(st.integers(2, 9))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "index", "dot"]))
        shape, a = pool[draw(st.integers(0, len(pool) - 1))]
        if kind == "unary":
            pool.append((shape, draw(st.sampled_from(UNARY))(a)))
        elif kind == "binary":
            compatible = [(k, b) for k, b in pool if k == shape or k == "s" or shape == "s" or
                          (shape == "m" and k == "v") or (shape == "v" and k == "m")]
            k, b = compatible[draw(st.integers(0, len(compatible) - 1))]
            out_shape = "m" if "m" in (shape, k) else shape if shape != "s" else k
            pool.append((out_shape, draw(st.sampled_from(BINARY))(a, b)))
        elif kind == "reduce" and shape == "m":
            axis = draw(st.sampled_from([0, 1, None]))
            how = draw(st.sampled_from(["sum", "mean", "max"]))
            pool.append(({0: "v", 1: "c", None: "s"}[axis], getattr(a, how)(axis=axis)))
        elif kind == "index" and shape in ("m", "v"):
            pool.append((shape, a[::-1] if shape == "v" else a[:, ::-1]))
            if shape == "m":
                pool.append(("m", a[sg.constant(np.array([2, 0, 2]))][[0, 1, 2]]))
        elif kind == "dot" and shape == "m":
            pool.append(("c", sg.dot(a, v)))
    chosen = draw(st.lists(st.integers(4, len(pool) - 1), min_size=1, max_size=3,
                           unique=True)) if len(pool) > 4 else [3]
    return [m, v, s], [pool[i][1] for i in chosen]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**31))
def test_rewritten_graphs_match_unrewritten(graph, seed):
    inputs, outputs = graph
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=SHAPES[k]) for k in ("m", "v", "s")]
    cost = sum(o.sum() for o in outputs)
    grads = sg.grad(cost, inputs, disconnected_inputs="ignore")
    targets = outputs + grads
    fast = sg.function(inputs, targets, mode="py", on_unused_input="ignore")
    raw = sg.function(inputs, targets, mode=RAW, on_unused_input="ignore")
    for got, want in zip(fast(*values), raw(*values)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
