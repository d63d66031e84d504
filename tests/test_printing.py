"""Tests of symgraph.printing: debugprint's tree text, pp's formulas and pydotprint's files.

Graphs 5000 nodes deep check that no printer recurses per node.
"""

from __future__ import annotations

import io
import re
import shutil
import sys

import numpy as np
import pytest

import symgraph as sg
from symgraph import printing
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.printing import debugprint, pp, pydotprint
from symgraph.type import TensorType

pydot = pytest.importorskip("pydot")

# pydot's .dot parser (used only to read files back) calls pyparsing names deprecated in 3.3.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning")

MAT = "<TensorType(float64, (?, ?))>"


@pytest.fixture
def small_graph():
    """z = (x + y) * 2.0 + (x + y): the node x + y is used twice."""
    x, y = sg.dmatrix("x"), sg.dmatrix("y")
    s = x + y
    z = s * 2.0 + s
    z.name = "z"
    return x, y, s, z


class Pair(Op):
    """Two outputs, x + y and x - y, computed by an inner graph (like Composite)."""

    def __init__(self) -> None:
        a, b = TensorType("float64", (None,))("a"), TensorType("float64", (None,))("b")
        self.inner_inputs = [a, b]
        self.inner_outputs = [a + b, a - b]

    def make_node(self, x, y):
        return Apply(self, [x, y], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] + inputs[1]
        output_storage[1][0] = inputs[0] - inputs[1]


def chain(n: int) -> Variable:
    v = sg.dvector("x")
    for _ in range(n):
        v = v + 1.0
    return v


# ---------------------------------------------------------------------------------------------
# debugprint
# ---------------------------------------------------------------------------------------------

def test_debugprint_exact_tree_with_reuse_by_id(small_graph):
    *_, z = small_graph
    expected = "\n".join([
        f"Elemwise{{add}} [id A] 'z' {MAT}",
        f" |Elemwise{{mul}} [id B] {MAT}",
        f" | |Elemwise{{add}} [id C] {MAT}",
        f" | | |x [id D] {MAT}",
        f" | | |y [id E] {MAT}",
        " | |DimShuffle{x,x} [id F] <TensorType(float64, (1, 1))>",
        " |   |TensorConstant{2.0} [id G] <TensorType(float64, ())>",
        f" |Elemwise{{add}} [id C] {MAT}",
    ]) + "\n"
    assert debugprint(z, file="str") == expected


def test_debugprint_writes_to_stdout_and_returns_the_file(small_graph, capsys):
    *_, z = small_graph
    assert debugprint(z) is sys.stdout
    assert capsys.readouterr().out == debugprint(z, file="str")
    buffer = io.StringIO()
    assert debugprint(z, file=buffer) is buffer
    assert buffer.getvalue() == debugprint(z, file="str")


def test_debugprint_options(small_graph):
    x, _, s, z = small_graph
    assert debugprint(z, file="str", print_type=False, ids="int", depth=2) == (
        "Elemwise{add} [id 0] 'z'\n |Elemwise{mul} [id 1]\n |Elemwise{add} [id 2]\n")
    assert debugprint(x, file="str", ids="") == f"x {MAT}\n"
    s.name = "s"
    named = debugprint(z, file="str", print_type=False, stop_on_name=True)
    assert "x [id" not in named and named.count("Elemwise{add} [id C] 's'") == 2
    # A node cut by the depth limit shows its inputs where it appears less deep.
    both = debugprint([z, s], file="str", print_type=False, depth=2)
    assert both.splitlines()[3:] == ["Elemwise{add} [id C] 's'", " |x [id D]", " |y [id E]"]


def test_debugprint_letters_go_past_z():
    text = debugprint(chain(30), file="str", print_type=False)
    assert "[id Z]" in text and "[id BA]" in text and "[id AA]" not in text


