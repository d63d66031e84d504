"""Native entry points kept on disk: a function's compiled entry point described as plain data
(its frame's layout, and the object code it and its kernels run, by their keys in the LLVM
object cache), so that a later process with the same rewritten graph rebuilds it with no
planning, no IR and no LLVM.

An entry is keyed by the graph's identity in the whole-function cache (``CallSpec.
graph_identity``: the graph's key and its exact rewritten form) and how the function is called
(the rest of the ``CallSpec``, the shared variables' container class, NumPy's and Python's
versions); it holds the JIT's fingerprint (CPU, features, LLVM and llvmlite versions), checked
on load. The frame's objects are described by what they are (the shared variable in position
``i``, the ``perform`` callback of the node at a position of the graph's topological order, a
dtype, a signal), its C-function addresses by the symbol of an object file, or a BLAS routine
(NumPy's, or the one ``blas_choice`` picks for small float32 ``A @ B.T``).
An entry is written only when every part of the frame has such a description; one that is
absent, damaged, foreign, from another CPU or whose object code is gone is not used (the entry
point is compiled again and the entry rewritten). Importing this module imports no llvmlite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import sys
from typing import Any

import numpy as np

from symgraph.codegen import diskcache, warn_fallback
from symgraph.codegen.contract import BUSY, FALLBACK, CallSpec
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply

MAGIC = b"SGENT1\n"
SUFFIX = ".entry"
CACHE = diskcache.DiskCache("entries", MAGIC, (SUFFIX,))
FORMAT = 1
SMALL_NT = "sgemm small A @ B.T"  # the routine blas_choice picks, described by its role
ONEDNN = "oneDNN dnnl_sgemm"
_SIGNALS = {"FALLBACK": FALLBACK, "BUSY": BUSY}


class _Undescribable(Exception):
    """A part of the frame has no plain description."""


@dataclasses.dataclass
class Stats:
    """This process's entry points: loaded from the disk, stored, not found, found but not
    usable (another CPU, object code gone), and built but not describable."""

    loaded: int = 0
    stored: int = 0
    absent: int = 0
    refused: int = 0
    undescribable: int = 0


STATS = Stats()


def entry_key(spec: CallSpec) -> str | None:
    """The key of ``spec``'s entry point, or None when its graph has no identity."""
    if spec.graph_identity is None:
        return None
    containers = spec.all_containers()
    pattern = spec.container_pattern()
    classes = tuple(sorted({f"{type(c).__module__}.{type(c).__qualname__}"
                            for c in containers}))
    described = (FORMAT, spec.graph_identity, spec.n_args, len(spec.containers),
                 spec.n_outputs, len(spec.update_containers), pattern, classes, spec.single,
                 spec.trust_input, spec.profile, np.__version__, sys.version)
    return hashlib.sha256(repr(described).encode()).hexdigest()


def find(key: str) -> bytes | None:
    """The description stored under ``key`` (an ``entry_key``), checked to be written by this
    user under this key; or None."""
    data = CACHE.load(key, SUFFIX, lambda payload: payload[:1] == b"\x80")
    if data is None:
        STATS.absent += 1
    return data


def _fingerprint() -> tuple[Any, ...]:
    """What the stored object code and the frame's addresses depend on besides the graph."""
    from symgraph.codegen.llvm import blas, blas_choice
    from symgraph.codegen.llvm.jit import engine

    jit = engine()
    library = blas.library()
    return (jit.fingerprint, jit.has_gomp,
            None if library is None else (library.int_bits, tuple(sorted(library.addresses)),
                                          blas_choice.fingerprint(library.int_bits),
                                          blas.small_kernel_limit()))


# -- describing a built entry point --------------------------------------------------------------

def _callbacks(program: Any, prefix: tuple[int, ...] = ()) -> dict[int, tuple[int, ...]]:
    """``id(callback) -> path`` for every ``perform`` callback of ``program`` and the loop
    bodies it runs: the path is the node's position in its graph's topological order,
    preceded by those of the loops it is in."""
    from symgraph.codegen.llvm.native_ops import FallbackRule
    from symgraph.codegen.llvm.plan import Program

    order = {node: k for k, node in enumerate(program.fgraph.toposort())}
    found: dict[int, tuple[int, ...]] = {}
    for step in program.steps:
        path = prefix + (order[step.node],)
        info = step.match.info
        if isinstance(info, Program):
            if getattr(step.node.op, "inner", None) is not None:
                found.update(_callbacks(info, path))
        elif isinstance(step.rule, FallbackRule):
            found[id(info)] = path
    return found


