"""``function()``: compile symbolic outputs into a callable.

Build the FunctionGraph (givens applied, shared variables as implicit inputs, updates as extra
outputs), run the rewrite PIPELINE, link it with the mode's backend, and wrap it in a
``Function`` that checks inputs and applies updates after every output is computed.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from symgraph.codegen import get_backend
from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Constant, Variable, ancestors, clone_replace, graph_inputs
from symgraph.ops import basic
from symgraph.ops.basic import SharedVariable, as_tensor_variable
from symgraph.profiling import ProfileStats
from symgraph.rewrite import canonicalize, shapes, specialize, stabilize
from symgraph.rewrite.engine import Phase, RewriteLog, run_pipeline
from symgraph.rewrite.fusion import fusion
from symgraph.rewrite.inplace import inplace
from symgraph.rewrite.merge import merge
from symgraph.scan.rewrites import inner_graph_rewrite, scan_rewrites

# The rewrite pipeline: one explicit, ordered tuple of (phase name, pass). Each pass edits the
# FunctionGraph in place; a Mode can exclude a phase or any single rule by name.
PIPELINE: tuple[tuple[str, Any], ...] = (
    ("merge", merge),
    ("canonicalize", Phase("canonicalize", canonicalize.RULES + shapes.RULES)),
    # Scan rewrites look for plain add/dot, so they run before specialize makes them Gemm.
    ("scan", scan_rewrites),
    ("stabilize", Phase("stabilize", stabilize.RULES)),
    ("specialize", Phase("specialize", specialize.RULES)),
    # Loop bodies get the same treatment, except inplace: their inputs are the loop's states.
    ("scan_inner", inner_graph_rewrite(lambda: [p for p in PIPELINE if p[0] != "inplace"])),
    ("fusion", fusion),
    ("inplace", inplace),
    ("merge_final", merge),
)
# The reference backend runs every op as written: no buffer is ever overwritten there.
REFERENCE_EXCLUDES = frozenset({"inplace"})


class UnusedInputError(ValueError):
    """An explicit input of ``function()`` is not needed by any output or update."""


class Mode:
    """A backend plus rewrite choices.

    Parameters
    ----------
    backend : str
        ``'py'``, ``'llvm'`` or ``'cuda'``; ``None`` means ``config.mode``.
    excluding : iterable of str
        Names of rewrite phases (see ``PIPELINE``) or single rules not to run.
    rewrites : bool
        ``False`` runs the graph exactly as built (the reference for testing rewrites).
    """

    def __init__(self, backend: str | None = None, excluding: Iterable[str] = (),
                 rewrites: bool = True) -> None:
        self.backend = backend or config.mode
        self.excluding = frozenset(excluding)
        self.rewrites = rewrites

    def excluding_rules(self, *names: str) -> "Mode":
        return Mode(self.backend, self.excluding | set(names), self.rewrites)

    def __repr__(self) -> str:
        return (f"Mode({self.backend!r}, excluding={sorted(self.excluding)}, "
                f"rewrites={self.rewrites})")


def as_mode(mode: Any) -> Mode:
    if mode is None:
        return Mode()
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        return Mode(mode)
    raise TypeError(f"mode must be a string or a Mode, got {mode!r}")


def _as_pairs(pairs: Any, what: str) -> list[tuple[Any, Any]]:
    if pairs is None:
        return []
    if isinstance(pairs, Mapping):
        return list(pairs.items())
    try:
        result = [tuple(p) for p in pairs]
    except TypeError as err:
        raise TypeError(f"{what} must be a dict or a list of pairs") from err
    if any(len(p) != 2 for p in result):
        raise TypeError(f"{what} must be a dict or a list of (variable, expression) pairs")
    return result  # type: ignore[return-value]


def _check_inputs(inputs: Sequence[Any]) -> list[Variable]:
    checked: list[Variable] = []
    for i, var in enumerate(inputs):
        if not isinstance(var, Variable):
            raise TypeError(f"input {i} of function() is a {type(var).__name__}, not a Variable")
        if isinstance(var, SharedVariable):
            raise TypeError(f"input {i} ({var}) is a shared variable; shared variables are "
                            f"implicit inputs and cannot be listed in inputs")
        if isinstance(var, Constant):
            raise TypeError(f"input {i} ({var}) is a constant and cannot be an input")
        if var.owner is not None:
            raise TypeError(f"input {i} ({var}) is computed by {var.owner.op}; inputs must be "
                            f"root variables (use givens to replace an intermediate variable)")
        if any(var is other for other in checked):
            raise ValueError(f"input {var} is listed twice")
        checked.append(var)
    return checked


def _check_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    result = []
    for shared_var, expr in _as_pairs(updates, "updates"):
        if not isinstance(shared_var, SharedVariable):
            raise TypeError(f"update target {shared_var} is not a shared variable")
        expr = as_tensor_variable(expr) if not isinstance(expr, Variable) else expr
        if getattr(expr.type, "dtype", None) != getattr(shared_var.type, "dtype", None) and \
                hasattr(shared_var.type, "dtype"):
            raise TypeError(
                f"update of {shared_var} ({shared_var.type}) has dtype {expr.type.dtype}; "  # type: ignore[attr-defined]
                f"cast it with .astype({shared_var.type.dtype!r})"  # type: ignore[attr-defined]
            )
        if not shared_var.type.is_compatible(expr.type) and \
                not expr.type.is_compatible(shared_var.type):
            raise TypeError(f"update of {shared_var} ({shared_var.type}) has type {expr.type}")
        if any(shared_var is s for s, _ in result):
            raise ValueError(f"shared variable {shared_var} is updated twice")
        result.append((shared_var, expr))
    return result


def _add_default_updates(outputs: Sequence[Variable],
                         updates: list[tuple[SharedVariable, Variable]]) -> None:
    """Append each used shared variable's ``default_update`` unless the user updates it."""
    seen = {id(s) for s, _ in updates}
    frontier = list(outputs) + [e for _, e in updates]
    while frontier:
        new_pairs = []
        for var in graph_inputs(frontier):
            if isinstance(var, SharedVariable) and var.default_update is not None and \
                    id(var) not in seen:
                seen.add(id(var))
                new_pairs.append((var, var.default_update))
        updates.extend(new_pairs)
        frontier = [e for _, e in new_pairs]


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None,
             givens: Any = None, mode: Any = None, on_unused_input: str = "raise",
             profile: bool = False, name: str | None = None,
             allow_input_downcast: bool | None = None, trust_input: bool = False,
             no_default_updates: bool = False) -> "Function":
    """Compile ``outputs`` as a function of ``inputs``.

    Parameters
    ----------
    inputs : list of Variable
        Root variables, passed positionally (or by name) when calling.
    outputs : Variable or list of Variable
        One variable gives a single return value; a list gives a list.
    updates : dict or list of (SharedVariable, expression)
        New values for shared variables, assigned after all outputs are computed.
    givens : dict or list of (Variable, expression)
        Substitutions applied to the graph first; any variable may be replaced.
    mode : str or Mode
        Backend: ``'py'`` (reference), ``'llvm'``, ``'cuda'``; default ``config.mode``.
    on_unused_input : {'raise', 'warn', 'ignore'}
        What to do with an input no output or update depends on.
    profile : bool
        Time every node; see ``Function.profile.summary()``.
    allow_input_downcast : bool
        Accept inputs that lose precision when cast to the declared dtype.

    Raises
    ------
    TypeError
        For an invalid input, update or given (non-root input, shared variable as input,
        update of a different dtype).
    UnusedInputError
        With ``on_unused_input='raise'``, naming the unused input.
    MissingInputError
        When an output needs a variable that is neither an input nor shared nor constant.
    """
    start = time.perf_counter()
    mode_obj = as_mode(mode)
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError("on_unused_input must be 'raise', 'warn' or 'ignore'")
    input_vars = _check_inputs(list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])
    single = outputs is not None and not isinstance(outputs, (list, tuple))
    output_vars = [] if outputs is None else ([outputs] if single else list(outputs))
    output_vars = [o if isinstance(o, Variable) else as_tensor_variable(o) for o in output_vars]
    update_pairs = _check_updates(updates)
    if not no_default_updates:
        _add_default_updates(output_vars, update_pairs)

    replacements = {}
    for old, new in _as_pairs(givens, "givens"):
        if not isinstance(old, Variable):
            raise TypeError(f"givens key {old!r} is not a Variable")
        new = new if isinstance(new, Variable) else as_tensor_variable(new)
        if not (old.type.is_compatible(new.type) or new.type.is_compatible(old.type)):
            raise TypeError(f"givens: cannot replace {old} ({old.type}) with {new} ({new.type})")
        replacements[old] = new
    targets = clone_replace(output_vars + [e for _, e in update_pairs], replacements)

    used = set(ancestors(targets))
    for var in input_vars:
        if var not in used and on_unused_input != "ignore":
            message = (f"input {var} is not used to compute any output or update; pass "
                       f"on_unused_input='ignore' to allow this")
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            warnings.warn(message, stacklevel=2)
    input_set = set(input_vars)
    shared_inputs = [v for v in graph_inputs(targets)
                     if isinstance(v, SharedVariable) and v not in input_set]
    for shared_var, _ in update_pairs:
        if all(shared_var is not s for s in shared_inputs):
            shared_inputs.append(shared_var)

    fgraph = FunctionGraph(input_vars + shared_inputs, targets, clone=True)
    # Which outputs are new values of which inputs: a backend may keep those values where the
    # shared variable lives (e.g. on the GPU) instead of copying them back each call.
    position = {id(v): k for k, v in enumerate(input_vars + shared_inputs)}
    fgraph.update_mapping = {len(output_vars) + j: position[id(s)]  # type: ignore[attr-defined]
                             for j, (s, _) in enumerate(update_pairs)}
    stats = ProfileStats(name) if profile else None
    if mode_obj.rewrites:
        excluding = mode_obj.excluding | (REFERENCE_EXCLUDES if mode_obj.backend == "py"
                                          else frozenset())
        run_pipeline(fgraph, PIPELINE, excluding, profile=stats)
    link_start = time.perf_counter()
    linked = get_backend(mode_obj.backend).link(fgraph, profile=stats)
    if stats is not None:
        stats.record_phase("link", time.perf_counter() - link_start)
        stats.compile_time = time.perf_counter() - start
    return Function(linked, fgraph, input_vars, shared_inputs, len(output_vars), update_pairs,
                    single, name, mode_obj, stats, bool(allow_input_downcast), trust_input)


