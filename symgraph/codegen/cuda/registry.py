"""The CUDA backend's one rule registry: every rule module's table, merged here, and the
lookup that gives a node its lowering (by op class, then the op's own ``cuda_lowering``)."""

from __future__ import annotations

from symgraph.codegen.cuda import (blas_rules, conv, conv_grad, indexing, nnet, random, rules,
                                   scan)
from symgraph.codegen.cuda.rules import Lowering, Rule
from symgraph.graph import Apply

RULES: dict[type, Rule] = {
    **rules.RULES, **blas_rules.RULES, **conv.RULES, **conv_grad.RULES, **indexing.RULES,
    **nnet.RULES, **random.RULES, **scan.RULES,
}


def rule_for(op_class: type) -> Rule | None:
    """The rule registered for ``op_class`` or its nearest base class."""
    for cls in op_class.__mro__:
        found = RULES.get(cls)
        if found is not None:
            return found
    return None


def lower(node: Apply) -> Lowering | None:
    """The node's CUDA lowering: its class's rule, else the op's ``cuda_lowering(node)`` (a
    user op's own rule); None when it runs its ``perform`` on the host, as it does when the
    rule cannot generate code for this node (``EmitError``)."""
    found = rule_for(type(node.op)) or getattr(node.op, "cuda_lowering", None)
    if found is None:
        return None
    try:
        return found(node)
    except NotImplementedError:  # EmitError included
        return None

