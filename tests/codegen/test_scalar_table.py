"""The elementwise table is the one source of each scalar op: every row emits with both the LLVM
and the CUDA emitter in every dtype it accepts (unless it declares ``perform_only``), runs as a
native kernel on llvm (no ``perform`` fallback), and adding one (``cbrt``) needs one row only."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import symgraph as sg
from symgraph import dtype as dt
from symgraph.codegen.cuda import catalog
from symgraph.codegen.cuda import elementwise as cuda_ew
from symgraph.codegen.cuda import kernel as cuda_kernel
from symgraph.codegen.cuda.emitter import CodeBlock, CValue
from symgraph.ops import elemwise as ew
from symgraph.ops.composite import ScalarProgram

llvmlite_ir = pytest.importorskip("llvmlite.ir")

RAW_LLVM = sg.Mode("llvm", rewrites=False)


def _row_cases():
    """``(row, node)``: every row of the table and every cast, in every dtype it accepts."""
    return [(row, node) for row in catalog.table_rows() for node in catalog.row_nodes(row)]


def _case_id(case) -> str:
    row, node = case
    return f"{row.name}-{node.inputs[-1].type.dtype}"


CASES = _row_cases()


def _emit_llvm(row, node) -> None:
    from symgraph.codegen.llvm import scalar
    from symgraph.codegen.llvm import irutil as iu
    from symgraph.codegen.llvm.emitter import ErrorFlag
    from symgraph.codegen.llvm.mathlib import MathLib

    module = llvmlite_ir.Module()
    dtypes = [v.type.dtype for v in node.inputs]
    out_dtype = node.outputs[0].type.dtype
    fnty = llvmlite_ir.FunctionType(iu.register_type(out_dtype),
                                    [iu.register_type(d) for d in dtypes] + [iu.PTR])
    function = llvmlite_ir.Function(module, fnty, name="probe")
    builder = llvmlite_ir.IRBuilder(function.append_basic_block("entry"))
    args = list(zip(function.args[:-1], dtypes))
    value, _ = scalar.emit_step(builder, MathLib(module), row, args, out_dtype,
                                ErrorFlag(function.args[-1]))
    builder.ret(value)
    import llvmlite.binding as llvm

    llvm.parse_assembly(str(module)).verify()


def _emit_cuda(row, node) -> str:
    block = CodeBlock(errors=[])
    args = [CValue(f"a{i}", v.type.dtype) for i, v in enumerate(node.inputs)]
    cuda_kernel.emit_step(block, row, args, node.outputs[0].type.dtype)
    return block.text()


def test_every_row_emits_with_both_emitters_in_every_dtype():
    assert len({row.name for row, _ in CASES}) == len(ew.TABLE) + len(dt.ALL_DTYPES)
    failures = []
    for row, node in CASES:
        if row.perform_only:
            assert row.emit is None, f"{row.name} declares perform_only but has an emit rule"
            continue
        for backend, emit in (("llvm", _emit_llvm), ("cuda", _emit_cuda)):
            try:
                emit(row, node)
            except NotImplementedError as err:
                failures.append(f"{row.name}({node.inputs[-1].type.dtype}) on {backend}: {err}")
    assert not failures, "rows that neither emit nor declare perform_only:\n" + \
        "\n".join(failures)


def test_a_row_that_cannot_emit_fails_the_check():
    # What the check above catches: a rule using a function outside the emitters' vocabulary.
    row = ew.ScalarOp("gamma_like", 1, np.exp, ew.to_float, None,
                      lambda e, x: e.call("no_such_function", x))
    node = ew.Elemwise(row).make_node(sg.dvector())
    with pytest.raises(NotImplementedError):
        _emit_llvm(row, node)
    with pytest.raises(NotImplementedError):
        _emit_cuda(row, node)


def _inputs(node, rng) -> list[np.ndarray]:
    values = []
    for var in node.inputs:
        dtype = var.type.dtype
        if dtype == "bool":
            values.append(np.asarray(rng.random() < 0.5))
        elif dt.is_float(dtype):
            values.append(np.asarray(rng.uniform(0.5, 2.0), dtype=dtype))
        else:  # small positive integers: no zero divisor, no negative exponent
            values.append(np.asarray(rng.integers(1, 4), dtype=dtype))
    return values


@pytest.mark.parametrize("dtype", dt.ALL_DTYPES)
def test_no_row_falls_back_to_perform_on_llvm(dtype):
    """Every row accepting ``dtype`` compiles to a native kernel and gives the reference's
    numbers (graphs as built: no rewrite may remove or fuse the node under test)."""
    cases = [(row, node) for row, node in CASES if node.inputs[-1].type.dtype == dtype]
    inputs, outputs, values = [], [], []
    rng = np.random.default_rng(3)
    for row, node in cases:
        variables = [sg.tensor(dtype=v.type.dtype, shape=()) for v in node.inputs]
        inputs += variables
        outputs.append(ew.Elemwise(row)(*variables))
        values += _inputs(node, rng)
    f = sg.function(inputs, outputs, mode=RAW_LLVM, profile=True)
    got = f(*values)
    notes = {node.op.scalar_op.name: note for node, note in f.profile.node_notes.items()}
    assert set(notes) == {row.name for row, _ in cases}
    fallbacks = {name: note for name, note in notes.items() if note != "kernel"}
    assert not fallbacks, f"rows not compiled for {dtype}: {fallbacks}"
    reference = sg.function(inputs, outputs, mode=sg.Mode("py", rewrites=False))(*values)
    for (row, _), g, r in zip(cases, got, reference):
        np.testing.assert_allclose(g, r, rtol=2e-3 if dtype == "float16" else 1e-6,
                                   err_msg=row.name)


# -- adding cbrt: one row in the table, one test record ------------------------------------------
def test_cbrt_is_a_public_function_written_from_its_row():
    assert sg.cbrt is ew.FUNCTIONS["cbrt"] and "cbrt" in ew.__all__
    row = ew.TABLE["cbrt"]
    assert row.cost == ew.MATH_COST and row.kind == "compute" and not row.perform_only
    assert str(inspect.signature(sg.cbrt)) == "(x)"
    doc = sg.cbrt.__doc__
    assert doc.startswith("Elementwise cube root.")
    assert "g / (3.0 * sqr(out))" in doc and "numpy.cbrt" in doc


def test_cbrt_runs_natively_on_llvm_with_its_gradient():
    x = sg.dvector("x")
    y = sg.cbrt(x)
    f = sg.function([x], [y, sg.grad(y.sum(), x)], profile=True)
    assert set(f.profile.node_notes.values()) == {"kernel"}
    values = np.array([-8.0, -2.0, 0.5, 1.0, 27.0])
    value, gradient = f(values)
    np.testing.assert_allclose(value, np.cbrt(values), rtol=1e-15)
    np.testing.assert_allclose(gradient, 1.0 / (3.0 * np.cbrt(values) ** 2), rtol=1e-14)
    sg.verify_grad(sg.cbrt, [values], rng=np.random.default_rng(0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cbrt_emits_as_cuda_c(dtype):
    step = (ew.TABLE["cbrt"], (0,), dtype)
    program = ScalarProgram((dtype,), (step,), (1,))
    kernel = cuda_ew.elementwise_kernel(cuda_ew.ElementwiseSpec(program, (dtype,), 1))
    assert ("cbrtf(v0)" if dtype == "float32" else "cbrt(v0)") in kernel.code


def test_cbrt_runs_on_the_cuda_emulator(tmp_path):
    from tests.codegen.cuda_support import emulated_backend, installed_as_cuda

    backend = emulated_backend()
    x = sg.fvector("x")
    with installed_as_cuda(backend, str(tmp_path)):
        f = sg.function([x], sg.cbrt(x) * 2, mode="cuda", profile=True)
        values = np.array([-8.0, -1.0, 0.0, 3.0, 64.0], dtype="float32")
        np.testing.assert_allclose(f(values), 2 * np.cbrt(values), rtol=1e-6)
    assert "perform on the host (no CUDA rule)" not in set(f.profile.node_notes.values())


# -- what else the rows carry --------------------------------------------------------------------
def test_the_kernel_threading_weight_comes_from_the_rows():
    from symgraph.codegen.llvm.kernels import KernelSpec

    def weight(*names: str) -> int:
        steps = tuple((ew.TABLE[n], (0,), "float64") for n in names)
        program = ScalarProgram(("float64",), steps, (len(steps),))
        return KernelSpec(program, 1, ((False,),), ("float64",)).weight()

    assert weight("neg") == 1
    assert weight("exp", "neg", "sin") == 1 + 2 * ew.MATH_COST


def test_kinds_and_positivity_are_row_fields():
    assert {row.name for row in ew.SCALAR_OPS if row.kind != "compute"} == {"second", "identity"}
    assert all(ew.cast_scalar_op(d).kind == "cast" for d in dt.ALL_DTYPES)
    assert {row.name for row in ew.SCALAR_OPS if row.positive} == \
        {"exp", "exp2", "cosh", "sigmoid", "softplus"}
    with pytest.raises(ValueError, match="kind"):
        ew.ScalarOp("odd", 1, np.negative, ew.same, kind="negation")


def test_public_functions_and_all_come_from_the_table():
    assert set(ew.FUNCTIONS) == set(ew.TABLE)
    assert set(ew.__all__) == set(ew.TABLE) | set(ew.ALIASES) | {
        "cast", "dimshuffle", "full_like", "ones_like", "zeros_like"}
    for name, function in ew.FUNCTIONS.items():
        assert getattr(ew, name) is function and getattr(sg, name) is function
        doc = function.__doc__
        for section in ("Parameters", "Returns", "Raises", "Notes", "Domain:", "Gradient:"):
            assert section in doc, f"{name}: no {section}"
        assert "Takes 1 tensors" not in doc
    assert sg.clip(sg.dvector(), a_min=0.0, a_max=1.0).owner.op.scalar_op is ew.TABLE["clip"]
    with pytest.raises(TypeError, match="a_max"):
        sg.clip(sg.dvector(), a_min=0.0)


def test_one_compute_dtype_rule_for_the_reference_and_the_emitters():
    # float16 computes in float32 everywhere; comparisons in their inputs' dtype.
    assert ew.compute_dtypes(ew.TABLE["exp"], ["float16"], "float16") == \
        ("float32", ["float32"])
    assert ew.compute_dtypes(ew.TABLE["lt"], ["int8", "int8"], "bool") == \
        ("int8", ["int8", "int8"])
    assert ew.compute_dtypes(ew.TABLE["switch"], ["bool", "float16", "float16"], "float16") == \
        ("float32", ["bool", "float32", "float32"])
    # A three-term float16 sum rounds once, as the kernels do, not after every term.
    a = np.array([2048.0], dtype="float16")
    b = c = np.array([1.0], dtype="float16")
    assert ew.apply_scalar_op(ew.TABLE["add"], "float16", [a, b, c])[0] == 2050.0


def test_integer_powers_with_negative_exponents_raise_on_llvm_as_in_numpy():
    x, y = sg.lvectors("x", "y")
    f = sg.function([x, y], x ** y + 1, profile=True)
    assert set(f.profile.node_notes.values()) == {"kernel"}
    base = np.array([3, -2, 5, 0, 7])
    np.testing.assert_array_equal(f(base, np.array([2, 3, 0, 4, 25])),
                                  base ** np.array([2, 3, 0, 4, 25]) + 1)  # 7**25 wraps
    with pytest.raises(ValueError, match="negative integer powers"):
        f(base, np.array([1, 1, -1, 1, 1]))
