"""The whole-function cache: a canonical key of the graph a user hands to ``function()``
(before any rewrite) maps to the rewritten graph, kept in this process and, pickled, on disk
(an authenticated entry of the compile cache), so that compiling the same graph again skips
the rewrite pipeline.

The key covers the ops with their parameters, the types, constants' values (large ones by a
hash of their bytes), the wiring, the user's line that built each node (errors point at it),
which outputs update which shared variables, the mode, the config flags that change results,
symgraph's own source files and the Python version. Inputs
and shared variables are keyed by position, never by identity or value. A graph with an op
that cannot be keyed (an op defined outside symgraph, which may keep state a copy would not
share; a parameter that is a local function) just misses.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import marshal
import os
import pickle
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symgraph.codegen import diskcache
from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Constant, Variable, gc_paused, toposort
from symgraph.op import Op
from symgraph.ops import elemwise
from symgraph.type import Type

MAGIC = b"SGFUN1\n"
SUFFIX = ".graph"
CACHE = diskcache.DiskCache("functions", MAGIC, (SUFFIX,))
# Flags whose values change what a graph rewrites to or computes.
RESULT_FLAGS = ("floatX", "optimizer")


class _Uncacheable(Exception):
    """A part of the graph has no stable description."""


@dataclasses.dataclass
class Stats:
    """This process's lookups: hits in memory, hits on disk, misses, graphs not keyable."""

    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    unkeyable: int = 0


STATS = Stats()
_MEMORY: dict[str, tuple[bytes, str]] = {}  # pickled graph, its identity
_LOCK = threading.Lock()


@functools.cache
def _source_digest() -> str:
    """Changes whenever any of symgraph's source files does (sizes and modification times).
    One ``scandir`` walk (~1 ms; pathlib's rglob took ~7 ms, once per process)."""
    root = str(Path(__file__).resolve().parent)
    parts: list[str] = []
    folders = [root]
    while folders:
        with os.scandir(folders.pop()) as found:
            for entry in found:
                if entry.name.endswith(".py") and entry.is_file():
                    info = entry.stat()
                    parts.append(f"{os.path.relpath(entry.path, root)}:{info.st_size}:"
                                 f"{info.st_mtime_ns};")
                elif entry.is_dir() and entry.name != "__pycache__":
                    folders.append(entry.path)
    return hashlib.sha256("".join(sorted(parts)).encode()).hexdigest()


