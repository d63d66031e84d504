"""Test-suite settings: functions compile their final tier before they return (here and in the
processes tests start), so that every test of a compiled mode runs compiled code;
``SYMGRAPH_FLAGS=tier=tiered`` runs the suite with tiered compilation instead (the first calls
then run on the reference backend). Tiered functions still compiling at the suite's exit are
not handed to a detached process (``tier_handoff``)."""

import os

import pytest

import symgraph as sg

_FLAGS = os.environ.get("SYMGRAPH_FLAGS", "")
if "tier=" not in _FLAGS:
    _FLAGS = os.environ["SYMGRAPH_FLAGS"] = ",".join(filter(None, [_FLAGS, "tier=final"]))
    sg.config.tier = "final"
# No detached compile processes at the suite's exit (tests/test_tier_handoff.py turns it on).
if "tier_handoff=" not in _FLAGS:
    os.environ["SYMGRAPH_FLAGS"] = ",".join(filter(None, [_FLAGS, "tier_handoff=False"]))
    sg.config.tier_handoff = False


@pytest.fixture
def cache_dir(tmp_path):
    """A private, empty compile cache (and an empty whole-function cache in memory)."""
    from symgraph import function_cache

    function_cache.clear()
    with sg.change_flags(compiledir=str(tmp_path)):
        yield tmp_path
    function_cache.clear()