def _describe_object(obj: Any, containers: dict[int, int],
                     callbacks: dict[int, tuple[int, ...]]) -> tuple[Any, ...]:
    from symgraph.codegen.llvm.irgen import ARENA_MARKER

    for name, signal in _SIGNALS.items():
        if obj is signal:
            return ("signal", name)
    if obj is ARENA_MARKER:
        return ("marker",)
    if id(obj) in containers:
        return ("container", containers[id(obj)])
    if id(obj) in callbacks:
        return ("callback", callbacks[id(obj)])
    if isinstance(obj, np.dtype) and np.dtype(obj.str) == obj:
        return ("dtype", obj.str)
    raise _Undescribable(f"a frame object of type {type(obj).__name__}")


def _describe_constant(value: Any, graph: dict[int, int]) -> tuple[str, Any]:
    """A constant of the graph by its position (``plan.graph_constants``: the graph holds
    its value already), one of a loop body by its value."""
    if id(value) in graph:
        return ("graph", graph[id(value)])
    return ("value", value)


def describe(native: Any, spec: CallSpec) -> dict[str, Any]:
    """The plain description of ``native`` (a ``NativeFunction`` built for ``spec``);
    ``_Undescribable`` when part of it has none."""
    from symgraph.codegen.llvm import blas, blas_choice

    image = native.image
    containers: dict[int, int] = {}
    for k, container in enumerate(spec.all_containers()):
        containers.setdefault(id(container), k)
    callbacks = _callbacks(native.program)
    objects = [(word, _describe_object(obj, containers, callbacks))
               for word, obj in image.objects]
    codes = [native.entry] + [c for c in dict.fromkeys(native.codes) if c is not native.entry]
    symbols = {address: (k, symbol) for k, code in enumerate(codes)
               for symbol, address in code.addresses.items()}
    library = blas.library()
    routines = {address: name for name, address in library.addresses.items()} \
        if library is not None else {}
    picked = blas_choice.small_nt_sgemm(library.int_bits) if library is not None else None
    if picked is not None:
        routines[picked[1]] = SMALL_NT
    onednn = blas_choice.onednn_sgemm()
    if onednn is not None:
        routines[onednn] = ONEDNN
    addresses: list[tuple[int, tuple[Any, ...]]] = []
    used = {0}
    for word, address in image.addresses:
        if address in symbols:
            used.add(symbols[address][0])
            addresses.append((word, ("code",) + symbols[address]))
        elif address in routines:
            addresses.append((word, ("blas", routines[address])))
        else:
            raise _Undescribable(f"the address in frame word {word}")
    kept = sorted(used)
    renumber = {k: n for n, k in enumerate(kept)}
    addresses = [(word, ("code", renumber[ref[1]], ref[2]) if ref[0] == "code" else ref)
                 for word, ref in addresses]
    order = {node: k for k, node in enumerate(native.program.fgraph.toposort())}
    graph = {id(var.data): k for k, var in enumerate(native.program.constants)}
    return {
        "format": FORMAT, "fingerprint": _fingerprint(), "n_nodes": len(order),
        "codes": [(codes[k].key, tuple(codes[k].addresses)) for k in kept],
        "size": image.size, "objects": objects, "addresses": addresses,
        "constants": [(slot.word, slot.ndim, slot.dtype, _describe_constant(value, graph))
                      for slot, value in image.constants],
        "buffers": image.buffers, "current_step": image.current_step,
        "profile_words": image.profile_words,
        "steps": [(order[node], native.builder_notes[node]) for node in native.steps],
    }