def _canon(value: Any) -> Any:
    """A description of ``value`` built from plain data, equal for equal values in any
    process; ``_Uncacheable`` for what has none."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, bytes):
        return ("bytes", hashlib.sha256(value).hexdigest())
    if isinstance(value, (tuple, list)):
        return tuple(_canon(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(_canon(v)) for v in value)))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(_canon(k)), _canon(v)) for k, v in value.items())))
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.ascontiguousarray(value)
        return ("array", array.dtype.str, array.shape,
                hashlib.sha256(array.tobytes()).hexdigest())
    if isinstance(value, Op):
        return _op_key(value)
    if isinstance(value, Type):
        return ("type", type(value).__qualname__, repr(value))
    signature = getattr(value, "_signature", None)  # scan's InnerGraph
    if signature is not None:
        return ("inner", _canon(signature))
    scalar_params = getattr(value, "params", None)
    if type(value).__name__ == "ScalarOp" and scalar_params is not None:
        if value.name in elemwise.USER_ROWS:
            # A user's definition may change between runs while its name stays.
            raise _Uncacheable(f"the scalar op {value.name} is defined outside symgraph")
        return ("row", value.name, _canon(scalar_params))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                tuple(_canon(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if callable(value) and "<" not in getattr(value, "__qualname__", "<"):
        return ("callable", value.__module__, value.__qualname__)
    raise _Uncacheable(f"{type(value).__name__} has no stable description")


# Descriptions already made, by identity for ops (two ops may compare equal with props that
# describe differently, 0.0 and -0.0) and by equality for types (equal types describe the same).
# Ops and types are immutable, so a description never goes stale; the tables are bounded.
_OP_DESCRIPTIONS: dict[int, tuple[Op, tuple[Any, ...]]] = {}
_TYPE_DESCRIPTIONS: dict[Type, Any] = {}
_MEMO_LIMIT = 8192


def _describe_op(op: Op) -> tuple[Any, ...]:
    found = _OP_DESCRIPTIONS.get(id(op))
    if found is not None and found[0] is op:
        return found[1]
    description = (_op_key(op), str(op))
    if len(_OP_DESCRIPTIONS) >= _MEMO_LIMIT:
        _OP_DESCRIPTIONS.clear()
    _OP_DESCRIPTIONS[id(op)] = (op, description)
    return description


def _describe_type(type_: Type) -> Any:
    found = _TYPE_DESCRIPTIONS.get(type_)
    if found is None:
        found = _canon(type_)
        if len(_TYPE_DESCRIPTIONS) >= _MEMO_LIMIT:
            _TYPE_DESCRIPTIONS.clear()
        _TYPE_DESCRIPTIONS[type_] = found
    return found


def _op_key(op: Op) -> tuple[Any, ...]:
    props = getattr(type(op), "__props__", None)
    if props is None:
        raise _Uncacheable(f"{type(op).__name__} has no __props__")
    if not type(op).__module__.startswith("symgraph."):
        # A user's op may keep state (a counter, a cache): a hit would run a copy of it.
        raise _Uncacheable(f"{type(op).__name__} is defined outside symgraph")
    return ("op", type(op).__module__, type(op).__qualname__,
            tuple((name, _canon(getattr(op, name))) for name in props))


def graph_key(inputs: Sequence[Variable], outputs: Sequence[Variable],
              extra: Any) -> str | None:
    """The key of the graph from ``inputs`` (explicit inputs, then shared variables, by
    position) to ``outputs``, with ``extra`` (mode, update positions, ...); None when some
    part of it cannot be keyed."""
    index: dict[Variable, tuple[Any, ...]] = {
        v: ("input", k, _describe_type(v.type)) for k, v in enumerate(inputs)}
    nodes: list[tuple[Any, ...]] = []

    def known(var: Variable) -> bool:
        """Whether ``var`` is described: an input, a node's output, or a constant (described
        here); False for a missing input, which ``function()`` reports."""
        if var not in index:
            if not isinstance(var, Constant):
                return False
            index[var] = ("const", _describe_type(var.type), _canon(var.signature()[1:]))
        return True

    try:
        for node in toposort(outputs, blockers=index):
            if not all(known(v) for v in node.inputs):
                return None
            # The op's text and the user's line go in too: error messages name them, and a
            # hit must not point at another place that built the same graph.
            nodes.append((_describe_op(node.op), node.trace,
                          tuple(index[v] for v in node.inputs),
                          tuple(_describe_type(o.type) for o in node.outputs)))
            for k, o in enumerate(node.outputs):
                index[o] = ("node", len(nodes) - 1, k)
        if not all(known(o) for o in outputs):
            return None
        described = (tuple(index[v] for v in inputs), tuple(nodes),
                     tuple(index[o] for o in outputs), _canon(extra))
    except (_Uncacheable, RecursionError):
        return None
    flags = tuple((name, str(getattr(config, name, None))) for name in RESULT_FLAGS)
    whole = (described, flags, _source_digest(), tuple(sys.version_info[:2]))
    try:
        # Version 2 writes no back-references, so equal descriptions give equal bytes
        # whatever objects they share; several times faster than repr on large graphs.
        text = b"m" + marshal.dumps(whole, 2)
    except ValueError:  # a description that is not plain data
        text = b"r" + repr(whole).encode()
    return hashlib.sha256(text).hexdigest()


def identity_of(key: str, data: bytes) -> str:
    """Names the rewritten graph ``data`` (pickled) stored under ``key``: two processes that
    rewrote the same graph differently (they should not) get different names, so that what a
    backend keeps for one graph (its compiled entry point) never serves another."""
    return hashlib.sha256(key.encode() + b"\n" + data).hexdigest()


def load(key: str) -> tuple[FunctionGraph, str] | None:
    """The rewritten graph stored under ``key`` (a private copy) and its identity (see
    ``store``), or None."""
    with _LOCK:
        found = _MEMORY.get(key)
    if found is not None:
        STATS.memory_hits += 1
        data, identity = found
    else:
        loaded = CACHE.load(key, SUFFIX, lambda payload: payload[:1] == b"\x80")
        if loaded is None:
            STATS.misses += 1
            return None
        STATS.disk_hits += 1
        data, identity = loaded, identity_of(key, loaded)
        with _LOCK:
            _MEMORY[key] = (data, identity)
    try:
        with gc_paused():  # thousands of linked objects: no collector passes meanwhile
            fgraph = pickle.loads(data)  # authenticated: written by this user's symgraph
    except Exception:  # noqa: BLE001 - an entry from an older symgraph: rewrite again
        return None
    return (fgraph, identity) if isinstance(fgraph, FunctionGraph) else None


def store(key: str, fgraph: FunctionGraph) -> str | None:
    """Keep ``fgraph`` (rewritten) under ``key``, in memory and on disk; returns its
    identity, a name for exactly this graph (the key and the stored bytes), equal to the one
    ``load`` gives for the same entry in any process; None (and nothing kept) for a graph
    that does not pickle."""
    try:
        with gc_paused():
            data = pickle.dumps(fgraph, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - e.g. a user op holding a lock: no cache entry
        return None
    identity = identity_of(key, data)
    with _LOCK:
        _MEMORY[key] = (data, identity)
    CACHE.store(key, SUFFIX, data)
    return identity


def stored(identity: str) -> tuple[str, bytes] | None:
    """The key and the pickled graph this process holds under ``identity`` (``store``,
    ``load``), or None."""
    with _LOCK:
        for key, (data, found) in _MEMORY.items():
            if found == identity:
                return key, data
    return None


def info() -> dict[str, object]:
    """Entries on disk and this process's hits and misses."""
    return {"directory": str(CACHE.directory()), "entries": len(CACHE.entries()),
            **dataclasses.asdict(STATS)}


def clear() -> int:
    """Remove every entry (disk and memory); returns how many files were removed."""
    with _LOCK:
        _MEMORY.clear()
    return CACHE.clear()
