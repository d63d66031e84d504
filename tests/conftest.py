"""Test-suite settings: functions compile their final tier before they return, so that every
test of a compiled mode runs compiled code; ``SYMGRAPH_FLAGS=tier=tiered`` runs the suite with
tiered compilation instead (the first calls then run on the reference backend)."""

import os

import symgraph as sg

if "tier=" not in os.environ.get("SYMGRAPH_FLAGS", ""):
    sg.config.tier = "final"
