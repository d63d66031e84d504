"""``function()``: compile symbolic outputs into a callable.

Build the FunctionGraph (givens applied, shared variables as implicit inputs, updates as extra
outputs), run the rewrite PIPELINE, link it with the mode's backend, and wrap it in a
``Function`` that checks inputs and applies updates after every output is computed.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph import function_cache, tiers
from symgraph.codegen import get_backend
from symgraph.codegen.contract import BUSY, FALLBACK, CallSpec, Linked
from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Constant, Variable, ancestors, clone_replace, graph_inputs
from symgraph.ops import operators
from symgraph.ops.basic import SharedVariable, as_tensor_variable
from symgraph.profiling import ProfileStats
from symgraph.rewrite import canonicalize, shapes, specialize, stabilize
from symgraph.rewrite.engine import Phase, RewriteLog, run_pipeline
from symgraph.rewrite.fusion import fusion
from symgraph.rewrite.inplace import inplace
from symgraph.rewrite.merge import merge
from symgraph.scan.op import Scan
from symgraph.scan import segmented
from symgraph.scan.rewrites import inner_graph_rewrite, scan_rewrites

# The rewrite pipeline: one explicit, ordered tuple of (phase name, pass). Each pass edits the
# FunctionGraph in place; a Mode can exclude a phase or any single rule by name.
PIPELINE: tuple[tuple[str, Any], ...] = (
    ("merge", merge),
    # Before anything edits them: a loop whose checkpointed gradient replays it gives way to
    # the replay, which has the same final states (one forward pass instead of two).
    ("scan_share_forward", segmented.share_forward_pass),
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


class _FromConfig:
    """The default of ``Mode(optimizer=...)``: take ``config.optimizer``."""

    def __repr__(self) -> str:
        return "FROM_CONFIG"


FROM_CONFIG: Any = _FromConfig()


class Mode:
    """A backend plus rewrite choices.

    Parameters
    ----------
    backend : str
        ``'py'``, ``'llvm'`` or ``'cuda'``; ``None`` means ``config.mode`` (the backend of
        a named mode there).
    excluding : iterable of str
        Names of rewrite phases (see ``PIPELINE``) or single rules not to run.
    rewrites : bool
        ``False`` runs the graph exactly as built (the reference for testing rewrites).
    linker : str, optional
        Theano's name for the backend: ``'py'`` is ``'py'``; ``'c'``, ``'cvm'``, ``'vm'``,
        ``'c|py'`` (and their ``_nogc`` forms) are ``'llvm'``.
    optimizer : str or None, optional
        Theano's rewrite sets: ``None`` or ``'None'`` runs no rewrite; ``'fast_compile'``
        (also ``'merge'``, ``'o1'``, ``'o2'``) leaves out the phases of
        ``FAST_COMPILE_EXCLUDES``; ``'fast_run'`` (also ``'o3'``, ``'o4'``, ``'default'``)
        runs them all. Not given, it is ``config.optimizer``.
    nan_guard : bool, optional
        Check every node's float outputs for NaN and Inf as the function runs (Theano's
        NanGuardMode, compiled: the llvm backend checks in native code, a vectorised pass
        over each output) and raise ``FloatingPointError`` naming the first node that made
        one, the op the user wrote, its line, the first bad index and its inputs' ranges.
        Not given, it is ``config.nan_guard``. Nodes inside a scan's loop body are checked
        through the scan's outputs.

    Raises
    ------
    ValueError
        For an unknown linker or optimizer name.
    """

    nan_guard = False  # what a Mode pickled before the guard existed unpickles with

    def __init__(self, backend: str | None = None, excluding: Iterable[str] | str = (),
                 rewrites: bool = True, *, linker: str | None = None,
                 optimizer: Any = FROM_CONFIG, nan_guard: bool | None = None) -> None:
        if isinstance(excluding, str):  # Theano's positional Mode(linker, optimizer)
            excluding, optimizer = (), excluding
        if backend in THEANO_LINKERS:  # Theano's positional linker
            backend, linker = None, backend
        if linker is not None:
            if linker not in THEANO_LINKERS:
                raise ValueError(f"unknown linker {linker!r}; known: {sorted(THEANO_LINKERS)}")
            backend = THEANO_LINKERS[linker]
        self.backend = backend or default_backend()
        self.excluding = frozenset(excluding)
        self.rewrites = rewrites
        self.linker = linker
        self.nan_guard = bool(config.nan_guard if nan_guard is None else nan_guard)
        self.optimizer = config.optimizer if optimizer is FROM_CONFIG else optimizer
        if self.optimizer in (None, "None"):
            self.rewrites = False
        elif self.optimizer in ("fast_compile", "merge", "o1", "o2"):
            self.excluding |= FAST_COMPILE_EXCLUDES
        elif self.optimizer not in ("fast_run", "default", "o3", "o4", "stabilize"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; known: None, "
                             f"'fast_compile', 'fast_run'")

    def excluding_rules(self, *names: str) -> "Mode":
        mode = copy.copy(self)
        mode.excluding = self.excluding | set(names)
        return mode

    def link(self, fgraph: FunctionGraph, profile: Any = None) -> Any:
        """The rewritten ``fgraph`` linked by this mode's backend.

        Raises
        ------
        ValueError
            For ``nan_guard`` with a backend that has no NaN guard.
        """
        backend = get_backend(self.backend)
        if not self.nan_guard:
            return backend.link(fgraph, profile=profile)
        try:
            return backend.link(fgraph, profile=profile, nan_guard=True)
        except TypeError as err:
            if "nan_guard" not in str(err):
                raise
            raise ValueError(f"the {self.backend!r} backend has no NaN guard; use 'llvm' or "
                             f"'py'") from None

    def __repr__(self) -> str:
        guard = ", nan_guard=True" if self.nan_guard else ""
        return (f"{type(self).__name__}({self.backend!r}, excluding={sorted(self.excluding)}, "
                f"rewrites={self.rewrites}{guard})")


# Theano's linkers, by the backend that stands for them.
THEANO_LINKERS = {"py": "py", "c": "llvm", "cvm": "llvm", "vm": "llvm", "c|py": "llvm",
                  "cvm_nogc": "llvm", "vm_nogc": "llvm", "c|py_nogc": "llvm", "llvm": "llvm",
                  "cuda": "cuda"}
# What FAST_COMPILE (Theano's optimizer='fast_compile') leaves out: the phases that make code
# fast rather than correct or stable (merge, canonicalize and stabilize still run).
FAST_COMPILE_EXCLUDES = frozenset({"scan", "specialize", "scan_inner", "fusion", "inplace"})

# Theano's named modes: mode="FAST_RUN" and so on. symgraph.debugmode adds "DebugMode".
NAMED_MODES: dict[str, Callable[[], Mode]] = {
    "FAST_RUN": lambda: Mode("llvm", optimizer="fast_run"),
    "FAST_COMPILE": lambda: Mode("py", optimizer="fast_compile"),
}


def default_backend() -> str:
    """The backend ``config.mode`` names (directly, or through a named mode)."""
    name = config.mode
    return NAMED_MODES[name]().backend if name in NAMED_MODES else name


def as_mode(mode: Any) -> Mode:
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        return NAMED_MODES[mode]() if mode in NAMED_MODES else Mode(mode)
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


class In:
    """An input of ``function()`` with Theano's options: a default value, a keyword name.

    Parameters
    ----------
    variable : Variable
        The root variable the input stands for.
    name : str, optional
        The keyword it may be passed by; default ``variable.name``.
    value : any, optional
        Its value when a call leaves it out (converted to the variable's type once, when the
        function is compiled); None means the input is required.
    mutable, borrow, strict, allow_downcast, autoname, implicit, shared
        Accepted for Theano's sake and ignored: symgraph never writes into an input's
        buffer, and converts values as ``function(allow_input_downcast=...)`` says.
    update : must be None
        Theano's internal state updated by each call; use a shared variable and
        ``updates=`` instead.

    Raises
    ------
    TypeError
        If ``variable`` is not a Variable; ``NotImplementedError`` for an ``update``.

    Examples
    --------
    >>> import symgraph as sg
    >>> x, y = sg.dscalars("x", "y")
    >>> f = sg.function([x, sg.In(y, value=1.0, name="step")], x + y)
    >>> float(f(2.0)), float(f(2.0, 3.0)), float(f(2.0, step=10.0))
    (3.0, 5.0, 12.0)
    """

    def __init__(self, variable: Variable, name: str | None = None, value: Any = None,
                 update: Any = None, mutable: bool | None = None, strict: bool = False,
                 allow_downcast: bool | None = None, autoname: bool = True,
                 implicit: bool | None = None, borrow: bool | None = None,
                 shared: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"In: {variable!r} is not a Variable")
        if update is not None:
            raise NotImplementedError(
                "In(update=...) is not supported: keep the state in a shared variable and "
                "pass updates=[(state, new_state)] to function()")
        self.variable = variable
        self.name = name if name is not None else (variable.name if autoname else None)
        self.value = value
        self.mutable = mutable
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.borrow = borrow

    def __repr__(self) -> str:
        return f"In({self.variable}, name={self.name!r}, value={self.value!r})"


class Out:
    """An output of ``function()`` with Theano's ``borrow`` flag.

    Parameters
    ----------
    variable : Variable
    borrow : bool
        Theano's permission to return an internal buffer; accepted and ignored (symgraph
        returns arrays the caller owns).

    Raises
    ------
    TypeError
        If ``variable`` is not a Variable.
    """

    def __init__(self, variable: Variable, borrow: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"Out: {variable!r} is not a Variable")
        self.variable = variable
        self.borrow = borrow

    def __repr__(self) -> str:
        return f"Out({self.variable}, borrow={self.borrow!r})"


def unwrap_inputs(inputs: Any) -> tuple[list[Any], list[In | None]]:
    """``function()``'s inputs as variables, with the ``In`` each came from (or None)."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    return ([i.variable if isinstance(i, In) else i for i in items],
            [i if isinstance(i, In) else None for i in items])


