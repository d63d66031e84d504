"""Test-suite settings: functions compile their final tier before they return (here and in the
processes tests start), so that every test of a compiled mode runs compiled code;
``SYMGRAPH_FLAGS=tier=tiered`` runs the suite with tiered compilation instead (the first calls
then run on the reference backend)."""

import os

import symgraph as sg

_FLAGS = os.environ.get("SYMGRAPH_FLAGS", "")
if "tier=" not in _FLAGS:
    os.environ["SYMGRAPH_FLAGS"] = ",".join(filter(None, [_FLAGS, "tier=final"]))
    sg.config.tier = "final"