def test_debugprint_apply_list_and_fgraph(small_graph):
    x, y, s, z = small_graph
    assert debugprint(z.owner, file="str") == debugprint(z, file="str")
    both = debugprint([s, z], file="str", print_type=False)
    assert both.splitlines()[0] == "Elemwise{add} [id A]"
    assert both.splitlines()[-1] == " |Elemwise{add} [id A]"  # s reused inside z's tree
    fgraph = FunctionGraph([x, y], [z])
    assert debugprint(fgraph, file="str").splitlines()[0] == f"Elemwise{{add}} [id A] 'z' {MAT}"


def test_debugprint_destroy_and_view_maps(small_graph):
    *_, z = small_graph
    text = debugprint(z, file="str", print_view_map=True, print_type=False)
    assert " | |DimShuffle{x,x} [id F] v={0: [0]}" in text.splitlines()
    assert "d={" not in debugprint(z, file="str", print_destroy_map=True)


def _function_with_updates():
    x = sg.dvector("x")
    w = sg.shared(np.zeros(3), name="w")
    count = sg.shared(0.0, name="count")
    return sg.function([x], x * w, updates=[(w, w + x), (count, count + 1.0)], mode="py")


@pytest.mark.parametrize("compiled", ["first", "from the function cache"])
def test_debugprint_compiled_function_shows_updates(compiled):
    f = _function_with_updates()
    if compiled != "first":
        f = _function_with_updates()  # the same graph again: its rewritten copy is reused
    text = debugprint(f, file="str", print_type=False)
    assert "\nUpdates:\n" in text
    main, updates = text.split("\nUpdates:\n")
    leaf_id = re.search(r"\|w (\[id \w+\])", main).group(1)
    lines = updates.splitlines()
    assert len(lines) == 2
    match = re.fullmatch(r" w (\[id \w+\]) <- (.+) (\[id \w+\])", lines[0])
    assert match and match.group(1) == leaf_id
    root_line = f"{match.group(2)} {match.group(3)}"
    assert root_line in main.splitlines()  # the update expression is printed as a root
    assert lines[1].startswith(" count [id ")


def test_debugprint_inner_graphs_section():
    x, y = sg.dvector("x"), sg.dvector("y")
    total, diff = Pair()(x, y)
    text = debugprint(total * diff, file="str", print_type=False)
    main, inner = text.split("\nInner graphs:\n")
    assert main.splitlines()[1:3] == [" |Pair.0 [id B]", " | |x [id C]"]
    assert inner.splitlines() == [
        "", "Pair [id B]",
        " >Elemwise{add} [id E]", " > |a [id F]", " > |b [id G]",
        " >Elemwise{sub} [id H]", " > |a [id F]", " > |b [id G]",
    ]


def test_debugprint_deep_chain_does_not_recurse():
    lines = debugprint(chain(5000), file="str", print_type=False).splitlines()
    assert len(lines) == 3 * 5000 + 1  # per step: the add, its DimShuffle, the constant
    assert lines[0] == "Elemwise{add} [id A]"
    (x_line,) = [line for line in lines if "x [id" in line]
    assert x_line == " |" * 5000 + "x [id" + x_line.split("x [id")[1]


def test_debugprint_rejects_bad_arguments(small_graph):
    *_, z = small_graph
    with pytest.raises(TypeError, match="cannot print a int"):
        debugprint(3)
    with pytest.raises(ValueError, match="ids must be"):
        debugprint(z, ids="hex")


# ---------------------------------------------------------------------------------------------
# pp
# ---------------------------------------------------------------------------------------------

