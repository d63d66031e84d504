"""Accuracy of the kernels' own math functions against NumPy, in ulps (at most 4 in float32, 2
in float64), over their domains and at special values (inf, nan, -0.0, subnormals); and
vectorisation of the generated loops."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops import elemwise as ew

pytest.importorskip("llvmlite")

MAX_ULPS = {"float32": 4, "float64": 2}
N = 20000

# name -> list of (low, high, log-uniform) sampling ranges covering the domain.
DOMAINS = {
    "exp": [(-745.0, 709.0, False), (-3.0, 3.0, False)],
    "expm1": [(-40.0, 709.0, False), (-1.0, 1.0, False), (1e-12, 1e-3, True)],
    "log": [(1e-300, 1e300, True), (0.5, 2.0, False)],
    "log1p": [(-0.999, 100.0, False), (1e-15, 1e-2, True), (1.0, 1e300, True)],
    "tanh": [(-25.0, 25.0, False), (-0.7, 0.7, False), (1e-12, 1e-2, True)],
    "sigmoid": [(-750.0, 40.0, False), (-5.0, 5.0, False)],
    "softplus": [(-750.0, 750.0, False), (-5.0, 5.0, False)],
    "erf": [(-7.0, 7.0, False), (-1.2, 1.2, False), (1e-12, 1e-2, True)],
    "sin": [(-20.0, 20.0, False), (-1e6, 1e6, False), (1e6, 1e30, True)],
    "cos": [(-20.0, 20.0, False), (-1e6, 1e6, False), (1e6, 1e30, True)],
}
FLOAT32_CLIP = {"exp": (-104.0, 89.0), "expm1": (-40.0, 89.0), "sigmoid": (-104.0, 40.0),
                "softplus": (-104.0, 89.0), "log": (1e-44, 3e38), "log1p": (-0.999, 3e38)}


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in units in the last place, counting across zero; equal NaNs count 0."""
    bits = {np.dtype("float32"): np.int32, np.dtype("float64"): np.int64}[got.dtype]
    width = 8 * got.dtype.itemsize

    def ordered(a: np.ndarray) -> np.ndarray:
        i = a.view(bits).astype(object)
        return np.where(i < 0, -(i & ((1 << (width - 1)) - 1)), i)

    distance = np.abs(ordered(got) - ordered(want)).astype(float)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, distance)


def _function(name: str, dtype: str):
    x = sg.tensor("x", dtype=dtype, shape=(None,))
    return sg.function([x], getattr(sg, name)(x), mode="llvm")


def _reference(name: str, values: np.ndarray) -> np.ndarray:
    """NumPy's float64 result, rounded to the tested dtype (correctly rounded in float32)."""
    wide = ew.apply_scalar_op(ew.TABLE[name], "float64", [values.astype("float64")])
    with np.errstate(all="ignore"):
        return wide.astype(values.dtype)


def _samples(low: float, high: float, log_uniform: bool, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(7)
    if log_uniform:
        values = np.exp(rng.uniform(np.log(low), np.log(high), N))
        values *= rng.choice([-1.0, 1.0], N) if low > 0 and high < 1e7 else 1.0
    else:
        values = rng.uniform(low, high, N)
    with np.errstate(over="ignore"):
        return values.astype(dtype)


# Sampling ranges of functions outside DOMAINS (whose special values test_special_values
# covers) for the tests that ask more of some of them.
EXTRA_DOMAINS = {"exp2": [(-150.0, 128.0, False), (-1.0, 1.0, False)]}


def _domain_samples(name: str, dtype: str):
    """``(low, high, finite samples)`` for each sampling range of ``name``'s domain, clipped
    to float32's range where it has one."""
    for low, high, log_uniform in DOMAINS.get(name) or EXTRA_DOMAINS[name]:
        if dtype == "float32" and name in FLOAT32_CLIP:
            lo32, hi32 = FLOAT32_CLIP[name]
            low, high = max(low, lo32), min(high, hi32)
        values = _samples(low, high, log_uniform, dtype)
        yield low, high, values[np.isfinite(values)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_ulp_error_over_the_domain(name, dtype):
    f = _function(name, dtype)
    worst = 0.0
    for low, high, values in _domain_samples(name, dtype):
        distance = ulp_distance(f(values.copy()), _reference(name, values))
        worst = max(worst, float(distance.max()))
        assert distance.max() <= MAX_ULPS[dtype], (
            f"{name} {dtype} on [{low}, {high}]: {distance.max()} ulp at "
            f"x={values[distance.argmax()]!r}")
    assert worst <= MAX_ULPS[dtype]


def _specials(dtype: str) -> np.ndarray:
    info = np.finfo(dtype)
    tiny_sub = np.nextafter(np.zeros((), dtype), np.ones((), dtype))
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, tiny_sub, -tiny_sub, 3 * tiny_sub,
              info.tiny, -info.tiny, info.tiny / 3, info.max, -info.max, 1.0, -1.0, 0.5,
              -0.5, 2.0, 1e-30]
    with np.errstate(all="ignore"):
        return np.array(values, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(DOMAINS) + ["exp2", "log2", "log10"])
def test_special_values(name, dtype):
    values = _specials(dtype)
    got = _function(name, dtype)(values.copy())
    want = _reference(name, values)
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name} NaN pattern at {values}"
    finite = ~np.isnan(want)
    assert np.array_equal(np.isinf(got[finite]), np.isinf(want[finite])), f"{name} inf"
    zeros = finite & (want == 0)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros])), \
        f"{name}: sign of zero at {values[zeros]}"
    close = finite & ~np.isinf(want)
    assert ulp_distance(got[close], want[close]).max() <= MAX_ULPS[dtype]


