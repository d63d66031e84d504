"""Settings for symgraph: float precision, default mode, compile cache directory.

Values come from defaults, then ``SYMGRAPH_FLAGS`` (``key=value,key=value``), then the
specific variables ``SYMGRAPH_FLOATX`` and ``SYMGRAPH_CACHE_DIR``; ``config.change_flags``
overrides them temporarily. A bad value raises ``ConfigError`` (a ``ValueError``) in one line
naming the flag and its valid values; from the environment that happens at ``import symgraph``,
which fails rather than run with settings the user did not ask for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_FLOAT_DTYPES = ("float16", "float32", "float64")


class ConfigError(ValueError):
    """A config flag set to a value it does not take (the message names the valid ones)."""


@dataclass(frozen=True)
class _Flag:
    default: Any
    parse: Callable[[str], Any]
    doc: str
    check: Callable[[Any], bool] = lambda value: True
    valid: str = "any string"  # the values it takes, for error messages


def _parse_bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean, got {text!r}")


_BOOLEANS = "true, false (or 1, 0, yes, no, on, off)"


def _default_compiledir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "symgraph")


_FLAGS: dict[str, _Flag] = {
    "floatX": _Flag(
        "float64", str, "dtype of float variables made with dtype=None",
        lambda v: v in _FLOAT_DTYPES, ", ".join(_FLOAT_DTYPES),
    ),
    "mode": _Flag(
        "llvm", str, "default backend of function(): 'llvm' (native CPU), 'py' (the NumPy "
        "reference) or 'cuda'",
        lambda v: v in ("py", "llvm", "cuda"), "llvm, py, cuda",
    ),
    "compiledir": _Flag(_default_compiledir(), str, "directory of the on-disk compile cache"),
    "rewrite_verbose": _Flag(False, _parse_bool, "print each rewrite as it fires",
                             valid=_BOOLEANS),
    "num_threads": _Flag(0, int, "threads for compiled kernels; 0 means all cores",
                         lambda v: v >= 0, "an integer >= 0"),
    "warn_fallback": _Flag(True, _parse_bool, "warn (once per op class) when a compiled mode "
                           "runs a node through its NumPy perform for want of a native rule",
                           valid=_BOOLEANS),
    "compute_test_value": _Flag("off", str, "reserved for Theano compatibility",
                                lambda v: v in ("off", "ignore", "warn", "raise"),
                                "off, ignore, warn, raise"),
}

_ENV_ALIASES = {"SYMGRAPH_FLOATX": "floatX", "SYMGRAPH_CACHE_DIR": "compiledir",
                "SYMGRAPH_MODE": "mode"}


class Config:
    """The settings object, reachable as ``sg.config``.

    Attributes are the flags listed by ``Config.flags()``. Setting an attribute checks its value
    and raises ``ConfigError`` (a ``ValueError``) naming the flag and its valid values for an
    invalid one; an unknown name raises ``AttributeError``.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        object.__setattr__(self, "_values", {k: f.default for k, f in _FLAGS.items()})
        self._load_environment(os.environ if environ is None else environ)

    @staticmethod
    def flags() -> dict[str, str]:
        """Return each flag's name and description."""
        return {name: flag.doc for name, flag in _FLAGS.items()}

    def _load_environment(self, environ: Any) -> None:
        text = environ.get("SYMGRAPH_FLAGS", "")
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"SYMGRAPH_FLAGS item {item!r} is not of the form key=value")
            self._set_from("SYMGRAPH_FLAGS", key.strip(), value.strip())
        for env_name, key in _ENV_ALIASES.items():
            if env_name in environ:
                self._set_from(env_name, key, environ[env_name])

    def _set_from(self, source: str, name: str, text: str) -> None:
        try:
            self._set(name, text, from_text=True)
        except (ConfigError, AttributeError) as err:
            raise type(err)(f"{source}: {err}") from None

    def _set(self, name: str, value: Any, from_text: bool = False) -> None:
        if name not in _FLAGS:
            raise AttributeError(f"unknown symgraph config flag {name!r}; known: {sorted(_FLAGS)}")
        flag = _FLAGS[name]
        try:
            if from_text or isinstance(value, str):
                value = flag.parse(value)
            valid = flag.check(value)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ConfigError(f"invalid value {value!r} for config flag {name!r}; valid values: "
                              f"{flag.valid}") from None
        self._values[name] = value

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"unknown symgraph config flag {name!r}; known: {sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._set(name, value)

    @contextlib.contextmanager
    def _changed(self, **changes: Any) -> Iterator[None]:
        old = {name: getattr(self, name) for name in changes}
        try:
            for name, value in changes.items():
                self._set(name, value)
            yield
        finally:
            self._values.update(old)

    def change_flags(self, **changes: Any) -> "_ChangeFlags":
        """Set flags for the duration of a ``with`` block, or of a decorated function."""
        return _ChangeFlags(self, changes)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Config({body})"


class _ChangeFlags(contextlib.ContextDecorator):
    def __init__(self, config: Config, changes: dict[str, Any]) -> None:
        self._config = config
        self._changes = changes
        self._stack: list[contextlib.AbstractContextManager[None]] = []

    def __enter__(self) -> None:
        manager = self._config._changed(**self._changes)
        manager.__enter__()
        self._stack.append(manager)

    def __exit__(self, *exc: Any) -> None:
        self._stack.pop().__exit__(*exc)


try:
    config = Config()
except (ConfigError, AttributeError) as _err:
    # The message says it all: no traceback through the parsing code.
    raise type(_err)(str(_err)) from None
change_flags = config.change_flags

__all__ = ["Config", "ConfigError", "config", "change_flags"]
