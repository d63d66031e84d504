"""The model the HTML viewer draws (sg.printing.html): the demo's MLP training step, phase by
phase, with user lines, shapes, lineage and generated code; and the written page."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgraph as sg
from symgraph.demo.digits import build_mlp
from symgraph.demo.training import adam
from symgraph.viewer import build_model


@pytest.fixture(scope="module")
def mlp_step():
    rng = np.random.default_rng(0)
    x, t, probs, params = build_mlp(64, 32, 10, rng, "float64")
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    rate = sg.shared(np.asarray(1e-3), name="learning_rate")
    f = sg.function([x, t], loss, updates=adam(loss, params, rate), name="mlp_train_step",
                    profile=True, tier="final")
    f(rng.random((8, 64)), np.arange(8) % 10)
    return f


@pytest.fixture(scope="module")
def model(mlp_step):
    return build_model(mlp_step)


def _applies(phase):
    return [n for n in phase["nodes"] if n["kind"] == "apply"]


def test_phases_follow_the_pipeline(model, mlp_step):
    from symgraph.function import PIPELINE

    names = [p["name"] for p in model["phases"]]
    assert names[0] == "your graph" and names[-1] == "compiled"
    assert names[1:-1] == [name for name, _ in PIPELINE]
    fusion = model["phases"][names.index("fusion")]
    assert fusion["fired"].get("fuse_elemwise", 0) > 0 and fusion["changed"]
    assert not model["phases"][0]["changed"]
    compiled = model["phases"][-1]
    assert len(_applies(compiled)) == len(mlp_step.fgraph.apply_nodes)
    # The compiled graph is the last phase's, node for node: no id is new there.
    assert compiled["changed"] == []


def test_rule_firings_are_recorded_one_by_one(model):
    fusion = next(p for p in model["phases"] if p["name"] == "fusion")
    firings = fusion["firings"]
    assert [f["name"] for f in firings] == ["fuse_elemwise"] * fusion["fired"]["fuse_elemwise"]
    # Every node the phase made appears in the firing that made it.
    assert set(fusion["changed"]) <= {i for f in firings for i in f["changed"]}
    assert firings[0]["changed"]
    assert {n["id"] for n in firings[-1]["nodes"]} == {n["id"] for n in fusion["nodes"]}


def test_nodes_carry_user_lines_shapes_and_lineage(model):
    compiled = model["phases"][-1]
    gemms = [n for n in _applies(compiled) if n["op"].startswith("Gemm")]
    forward = [n for n in gemms if n["line"] and n["line"]["short"] == "digits.py"]
    assert forward and all("@" in n["line"]["code"] for n in forward)
    assert all(n["user_op"] == "Matmul" for n in forward)
    assert any("add_into_gemm" in n["rules"] or "dot_to_gemm" in n["rules"] for n in gemms)
    for n in _applies(compiled):
        for out in n["outputs"]:
            assert re.fullmatch(r"\((\?|\d+)?(, (\?|\d+))*,?\) (float|int)\d+", out["type"]), out
        assert "time" in n and n["calls"] == 1
    shared = {n["label"] for n in compiled["nodes"] if n["kind"] == "shared"}
    assert {"W1", "b1", "W2", "b2", "learning_rate"} <= shared
    updates = {n["label"] for n in compiled["nodes"] if n["kind"] == "update"}
    assert "update of W1" in updates


def test_fused_nodes_expand_and_show_their_kernel(model):
    compiled = model["phases"][-1]
    fused = [n for n in _applies(compiled) if n["family"] != "Composite" and "inner" in n
             and n["op"].startswith("fused")]
    assert fused
    node = fused[0]
    inner_ops = [m["label"] for m in node["inner"]["nodes"] if m["kind"] == "apply"]
    assert inner_ops and all(name in node["op"] for name in inner_ops)
    assert "fuse_elemwise" in node["rules"]
    # A fused Adam update comes from several of the user's lines.
    adam = [n for n in fused if n["from_lines"]]
    assert adam and all(line["short"] == "training.py" for n in adam for line in n["from_lines"])
    code = model["code"][node["id"]]
    assert code["kind"] == "LLVM IR (kernel)" and "define" in code["text"]
    assert "define" in model["entry_code"]["text"]
    # No float noise in the constants' labels.
    assert not any(re.search(r"\d{9,}", m["label"]) for m in node["inner"]["nodes"])


def test_runtime_shapes_from_an_example_batch(mlp_step):
    w1 = next(s for s in mlp_step.shared_inputs if s.name == "W1")
    before = w1.get_value().copy()
    model = build_model(mlp_step, example=(np.ones((5, 64)), np.zeros(5, dtype="int64")))
    np.testing.assert_array_equal(w1.get_value(), before)  # the example run updates nothing
    nodes = _applies(model["phases"][-1])
    forward = [n for n in nodes if n["op"].startswith("Gemm") and n["line"]
               and "tanh" in n["line"]["code"]]
    assert forward[0]["runtime_shapes"] == ["(5, 32) float64"]
    assert forward[0]["outputs"][0]["type"] == "(?, ?) float64"
    assert all("runtime_shapes" in n for n in nodes)


def test_every_edge_joins_drawn_nodes(model):
    for phase in model["phases"]:
        ids = {n["id"] for n in phase["nodes"]}
        assert len(ids) == len(phase["nodes"])
        assert all(a in ids and b in ids for a, b in phase["edges"])


def test_html_page_is_self_contained(mlp_step, tmp_path):
    path = sg.printing.html(mlp_step, tmp_path / "graph.html")
    text = open(path, encoding="utf-8").read()
    assert "<script src" not in text and "http://" not in text.split("window.SYMGRAPH")[1]
    assert "Cytoscape Consortium" in text and "Chris Pettitt" in text  # the licences
    assert '"name":"fusion"' in text


def test_source_and_dump(mlp_step):
    node = next(n for n in mlp_step.fgraph.toposort() if n.op.__class__.__name__ == "Composite")
    assert "define" in sg.printing.source(mlp_step, node)
    assert sg.printing.source(mlp_step, node.outputs[0]) == sg.printing.source(mlp_step, node)
    assert "sg_entry_" in mlp_step.dump("llvm")
    with pytest.raises(ValueError, match="not a node"):
        sg.printing.source(mlp_step, sg.dscalar("free"))
    x = sg.dvector("x")
    reference = sg.function([x], sg.exp(x), mode="py")
    assert "def perform" in sg.printing.source(reference, 0)
    with pytest.raises(ValueError, match="no LLVM IR"):
        reference.dump("llvm")


def test_variables_and_scan_graphs(tmp_path):
    x = sg.dmatrix("x")
    h0 = sg.dvector("h0")
    w = sg.shared(np.eye(3), name="w")
    hs, _ = sg.scan(lambda row, h: sg.tanh(row + h @ w), sequences=x, outputs_info=h0)
    model = build_model(hs[-1].sum())
    compiled = model["phases"][-1]
    scans = [n for n in _applies(compiled) if n["family"] == "Scan"]
    assert scans and scans[0]["inner"]["nodes"]
    assert {n["label"] for n in compiled["nodes"] if n["kind"] == "input"} == {"x", "h0"}
    with pytest.raises(TypeError, match="compiled function"):
        build_model(3)


def test_cuda_code_without_a_gpu(mlp_step, tmp_path):
    fused = next(n for n in mlp_step.fgraph.toposort() if type(n.op).__name__ == "Composite")
    text = sg.printing.source(mlp_step, fused, kind="cuda")
    assert "SG_KERNEL void" in text
    gemm = next(n for n in mlp_step.fgraph.toposort() if str(n.op).startswith("Gemm"))
    assert "SG_KERNEL" not in sg.printing.source(mlp_step, gemm, kind="cuda")
    with pytest.raises(ValueError, match="unknown kind"):
        sg.printing.source(mlp_step, fused, kind="ptx")


def test_page_of_a_cuda_function_shows_cuda_c(tmp_path):
    from tests.codegen.cuda_support import emulated_backend, installed_as_cuda

    with installed_as_cuda(emulated_backend(), str(tmp_path / "cache")):
        x = sg.fvector("x")
        f = sg.function([x], sg.exp(x) * 2.0 + 1.0, mode="cuda")
        np.testing.assert_allclose(f(np.ones(3, "float32")), np.exp(1) * 2 + 1, rtol=1e-6)
        model = build_model(f)
    kinds = {c["kind"] for c in model["code"].values()}
    assert "CUDA C (kernel)" in kinds and model["entry_code"] is None
