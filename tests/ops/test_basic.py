"""Tensor variables' Python protocol: Theano's truthiness and method keywords."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg


def test_variables_are_truthy_as_in_theano():
    w = sg.dmatrix("w")
    assert bool(w) and not (not w)
    assert bool(w + 1) and bool(sg.constant(0)) and bool(sg.shared(0.0))
    given = w if w else None  # `if not W:` tests that a variable was given
    assert given is w


@pytest.mark.parametrize("compare", [lambda a, b: a < b, lambda a, b: a <= b,
                                     lambda a, b: a > b, lambda a, b: a >= b, sg.eq, sg.neq])
def test_comparison_results_have_no_truth_value(compare):
    a, b = sg.dscalars("a", "b")
    with pytest.raises(TypeError, match="comparison .* no truth value"):
        bool(compare(a, b))


def test_chained_comparison_raises():
    a, b, c = sg.dscalars("a", "b", "c")
    with pytest.raises(TypeError, match="a < b < c"):
        a < b < c  # noqa: B015 - the chain is the test


@pytest.mark.parametrize("mode", ["llvm", "py"])
def test_mean_and_prod_methods_take_a_dtype(mode):
    # hmc.py: accept.mean(dtype=...) of a boolean vector
    x = sg.dvector("x")
    accept = x > 0
    f = sg.function([x], [accept.mean(dtype="float32"), x.prod(dtype="float32"),
                          x.mean(axis=0, keepdims=True)], mode=mode)
    rate, product, mean = f([1.0, -2.0, 3.0, 4.0])
    assert rate.dtype == np.float32 and rate == 0.75
    assert product.dtype == np.float32 and product == -24.0
    assert mean.tolist() == [1.5]