class Function:
    """A compiled function. Call it with the input values (positionally or by input name).

    With a backend that compiles whole functions ("llvm"), a call goes straight to one native
    entry point that checks the arguments (exact ndarray, dtype, rank, static shape), runs
    every node and assigns the updates. Arguments it does not take as they are (Python
    numbers, lists, other dtypes) are converted in Python first (``trust_input=True`` skips
    that); a call it cannot finish (an error to report) runs the reference schedule instead.
    Outputs are always new arrays the caller owns.

    Thread safety: a Function may be called from many threads at once, and every call is
    computed as if it ran alone (each call has its own buffers; the native entry point uses a
    spare frame when another call holds its first one, and releases the GIL during long
    kernels and BLAS calls, so calls really run in parallel). A function with updates (shared
    variables, random streams) holds a lock of its own for the length of each call: its calls
    run one at a time, so that every call reads the values the previous one wrote and no
    update or random draw is lost or repeated.

    Attributes
    ----------
    fgraph : FunctionGraph
        The rewritten graph that runs.
    profile : ProfileStats or None
    fallbacks : int
        Calls the native entry point handed back to the reference schedule.
    """

    def __init__(self, linked: Any, fgraph: FunctionGraph, inputs: list[Variable],
                 shared_inputs: list[SharedVariable], n_outputs: int,
                 updates: list[tuple[SharedVariable, Variable]], single: bool,
                 name: str | None, mode: Mode, profile: ProfileStats | None,
                 allow_input_downcast: bool, trust_input: bool) -> None:
        self._linked = linked
        self.fgraph = fgraph
        self.inputs = inputs
        self.shared_inputs = shared_inputs
        self.n_outputs = n_outputs
        self.updates = updates
        self.single = single
        self.name = name
        self.mode = mode
        self.profile = profile
        self.allow_input_downcast = allow_input_downcast
        self.trust_input = trust_input
        self._types = [v.type for v in fgraph.inputs[:len(inputs)]]
        self._labels = [f"input {i} ({v.name!r})" if v.name else f"input {i}"
                        for i, v in enumerate(inputs)]
        self._names = {v.name: i for i, v in enumerate(inputs) if v.name}
        self._shared_containers = [s.container for s in shared_inputs]
        self._update_containers = [s.container for s, _ in updates]
        self._native = self._native_entry(linked)
        self._entry = self._native.call if self._native is not None else None
        self._run_reference = getattr(linked, "run_reference", linked.run)
        self._lock = threading.RLock() if updates else None
        # Calls go straight to the entry point unless a lock or the profile is in the way.
        self._fast_entry = self._entry if self._lock is None and profile is None else None
        self.fallbacks = 0

    def _native_entry(self, linked: Any) -> Any:
        """The backend's compiled entry point for the whole function, if it makes one."""
        make = getattr(linked, "native_entry", None)
        if make is None:
            return None
        return make(n_args=len(self.inputs), containers=self._shared_containers,
                    n_outputs=self.n_outputs, update_containers=self._update_containers,
                    single=self.single, trust_input=self.trust_input,
                    profile=self.profile is not None, name=self.name or "function",
                    fallback=_FALLBACK, busy=_BUSY)

    @property
    def outputs(self) -> list[Variable]:
        return self.fgraph.outputs[:self.n_outputs]

    def _bind(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        if len(args) > len(self.inputs) or (not kwargs and len(args) != len(self.inputs)):
            names = ", ".join(str(v) for v in self.inputs)
            raise TypeError(f"{self._title()} expects {len(self.inputs)} inputs ({names}), "
                            f"got {len(args) + len(kwargs)}")
        values = list(args) + [_MISSING] * (len(self.inputs) - len(args))
        for key, value in kwargs.items():
            if key not in self._names:
                raise TypeError(f"{self._title()} has no input named {key!r}; its named "
                                f"inputs: {', '.join(map(repr, self._names)) or 'none'}")
            index = self._names[key]
            if values[index] is not _MISSING:
                raise TypeError(f"{self._title()} got input {key!r} twice")
            values[index] = value
        for i, value in enumerate(values):
            if value is _MISSING:
                raise TypeError(f"{self._title()}: missing {self._labels[i]}")
        return values

    def _title(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The compiled entry point checks its arguments itself (and returns _FALLBACK for
        # anything it does not take as is, _BUSY when another call holds its frame): no
        # Python runs between the call and the kernels.
        entry = self._fast_entry
        if entry is not None and not kwargs:
            try:
                result = entry(*args)
            except Exception as err:
                self._native.reraise(err)
            if result is not _FALLBACK and result is not _BUSY:
                return result
        lock = self._lock
        if lock is None:
            return self._call_checked(args, kwargs)
        with lock:
            return self._call_checked(args, kwargs)

    def _filter(self, values: list[Any]) -> list[Any]:
        return [t.filter(v, name=f"{self._title()}: {label}",
                         allow_downcast=self.allow_input_downcast)
                for t, v, label in zip(self._types, values, self._labels)]

    def _call_checked(self, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        """Bind and convert the arguments in Python (raising the usual errors), then run the
        entry point on them, or the reference schedule when it hands the call back."""
        start = time.perf_counter() if self.profile is not None else 0.0
        values = self._bind(args, kwargs)
        converted = not self.trust_input
        if converted:
            values = self._filter(values)
        if self._native is not None:
            result = self._native.run(values)
            if self.profile is not None:
                self._native.collect(self.profile)
            if result is not _FALLBACK:
                if self.profile is not None:
                    self.profile.record_call(time.perf_counter() - start)
                return result
            self.fallbacks += 1
        if not converted:  # trusted, yet refused by the entry point: convert after all
            values = self._filter(values)
        values.extend(c.value for c in self._shared_containers)
        results = self._run_reference(values)
        outputs = results[:self.n_outputs]
        for container, value in zip(self._update_containers, results[self.n_outputs:]):
            container.value = value
        outputs = [_own(value, values) for value in outputs]
        if self.profile is not None:
            self.profile.record_call(time.perf_counter() - start)
        if self.single:
            return outputs[0]
        return outputs


_MISSING = object()


class _Signal:
    """What a native entry point returns instead of results: the Python path must serve the
    call (``_FALLBACK``), or another call holds its frame (``_BUSY``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_FALLBACK = _Signal("FALLBACK")
_BUSY = _Signal("BUSY")


def _own(value: Any, inputs: list[Any]) -> Any:
    """Copy an output that is one of the inputs' (or shared variables') own buffers."""
    if any(value is v for v in inputs):
        return np.copy(value) if isinstance(value, np.ndarray) else value
    return value


def rewrite_graph(outputs: Any, include: Iterable[str] | None = None,
                  exclude: Iterable[str] = ()) -> tuple[Any, list[str]]:
    """Rewrite ``outputs`` with the pipeline and return them with the rules that fired.

    Parameters
    ----------
    outputs : Variable or list of Variable
    include : names of the phases to run (default: all of ``PIPELINE`` but ``inplace``, which
        never runs here because the graph rewritten is the caller's own)
    exclude : names of phases or rules to skip

    Returns
    -------
    (rewritten outputs, list of rule names in firing order)
    """
    single = not isinstance(outputs, (list, tuple))
    output_list = [outputs] if single else list(outputs)
    roots = [v for v in graph_inputs(output_list) if not isinstance(v, Constant)]
    fgraph = FunctionGraph(roots, output_list, clone=False)
    # The user's own graph is rewritten (not a copy), so no buffer may ever be overwritten.
    phases = [p for p in PIPELINE if (include is None or p[0] in set(include)) and
              p[0] not in REFERENCE_EXCLUDES]
    log = run_pipeline(fgraph, phases, exclude, log=RewriteLog(bool(config.rewrite_verbose)))
    result = fgraph.outputs[0] if single else list(fgraph.outputs)
    return result, log.fired()


def evaluate(var: Variable, inputs_to_values: Mapping[Any, Any], **kwargs: Any) -> Any:
    """``Variable.eval``: compile once per set of inputs (cached on the variable) and run."""
    by_name = {v.name: v for v in graph_inputs([var]) if v.name}
    pairs = []
    for key, value in inputs_to_values.items():
        if isinstance(key, str):
            if key not in by_name:
                raise TypeError(f"{var} does not depend on an input named {key!r}")
            key = by_name[key]
        pairs.append((key, value))
    keys = tuple(k for k, _ in pairs)
    cache = var.tag.setdefault("eval_cache", {})
    cache_key = (keys, tuple(sorted(kwargs.items())))
    if cache_key not in cache:
        cache[cache_key] = function(list(keys), var, on_unused_input="ignore", **kwargs)
    return cache[cache_key](*[v for _, v in pairs])


basic.EVALUATE = evaluate
