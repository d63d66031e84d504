"""Specialize rules: products become Gemm/Gemv/Ger absorbing their scalings and additions,
squares become sqr; structure after rewriting and equal numbers before and after."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import toposort
from symgraph.ops import blas
from symgraph.ops.elemwise import Elemwise
from tests.rewrite.helpers import RAW, assert_same_results

RNG = np.random.default_rng(0)
UP_TO_SPECIALIZE = ("merge", "canonicalize", "stabilize", "specialize")


def nodes(outputs):
    return toposort(outputs if isinstance(outputs, list) else [outputs])


def names(outputs) -> list[str]:
    return [n.op.scalar_op.name if isinstance(n.op, Elemwise) else type(n.op).__name__
            for n in nodes(outputs)]


def specialized(out, include=UP_TO_SPECIALIZE):
    return sg.rewrite_graph(out, include=include)


def only(outputs, op_class):
    (node,) = [n for n in nodes(outputs) if isinstance(n.op, op_class)]
    return node


def constant_value(var):
    return None if not isinstance(var, sg.Constant) else float(np.asarray(var.data).reshape(-1)[0])


M34, M45, M35 = (RNG.normal(size=s) for s in [(3, 4), (4, 5), (3, 5)])
V3, V4, V5 = (RNG.normal(size=n) for n in (3, 4, 5))


# -- matrix products ----------------------------------------------------------------------------

@pytest.mark.parametrize("product", [sg.dot, sg.matmul], ids=["dot", "matmul"])
def test_matrix_product_becomes_gemm(product):
    x, y = sg.dmatrix("x"), sg.dmatrix("y")
    out, fired = specialized(product(x, y))
    assert "dot_to_gemm" in fired and names(out) == ["Gemm"]
    _, alpha, a, b, beta = out.owner.inputs
    assert (a, b) == (x, y) and constant_value(alpha) == 1 and constant_value(beta) == 0
    x, y = sg.dmatrix("x"), sg.dmatrix("y")
    assert_same_results([x, y], product(x, y), [M34, M45])


def test_gemm_keeps_float32_and_leaves_integer_products_alone():
    x, y = sg.fmatrix("x"), sg.fmatrix("y")
    out, _ = specialized(sg.dot(x, y))
    assert names(out) == ["Gemm"] and out.dtype == "float32"
    i, j = sg.lmatrix("i"), sg.lmatrix("j")
    out, fired = specialized(sg.dot(i, j))
    assert names(out) == ["Dot"] and "dot_to_gemm" not in fired


@pytest.mark.parametrize("build, values", [
    (lambda a, v, w: sg.dot(a, v), [M34, V4, V3]),
    (lambda a, v, w: sg.dot(w, a), [M34, V4, V3]),
    (lambda a, v, w: a @ v, [M34, V4, V3]),
], ids=["matrix_vector", "vector_matrix", "matmul"])
def test_matrix_vector_product_becomes_gemv(build, values):
    a, v, w = sg.dmatrix("a"), sg.dvector("v"), sg.dvector("w")
    out, fired = specialized(build(a, v, w))
    assert "dot_to_gemv" in fired and "Gemv" in names(out) and "Dot" not in names(out)
    a, v, w = sg.dmatrix("a"), sg.dvector("v"), sg.dvector("w")
    assert_same_results([a, v, w], build(a, v, w), values)


def _gemm_build(kind):
    def build(x, y, z, a, b):
        if kind == "scaled_add":
            return a * sg.dot(x, y) + b * z
        if kind == "add_first":
            return z + sg.dot(x, y) * 2.0
        if kind == "sub_product":
            return z - a * sg.dot(x, y)
        if kind == "sub_accumulator":
            return sg.dot(x, y) - z
        if kind == "neg":
            return -(sg.dot(x, y) * a) + z
        if kind == "three_terms":
            return sg.dot(x, y) + z + sg.exp(z)
        raise AssertionError(kind)

    return build


GEMM_CASES = {
    # kind: (alpha, beta) the resulting Gemm computes with, for a = 2 and b = 3
    "scaled_add": (2.0, 3.0),
    "add_first": (2.0, 1.0),
    "sub_product": (-2.0, 1.0),
    "sub_accumulator": (1.0, -1.0),
    "neg": (-2.0, 1.0),
    "three_terms": (1.0, 1.0),
}


@pytest.mark.parametrize("kind", list(GEMM_CASES))
def test_scaled_additions_are_absorbed_into_gemm(kind):
    build = _gemm_build(kind)
    x, y, z = sg.dmatrices("x", "y", "z")
    a, b = sg.dscalars("a", "b")
    out, fired = specialized(build(x, y, z, a, b))
    assert "add_into_gemm" in fired
    node = only(out, blas.Gemm)
    # Beside another term, the accumulator is the one computed here (exp(z), which the
    # product may overwrite), not the input z (which it would have to copy).
    accumulator = node.inputs[0]
    assert (accumulator.owner is not None and accumulator.owner.inputs == [z]) \
        if kind == "three_terms" else accumulator is z
    assert (node.inputs[2], node.inputs[3]) == (x, y)
    assert "Dot" not in names(out)
    f = sg.function([a, b], [node.inputs[1], node.inputs[4]], mode=RAW,
                    on_unused_input="ignore")
    assert [float(v) for v in f(2.0, 3.0)] == list(GEMM_CASES[kind])
    x, y, z = sg.dmatrices("x", "y", "z")
    a, b = sg.dscalars("a", "b")
    assert_same_results([x, y, z, a, b], build(x, y, z, a, b), [M34, M45, M35, 2.0, 3.0])


def test_bias_row_is_absorbed_as_a_broadcast_accumulator():
    x, w, bias = sg.dmatrix("x"), sg.dmatrix("w"), sg.dvector("b")
    out, _ = specialized(sg.tanh(sg.dot(x, w) + bias))
    assert names(out) == ["DimShuffle", "Gemm", "tanh"]
    x, w, bias = sg.dmatrix("x"), sg.dmatrix("w"), sg.dvector("b")
    assert_same_results([x, w, bias], sg.tanh(sg.dot(x, w) + bias), [M34, M45, V5])


def test_gemv_absorbs_additions_and_scales():
    a, v, y = sg.dmatrix("a"), sg.dvector("v"), sg.dvector("y")
    build = lambda a, v, y: y - 0.5 * sg.dot(a, v)
    out, fired = specialized(build(a, v, y))
    assert {"dot_to_gemv", "scale_into_gemm", "add_into_gemm"} <= set(fired)
    node = only(out, blas.Gemv)
    assert node.inputs[0] is y and constant_value(node.inputs[1]) == -0.5
    a, v, y = sg.dmatrix("a"), sg.dvector("v"), sg.dvector("y")
    assert_same_results([a, v, y], build(a, v, y), [M34, V4, V3])


def test_product_used_twice_is_not_absorbed():
    x, y, z = sg.dmatrices("x", "y", "z")
    p = sg.dot(x, y)
    out, fired = specialized([p + z, p * 2.0])
    assert "add_into_gemm" not in fired and "scale_into_gemm" not in fired
    assert names(out).count("Gemm") == 1


def test_sgd_update_becomes_one_gemm_per_weight():
    x, y = sg.dmatrix("x"), sg.dmatrix("y")
    w = sg.shared(RNG.normal(size=(4, 5)), name="w")
    loss = sg.sum(sg.sqr(sg.dot(x, w) - y))
    update = w - 0.1 * sg.grad(loss, w)
    f = sg.function([x, y], [], updates=[(w, update)], mode="py")
    gemms = [n for n in f.fgraph.toposort() if isinstance(n.op, blas.Gemm)]
    assert any(n.inputs[0] is f.fgraph.inputs[-1] for n in gemms), "w is the accumulator"
    before = w.get_value()
    f(M34, M35)
    residual = M34 @ before - M35
    np.testing.assert_allclose(w.get_value(), before - 0.1 * 2 * M34.T @ residual, rtol=1e-12)


# -- rank-1 updates -------------------------------------------------------------------------------

@pytest.mark.parametrize("build, alpha", [
    (lambda a, x, y: a + sg.outer(x, y), 1.0),
    (lambda a, x, y: a - 0.5 * sg.outer(x, y), -0.5),
    (lambda a, x, y: sg.outer(x, y) * 3.0 + a, 3.0),
], ids=["add", "scaled_sub", "scaled_first"])
def test_outer_accumulation_becomes_ger(build, alpha):
    a, x, y = sg.dmatrix("a"), sg.dvector("x"), sg.dvector("y")
    out, fired = specialized(build(a, x, y))
    assert "outer_accumulation_to_ger" in fired
    node = only(out, blas.Ger)
    assert node.inputs[0] is a and constant_value(node.inputs[1]) == alpha
    a, x, y = sg.dmatrix("a"), sg.dvector("x"), sg.dvector("y")
    assert_same_results([a, x, y], build(a, x, y), [M34, V3, V4])


@pytest.mark.parametrize("build", [
    lambda a, x, y: a + a + sg.outer(x, y),
    lambda a, x, y: sg.dot(sg.outer(x, y), a.T) + sg.exp(a) * 1.0 + sg.exp(a),
], ids=["ger", "gemm"])
def test_a_repeated_term_is_absorbed_once(build):
    a, x, y = sg.dmatrix("a"), sg.dvector("x"), sg.dvector("y")
    _, fired = specialized(build(a, x, y))
    assert {"outer_accumulation_to_ger", "add_into_gemm"} & set(fired)
    a, x, y = sg.dmatrix("a"), sg.dvector("x"), sg.dvector("y")
    square = RNG.normal(size=(3, 3))
    assert_same_results([a, x, y], build(a, x, y), [square, V3, V3])


def test_an_input_beside_other_terms_stays_in_the_elementwise_add():
    """``dot(x, y) + z + b`` with inputs z and b: absorbing z would copy it into the product's
    output, and the add of b (a kernel) remains anyway, so z is added there."""
    x, y, z = sg.dmatrices("x", "y", "z")
    b = sg.dvector("b")
    out, fired = specialized(sg.dot(x, y) + z + b)
    assert "add_into_gemm" not in fired
    x, y, z = sg.dmatrices("x", "y", "z")
    b = sg.dvector("b")
    assert_same_results([x, y, z, b], sg.dot(x, y) + z + b, [M34, M45, M35, V5])
    out, fired = specialized(sg.dot(x, y) + z)
    assert "add_into_gemm" in fired and only(out, blas.Gemm).inputs[0] is z


def test_plain_outer_product_stays_elementwise():
    x, y = sg.dvector("x"), sg.dvector("y")
    out, fired = specialized(sg.outer(x, y))
    assert "outer_accumulation_to_ger" not in fired and "Ger" not in names(out)


# -- squares and sums of squares ------------------------------------------------------------------

def test_pow_two_becomes_sqr_in_specialize_alone():
    x = sg.dmatrix("x")
    out, fired = specialized(x ** 2, include=("specialize",))
    assert fired == ["pow_two_to_sqr"] and names(out) == ["sqr"]


def test_pow_two_with_an_upcasting_exponent_becomes_sqr():
    x = sg.fmatrix("x")
    build = lambda x: x ** np.float64(2.0)
    assert build(x).dtype == "float64"
    out, _ = specialized(build(x))
    assert "pow" not in names(out) and "sqr" in names(out)
    x = sg.fmatrix("x")
    assert_same_results([x], build(x), [M34.astype("float32")], rtol=1e-6)


@pytest.mark.parametrize("build", [
    lambda x: sg.sum(x * x),
    lambda x: sg.sum(x * x, axis=1),
    lambda x: (x * x).mean(),
    lambda x: sg.sum(x * 3.0 * x),
], ids=["all", "axis", "mean", "with_factor"])
def test_sum_of_self_product_becomes_sum_of_sqr(build):
    x = sg.dmatrix("x")
    out, fired = specialized(build(x))
    assert "mul_self_to_sqr" in fired
    found = names(out)
    assert "sqr" in found and "CAReduce" in found
    for node in nodes(out):
        if isinstance(node.op, Elemwise) and node.op.scalar_op.name == "mul":
            assert len({id(v) for v in node.inputs}) == len(node.inputs), "x * x is left"
    x = sg.dmatrix("x")
    assert_same_results([x], build(x), [M34])


def test_scalar_factor_moves_out_of_a_sum():
    x, c = sg.dmatrix("x"), sg.dscalar("c")
    build = lambda x, c: sg.sum(c * sg.exp(x), axis=0)
    out, fired = specialized(build(x, c))
    assert "scalar_out_of_sum" in fired
    assert out.owner.op.scalar_op.name == "mul"  # the factor now multiplies the reduced sum
    x, c = sg.dmatrix("x"), sg.dscalar("c")
    assert_same_results([x, c], build(x, c), [M34, 1.5])


def test_scalar_factor_of_an_integer_sum_stays():
    x = sg.lmatrix("x")
    _, fired = specialized(sg.sum(x * 3))
    assert "scalar_out_of_sum" not in fired


# -- Gemm through the whole pipeline --------------------------------------------------------------

def test_gemm_graph_gradients_match_the_unrewritten_graph():
    x, y, z = sg.dmatrices("x", "y", "z")
    a = sg.dscalar("a")
    out = sg.sum(sg.tanh(a * sg.dot(x, y) + z))
    grads = sg.grad(out, [x, y, z, a])
    f = assert_same_results([x, y, z, a], [out, *grads], [M34, M45, M35, 0.7])
    assert any(isinstance(n.op, blas.Gemm) for n in f.fgraph.toposort())


# -- the contract of the ops these rules build ---------------------------------------------------

def test_gemm_rejects_bad_operands_naming_the_input():
    z, x, y = sg.dmatrices("z", "x", "y")
    with pytest.raises(TypeError, match="input 2"):
        blas.Gemm()(z, 1.0, sg.lmatrix("i"), y, 0.0)
    with pytest.raises(TypeError, match="input 3"):
        blas.Gemm()(z, 1.0, x, sg.fmatrix("f"), 0.0)
    with pytest.raises(TypeError, match="input 1"):
        blas.Gemm()(z, sg.dvector("v"), x, y, 0.0)
    with pytest.raises(TypeError, match="input 3"):
        blas.Gemv()(sg.dvector("z"), 1.0, x, y, 0.0)
    with pytest.raises(TypeError, match="input 0"):
        blas.Gemm(inplace=True)(sg.tensor("row", dtype="float64", shape=(1, None)), 1.0, x, y,
                                1.0)
    with pytest.raises(ValueError, match="contracted"):
        blas.Gemm()(z, 1.0, sg.tensor("a", dtype="float64", shape=(2, 3)),
                    sg.tensor("b", dtype="float64", shape=(4, 2)), 0.0)


def test_gemm_checks_the_accumulator_shape_at_run_time():
    z, x, y = sg.dmatrices("z", "x", "y")
    f = sg.function([z, x, y], blas.Gemm()(z, 1.0, x, y, 1.0), mode=RAW)
    with pytest.raises(ValueError, match="accumulator"):
        f(np.ones((3, 4)), M34, M45)
    with pytest.raises(ValueError, match="not aligned"):
        f(M35, M34, M34)


def test_blas_ops_do_not_read_operands_scaled_by_zero():
    z, x, y = sg.dmatrices("z", "x", "y")
    f = sg.function([z, x, y], blas.Gemm()(z, 0.0, x, y, 2.0), mode=RAW)
    nan = np.full((4, 5), np.nan)
    np.testing.assert_array_equal(f(M35, M34, nan), 2.0 * M35)
    a, u, v = sg.dmatrix("a"), sg.dvector("u"), sg.dvector("v")
    g = sg.function([a, u, v], blas.Ger()(a, 0.0, u, v), mode=RAW)
    np.testing.assert_array_equal(g(M34, np.full(3, np.nan), V4), M34)


def test_inplace_gemm_writes_into_its_accumulator():
    op = blas.Gemm(inplace=True)
    assert op.destroy_map == {0: [0]} and blas.Gemm().destroy_map == {}
    assert op != blas.Gemm() and str(op) == "Gemm{inplace}"
    z, x, y = sg.dmatrices("z", "x", "y")
    node = op.make_node(z, 1.0, x, y, 1.0)
    buffer = M35.copy()
    storage = [[None]]
    op.perform(node, [buffer, np.float64(2.0), M34, M45, np.float64(1.0)], storage)
    assert storage[0][0] is buffer
    np.testing.assert_allclose(buffer, M35 + 2.0 * M34 @ M45, rtol=1e-12)