def test_float32_pow_special_cases_and_accuracy():
    x, y = sg.fvectors("x", "y")
    f = sg.function([x, y], x ** y, mode="llvm")
    specials = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, np.inf, -np.inf,
                         np.nan], dtype="float32")
    a, b = (v.ravel() for v in np.meshgrid(specials, specials))
    with np.errstate(all="ignore"):
        want = np.power(a.astype("float64"), b.astype("float64")).astype("float32")
    got = f(a.copy(), b.copy())
    assert np.array_equal(np.isnan(got), np.isnan(want))
    numbers = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(want[numbers]))
    assert ulp_distance(got, want).max() <= 1
    rng = np.random.default_rng(3)
    base = rng.uniform(0.0, 10.0, N).astype("float32")
    power = rng.uniform(-20.0, 20.0, N).astype("float32")
    with np.errstate(over="ignore"):
        want = np.power(base.astype("float64"), power.astype("float64")).astype("float32")
    assert ulp_distance(f(base, power), want).max() <= MAX_ULPS["float32"]


@pytest.mark.parametrize("name", ["exp", "log1p", "tanh", "erf"])
def test_transcendental_loops_are_vectorised(name):
    from symgraph.codegen.llvm import lowering
    from symgraph.codegen.llvm.jit import engine
    from symgraph.codegen.llvm.kernels import kernel_ir

    jit = engine()
    wide = [f for f in ("avx512f", "avx2", "avx") if f"+{f}" in jit.features.split(",")]
    if not wide:
        pytest.skip("no AVX on this CPU")
    x = sg.fvector("x")
    node = getattr(sg, name)(x).owner
    text, _ = kernel_ir(lowering.elementwise_spec(node, True), False)
    assembly = jit.assembly(text)
    register = "zmm" if wide[0] == "avx512f" else "ymm"
    assert register in assembly, f"{name}: no {register} register in the kernel"


@pytest.mark.parametrize("name", ["exp", "exp2", "log", "log1p"])
def test_float32_exp_and_log_stay_within_an_ulp(name):
    """Float32's minimax polynomials (exp of degree 6, log(1 + f) = f + f**2 P(f) with P of
    degree 8) keep these within 1 ulp of the correctly rounded result over the domain."""
    f = _function(name, "float32")
    for _, _, values in _domain_samples(name, "float32"):
        assert ulp_distance(f(values.copy()), _reference(name, values)).max() <= 1


def test_heavy_loops_ask_for_two_vectors_in_flight():
    """A unit-stride loop over a math function carries llvm.loop.interleave.count 2 in a
    self-referencing loop ID (which LLVM accepts: the module compiles); a cheap loop none."""
    from symgraph.codegen.llvm import lowering
    from symgraph.codegen.llvm.jit import engine
    from symgraph.codegen.llvm.kernels import kernel_ir

    x, y = sg.fvectors("x", "y")
    heavy, _ = kernel_ir(lowering.elementwise_spec(sg.tanh(x).owner, True), False)
    cheap, _ = kernel_ir(lowering.elementwise_spec((x * y).owner, True), False)
    ids = [line for line in heavy.splitlines() if "distinct" in line]
    assert ids and all(re.match(r"(!\d+) = distinct !\{\1,", line) for line in ids)
    assert len(ids) == heavy.count("!llvm.loop !")  # one ID per loop
    assert '"llvm.loop.interleave.count", i32 2' in heavy and "symgraph.loop" not in heavy
    assert "llvm.loop" not in cheap
    assert "zmm" in engine().assembly(heavy) or "ymm" in engine().assembly(heavy)


