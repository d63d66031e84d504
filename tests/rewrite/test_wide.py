"""Wide sums and products (gradients of a variable read by many nodes) and wide fused groups
stay kernels of bounded width, with the same numbers bit for bit; the inplace pass stays
linear when many nodes read one variable."""

import functools

import numpy as np
import pytest

import symgraph as sg
from symgraph.fgraph import FunctionGraph
from symgraph.ops.composite import Composite
from symgraph.ops.elemwise import Elemwise
from symgraph.rewrite import destroy
from symgraph.rewrite.fusion import MAX_KERNEL_INPUTS
from symgraph.rewrite.inplace import make_inplace
from tests.rewrite.helpers import assert_same_results

RNG = np.random.default_rng(3)


def widest(f):
    return max((len(n.inputs) for n in f.fgraph.apply_nodes
                if isinstance(n.op, (Elemwise, Composite))), default=0)


@pytest.mark.parametrize("name, n", [("add", 1), ("add", MAX_KERNEL_INPUTS),
                                     ("add", MAX_KERNEL_INPUTS + 1), ("add", 3 * 31 + 2),
                                     ("mul", 100)])
def test_wide_fold_is_split_in_the_same_order(name, n):
    xs = [sg.fvector(f"x{k}") for k in range(n)]
    op = {"add": np.add, "mul": np.multiply}[name]
    out = functools.reduce(lambda a, b: getattr(a, f"__{name}__")(b), xs)
    scale = 1.0 if name == "add" else 0.3
    values = [(RNG.normal(size=7) * scale + (name == "mul")).astype("float32")
              for _ in range(n)]
    f = assert_same_results(xs, out, values, rtol=0, atol=0)
    assert widest(f) <= MAX_KERNEL_INPUTS
    want = functools.reduce(op, values)  # NumPy's left fold, the same order exactly
    np.testing.assert_array_equal(f(*values), want)


def test_wide_fold_compiled_native_matches_the_left_fold():
    n = MAX_KERNEL_INPUTS + 3
    xs = [sg.fmatrix(f"x{k}") for k in range(n)]
    out = functools.reduce(lambda a, b: a + sg.tanh(b), xs)
    values = [RNG.normal(size=(3, 4)).astype("float32") for _ in range(n)]
    f = sg.function(xs, out, tier="final")
    assert widest(f) <= MAX_KERNEL_INPUTS
    ref = sg.function(xs, out, mode="py")
    np.testing.assert_allclose(f(*values), ref(*values), rtol=1e-6, atol=1e-6)


def test_fused_group_takes_at_most_the_kernel_width():
    n = 3 * MAX_KERNEL_INPUTS
    xs = [sg.dvector(f"x{k}") for k in range(n)]
    out = xs[0]
    for x in xs[1:]:
        out = sg.tanh(out) * x  # a chain of elementwise ops, each with a new input
    values = [RNG.normal(size=5) for _ in range(n)]
    f = assert_same_results(xs, out, values, rtol=0, atol=0)
    nodes = [n for n in f.fgraph.apply_nodes if isinstance(n.op, Composite)]
    assert len(nodes) >= 3 and all(len(n.inputs) <= MAX_KERNEL_INPUTS for n in nodes)


def _family_walks(n):
    """(Variable, client) pairs the destroy handler walks while the inplace pass runs over
    a chain of ``n`` steps that all read one input."""
    x = sg.dmatrix("x")
    out = x
    for _ in range(n):
        out = x + sg.tanh(out)  # x first: its family is asked about at each step
    fgraph = FunctionGraph([x], [out])
    walks = [0]
    aliasing = destroy._aliasing_outputs

    def counting(node, index):
        walks[0] += 1
        return aliasing(node, index)

    destroy._aliasing_outputs = counting
    try:
        switched = make_inplace(fgraph)
    finally:
        destroy._aliasing_outputs = aliasing
    assert switched >= n and destroy.check_destroyers(fgraph) == []
    return walks[0]


def test_inplace_pass_walks_a_widely_read_input_a_bounded_number_of_times():
    small, large = _family_walks(50), _family_walks(200)
    assert large <= 4.5 * small, (small, large)
