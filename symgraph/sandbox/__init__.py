"""Theano's ``theano.sandbox``: ``rng_mrg.MRG_RandomStreams``."""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "rng_mrg":
        return importlib.import_module(f"{__name__}.rng_mrg")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
