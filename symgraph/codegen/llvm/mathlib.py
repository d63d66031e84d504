"""Math functions for generated kernels: each ``call`` name becomes an internal, always-inlined
IR function, branch-free so that the loop vectoriser can widen it.

exp, exp2, expm1, log, log2, log10, log1p, tanh, sigmoid, softplus, erf, sin, cos and float32
pow are polynomials written here in IR with ``llvm.fmuladd`` (symgraph.codegen.llvm.polys);
the other functions call the C library (scalar, exact to its own accuracy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llvmlite import ir

from symgraph.codegen.llvm import irutil as iu
from symgraph.op import MATH_FUNCTIONS, EmitError

# LLVM intrinsics that vectorise directly: name -> (intrinsic base, arity).
INTRINSICS: dict[str, tuple[str, int]] = {
    "sqrt": ("llvm.sqrt", 1), "fabs": ("llvm.fabs", 1), "floor": ("llvm.floor", 1),
    "ceil": ("llvm.ceil", 1), "trunc": ("llvm.trunc", 1), "rint": ("llvm.rint", 1),
    "copysign": ("llvm.copysign", 2),
}

# C library functions (the Emitter's vocabulary): name -> (double name, float name).
LIBM: dict[str, tuple[str, str]] = {
    name: (c_name, c_name + "f") for name, (c_name, _) in MATH_FUNCTIONS.items()
}
LIBM_ARITY = {name: arity for name, (_, arity) in MATH_FUNCTIONS.items()}

# Polynomial implementations: name -> builder(m: MathBuilder, *args) -> value. Filled by
# symgraph.codegen.llvm.polys, which registers itself on import.
POLYNOMIALS: dict[str, Callable[..., Any]] = {}


class MathLib:
    """The math functions of one IR module, created on first use. ``has_scalef``: the target
    computes ``x * 2**n`` in one instruction (AVX-512F's vscalef, which LLVM makes of
    ``llvm.ldexp``; elsewhere ldexp is a call to the C library), so exp scales its polynomial
    with it rather than with two multiplications by powers of two built from integers."""

    def __init__(self, module: ir.Module, use_polynomials: bool = True,
                 inline: bool = True, has_scalef: bool = False) -> None:
        self.module = module
        self.use_polynomials = use_polynomials
        self.inline = inline
        self.has_scalef = has_scalef
        self._functions: dict[tuple[str, str], ir.Function] = {}

    def call(self, builder: ir.IRBuilder, name: str, dtype: str, args: list[Any]) -> Any:
        return builder.call(self.function(name, dtype), args)

    def function(self, name: str, dtype: str) -> ir.Function:
        key = (name, dtype)
        if key not in self._functions:
            self._functions[key] = self._build(name, dtype)
        return self._functions[key]

    def _build(self, name: str, dtype: str) -> ir.Function:
        ty = iu.register_type(dtype)
        if name == "fmod":
            return self._wrap(name, dtype, 2, lambda b, x, y: b.frem(x, y))
        if name in INTRINSICS:
            base, arity = INTRINSICS[name]
            return iu.intrinsic(self.module, base, ty, arity)
        if self.use_polynomials and name in POLYNOMIALS:
            from symgraph.codegen.llvm.polys import MathBuilder

            builder_fn = POLYNOMIALS[name]
            arity = LIBM_ARITY.get(name, 1)
            return self._wrap(name, dtype, arity,
                              lambda b, *xs: builder_fn(MathBuilder(b, self, dtype), *xs))
        if name in LIBM:
            c_name = LIBM[name][0 if dtype == "float64" else 1]
            arity = LIBM_ARITY.get(name, 1)
            return iu.declare(self.module, c_name, ty, [ty] * arity)
        if name in ("sigmoid", "softplus"):
            from symgraph.codegen.llvm.polys import MathBuilder, sigmoid, softplus

            rule = sigmoid if name == "sigmoid" else softplus
            return self._wrap(name, dtype, 1, lambda b, x: rule(MathBuilder(b, self, dtype), x))
        raise EmitError(f"no LLVM implementation of {name!r}")

    def _wrap(self, name: str, dtype: str, arity: int,
              body: Callable[..., Any]) -> ir.Function:
        """An internal always-inline function ``sg.<name>.<dtype>`` whose body ``body`` emits."""
        ty = iu.register_type(dtype)
        function = ir.Function(self.module, ir.FunctionType(ty, [ty] * arity),
                               name=f"sg.{name}.{dtype}")
        function.linkage = "internal"
        function.attributes.add("alwaysinline" if self.inline else "noinline")
        function.attributes.add("nounwind")
        builder = ir.IRBuilder(function.append_basic_block("entry"))
        builder.ret(body(builder, *function.args))
        return function