def store(native: Any, spec: CallSpec) -> None:
    """Keep ``native``'s description under ``spec``'s key (nothing when it has none)."""
    key = entry_key(spec)
    if key is None:
        return
    try:
        data = pickle.dumps(describe(native, spec), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - a part with no description, a constant that does not
        STATS.undescribable += 1  # pickle: the entry point is compiled in every process
        return
    CACHE.store(key, SUFFIX, data)
    STATS.stored += 1


# -- rebuilding it ----------------------------------------------------------------------------

def _node_at(nodes: list[Apply], path: tuple[int, ...]) -> Apply:
    node = nodes[path[0]]
    for k in path[1:]:
        inner: Any = getattr(node.op, "inner")  # a loop's body (scan's InnerGraph)
        node = inner.fgraph().toposort()[k]
    return node


def _objects(record: dict[str, Any], nodes: list[Apply], spec: CallSpec,
             backend: Any) -> tuple[tuple[int, Any], ...]:
    """The frame's objects in this process."""
    from symgraph.codegen.llvm.irgen import ARENA_MARKER
    from symgraph.codegen.llvm.native_ops import python_callback

    containers = spec.all_containers()
    objects = []
    for word, (kind, *what) in record["objects"]:
        obj: Any
        if kind == "signal":
            obj = _SIGNALS[what[0]]
        elif kind == "marker":
            obj = ARENA_MARKER
        elif kind == "container":
            obj = containers[what[0]]
        elif kind == "dtype":
            obj = np.dtype(what[0])
        else:
            node = _node_at(nodes, what[0])
            warn_fallback("llvm", node)
            obj = python_callback(node, backend)
        objects.append((word, obj))
    return tuple(objects)


def _addresses(record: dict[str, Any], loaded: list[Any]) -> tuple[tuple[int, int], ...]:
    """The frame's C-function addresses in this process (``loaded``: the codes listed)."""
    from symgraph.codegen.llvm import blas, blas_choice

    library = blas.library()
    addresses = []
    for word, (kind, *what) in record["addresses"]:
        if kind == "code":
            addresses.append((word, loaded[what[0]].addresses[what[1]]))
        elif what[0] == ONEDNN:
            onednn = blas_choice.onednn_sgemm()
            assert onednn is not None  # the fingerprint says this process has it
            addresses.append((word, onednn))
        elif what[0] == SMALL_NT:
            assert library is not None  # the fingerprint says this process has it
            picked = blas_choice.small_nt_sgemm(library.int_bits)
            assert picked is not None  # ... and picks the same library
            addresses.append((word, picked[1]))
        else:
            assert library is not None
            addresses.append((word, library.addresses[what[0]]))
    return tuple(addresses)


def restore(data: bytes, fgraph: FunctionGraph, spec: CallSpec, backend: Any,
            rules: Any) -> Any:
    """The ``NativeFunction`` that ``data`` (from ``find``) describes, for ``fgraph`` and
    ``spec``, with its code loaded from the LLVM object cache; None when the description
    does not fit this process or its code is gone. ``rules()`` makes the lowering rules,
    should the plan be asked for."""
    from symgraph.codegen.llvm import capi
    from symgraph.codegen.llvm.irgen import Slot
    from symgraph.codegen.llvm.jit import engine, pinning
    from symgraph.codegen.llvm.native import FrameImage, NativeFunction
    from symgraph.codegen.llvm.plan import Program, graph_constants

    try:
        record = pickle.loads(data)  # authenticated: written by this user's symgraph
    except Exception:  # noqa: BLE001 - an entry from another version: compile again
        record = None
    nodes = fgraph.toposort()
    table = capi.api()
    if not isinstance(record, dict) or record.get("format") != FORMAT or \
            record["n_nodes"] != len(nodes) or isinstance(table, Exception) or \
            record["fingerprint"] != _fingerprint():
        STATS.refused += 1
        return None
    jit = engine()
    jit.register_api(table)
    with pinning() as codes:
        loaded = [jit.load(key, list(symbols)) for key, symbols in record["codes"]]
    if not all(loaded):
        STATS.refused += 1
        return None
    present = [code for code in loaded if code is not None]
    try:
        graph = graph_constants(fgraph)
        constants = tuple((Slot(word, ndim, dtype), graph[what].data if kind == "graph" else what)
                          for word, ndim, dtype, (kind, what) in record["constants"])
        image = FrameImage(record["size"], _objects(record, nodes, spec, backend),
                           _addresses(record, present), constants,
                           tuple(record["buffers"]), record["current_step"],
                           record["profile_words"])
        steps = [nodes[k] for k, _ in record["steps"]]
        notes = {nodes[k]: note for k, note in record["steps"]}
    except (LookupError, TypeError, ValueError, AttributeError):  # does not fit this graph
        STATS.refused += 1
        return None
    STATS.loaded += 1
    return NativeFunction(spec, image, present[0], codes, steps, notes,
                          lambda: Program(fgraph, fgraph.outputs, rules()))


def info() -> dict[str, object]:
    """Entries on disk and this process's counts."""
    return {"directory": str(CACHE.directory()), "entries": len(CACHE.entries()),
            **dataclasses.asdict(STATS)}


def clear() -> int:
    """Remove every entry; returns how many files were removed."""
    return CACHE.clear()
