"""Generic op tests driven by the op-records table (see tests/records.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import symgraph as sg
import symgraph.ops
from symgraph import dtype as dt
from symgraph.graph import toposort
from symgraph.op import Op, call_infer_shape
from symgraph.ops.elemwise import TABLE, Elemwise
from symgraph.ops.shape import Shape_i
from symgraph.type import TensorType
from tests.records import all_records

RECORDS = all_records()
RAW = sg.Mode("py", rewrites=False)  # each op's own perform, exactly as built


def _compare(got: np.ndarray, expected: np.ndarray, record, dtype: str, what: str) -> None:
    assert got.shape == expected.shape, f"{record.name} {what}: shape {got.shape} != " \
                                        f"{expected.shape}"
    if dt.is_float(dtype):
        rtol, atol = record.tolerances(dtype)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"{record.name} {what}")
    else:
        np.testing.assert_array_equal(got, expected, err_msg=f"{record.name} {what}")


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_perform_matches_reference(record):
    variables, outputs = record.build()
    f = sg.function(variables, outputs, mode=RAW, on_unused_input="ignore")
    values = record.values()
    got = f(*values)
    expected = record.expected(values)
    assert len(got) == len(expected), f"{record.name}: {len(got)} outputs, reference gives " \
                                      f"{len(expected)}"
    for g, e, out in zip(got, expected, outputs):
        assert isinstance(g, np.ndarray)
        assert g.dtype.name == out.dtype
        _compare(g, e, record, out.dtype, "value")


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_infer_shape_matches_real_shapes(record):
    variables, outputs = record.build()
    checked, shape_exprs = [], []
    for node in toposort(outputs):
        assert hasattr(node.op, "infer_shape"), f"{node.op} has no infer_shape"
        input_shapes = [tuple(Shape_i(d)(v) for d in range(v.ndim))
                        if isinstance(v.type, TensorType) else None for v in node.inputs]
        shapes = call_infer_shape(node.op, None, node, input_shapes)
        assert len(shapes) == len(node.outputs), f"{node.op}: one shape per output"
        for out, shape in zip(node.outputs, shapes):
            if not isinstance(out.type, TensorType):
                continue
            assert len(shape) == out.ndim, f"{node.op}: shape {shape} for a {out.ndim}-d output"
            checked.append((node, out))
            shape_exprs.append([sg.as_tensor_variable(s) for s in shape])
    flat = [s for shape in shape_exprs for s in shape]
    f = sg.function(variables, [out for _, out in checked] + flat, mode=RAW,
                    on_unused_input="ignore")
    results = f(*record.values())
    values, dims = results[:len(checked)], results[len(checked):]
    position = 0
    for (node, out), value, shape in zip(checked, values, shape_exprs):
        inferred = tuple(int(d) for d in dims[position:position + len(shape)])
        position += len(shape)
        assert inferred == value.shape, f"{node.op}: infer_shape gives {inferred}, the real " \
                                        f"shape is {value.shape}"


GRAD_RECORDS = [r for r in RECORDS if r.grad]


@pytest.mark.parametrize("record", GRAD_RECORDS, ids=lambda r: r.name)
def test_verify_grad(record):
    values = record.values()
    indices = record.grad_inputs if record.grad_inputs is not None else tuple(
        i for i, spec in enumerate(record.inputs) if dt.is_float(spec.dtype))
    assert indices, f"{record.name}: grad=True but no float input"
    points = [values[i].astype("float64") for i in indices]
    static = [record.inputs[i].static or (None,) * values[i].ndim for i in indices]

    def fun(*diff_vars):
        args = [sg.constant(v) for v in values]
        for i, var in zip(indices, diff_vars):
            args[i] = var if record.inputs[i].dtype == "float64" else var.astype(
                record.inputs[i].dtype)
        outputs = record.fn(*args)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [o for o in outputs if dt.is_float(o.dtype)]

    kwargs = {} if record.grad_tol is None else {"abs_tol": record.grad_tol,
                                                 "rel_tol": record.grad_tol}
    sg.verify_grad(fun, points, rng=np.random.default_rng(42), static_shapes=static, **kwargs)


def _op_classes() -> set[type]:
    classes = set()
    for info in pkgutil.iter_modules(symgraph.ops.__path__):
        module = importlib.import_module(f"symgraph.ops.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Op) and cls is not Op and cls.__module__ == module.__name__ \
                    and not getattr(cls, "abstract", False):
                classes.add(cls)
    return classes


def test_every_op_and_table_row_has_a_record():
    seen_classes: set[type] = set()
    seen_rows: set[str] = set()
    for record in RECORDS:
        _, outputs = record.build()
        for node in toposort(outputs):
            seen_classes.add(type(node.op))
            if isinstance(node.op, Elemwise):
                seen_rows.add(node.op.scalar_op.name)
    missing_classes = sorted(c.__name__ for c in _op_classes() - seen_classes)
    missing_rows = sorted(set(TABLE) - seen_rows)
    assert not missing_classes, f"op classes without a record: {missing_classes}"
    assert not missing_rows, f"elementwise rows without a record: {missing_rows}"
    assert any(r.startswith("cast{") for r in seen_rows), "no record exercises cast"
