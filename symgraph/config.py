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
        "reference) or 'cuda', or one of Theano's named modes 'FAST_RUN' (llvm), "
        "'FAST_COMPILE' (py, few rewrites), 'DebugMode'",
        lambda v: v in ("py", "llvm", "cuda", "FAST_RUN", "FAST_COMPILE", "DebugMode",
                        "DEBUG_MODE"),
        "llvm, py, cuda, FAST_RUN, FAST_COMPILE, DebugMode",
    ),
    "optimizer": _Flag(
        "fast_run", lambda v: None if v == "None" else v, "rewrites of a Mode made without "
        "optimizer=: 'fast_run' (all), 'fast_compile' (merge, canonicalize, stabilize), "
        "'None' (none); Theano's names 'merge', 'o1'-'o4' are accepted",
        lambda v: v in (None, "None", "fast_run", "fast_compile", "merge", "default", "o1",
                        "o2", "o3", "o4", "stabilize"),
        "fast_run, fast_compile, None, merge, default, stabilize, o1, o2, o3, o4",
    ),
    "on_unused_input": _Flag(
        "raise", str, "what function() does with an input no output needs, when its "
        "on_unused_input is not given: 'raise', 'warn' or 'ignore'",
        lambda v: v in ("raise", "warn", "ignore"), "raise, warn, ignore",
    ),
    "compiledir": _Flag(_default_compiledir(), str, "directory of the on-disk compile cache"),
    "cache_lock_wait": _Flag(20.0, float, "seconds a compile waits for another process building "
                             "the same cache entry before it builds the entry itself",
                             lambda v: v >= 0, "a number of seconds >= 0"),
    "rewrite_verbose": _Flag(False, _parse_bool, "print each rewrite as it fires",
                             valid=_BOOLEANS),
    "gemm_libraries": _Flag("auto", str, "BLAS for the matrix products of llvm functions: "
                            "'auto' (MKL or scipy-openblas64, when installed, for the small "
                            "float32 products A @ B.T where they are faster; NumPy's OpenBLAS "
                            "for the rest) or 'numpy' (NumPy's OpenBLAS for all)",
                            lambda v: v in ("auto", "numpy"), "auto, numpy"),
    "num_threads": _Flag(0, int, "threads for compiled kernels; 0 means all cores",
                         lambda v: v >= 0, "an integer >= 0"),
    "function_cache": _Flag(True, _parse_bool, "reuse the rewritten graph of a function "
                            "compiled before (in this process or, from the disk cache, in an "
                            "earlier one) instead of rewriting it again", valid=_BOOLEANS),
    "tier": _Flag("tiered", str, "how llvm functions start: 'tiered' (first calls on the "
                  "reference backend while the native code compiles in the background) or "
                  "'final' (compile before returning)", lambda v: v in ("tiered", "final"),
                  "tiered, final"),
    "tier_handoff": _Flag(True, _parse_bool, "at exit, hand the native code tiered functions "
                          "are still waiting for to a detached low-priority process that "
                          "compiles and keeps it for the next run", valid=_BOOLEANS),
    "warn_fallback": _Flag(True, _parse_bool, "warn (once per op class) when a compiled mode "
                           "runs a node through its NumPy perform for want of a native rule",
                           valid=_BOOLEANS),
    "nan_guard": _Flag(False, _parse_bool, "check every node's float outputs for NaN and Inf "
                       "as functions run (in the compiled code), raising FloatingPointError "
                       "naming the node: the default of Mode(nan_guard=...)", valid=_BOOLEANS),
    "scan_checkpoint_budget": _Flag(
        512 * 2**20, lambda v: 0 if str(v).strip() in ("None", "none", "") else int(v),
        "bytes of loop states the gradient of a scan may store: when the states of every step "
        "(n_steps times the bytes of the loop's states) would pass it, backpropagation keeps "
        "one state every ~sqrt(n_steps) steps and recomputes each segment (Chen et al. 2016); "
        "0 or None switches checkpointing off (scan(checkpoint=...) overrides it per loop)",
        lambda v: v is None or (isinstance(v, int) and v >= 0),
        "a number of bytes >= 0, or 0 / None (off)",
    ),
    "compute_test_value": _Flag("off", str, "reserved for Theano compatibility",
                                lambda v: v in ("off", "ignore", "warn", "raise"),
                                "off, ignore, warn, raise"),
}