class _Recipe:
    """What ``function()`` was called with: enough to compile the function again (after
    unpickling, or for ``Function.copy``). The graph is the user's, before any rewrite."""

    FIELDS = ("inputs", "outputs", "updates", "givens", "mode", "on_unused_input", "profile",
              "name", "allow_input_downcast", "trust_input", "no_default_updates")

    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    @classmethod
    def of(cls, arguments: dict[str, Any]) -> "_Recipe":
        fields = {k: arguments[k] for k in cls.FIELDS}
        fields["mode"] = arguments["mode_obj"]
        fields["profile"] = bool(fields["profile"])
        fields["updates"] = _as_pairs(fields["updates"], "updates")
        fields["givens"] = _as_pairs(fields["givens"], "givens")
        return cls(**fields)

    def compile(self, **changes: Any) -> "Function":
        return function(**{**self.fields, **changes})


def function_from_recipe(recipe: _Recipe) -> "Function":
    """Compile a pickled function again (what unpickling a ``Function`` calls)."""
    return recipe.compile()


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None,
             givens: Any = None, mode: Any = None, on_unused_input: str | None = None,
             profile: bool = False, name: str | None = None,
             allow_input_downcast: bool | None = None, trust_input: bool = False,
             no_default_updates: bool = False, tier: str | None = None) -> "Function":
    """Compile ``outputs`` as a function of ``inputs``.

    Parameters
    ----------
    inputs : list of Variable
        Root variables, passed positionally (or by name) when calling.
    outputs : Variable or list of Variable
        One variable gives a single return value; a list gives a list. An output may be
        wrapped in Theano's ``Out(variable, borrow=...)``.
    updates : dict or list of (SharedVariable, expression)
        New values for shared variables, assigned after all outputs are computed.
    givens : dict or list of (Variable, expression)
        Substitutions applied to the graph first; any variable may be replaced.
    mode : str or Mode
        Backend: ``'py'`` (reference), ``'llvm'``, ``'cuda'``; default ``config.mode``.
    on_unused_input : {'raise', 'warn', 'ignore'}
        What to do with an input no output or update depends on; default
        ``config.on_unused_input`` (``'raise'``).
    profile : bool
        Time every node; see ``Function.profile.summary()``.
    allow_input_downcast : bool
        Accept inputs that lose precision when cast to the declared dtype.
    tier : {'tiered', 'final'}
        With a backend that compiles whole functions ("llvm"): ``'tiered'`` returns at once,
        its first calls running the rewritten graph on the reference backend while the native
        code compiles on a background thread (calls switch to it when it is ready);
        ``'final'`` compiles before returning. Default ``config.tier``; a profiled function
        is always compiled before it returns.

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
    on_unused_input = on_unused_input or config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError("on_unused_input must be 'raise', 'warn' or 'ignore'")
    tier = config.tier if tier is None else tier
    if tier not in ("tiered", "final"):
        raise ValueError(f"tier must be 'tiered' or 'final', got {tier!r}")
    recipe = _Recipe.of(locals())
    inputs, input_specs = unwrap_inputs(inputs)
    built = build_graph(inputs, outputs, updates, givens, on_unused_input, no_default_updates)
    compiled = compile_graph(built, mode_obj, profile=profile, name=name,
                             allow_input_downcast=bool(allow_input_downcast),
                             trust_input=trust_input, tier=tier, start=start)
    compiled._take_specs(input_specs, recipe)
    return compiled


@dataclass
class BuiltGraph:
    """What ``function()`` makes of its arguments before any rewrite.

    Attributes
    ----------
    inputs : list of Variable
        The explicit inputs, checked.
    shared_inputs : list of SharedVariable
        The shared variables the outputs and updates read or write: implicit inputs.
    n_outputs : int
        How many of ``targets`` are outputs; the rest are the update expressions.
    updates : list of (SharedVariable, Variable)
        The user's updates, then the default updates of the shared variables used.
    targets : list of Variable
        The outputs, then the update expressions, with ``givens`` substituted.
    single : bool
        ``outputs`` was one variable (the call returns it alone, not a list).
    """

    inputs: list[Variable]
    shared_inputs: list[SharedVariable]
    n_outputs: int
    updates: list[tuple[SharedVariable, Variable]]
    targets: list[Variable]
    single: bool

    @property
    def update_mapping(self) -> dict[int, int]:
        """Output position -> input position of the shared variable it updates (a backend
        may keep such values where the shared variable lives, e.g. on the GPU)."""
        position = {id(v): k for k, v in enumerate(self.inputs + self.shared_inputs)}
        return {self.n_outputs + j: position[id(s)] for j, (s, _) in enumerate(self.updates)}


def build_graph(inputs: Sequence[Any], outputs: Any, updates: Any, givens: Any,
                on_unused_input: str, no_default_updates: bool) -> BuiltGraph:
    """Check ``function()``'s graph arguments and gather the graph to compile: givens
    applied, shared variables as implicit inputs, updates as extra outputs (raises as
    ``function`` documents)."""
    input_vars = _check_inputs(inputs)
    single = outputs is not None and not isinstance(outputs, (list, tuple))
    output_vars = [] if outputs is None else ([outputs] if single else list(outputs))
    output_vars = [o.variable if isinstance(o, Out) else o for o in output_vars]
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
            warnings.warn(message, stacklevel=4)  # at the user's call of function()
    input_set = set(input_vars)
    shared_inputs = [v for v in graph_inputs(targets)
                     if isinstance(v, SharedVariable) and v not in input_set]
    for shared_var, _ in update_pairs:
        if all(shared_var is not s for s in shared_inputs):
            shared_inputs.append(shared_var)
    return BuiltGraph(input_vars, shared_inputs, len(output_vars), update_pairs, targets, single)


def compile_graph(built: BuiltGraph, mode: Mode, profile: bool = False, name: str | None = None,
                  allow_input_downcast: bool = False, trust_input: bool = False,
                  tier: str = "final", start: float | None = None) -> "Function":
    """Rewrite ``built`` for ``mode`` (or take the rewritten graph from the function cache),
    link it with the mode's backend and wrap it in a ``Function``."""
    start = time.perf_counter() if start is None else start
    stats = ProfileStats(name) if profile else None
    fgraph, identity = _rewritten(built.inputs + built.shared_inputs, built.targets, mode,
                                  built.update_mapping, stats)
    link_start = time.perf_counter()
    linked = mode.link(fgraph, profile=stats)
    if stats is not None:
        stats.record_phase("link", time.perf_counter() - link_start)
        stats.compile_time = time.perf_counter() - start
    spec = CallSpec(n_args=len(built.inputs),
                    containers=tuple(s.container for s in built.shared_inputs),
                    n_outputs=built.n_outputs,
                    update_containers=tuple(s.container for s, _ in built.updates),
                    single=built.single, trust_input=trust_input, profile=stats is not None,
                    name=name, graph_identity=identity)
    return Function(linked, built, spec, mode, stats, allow_input_downcast, tier)


