"""Theano tutorial, "Printing/drawing Theano graphs" and the debugging FAQ: pprint and
debugprint of the logistic regression's prediction before and after compilation, pydotprint,
the Print op inside a compiled function, and the error a shape mismatch gives."""

import os

import numpy
import pytest
import symgraph
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs


def logistic_regression_graph():
    rng = numpy.random
    feats = 7
    x = T.matrix("x")
    y = T.vector("y")
    w = symgraph.shared(rng.randn(feats).astype(symgraph.config.floatX), name="w")
    b = symgraph.shared(numpy.asarray(0., dtype=symgraph.config.floatX), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = symgraph.function(inputs=[x, y], outputs=[prediction, xent],
                              updates=[[w, w - 0.01 * gw], [b, b - 0.01 * gb]], name="train")
    predict = symgraph.function(inputs=[x], outputs=prediction, name="predict")
    return prediction, train, predict


def test_pretty_printing():
    prediction, train, predict = logistic_regression_graph()
    # Theano wrote gt(...) with TensorConstant{...} around the numbers and \dot for the product.
    assert symgraph.printing.pprint(prediction) == (
        "((1.0 / (1.0 + exp((-Dot(x, w) - b)))) > 0.5)")


def test_debugprint_before_and_after_compilation(capsys):
    prediction, train, predict = logistic_regression_graph()
    symgraph.printing.debugprint(prediction)
    before = capsys.readouterr().out.splitlines()
    ops = [line.split(" [id")[0].strip(" |") for line in before]
    # the tree of the tutorial, in symgraph's names
    assert ops == ["Elemwise{gt}", "Elemwise{true_divide}", "DimShuffle{x}", "TensorConstant{1.0}",
                   "Elemwise{add}", "DimShuffle{x}", "TensorConstant{1.0}", "Elemwise{exp}",
                   "Elemwise{sub}", "Elemwise{neg}", "Dot", "x", "w", "DimShuffle{x}", "b",
                   "DimShuffle{x}", "TensorConstant{0.5}"]

    symgraph.printing.debugprint(predict)
    after = capsys.readouterr().out
    # the sigmoid and the comparison fused into one loop over the product
    assert after.splitlines()[0].startswith("Composite{sigmoid,") and "Gemv" in after
    text = symgraph.printing.debugprint(train, file="str")
    assert "Updates:" in text


def test_pydotprint(tmp_path):
    pytest.importorskip("pydot")
    prediction, train, predict = logistic_regression_graph()
    # .dot rather than the tutorial's .png: drawing a png needs Graphviz's programs
    outfile = os.path.join(tmp_path, "logreg_pydotprint_prediction.dot")
    symgraph.printing.pydotprint(prediction, outfile=outfile, var_with_name_simple=True)
    assert os.path.getsize(outfile) > 0


def test_print_an_intermediate_value(capsys):
    x = symgraph.tensor.dvector('x')
    x_printed = symgraph.printing.Print('this is a very important value')(x)
    f = symgraph.function([x], x * 5)
    f_with_print = symgraph.function([x], x_printed * 5)

    assert numpy.all(f([1, 2, 3]) == [5, 10, 15])
    assert capsys.readouterr().out == ""
    assert numpy.all(f_with_print([1, 2, 3]) == [5, 10, 15])
    assert capsys.readouterr().out == "this is a very important value __str__ = [1. 2. 3.]\n"


def test_interpreting_error_messages():
    x = T.vector()
    y = T.vector()
    z = x + x
    z = z + y  # the line the error names
    f = symgraph.function([x, y], z)
    with pytest.raises(ValueError) as info:
        f(numpy.ones((2,)), numpy.ones((3,)))
    message = str(info.value)
    assert "do not match" in message and "z = z + y" in message
