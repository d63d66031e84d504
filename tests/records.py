"""The op-records table: one entry per op behaviour, driving the generic op tests.

Each family of ops lists its records in ``tests/ops/records_<family>.py`` as ``RECORDS``;
``all_records()`` gathers them. A record says how to build the op's graph from symbolic inputs,
how to make input values, and an independent NumPy formula for the result. The generic tests in
``tests/ops/test_records.py`` then check, for every record: ``perform`` against the formula,
``infer_shape`` of every node against the real shapes, output dtypes and static shapes against
the values, and ``verify_grad`` in float64 for differentiable records. A test fails when an op
class or an elementwise table row is exercised by no record.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import symgraph as sg

# One tolerance table: (rtol, atol) per output dtype. A record needing looser ones says why.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (2e-3, 1e-3),
    "float32": (1e-5, 1e-6),
    "float64": (1e-9, 1e-12),
}


def tolerance(dtype: str) -> tuple[float, float]:
    return TOLERANCES.get(str(dtype), (0.0, 0.0))


@dataclass
class InputSpec:
    """How to make one input: its dtype, value generator and static shape."""

    dtype: str
    shape: tuple[int, ...]
    make: Callable[[np.random.Generator], np.ndarray]
    static: tuple[int | None, ...] | None = None

    def variable(self, name: str) -> Any:
        static = self.static if self.static is not None else (None,) * len(self.shape)
        return sg.tensor(name, dtype=self.dtype, shape=static)


def F(*shape: int, lo: float = -1.0, hi: float = 1.0, dtype: str = "float64",
      static: tuple[int | None, ...] | None = None, away_from: Sequence[float] = ()) -> InputSpec:
    """Uniform floats in [lo, hi), kept 0.05 away from each point in ``away_from``."""

    def make(rng: np.random.Generator) -> np.ndarray:
        value = rng.uniform(lo, hi, size=shape)
        for point in away_from:
            close = np.abs(value - point) < 0.05
            value = np.where(close, value + np.where(value >= point, 0.1, -0.1), value)
        return value.astype(dtype)

    return InputSpec(dtype, tuple(shape), make, static)


def I(*shape: int, lo: int = 0, hi: int = 5, dtype: str = "int64",  # noqa: E743
      static: tuple[int | None, ...] | None = None) -> InputSpec:
    """Uniform integers in [lo, hi)."""
    return InputSpec(dtype, tuple(shape),
                     lambda rng: rng.integers(lo, hi, size=shape).astype(dtype), static)


def B(*shape: int, static: tuple[int | None, ...] | None = None) -> InputSpec:
    """Random booleans."""
    return InputSpec("bool", tuple(shape), lambda rng: rng.random(size=shape) < 0.5, static)


def Given(value: Any, static: tuple[int | None, ...] | None = None) -> InputSpec:
    """A fixed value (copied for each use)."""
    array = np.asarray(value)
    return InputSpec(array.dtype.name, array.shape, lambda rng: array.copy(), static)


@dataclass
class OpRecord:
    """One op behaviour to test.

    fn : symbolic inputs -> output Variable (or list of Variables)
    inputs : one InputSpec per symbolic input
    ref : NumPy formula on the input values -> array (or list of arrays)
    grad : whether ``verify_grad`` applies (float64, on the inputs in ``grad_inputs`` or, by
        default, every float input)
    """

    name: str
    fn: Callable[..., Any]
    inputs: Sequence[InputSpec]
    ref: Callable[..., Any]
    grad: bool = True
    grad_inputs: tuple[int, ...] | None = None
    rtol: float | None = None
    atol: float | None = None
    why_tolerance: str = ""
    grad_tol: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.rtol is not None or self.atol is not None) and not self.why_tolerance:
            raise ValueError(f"record {self.name}: a custom tolerance needs why_tolerance")

    def build(self) -> tuple[list[Any], list[Any]]:
        variables = [spec.variable(f"in{i}") for i, spec in enumerate(self.inputs)]
        outputs = self.fn(*variables)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return variables, list(outputs)

    def values(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [spec.make(rng) for spec in self.inputs]

    def expected(self, values: Sequence[np.ndarray]) -> list[np.ndarray]:
        result = self.ref(*[np.array(v, copy=True) for v in values])
        if not isinstance(result, (list, tuple)):
            result = [result]
        return [np.asarray(r) for r in result]

    def tolerances(self, dtype: str) -> tuple[float, float]:
        rtol, atol = tolerance(dtype)
        return (self.rtol if self.rtol is not None else rtol,
                self.atol if self.atol is not None else atol)


def all_records() -> list[OpRecord]:
    """Every record of every ``tests/ops/records_*.py`` module."""
    import tests.ops as package

    records: list[OpRecord] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("records_"):
            module = importlib.import_module(f"tests.ops.{info.name}")
            records.extend(module.RECORDS)
    names = [r.name for r in records]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate record names: {sorted(duplicates)}")
    return records