def _rewritten(inputs: list[Variable], targets: list[Variable], mode: Mode,
               update_mapping: dict[int, int],
               stats: ProfileStats | None) -> tuple[FunctionGraph, str | None]:
    """The FunctionGraph from ``inputs`` to ``targets``, rewritten for ``mode``: from the
    whole-function cache when the same graph was rewritten before (in this process or, from
    the disk cache, in an earlier one), else through the PIPELINE (and then cached); with
    the graph's identity in the cache (``function_cache.store``), None when not cached."""
    start = time.perf_counter()
    key: str | None = None
    if mode.rewrites and config.function_cache:
        key = function_cache.graph_key(inputs, targets, (
            repr(mode), type(mode).__qualname__, sorted(update_mapping.items())))
        if key is None:
            function_cache.STATS.unkeyable += 1
        cached = function_cache.load(key) if key is not None else None
        if stats is not None:
            stats.record_phase("function cache (key, lookup)", time.perf_counter() - start)
        if cached is not None:
            if stats is not None:
                stats.record_phase("rewrite: none (graph from the function cache)", 0.0)
            return cached  # its update_mapping is part of the key, and kept with it
    fgraph = FunctionGraph(inputs, targets, clone=True, update_mapping=update_mapping)
    identity = None
    if mode.rewrites:
        excluding = mode.excluding | (REFERENCE_EXCLUDES if mode.backend == "py"
                                      else frozenset())
        run_pipeline(fgraph, PIPELINE, excluding, profile=stats)
        if key is not None:
            identity = function_cache.store(key, fgraph)
    return fgraph, identity


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

    def __init__(self, linked: Linked, built: BuiltGraph, spec: CallSpec, mode: Mode,
                 profile: ProfileStats | None, allow_input_downcast: bool,
                 tier: str = "final") -> None:
        self._linked = linked
        self._spec = spec
        self.fgraph = fgraph = linked.fgraph
        self.inputs = inputs = built.inputs
        self.shared_inputs = built.shared_inputs
        self.n_outputs = built.n_outputs
        self.updates = updates = built.updates
        self.single = built.single
        self.name = spec.name
        self.mode = mode
        self.profile = profile
        self.allow_input_downcast = allow_input_downcast
        self.trust_input = spec.trust_input
        self._types = [v.type for v in fgraph.inputs[:len(inputs)]]
        self._labels = [f"input {i} ({v.name!r})" if v.name else f"input {i}"
                        for i, v in enumerate(inputs)]
        self._names = {v.name: i for i, v in enumerate(inputs) if v.name}
        self._shared_containers = spec.containers
        self._update_containers = spec.update_containers
        self._run_reference = linked.run_reference
        # What the reference path's outputs may view and must not hand out.
        self._constant_arrays = [v.data for v in fgraph.variables
                                 if isinstance(v, Constant) and isinstance(v.data, np.ndarray)]
        self._lock = threading.RLock() if updates else None
        self.fallbacks = 0
        self.defaults: list[Any] = [_MISSING] * len(inputs)
        self._n_required = len(inputs)
        self._recipe: _Recipe | None = None
        self._native_fn: Any = None
        self._entry: Any = None
        self._fast_entry: Any = None
        self._quick: Any = None
        self._tier_error: BaseException | None = None
        self._final = threading.Event()
        self._answered = threading.Event()  # a call ran on the quick tier (``tiers``)
        if tier == "tiered" and profile is None and linked.compiles_natively:
            # An entry point an earlier process kept loads at once, no quick tier then, where
            # that pays: a loop (its quick tier runs the body once per step in Python) or
            # llvmlite already imported (loading costs ~10 ms then, not the ~25 ms import).
            native = linked.cached_entry(spec) if _load_kept_entry_at_once(fgraph) else None
            if native is not None:
                self._install(native)
            else:
                self._quick = Mode("py", nan_guard=mode.nan_guard).link(fgraph)
                tiers.submit(self)
        else:
            self._install(linked.native_entry(spec))

    # -- tiers ------------------------------------------------------------------------------
    def _install(self, native: Any) -> None:
        """Switch calls to the final tier (``native``: the entry point, or None when calls
        run the backend's schedule). Each assignment is atomic; a call that reads them
        half-way runs on the reference schedule, which is correct too."""
        self._native_fn = native
        self._entry = native.call if native is not None else None
        # Calls go straight to the entry point unless a lock or the profile is in the way.
        self._fast_entry = self._entry if self._lock is None and self.profile is None else None
        self._quick = None
        self._final.set()

    def _build_final(self) -> None:
        """The background thread's job: build the native entry point and switch to it."""
        try:
            native = self._linked.native_entry(self._spec)
        except BaseException as err:  # noqa: BLE001 - reported on the next call
            self._tier_error = err
            native = None
        self._install(native)

    def wait_final(self, timeout: float | None = None) -> bool:
        """Wait until calls run the final (optimised) tier; False if ``timeout`` passed."""
        return self._final.wait(timeout)

    @property
    def tier(self) -> str:
        """``'quick'`` while calls run on the reference backend, else ``'final'``."""
        return "final" if self._final.is_set() else "quick"

    @property
    def _native(self) -> Any:
        """The native entry point of the final tier (waits for it), or None."""
        self._final.wait()
        return self._native_fn

    def _report_tier_error(self) -> None:
        err, self._tier_error = self._tier_error, None
        if err is not None:
            warnings.warn(f"{self._title()}: building its native code failed, so it keeps "
                          f"running on the reference backend: {type(err).__name__}: {err}",
                          RuntimeWarning, stacklevel=3)

    def dump(self, kind: str = "llvm") -> str:
        """The code this function runs, as text.

        Parameters
        ----------
        kind : str
            ``'llvm'``: the LLVM IR of the native entry point (which calls the kernels and
            BLAS); ``'graph'``: the rewritten graph (``debugprint``'s text).

        Raises
        ------
        ValueError
            For another ``kind``, or ``'llvm'`` for a function with no native entry point
            (another backend, or a graph that runs on the reference schedule).
        """
        if kind == "graph":
            from symgraph.printing.text import debugprint

            return str(debugprint(self, file="str"))
        if kind != "llvm":
            raise ValueError(f"dump: unknown kind {kind!r}; known: 'llvm', 'graph'")
        native = self._native
        if native is None or not getattr(native, "ir_text", ""):
            raise ValueError(f"{self._title()} (backend {self.mode.backend!r}) has no LLVM IR: "
                             f"it runs without a native entry point")
        return native.ir_text

    @property
    def outputs(self) -> list[Variable]:
        return self.fgraph.outputs[:self.n_outputs]

    def _bind(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        if len(args) > len(self.inputs) or (not kwargs and len(args) < self._n_required):
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
        self._fill_defaults(values)
        for i, value in enumerate(values):
            if value is _MISSING:
                raise TypeError(f"{self._title()}: missing {self._labels[i]}")
        return values

    def _title(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The compiled entry point checks its arguments itself (and returns FALLBACK for
        # anything it does not take as is, BUSY when another call holds its frame): no
        # Python runs between the call and the kernels.
        entry = self._fast_entry
        if entry is not None and not kwargs:
            try:
                result = entry(*args)
            except Exception as err:
                self._native_fn.reraise(err)
            if result is not FALLBACK and result is not BUSY:
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
        native = self._native_fn
        if native is not None:
            result = native.run(values)
            if self.profile is not None:
                # The call ends here: moving the steps' timings into the profile (a Python
                # loop over the steps) is the profiler's own work, not the function's.
                elapsed = time.perf_counter() - start
                native.collect(self.profile)
            if result is not FALLBACK:
                if self.profile is not None:
                    self.profile.record_call(elapsed)
                return result
            self.fallbacks += 1
        if not converted:  # trusted, yet refused by the entry point: convert after all
            values = self._filter(values)
        values.extend(c.value for c in self._shared_containers)
        if self._tier_error is not None:
            self._report_tier_error()
        quick = self._quick
        found = native.take_nan_report() if native is not None and self.mode.nan_guard else None
        if quick is not None and native is None:
            try:
                results = quick.run(values)
            finally:
                self._answered.set()
        else:
            results = self._run_reference(values)
        if found is not None:
            _raise_native_nan(found)
        outputs = results[:self.n_outputs]
        for container, value in zip(self._update_containers, results[self.n_outputs:]):
            container.value = value
        outputs = _owned(outputs, values + self._constant_arrays)
        if self.profile is not None:
            self.profile.record_call(time.perf_counter() - start)
        if self.single:
            return outputs[0]
        return outputs


    # -- Theano's extras: default values, copies, pickling ----------------------------------
    def _take_specs(self, specs: list[In | None], recipe: _Recipe) -> None:
        """Record the ``In`` options (default values, keyword names) and the recipe."""
        self._recipe = recipe
        for i, spec in enumerate(specs):
            if spec is None:
                continue
            if spec.value is not None:
                self.defaults[i] = self._types[i].filter(
                    spec.value, name=f"{self._title()}: default of {self._labels[i]}",
                    allow_downcast=bool(spec.allow_downcast or self.allow_input_downcast))
            old_name = self.inputs[i].name
            if spec.name is not None and spec.name != old_name:
                if old_name is not None:
                    self._names.pop(old_name, None)
                self._names[spec.name] = i
        while self._n_required and self.defaults[self._n_required - 1] is not _MISSING:
            self._n_required -= 1

    def _fill_defaults(self, values: list[Any]) -> None:
        for i, value in enumerate(values):
            if value is _MISSING:
                values[i] = self.defaults[i]

    @property
    def maker(self) -> Any:
        """Theano's ``f.maker``: an object with the compiled graph (``f.maker.fgraph``), the
        mode, inputs and outputs."""
        return _Maker(self.fgraph, self.mode, self.inputs, self.outputs)

    def copy(self, share_memory: bool = False, swap: Mapping[Any, Any] | None = None,
             delete_updates: bool = False, name: str | None = None,
             profile: bool | None = None) -> "Function":
        """A new function computing the same outputs (Theano's ``Function.copy``).

        Parameters
        ----------
        share_memory : bool
            Accepted for Theano's sake: a symgraph function never shares its working memory
            with another, and the copy uses the same shared variables unless swapped.
        swap : dict of SharedVariable to SharedVariable
            Shared variables the copy uses (and updates) in place of the original's.
        delete_updates : bool
            The copy updates no shared variable (default updates included).
        name, profile
            The copy's; default the original's.

        Raises
        ------
        TypeError
            When a swapped pair are not shared variables of the same type.
        """
        recipe = self._recipe
        if recipe is None:
            raise TypeError(f"{self._title()} was not made by function() and cannot be copied")
        pairs = dict(swap or {})
        for old, new in pairs.items():
            if not (isinstance(old, SharedVariable) and isinstance(new, SharedVariable)):
                raise TypeError(f"copy(swap=...): {old} and {new} must be shared variables")
            if old.type != new.type:
                raise TypeError(f"copy(swap=...): {old} has type {old.type}, {new} {new.type}")
        fields = recipe.fields
        outputs, updates = fields["outputs"], list(fields["updates"])
        if pairs:
            single = outputs is not None and not isinstance(outputs, (list, tuple))
            output_list = [] if outputs is None else ([outputs] if single else list(outputs))
            replaced = clone_replace([as_tensor_variable(o) for o in output_list] +
                                     [as_tensor_variable(e) for _, e in updates], pairs)
            outputs = replaced[0] if single else replaced[:len(output_list)]
            updates = [(pairs.get(s, s), e)
                       for (s, _), e in zip(updates, replaced[len(output_list):])]
        changes = {}
        if delete_updates:
            # An input only the updates read is unused now, as intended.
            updates, changes = [], {"on_unused_input": "ignore"}
        return recipe.compile(**changes,
            outputs=outputs, updates=updates,
            no_default_updates=delete_updates or fields["no_default_updates"],
            name=self.name if name is None else name,
            profile=fields["profile"] if profile is None else profile)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A pickle holds the user's graph and the options, never compiled code: loading
        # compiles it again (from the compile cache when that is warm).
        if self._recipe is None:
            raise TypeError(f"{self._title()} was not made by function() and cannot be pickled")
        return (function_from_recipe, (self._recipe,))


@dataclass(frozen=True)
class _Maker:
    """What Theano programs read from ``f.maker``."""

    fgraph: FunctionGraph
    mode: Mode
    inputs: list[Variable]
    outputs: list[Variable]


_MISSING = object()




def _raise_native_nan(report: tuple[Any, int, int]) -> None:
    """The native NaN guard found a NaN or Inf that the guarded reference run did not make
    (their arithmetic differs in the last bits): report what the native code found."""
    from symgraph.codegen.linker import node_title
    from symgraph.graph import format_trace

    node, output, flat = report
    raise FloatingPointError(f"NaN guard: {node_title(node)} produced NaN or Inf in output "
                             f"{output} at flat index {flat} (compiled code)\n  built at "
                             f"{format_trace(node.trace)}")


# Above this many nodes, a first call on the quick tier (each node's perform, ~40 us) costs
# more than importing llvmlite (~25 ms) and loading a kept entry point.
QUICK_TIER_NODES = 400


def _load_kept_entry_at_once(fgraph: FunctionGraph) -> bool:
    """Whether a tiered function should load a kept entry point before it returns."""
    return ("llvmlite" in sys.modules or len(fgraph.apply_nodes) > QUICK_TIER_NODES
            or any(isinstance(node.op, Scan) for node in fgraph.apply_nodes))


def _owned(outputs: list[Any], inputs: list[Any]) -> list[Any]:
    """The outputs, each an array the caller owns, as the native entry point returns them: one
    that is, or may view, an input's (a shared variable's, a constant's) buffer or an earlier
    output's is copied."""
    arrays = [v for v in inputs if isinstance(v, np.ndarray)]  # and the outputs kept so far
    owned: list[Any] = []
    for value in outputs:
        if isinstance(value, np.ndarray):
            if any(value is other or np.may_share_memory(value, other) for other in arrays):
                value = np.copy(value)
            arrays.append(value)
        owned.append(value)
    return owned


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


operators.EVALUATE = evaluate