# Theano's flags that have no meaning in symgraph. They are accepted (read, assigned, set
# through SYMGRAPH_FLAGS) so that Theano programs run unchanged, and do nothing. Any name in one
# of their groups (``config.warn.<anything>``) is accepted too.
LEGACY_NOTE = "Theano flag, accepted so that Theano programs run unchanged; it does nothing"
_LEGACY_FLAGS: dict[str, Any] = {
    "exception_verbosity": "low", "device": "cpu", "init_gpu_device": "", "force_device": False,
    "print_active_device": True, "allow_gc": True, "openmp": False,
    "openmp_elemwise_minsize": 200000, "cast_policy": "custom", "int_division": "int",
    "deterministic": "default", "warn_float64": "ignore", "linker": "cvm", "cxx": "",
    "optimizer_including": "", "optimizer_excluding": "", "optimizer_requiring": "",
    "optimizer_verbose": False, "on_opt_error": "warn", "on_shape_error": "warn",
    "check_input": True, "compute_test_value_opt": "off", "print_test_value": False,
    "profile": False, "profile_memory": False, "profile_optimizer": False,
    "reoptimize_unpickled_function": False, "unpickle_function": True,
    "base_compiledir": "", "compiledir_format": "", "assert_no_cpu_op": "ignore",
    "traceback.limit": 8, "traceback.compile_limit": 0, "blas.ldflags": "",
    "gcc.cxxflags": "", "nvcc.fastmath": False, "nvcc.flags": "", "dnn.enabled": "auto",
    "dnn.conv.algo_fwd": "small", "dnn.conv.algo_bwd_data": "none",
    "dnn.conv.algo_bwd_filter": "none", "lib.cnmem": 0.0, "gpuarray.preallocate": 0.0,
    "scan.allow_gc": False, "scan.allow_output_prealloc": True, "scan.debug": False,
    "cmodule.warn_no_version": False, "cmodule.remove_gxx_opt": False,
    "cmodule.compilation_warning": False, "cmodule.preload_cache": False,
    "DebugMode.check_c": True, "DebugMode.check_py": True, "DebugMode.check_finite": True,
    "DebugMode.check_strides": 0, "DebugMode.warn_input_not_reused": True,
    "NanGuardMode.nan_is_error": True, "NanGuardMode.inf_is_error": True,
    "NanGuardMode.big_is_error": True, "NanGuardMode.action": "raise",
    "numpy.seterr_all": "ignore", "numpy.seterr_divide": "None", "numpy.seterr_over": "None",
    "numpy.seterr_under": "None", "numpy.seterr_invalid": "None",
    "tensor.cmp_sloppy": 0, "tensor.local_elemwise_fusion": True, "unittests.rseed": 666,
    "experimental.unpickle_gpu_on_cpu": False, "metaopt.verbose": 0,
    "warn.ignore_bug_before": "0.8", "warn.argmax_pushdown_bug": True,
    "warn.gpusum_01_011_0111_bug": True, "warn.sum_sum_bug": True,
    "warn.sum_div_dimshuffle_bug": True, "warn.subtensor_merge_bug": True,
    "warn.gpu_set_subtensor1": True, "warn.vm_gc_bug": False,
    "warn.signal_conv2d_interface": True, "warn.reduce_join": True,
    "warn.inc_set_subtensor1": True, "warn.round": True, "warn.inc_subtensor1_opt": True,
    "warn.identify_1pexp_bug": True,
}
_LEGACY_GROUPS = frozenset(".".join(name.split(".")[:k]) for name in _LEGACY_FLAGS
                           for k in range(1, name.count(".") + 1))


def _is_legacy(name: str) -> bool:
    return name in _LEGACY_FLAGS or name.partition(".")[0] in _LEGACY_GROUPS and "." in name


def _parse_legacy(name: str, text: str) -> Any:
    """Text of a legacy flag as the type of its default (str when it has none)."""
    default = _LEGACY_FLAGS.get(name, "")
    if isinstance(default, bool):
        return _parse_bool(text)
    if isinstance(default, (int, float)):
        return type(default)(text)
    return text


class _FlagGroup:
    """``config.warn``, ``config.scan``, ...: the dotted names of Theano's flag groups."""

    def __init__(self, config: "Config", prefix: str) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, f"{self._prefix}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._config._set(f"{self._prefix}.{name}", value)

    def __repr__(self) -> str:
        return f"<config group {self._prefix!r}: {LEGACY_NOTE}>"


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
        """Return each flag's name and description (Theano's legacy flags included)."""
        docs = {name: flag.doc for name, flag in _FLAGS.items()}
        docs.update({name: LEGACY_NOTE for name in _LEGACY_FLAGS})
        return docs

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
        if name not in _FLAGS and _is_legacy(name):
            self._values[name] = _parse_legacy(name, value) if from_text else value
            return
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
        if name in _LEGACY_FLAGS:
            return _LEGACY_FLAGS[name]
        if name in _LEGACY_GROUPS:
            return _FlagGroup(self, name)
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
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if k in _FLAGS)
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
