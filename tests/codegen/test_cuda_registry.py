"""The CUDA rule registry: one table merged from every rule module's own table (no registration
by import side effects), looked up by op class, with a user op's ``cuda_lowering`` hook in the
same place."""

from __future__ import annotations

import numpy as np

import symgraph as sg
from symgraph.codegen.cuda import (blas_rules, conv, conv_grad, indexing, nnet, random,
                                   registry, rules, scan)
from symgraph.graph import Apply
from symgraph.op import EmitError, Op
from symgraph.ops import elemwise

MODULES = (rules, blas_rules, conv, conv_grad, indexing, nnet, random, scan)


def test_the_registry_is_every_module_table_and_no_table_overrides_another():
    seen: dict[type, str] = {}
    for module in MODULES:
        for cls in module.RULES:
            assert cls not in seen, f"{cls.__name__}: rules in {seen[cls]} and {module.__name__}"
            seen[cls] = module.__name__
    assert set(registry.RULES) == set(seen)
    for module in MODULES:
        for cls, rule in module.RULES.items():
            assert registry.RULES[cls] is rule


def test_a_subclass_takes_its_base_class_rule():
    class MyElemwise(elemwise.Elemwise):
        pass

    assert registry.rule_for(MyElemwise) is rules.lower_elementwise
    assert registry.rule_for(Op) is None


class _Hooked(Op):
    """A user op carrying its own CUDA rule."""

    __props__ = ()
    lowered: list[Apply] = []

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0])

    def cuda_lowering(self, node):
        self.lowered.append(node)
        return rules.simple(lambda ctx, node, values: [values[0]], note="user rule")


class _Refusing(_Hooked):
    def cuda_lowering(self, node):
        raise EmitError("cannot emit this one")


def test_a_user_op_hook_is_looked_up_in_the_registry():
    node = _Hooked().make_node(sg.dvector())
    lowering = registry.lower(node)
    assert lowering is not None and lowering.note == "user rule"
    assert _Hooked.lowered == [node]
    assert registry.lower(_Refusing().make_node(sg.dvector())) is None


def test_an_op_without_a_rule_runs_on_the_host():
    class Plain(_Hooked):
        cuda_lowering = None

    assert registry.lower(Plain().make_node(sg.dvector())) is None
