"""Theano's ``theano.tensor.signal``: ``pool`` (``pool_2d``) and the older ``downsample``."""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("pool", "downsample")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
