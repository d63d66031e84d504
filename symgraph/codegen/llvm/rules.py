"""The lowering of every node in a native entry point: the first rule that matches it, else
its op's ``perform`` called back from native code. One registry, listed in one place."""

from __future__ import annotations

from typing import Any

from symgraph.codegen.llvm import (blas, lowering, native_conv, native_gather, native_index,
                                   native_nnet, native_ops, native_scan)
from symgraph.codegen.llvm.kernel_code import compile_kernel
from symgraph.graph import Apply
from symgraph.op import EmitError


class NativeRules:
    """The lowering of each node in a native entry point: the first rule that matches, else
    the ``perform`` fallback."""

    def __init__(self, backend: Any) -> None:
        self.rules = [native_scan.ScanRule(self), native_ops.KernelRule(),
                      native_ops.ReduceRule(), native_ops.DimShuffleRule(),
                      native_ops.IdentityMarkerRule(),
                      native_ops.ShapeRule(), native_index.SubtensorRule(),
                      native_index.IncSubtensorRule(), native_index.AllocRule(),
                      native_index.JoinRule(), native_index.ReshapeRule(),
                      *native_gather.rules(),
                      *native_nnet.rules(), *blas.rules(),
                      *native_conv.rules()]
        self.fallback = native_ops.FallbackRule(backend)

    def __call__(self, node: Apply, program: Any) -> tuple[Any, Any]:
        for rule in self.rules:
            match = rule.match(node, program)
            if match is not None:
                return rule, match
        return self.fallback, self.fallback.match(node, program)

    def can_fuse(self, producer: Apply, node: Apply) -> bool:
        spec = lowering.reduce_spec(node, producer)
        if spec is None:
            return False
        try:
            compile_kernel(spec)
        except EmitError:
            return False
        return True
