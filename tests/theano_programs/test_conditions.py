"""Theano tutorial, "Conditions": switch (elementwise, computes both branches) against ifelse
(lazy, computes one), compiled with Mode(linker='vm') as the tutorial asks, and timed."""

import time

import numpy
import pytest
import symgraph
from symgraph import tensor as T
from symgraph.ifelse import ifelse

pytestmark = pytest.mark.theano_programs


def test_ifelse_against_switch():
    a, b = T.scalars('a', 'b')
    x, y = T.matrices('x', 'y')

    z_switch = T.switch(T.lt(a, b), T.mean(x), T.mean(y))
    z_lazy = ifelse(T.lt(a, b), T.mean(x), T.mean(y))

    f_switch = symgraph.function([a, b, x, y], z_switch, mode=symgraph.Mode(linker='vm'))
    f_lazyifelse = symgraph.function([a, b, x, y], z_lazy, mode=symgraph.Mode(linker='vm'))

    val1 = 0.
    val2 = 1.
    big_mat1 = numpy.ones((200, 100))
    big_mat2 = numpy.ones((200, 100)) * 2

    n_times = 5
    tic = time.perf_counter()
    for i in range(n_times):
        both = f_switch(val1, val2, big_mat1, big_mat2)
    switch_time = time.perf_counter() - tic
    tic = time.perf_counter()
    for i in range(n_times):
        one = f_lazyifelse(val1, val2, big_mat1, big_mat2)
    lazy_time = time.perf_counter() - tic
    assert switch_time >= 0 and lazy_time >= 0
    assert both == one == 1.0
    assert f_switch(val2, val1, big_mat1, big_mat2) == 2.0
    assert f_lazyifelse(val2, val1, big_mat1, big_mat2) == 2.0


def test_ifelse_is_lazy():
    # The branch not taken is not computed: here it would fail on mismatched shapes.
    c = T.iscalar('c')
    x, y = T.dmatrices('x', 'y')
    out = ifelse(T.eq(c, 0), T.dot(x, x).sum(), T.dot(x, y).sum())
    f = symgraph.function([c, x, y], out)
    assert f(0, numpy.ones((2, 2)), numpy.ones((3, 3))) == 8.0