def test_float32_minimax_polynomials_meet_their_stated_error():
    """The coefficients in polys.py, rounded to float32 as the kernels hold them, stay within
    the relative errors their comments state, on 200001 points of their intervals (float64
    evaluation): exp on |r| <= 0.347 within 1.8e-8, log(1 + f) = f + f**2 P(f) on
    [sqrt(1/2) - 1, sqrt(2) - 1] within 6.0e-9 (against 2**-24 = 6.0e-8 for half an ulp)."""
    from symgraph.codegen.llvm.polys import EXP_MINIMAX32, LOG1P_MINIMAX32

    def rounded(coefficients):
        return np.array(coefficients, dtype=np.float32).astype(np.float64)

    r = np.linspace(-0.347, 0.347, 200001)
    exp_error = np.abs(np.polynomial.polynomial.polyval(r, rounded(EXP_MINIMAX32)) /
                       np.exp(r) - 1).max()
    f = np.linspace(np.sqrt(0.5) - 1, np.sqrt(2.0) - 1, 200001)
    f = f[f != 0]
    log = f + f ** 2 * np.polynomial.polynomial.polyval(f, rounded(LOG1P_MINIMAX32))
    log_error = np.abs(log / np.log1p(f) - 1).max()
    assert exp_error < 1.8e-8 and log_error < 6.0e-9


def _kernel_ir(name: str, dtype: str, has_scalef: bool) -> tuple[str, str]:
    """The IR of ``name``'s 1-d kernel built with or without the single-instruction ldexp
    (``kernel_ir``'s ``has_scalef``), and its symbol."""
    from symgraph.codegen.llvm import lowering
    from symgraph.codegen.llvm.kernels import kernel_ir

    x = sg.tensor("x", dtype, shape=(None,))
    return kernel_ir(lowering.elementwise_spec(getattr(sg, name)(x).owner, True), False,
                     has_scalef)


def _run_kernel(name: str, dtype: str, values: np.ndarray, has_scalef: bool) -> np.ndarray:
    """``name`` applied to the 1-d ``values`` by that kernel, called directly."""
    import ctypes

    from symgraph.codegen.llvm.jit import engine

    text, symbol = _kernel_ir(name, dtype, has_scalef)
    code = engine().compile(text, [symbol])
    out = np.empty_like(values)
    shape = (ctypes.c_int64 * 1)(values.size)
    data = (ctypes.c_void_p * 2)(values.ctypes.data, out.ctypes.data)
    strides = (ctypes.c_int64 * 2)(values.itemsize, out.itemsize)
    ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        code.address)(shape, data, strides)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["exp", "exp2", "sigmoid"])
def test_scaling_by_ldexp_gives_the_same_bits(name, dtype):
    """Where the CPU has vscalef (AVX-512F) exp scales its polynomial with one ``llvm.ldexp``
    instead of two multiplications by powers of two: the results are the same bit for bit,
    across the range, at overflow, in the subnormal range and for the special values (on a
    CPU without it, ldexp is the C library's: slower, still the same bits)."""
    from symgraph.codegen.llvm.jit import engine

    rng = np.random.default_rng(5)
    top = 90.0 if dtype == "float32" else 712.0
    bottom = -105.0 if dtype == "float32" else -746.0
    if name == "exp2":
        top, bottom = top / np.log(2.0), bottom / np.log(2.0)
    values = np.concatenate([
        np.linspace(bottom, top, 400001), rng.standard_normal(100000) * 3,
        [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-30, -1e-30]]).astype(dtype)
    with np.errstate(all="ignore"):
        plain = _run_kernel(name, dtype, values, False)
        scaled = _run_kernel(name, dtype, values, True)
    bits = f"u{values.itemsize}"
    assert np.array_equal(plain.view(bits), scaled.view(bits))
    assert ((plain > 0) & (plain < np.finfo(dtype).tiny)).any()  # subnormal results
    assert np.isinf(plain).any() == (name != "sigmoid")  # and overflow
    if engine().has_scalef:
        assert "vscalef" in engine().assembly(_kernel_ir(name, dtype, True)[0])
        assert "vscalef" not in engine().assembly(_kernel_ir(name, dtype, False)[0])
