"""The viewer page in a real browser: headless Chromium (Debian's ``chromium``) driven by
playwright's Python package. Skipped where either is missing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import symgraph as sg
from tests.test_viewer import mlp_step  # noqa: F401 - the fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser installed")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("window.symgraphViewer !== undefined")
    return page, errors


def _click_node(page, selector_js):
    """A real mouse click on the first node ``selector_js`` (a cytoscape filter) finds."""
    page.evaluate(f"""() => {{ const v = window.symgraphViewer;
        const n = v.cy.nodes().filter({selector_js})[0]; v.cy.center(n); }}""")
    x, y = page.evaluate(f"""() => {{ const v = window.symgraphViewer;
        const p = v.cy.nodes().filter({selector_js})[0].renderedPosition();
        return [p.x, p.y]; }}""")
    box = page.locator("#graph").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_mlp_step_page(browser, mlp_step, tmp_path):  # noqa: F811
    path = tmp_path / "mlp.html"
    sg.printing.html(mlp_step, path)
    page, errors = _open(browser, path)
    assert "compiled" in page.inner_text("#phase-name")

    # Clicking a node shows the user's line.
    _click_node(page, "n => (n.data('model').op || '').startsWith('Gemm') && "
                      "n.data('model').line && n.data('model').line.short === 'digits.py'")
    details = page.inner_text("#details")
    assert "your line" in details and "digits.py" in details and "@" in details
    assert "Gemm" in details and "ms over 1 calls" in details

    # Expanding a fused node shows its inner nodes.
    _click_node(page, "n => n.hasClass('has-inner')")
    before = page.evaluate("window.symgraphViewer.cy.nodes().length")
    page.click("#toggle-inner")
    inner = page.evaluate("window.symgraphViewer.cy.nodes('.inner').length")
    assert inner > 0 and page.evaluate("window.symgraphViewer.cy.nodes().length") == \
        before + inner
    assert "LLVM IR" in page.inner_text("#details")

    # The history control changes the graph.
    page.click("#prev")
    assert "merge_final" in page.inner_text("#phase-name")
    page.locator("#phase").fill("0")
    assert "your graph" in page.inner_text("#phase-name")
    first = page.evaluate("window.symgraphViewer.cy.nodes('.apply').length")
    assert first > len(mlp_step.fgraph.apply_nodes)

    # Rule by rule: the slider steps through every firing, naming the rule.
    page.locator("#phase").fill("8")  # fusion
    page.check("#by-rule")
    assert "fusion \u00b7 fuse_elemwise" in page.inner_text("#phase-name")
    page.click("#prev")
    assert "fuse_elemwise" in page.inner_text("#fired")
    assert page.evaluate("window.symgraphViewer.cy.nodes('.changed').length") >= 1
    page.uncheck("#by-rule")
    assert "fusion" in page.inner_text("#phase-name")

    # Hiding an op family removes its nodes and links their readers to what they read.
    last = page.evaluate("window.symgraphViewer.model.phases.length - 1")
    page.locator("#phase").fill(str(last))  # back to the compiled graph
    count = "n => n.data('model').family === 'DimShuffle'"
    assert page.evaluate(f"window.symgraphViewer.cy.nodes().filter({count}).length") > 0
    edges = page.evaluate("window.symgraphViewer.cy.edges().length")
    page.select_option("#hide", "DimShuffle")
    assert page.evaluate(f"window.symgraphViewer.cy.nodes().filter({count}).length") == 0
    assert page.evaluate("window.symgraphViewer.cy.edges().length") > edges / 2

    # Search finds a node.
    page.fill("#search", "tanh")
    assert page.evaluate("window.symgraphViewer.cy.nodes('.hit').length") >= 1
    assert "found" in page.inner_text("#hits")
    assert errors == []


@pytest.mark.filterwarnings("ignore:.*has no llvm rule")  # the demo LSTM's embedding lookup
def test_lstm_page_with_scan(browser, tmp_path):
    from symgraph.demo import charlstm

    params = charlstm.init_params(20, 16, np.random.default_rng(0), "float64")
    inputs, targets, loss = charlstm.sequence_loss(params)
    f = sg.function([inputs, targets], loss, name="lstm_loss", tier="final")
    path = tmp_path / "lstm.html"
    codes = np.arange(24).reshape(6, 4) % 20
    sg.printing.html(f, path, example=(codes, codes))
    page, errors = _open(browser, path)
    _click_node(page, "n => n.data('model').family === 'Scan'")
    details = page.inner_text("#details")
    assert "charlstm.py" in details and "(6, 4, 16) float64" in details  # runtime shapes
    page.click("#toggle-inner")
    inner = page.evaluate("window.symgraphViewer.cy.nodes('.inner').map(n => n.data('label'))")
    assert any("sigmoid" in label for label in inner)
    assert errors == []
