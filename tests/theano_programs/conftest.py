"""Theano programs ported by renaming their imports: every test here runs once with
``symgraph.config.mode`` set to "llvm" and once to "py", as a ported program that never names a
mode runs on whatever the configuration says."""

import pytest

import symgraph


@pytest.fixture(params=["llvm", "py"], autouse=True)
def mode(request):
    with symgraph.config.change_flags(mode=request.param):
        yield request.param
