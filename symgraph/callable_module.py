"""Modules that can be called: ``symgraph.tensor`` is Theano's module and ``sg.tensor(name,
dtype, shape)`` at once, ``symgraph.ifelse`` the module and the function.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["CallableModule", "make_callable"]


class CallableModule(types.ModuleType):
    """A module whose calls go to the function ``make_callable`` gave it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["__call_target__"](*args, **kwargs)


def make_callable(module_name: str, target: Callable[..., Any]) -> None:
    """Let the (imported) module ``module_name`` be called as ``target``."""
    module = sys.modules[module_name]
    module.__dict__["__call_target__"] = target
    module.__class__ = CallableModule
