"""The pattern language: matching (any operand order for add/mul, repeated variables, numbers
by value, ``when``), building replacements, and the type fitting the engine does for rules."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.fgraph import FunctionGraph
from symgraph.rewrite.engine import Phase, fit_type
from symgraph.rewrite.pattern import Pattern, build, match, rule, show, variables
from tests.rewrite.helpers import assert_same_results

x, y, z = variables("x y z")


def matches(pattern, var):
    """Every match as a dict of bindings."""
    return [bindings for bindings, _ in match(pattern, var)]


def rewritten(rules, outputs, inputs):
    """The graph after a phase of ``rules``: (fgraph, names of the rules that fired)."""
    fired = []

    class Log:
        def on_change_input(self, fgraph, node, i, old, new, reason):
            fired.append(reason)

    fg = FunctionGraph(inputs, outputs, features=[Log()])
    Phase("test", tuple(rules))(fg)
    return fg, fired


def rows(fg):
    return [getattr(n.op, "scalar_op", n.op).__str__() for n in fg.toposort()]


# -- matching ---------------------------------------------------------------------------------

def test_operator_rows_and_arity_must_agree():
    a, b = sg.dvectors("a b")
    assert matches(sg.log(sg.exp(x)), sg.log(sg.exp(a))) == [{"x": a}]
    assert matches(sg.log(sg.exp(x)), sg.log(sg.sin(a))) == []
    assert matches(x - y, a - b) == [{"x": a, "y": b}]
    assert matches(x - y, b - a) == [{"x": b, "y": a}]  # sub is not commutative
    assert matches(sg.log(x), a) == []  # an input has no op


def test_add_and_mul_match_in_any_operand_order():
    a, b = sg.dvectors("a b")
    for var in (1 + sg.exp(a), sg.exp(a) + 1):
        assert matches(1 + sg.exp(x), var) == [{"x": a}]
    assert matches(sg.exp(x) * y, b * sg.exp(a)) == [{"x": a, "y": b}]
    # Every assignment is offered, so a later condition can pick one.
    assert {m["x"] for m in matches(x + y, a + b)} == {a, b}


def test_the_last_free_variable_of_add_takes_the_other_operands():
    a, b, c = sg.dvectors("a b c")
    total = sg.add(a, 1, b, c)
    (bindings,) = [m for m, _ in match(1 + x, total)]
    rest = bindings["x"]
    assert rest.operands == (a, b, c)  # built as one sum only for a match that is used
    # A pattern without a free variable matches only a node of its own arity.
    assert matches(1 + sg.exp(x), sg.add(1, sg.exp(a), b)) == []


def test_a_repeated_variable_matches_the_same_variable():
    a, b = sg.dvectors("a b")
    assert matches(x - x, a - a) == [{"x": a}]
    assert matches(x - x, a - b) == []
    assert matches(x / x, sg.exp(a) / sg.exp(a)) != []  # equal computations count as one
    assert matches(x / x, sg.exp(a) / sg.exp(b)) == []
    assert matches(sg.exp(x) / (1 + sg.exp(x)), sg.exp(a) / (1 + sg.exp(b))) == []


def test_numbers_match_by_value_through_fills_and_rank_padding():
    a = sg.dmatrix("a")
    assert matches(x * 1, a * 1.0) == [{"x": a}]
    assert matches(x * 1, a * np.ones((1, 1))) == [{"x": a}]
    assert matches(x * 1, a * sg.ones_like(a)) == [{"x": a}]
    assert matches(x * 1, a * 2.0) == []
    assert matches(x * 1, a * np.array([[1.0, 2.0]])) == []
    assert matches(x ** 2, sg.lmatrix("i") ** 2) != []  # an int 2 matches the pattern's 2


def test_when_chooses_among_the_matches():
    a, b = sg.dvectors("a b")
    is_exp = rule("test_when", Pattern(x + y, x, when=lambda m: m.x.owner is not None))
    fg, fired = rewritten([is_exp], [sg.exp(a) + b], [a, b])
    assert fired == ["test_when"] and rows(fg) == ["exp"]
    fg, fired = rewritten([is_exp], [a + b], [a, b])
    assert fired == []


# -- building and fitting ---------------------------------------------------------------------

def test_numbers_in_a_replacement_take_the_dtype_of_the_other_operand():
    i, f = sg.ivector("i"), sg.fvector("f")
    assert build(1 - x, {"x": i}).dtype == "int32"
    assert build(1 - x, {"x": f}).dtype == "float32"
    assert build(0.5 * x, {"x": f}).dtype == "float32"
    assert build(0.5 * x, {"x": i}).dtype == "float64"


def test_fit_casts_to_the_old_dtype():
    a = sg.fvector("a")
    old = sg.dvector("old")
    fitted = fit_type(a, old)
    assert fitted.type == old.type and fitted.owner.op.scalar_op.name == "cast{float64}"
    assert fit_type(sg.lvector("l"), sg.dmatrix()) is None  # a rank cannot be fitted


def test_fit_broadcasts_against_the_dropped_operands():
    a, b = sg.dvector("a"), sg.dmatrix("b")
    old = sg.log(1 + sg.ones_like(b) * 0 + a)  # shape of b, though 1 + a would be a vector
    assert fit_type(sg.log1p(a), old) is None
    fitted = fit_type(sg.log1p(a), old, [sg.ones_like(b)])
    assert fitted.type == old.type and fitted.owner.op.scalar_op.name == "second"
    # A static shape that says more is accepted; one that makes an axis broadcastable is not.
    assert fit_type(sg.tensor("s", shape=(3,)), a) is not None
    assert fit_type(sg.tensor("s", shape=(1,)), a) is None


def test_a_rule_keeps_the_type_and_the_numbers():
    a = sg.fmatrix("a")
    b = sg.tensor("b", dtype="float32", shape=(1, None))
    log1p_rule = rule("test_log1p", Pattern(sg.log(1 + x), sg.log1p(x)))
    # The 1 is a fill of a's shape, the other operand a row: the result broadcasts back.
    out = sg.log(sg.ones_like(a) + sg.sqr(b))
    fg, fired = rewritten([log1p_rule], [out], [a, b])
    assert fired == ["test_log1p"] and fg.outputs[0].type == out.type
    assert "log1p" in rows(fg) and "log" not in rows(fg)
    values = [np.full((3, 2), 7, dtype="float32"), np.array([[0.5, 2.0]], dtype="float32")]
    assert_same_results([a, b], out, values, rtol=1e-6, atol=1e-6)


def test_integer_inputs_keep_their_arithmetic():
    i = sg.lvector("i")
    out = (i ** 2) - i  # int64 throughout: sqr keeps it, no cast to float appears
    f = assert_same_results([i], out, [np.array([2, -3, 5])])
    assert f(np.array([3]))[0] == 6 and f(np.array([3])).dtype == np.int64


def test_rule_tracks_the_root_ops_and_says_its_patterns():
    powers = rule("test_pow", Pattern(x ** 2, sg.sqr(x)), Pattern(sg.reciprocal(x * y), x))
    assert powers.tracks == ("pow", "reciprocal")
    assert "x ** 2 -> sqr(x)" in powers.transform.__doc__
    assert show(sg.log(1 + sg.exp(-x))) == "log(1 + exp(-x))"
    assert str(Pattern(x / x, lambda m: m.x, doc="x / x -> 1")) == "x / x -> 1"
    with pytest.raises(ValueError, match="rooted at an op"):
        rule("bad", Pattern(x, x))


def test_every_identity_rule_is_written_as_patterns():
    """The ported identities of canonicalize and stabilize are patterns that state their maths;
    the procedural rules are the ones that need an analysis."""
    from symgraph.rewrite import canonicalize, stabilize

    procedural = {"constant_folding", "flatten_associative", "gather_constants",
                  "cast_to_same_dtype", "compose_dimshuffles", "cancel_positive_divisors",
                  "log_softmax_from_softmax", "log_sum_exp_to_logsumexp",
                  "crossentropy_of_softmax_to_fused", "onehot_crossentropy_of_softmax_to_fused",
                  "crossentropy_softmax_grad_to_fused", "log_softmax_grad_to_stable"}
    for r in canonicalize.RULES + stabilize.RULES:
        if r.name not in procedural:
            assert "->" in r.transform.__doc__, r.name
    pow_rule = canonicalize.pow_by_constant.transform.__doc__
    for line in ("x ** 2 -> sqr(x)", "x ** 3 -> x * sqr(x)", "x ** -0.5 -> reciprocal(sqrt(x))"):
        assert line in pow_rule
    assert not hasattr(canonicalize, "_POWERS")