def test_pp_infix_formulas():
    x, y = sg.dvector("x"), sg.dvector("y")
    i = sg.iscalar("i")
    assert pp((x + y) * 2.0) == "((x + y) * 2.0)"
    assert pp(sg.exp(x)) == "exp(x)"
    assert pp(-x) == "-x"
    assert pp(sg.neg(-x)) == "-(-x)"
    assert pp(i ** 2) == "(i ** 2)"
    assert pp((i // 2) % 3) == "((i // 2) % 3)"
    assert pp(x / y - x) == "((x / y) - x)"
    assert pp(sg.add(x, y, x)) == "(x + y + x)"
    assert pp(x < y) == "(x < y)"
    assert pp(x >= y) == "(x >= y)"
    assert pp(sg.eq(x, y)) == "(x == y)"
    assert pp(sg.maximum(x, sg.exp(y))) == "maximum(x, exp(y))"
    assert pp(sg.ones_like(x)) == "fill(x, 1.0)"  # Theano's name of second


def test_pp_of_the_tutorials_gradient():
    x = sg.dscalar("x")
    # Theano printed ((fill((x ** 2), 1.0) * 2) * (x ** (2 - 1))): its Python ints stayed ints
    assert pp(sg.grad(x ** 2, x)) == "((fill((x ** 2.0), 1.0) * 2.0) * (x ** (2.0 - 1.0)))"


def test_pp_names_constants_and_other_ops():
    x, y = sg.dvector("x"), sg.dvector("y")
    s = x + y
    s.name = "s"
    assert pp(sg.exp(s)) == "exp(s)"
    assert pp(s) == "(x + y)"  # the root is expanded even when named
    total = x.sum()
    assert pp(total * 3.0) == f"({total.owner.op}(x) * 3.0)"
    assert pp(x + sg.constant(np.array([1.0, 2.0]))) == "(x + [1., 2.])"
    total, diff = Pair()(x, y)
    assert pp(diff) == "Pair.1(x, y)"
    assert pp([x + y, -x]) == "(x + y)\n-x"


def test_pp_deep_chain_does_not_recurse():
    text = pp(chain(5000))
    assert text.startswith("(" * 5000 + "x + 1.0)")
    assert text.count("+ 1.0") == 5000


# ---------------------------------------------------------------------------------------------
# pydotprint
# ---------------------------------------------------------------------------------------------

def load_dot(path):
    (graph,) = pydot.graph_from_dot_file(path)
    nodes = {n.get_name(): n for n in graph.get_nodes() if n.get_name() not in ("node", "edge")}
    return graph, nodes


def attribute(item, name):
    value = item.get_attributes().get(name)
    return value.strip('"') if isinstance(value, str) else value


def test_pydotprint_dot_file_has_one_node_per_apply_and_variable(small_graph, tmp_path):
    *_, z = small_graph
    path = pydotprint(z, tmp_path / "graph.dot")
    assert path == str(tmp_path / "graph.dot")
    graph, nodes = load_dot(path)
    # Applies: add, mul, DimShuffle, add; variables: x, y, 2.0, s, its broadcast, the product, z.
    boxes = [n for n in nodes.values() if attribute(n, "shape") == "box"]
    ellipses = [n for n in nodes.values() if attribute(n, "shape") == "ellipse"]
    assert (len(boxes), len(ellipses)) == (4, 7)
    assert len(graph.get_edges()) == 2 + 1 + 2 + 2 + 4  # inputs + outputs of every Apply
    by_label = {attribute(n, "label"): n for n in ellipses}
    assert attribute(by_label["x (?, ?) float64"], "fillcolor") == "limegreen"
    assert attribute(by_label["z (?, ?) float64"], "fillcolor") == "dodgerblue"
    assert attribute(by_label["2.0"], "fillcolor") == "lightgrey"
    # Only the three two-input Applies label their in-edges; DimShuffle has one input.
    labels = sorted(attribute(e, "label") for e in graph.get_edges() if attribute(e, "label"))
    assert labels == ["0", "0", "0", "1", "1", "1"]


def test_pydotprint_compact_ids_and_function(small_graph, tmp_path):
    x, y, _, z = small_graph
    graph, nodes = load_dot(pydotprint(z, tmp_path / "c.dot", compact=True, with_ids=True))
    assert len(nodes) == 4 + 4  # the three unnamed intermediate variables are gone
    assert len(graph.get_edges()) == 3 + 5  # x, y, 2.0 in; Apply to Apply; z out
    assert sorted(attribute(n, "label") for n in nodes.values() if n.get_name()[0] == "a") == [
        "DimShuffle{x,x} [id B]", "Elemwise{add} [id A]", "Elemwise{add} [id D]",
        "Elemwise{mul} [id C]"]  # ids follow the dependency order
    w = sg.shared(np.zeros((2, 2)), name="w")
    f = sg.function([x, y], z, updates=[(w, w + z)], mode="py")
    graph, nodes = load_dot(pydotprint(f, tmp_path / "f.dot", var_with_name_simple=True))
    colors = {attribute(n, "label"): attribute(n, "fillcolor") for n in nodes.values()}
    assert (colors["x"], colors["y"], colors["w"]) == ("limegreen", "limegreen", "orange")
    (update,) = [label for label in colors if label.endswith("(update of w)")]
    assert colors[update] == "dodgerblue"
    assert list(colors.values()).count("dodgerblue") == 2  # the output and the update


def test_pydotprint_without_graphviz_explains(small_graph, tmp_path, monkeypatch):
    *_, z = small_graph
    monkeypatch.setattr(printing.text.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"apt-get install graphviz.*'\.dot'"):
        pydotprint(z, tmp_path / "graph.png")
    assert not (tmp_path / "graph.png").exists()
    assert pydotprint(z, tmp_path / "graph", format="dot") == str(tmp_path / "graph.dot")


def test_pydotprint_labels_read_as_written(tmp_path):
    x = sg.dmatrix("x")
    w = sg.shared(np.ones((3, 4)), name="w")
    y = sg.tanh(sg.dot(x, w) * 0.1 + 1.0)
    f = sg.function([x], [y, sg.exp(x) * 0.3 + 1.0], mode="llvm")
    graph, nodes = load_dot(pydotprint(f, tmp_path / "f.dot"))
    labels = {attribute(n, "label") for n in nodes.values()}
    assert "Dot \u2192 Gemm{no_inplace}" in labels
    assert "w (3, 4) float64" in labels  # the shared value's shape
    assert "Elemwise{add} \u2192 fused{exp, mul, add}" in labels
    assert not any(re.search(r"\d{9,}", label) for label in labels)  # no float noise
    (legend,) = graph.get_subgraphs()
    assert {n.get_name() for n in legend.get_nodes()} >= {"legend_input", "legend_output"}
    _, plain = load_dot(pydotprint(f, tmp_path / "plain.dot", legend=False))
    assert not load_dot(tmp_path / "plain.dot")[0].get_subgraphs()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_pydotprint_png_and_svg(small_graph, tmp_path):
    *_, z = small_graph
    path = pydotprint(z, tmp_path / "graph.png")
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    svg = pydotprint(z, format="svg", return_image=True)
    assert b"<svg" in svg and b"Elemwise{mul}" in svg


def test_pydotprint_deep_chain(tmp_path):
    with open(pydotprint(chain(5000), tmp_path / "chain.dot")) as handle:
        text = handle.read()  # too big for pydot's parser to read back quickly
    # Per step: the add and DimShuffle boxes, the constant 1.0 and both outputs; then x.
    assert len(re.findall(r"^[av]\d+ \[", text, flags=re.MULTILINE)) == 5000 * 5 + 1
    assert len(re.findall(r"^\w+ -> \w+", text, flags=re.MULTILINE)) == 5000 * (3 + 2)


def test_to_networkx_gives_the_compiled_graph_to_networkx():
    nx = pytest.importorskip("networkx")
    x, y = sg.dvector("x"), sg.dvector("y")
    f = sg.function([x, y], [sg.exp(x) * y + 1, (x - y).sum()], mode="py")
    graph = sg.printing.to_networkx(f)
    applies = [n for n, kind in graph.nodes(data="kind") if kind == "apply"]
    assert len(applies) == len(f.fgraph.apply_nodes)
    assert nx.is_directed_acyclic_graph(graph)
    inputs = [n for n, kind in graph.nodes(data="kind") if kind == "input"]
    outputs = [n for n, kind in graph.nodes(data="kind") if kind == "output"]
    assert len(inputs) == 2 and len(outputs) == 2
    assert all(nx.has_path(graph, i, o) for i in inputs for o in outputs)
    built = sg.printing.to_networkx(sg.exp(x) * y)  # symbolic outputs: the graph as built
    assert sorted(op for _, op in built.nodes(data="op") if op) == \
        ["Elemwise{exp}", "Elemwise{mul}"]
