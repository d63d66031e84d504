// The symgraph graph viewer: draws window.SYMGRAPH_MODEL (written by symgraph.viewer) with
// cytoscape.js and its dagre layout, both vendored in the page.
(function () {
  "use strict";
  const model = window.SYMGRAPH_MODEL;
  // Undo symgraph.viewer.compact: node descriptions and code texts are stored once.
  if (model.node_table) {
    const unpack = (picture) => {
      picture.nodes = picture.nodes.map((k) => model.node_table[k]);
      (picture.firings || []).forEach(unpack);
    };
    model.phases.forEach(unpack);
    for (const entry of Object.values(model.code)) entry.text = model.text_table[entry.text];
  }
  const $ = (id) => document.getElementById(id);
  cytoscape.use(cytoscapeDagre);

  // Large graphs start without constant nodes (a checkbox brings them back).
  const applies = model.phases[model.phases.length - 1].nodes.filter((n) => n.kind === "apply");
  const state = { phase: model.phases.length - 1, expanded: new Set(), selected: null,
    constants: applies.length <= 400, hiddenFamilies: new Set(), byRule: false };

  // What the slider steps through: the phases, or (rule by rule) every rule firing.
  function steps() {
    if (!state.byRule) return model.phases;
    const out = [model.phases[0]];
    for (const phase of model.phases.slice(1)) {
      if (!phase.firings || !phase.firings.length) { out.push(phase); continue; }
      phase.firings.forEach((f, k) => out.push(Object.assign({}, f, { phaseName: phase.name,
        name: `${phase.name} \u00b7 ${f.name} (${k + 1}/${phase.firings.length})`,
        fired: { [f.name]: 1 } })));
    }
    return out;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;" }[c]));
  }

  function nodeLabel(n) {
    let head = n.label;
    if (n.kind === "apply" && n.user_op && n.user_op !== n.op) head = n.user_op + " \u2192 " + n.op;
    if (head.length > 48) head = head.slice(0, 45) + "\u2026";
    const all = n.runtime_shapes || (n.outputs || []).map((o) => o.type);
    const types = all.length > 3 ? all.slice(0, 2).join(", ") + `, \u2026 (${all.length} outputs)`
      : all.join(", ");
    return types && n.kind !== "constant" ? head + "\n" + types : head;
  }

  // Nodes of hidden op families are left out; their readers link to what they read.
  function visibleEdges(phase, hidden) {
    const into = new Map();
    for (const [a, b] of phase.edges) {
      if (!into.has(b)) into.set(b, []);
      into.get(b).push(a);
    }
    const memo = new Map();
    const sources = (id) => {
      if (!hidden.has(id)) return [id];
      if (memo.has(id)) return memo.get(id);
      memo.set(id, []);
      const found = [...new Set((into.get(id) || []).flatMap(sources))];
      memo.set(id, found);
      return found;
    };
    const edges = [];
    const seen = new Set();
    for (const [a, b] of phase.edges) {
      if (hidden.has(b)) continue;
      for (const s of sources(a)) {
        const key = s + ">" + b;
        if (!seen.has(key)) { seen.add(key); edges.push([s, b]); }
      }
    }
    return edges;
  }

  function elementsOf(phase) {
    const elements = [];
    const changed = new Set(phase.changed);
    const drawn = new Set();
    const hidden = new Set(phase.nodes.filter((n) => (n.kind === "constant" && !state.constants) ||
      (n.kind === "apply" && state.hiddenFamilies.has(n.family))).map((n) => n.id));
    for (const n of phase.nodes) {
      if (hidden.has(n.id)) continue;
      drawn.add(n.id);
      const classes = [n.kind];
      if (changed.has(n.id)) classes.push("changed");
      if (n.inner) classes.push(state.expanded.has(n.id) ? "expanded" : "has-inner");
      elements.push({ group: "nodes", data: { id: n.id, label: nodeLabel(n), model: n },
        classes: classes.join(" ") });
      if (n.inner && state.expanded.has(n.id)) {
        for (const m of n.inner.nodes) {
          elements.push({ group: "nodes", classes: "inner " + m.kind + (m.output ? " inner-out" : ""),
            data: { id: n.id + "/" + m.id, parent: n.id, label: m.label + "\n" + m.type,
              model: Object.assign({ innerOf: n.id }, m) } });
        }
        n.inner.edges.forEach(([a, b], k) => elements.push({ group: "edges",
          data: { id: n.id + "/e" + k, source: n.id + "/" + a, target: n.id + "/" + b } }));
      }
    }
    visibleEdges(phase, hidden).forEach(([a, b], k) => { if (drawn.has(a) && drawn.has(b))
      elements.push({ group: "edges", data: { id: "e" + k, source: a, target: b } }); });
    return elements;
  }

  // The "hide" menu: op families present in the graph, with their node counts.
  function fillFamilies() {
    const counts = new Map();
    for (const phase of model.phases) {
      for (const n of phase.nodes) if (n.kind === "apply") counts.set(n.family, (counts.get(n.family) || 0) + 1);
    }
    const menu = $("hide");
    menu.innerHTML = '<option value="">hide op family\u2026</option>' + [...counts.keys()].sort()
      .map((f) => `<option value="${escapeHtml(f)}">${state.hiddenFamilies.has(f) ? "\u2713 " : ""}${escapeHtml(f)}</option>`).join("");
    menu.onchange = () => {
      const family = menu.value;
      if (family) {
        if (state.hiddenFamilies.has(family)) state.hiddenFamilies.delete(family);
        else state.hiddenFamilies.add(family);
        fillFamilies();
        draw();
      }
    };
  }

  const style = [
    { selector: "node", style: { "label": "data(label)", "text-wrap": "wrap", "text-valign": "center",
      "text-halign": "center", "font-size": 11, "font-family": "Helvetica, Arial, sans-serif",
      "shape": "round-rectangle", "width": "label", "height": "label", "padding": 7,
      "background-color": "#ffffff", "border-width": 1, "border-color": "#6b7280", "color": "#111827" } },
    { selector: "node.input", style: { "background-color": "#dcfce7", "border-color": "#16a34a" } },
    { selector: "node.shared", style: { "background-color": "#fef3c7", "border-color": "#d97706" } },
    { selector: "node.constant", style: { "background-color": "#f3f4f6", "border-color": "#9ca3af",
      "font-size": 10, "padding": 4, "shape": "ellipse" } },
    { selector: "node.output", style: { "background-color": "#dbeafe", "border-color": "#2563eb",
      "border-width": 2 } },
    { selector: "node.update", style: { "background-color": "#ede9fe", "border-color": "#7c3aed",
      "border-width": 2 } },
    { selector: "node.has-inner", style: { "border-style": "double", "border-width": 4 } },
    { selector: "node.expanded", style: { "background-color": "#f9fafb", "text-valign": "top",
      "border-style": "dashed", "padding": 12 } },
    { selector: "node.inner", style: { "font-size": 10, "padding": 4 } },
    { selector: "node.inner-out", style: { "border-width": 2, "border-color": "#2563eb" } },
    { selector: "node.changed", style: { "border-color": "#dc2626", "border-width": 3 } },
    { selector: "node.hit", style: { "background-color": "#fde047", "border-color": "#a16207",
      "border-width": 3 } },
    { selector: "node:selected", style: { "border-color": "#0ea5e9", "border-width": 4,
      "overlay-opacity": 0 } },
    { selector: "node.faded", style: { "opacity": 0.25 } },
    { selector: "edge", style: { "width": 1.2, "line-color": "#9ca3af", "target-arrow-color": "#9ca3af",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
    { selector: "edge.faded", style: { "opacity": 0.15 } },
  ];

  const cy = cytoscape({ container: $("graph"), style: style, wheelSensitivity: 0.3,
    minZoom: 0.02, maxZoom: 4 });

  // Laid out top-down; shown at a zoom where labels can be read (from the top, where the
  // inputs are), unless the whole graph fits at that zoom anyway. "fit" shows it all.
  function layout(keepView) {
    const view = { zoom: cy.zoom(), pan: Object.assign({}, cy.pan()) };
    // dagre draws up to a thousand or so nodes in about a second; past that, cytoscape's
    // breadth-first layering (linear time) keeps the page responsive.
    if (cy.nodes().length > 1200) {
      cy.layout({ name: "breadthfirst", directed: true, spacingFactor: 0.9, animate: false,
        fit: true, padding: 20, roots: cy.nodes().filter((n) => n.indegree(false) === 0) }).run();
    } else {
      cy.layout({ name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 36, edgeSep: 8,
        ranker: cy.nodes().length > 500 ? "longest-path" : "network-simplex", animate: false,
        fit: true, padding: 20 }).run();
    }
    if (keepView) { cy.viewport(view); return; }
    const readable = 0.85;
    if (cy.zoom() < readable) {
      const box = cy.elements().boundingBox();
      cy.zoom(readable);
      cy.pan({ x: cy.width() / 2 - (box.x1 + box.w / 2) * readable, y: 20 - box.y1 * readable });
    }
  }

  function draw(keepView) {
    const all = steps();
    const phase = all[state.phase];
    cy.batch(() => {
      cy.elements().remove();
      cy.add(elementsOf(phase));
    });
    layout(keepView);
    $("phase-name").textContent = (state.phase + 1) + "/" + all.length + ": " + phase.name;
    $("phase").max = all.length - 1;
    $("phase").value = state.phase;
    const fired = Object.entries(phase.fired || {});
    $("fired").innerHTML = fired.length
      ? fired.map(([r, k]) => `<span class="rule">${escapeHtml(r)}${k > 1 ? " \u00d7" + k : ""}</span>`).join(" ")
      : `<span class="muted">${state.phase === 0 ? "the graph as you wrote it" : "no rule fired"}</span>`;
    $("counts").textContent = phase.nodes.filter((n) => n.kind === "apply").length + " nodes, " +
      phase.changed.length + (state.byRule ? " new in this step" : " new in this phase");
    runSearch();
    if (state.selected) {
      const again = cy.getElementById(state.selected);
      if (again.nonempty()) { again.select(); showDetails(again.data("model")); }
      else showDetails(null);
    }
  }

  function row(name, value) {
    return value === undefined || value === null || value === "" ? "" :
      `<tr><th>${escapeHtml(name)}</th><td>${value}</td></tr>`;
  }

  function showDetails(n) {
    const panel = $("details");
    if (!n) { panel.innerHTML = '<p class="muted">Click a node to see where you wrote it, its ' +
      "shapes, the rules that made it and its generated code.</p>"; return; }
    let html = `<h2>${escapeHtml(n.user_op || n.label)}</h2><table>`;
    html += row("kind", escapeHtml(n.kind));
    if (n.op) html += row("runs as", `<code>${escapeHtml(n.op)}</code>`);
    if (n.line) html += row("your line", `<span class="line">${escapeHtml(n.line.short)}:${n.line.line}</span>` +
      `<pre class="src">${escapeHtml(n.line.code)}</pre><span class="muted small">${escapeHtml(n.line.file)}</span>`);
    else if (n.kind === "apply") html += row("your line", '<span class="muted">not recorded</span>');
    if (n.from_lines && n.from_lines.length) html += row("also from", n.from_lines.map((l) =>
      `<span class="line">${escapeHtml(l.short)}:${l.line}</span><pre class="src">${escapeHtml(l.code)}</pre>`).join(""));
    (n.outputs || []).forEach((o, k) => { html += row(n.outputs.length > 1 ? "output " + k : "output",
      `<code>${escapeHtml(o.type)}</code>${o.name ? " " + escapeHtml(o.name) : ""}`); });
    if (n.runtime_shapes) html += row("runtime shapes", `<code>${escapeHtml(n.runtime_shapes.join(", "))}</code>`);
    if (n.inputs && n.inputs.length) html += row("inputs", n.inputs.map((t) => `<code>${escapeHtml(t)}</code>`).join("<br>"));
    if (n.rules && n.rules.length) html += row("made by", n.rules.map((r) => `<span class="rule">${escapeHtml(r)}</span>`).join(" \u2192 "));
    if (n.note) html += row("compiled as", escapeHtml(n.note));
    if (n.time !== undefined) html += row("time", `${(n.time * 1e3).toFixed(3)} ms over ${n.calls} calls`);
    if (n.type && n.innerOf) html += row("type", `<code>${escapeHtml(n.type)}</code>`);
    html += "</table>";
    if (n.inner) html += `<button id="toggle-inner">${state.expanded.has(n.id) ? "collapse" : "expand"} inner graph</button>`;
    const code = model.code && model.code[n.id];
    if (code) html += `<h3>${escapeHtml(code.kind)}</h3><pre class="${code.kind.startsWith("LLVM") ?
      "code" : "src"}">${escapeHtml(code.text)}</pre>`;
    panel.innerHTML = html;
    const toggle = $("toggle-inner");
    if (toggle) toggle.onclick = () => {
      if (state.expanded.has(n.id)) state.expanded.delete(n.id); else state.expanded.add(n.id);
      draw(true);
      const box = cy.getElementById(n.id);
      if (box.nonempty()) cy.animate({ center: { eles: box } }, { duration: 150 });
    };
  }

  function runSearch() {
    const text = $("search").value.trim().toLowerCase();
    cy.elements().removeClass("hit faded");
    if (!text) { $("hits").textContent = ""; return; }
    const hits = cy.nodes().filter((node) => {
      const n = node.data("model");
      return [n.label, n.op, n.user_op, ...(n.outputs || []).map((o) => o.name)]
        .some((s) => s && String(s).toLowerCase().includes(text));
    });
    cy.elements().not(hits).addClass("faded");
    hits.addClass("hit");
    $("hits").textContent = hits.length + " found";
    if (hits.length) cy.animate({ fit: { eles: hits, padding: 60 } }, { duration: 200 });
  }

  cy.on("tap", "node", (event) => {
    const n = event.target.data("model");
    state.selected = event.target.id();
    showDetails(n);
  });
  cy.on("tap", (event) => { if (event.target === cy) { state.selected = null; showDetails(null); } });

  $("phase").max = model.phases.length - 1;
  $("phase").oninput = (event) => { state.phase = Number(event.target.value); draw(); };
  $("prev").onclick = () => { if (state.phase > 0) { state.phase--; draw(); } };
  $("next").onclick = () => { if (state.phase < steps().length - 1) { state.phase++; draw(); } };
  const recorded = model.phases.some((p) => p.firings && p.firings.length);
  $("by-rule").disabled = !recorded;
  $("by-rule").onchange = (event) => {
    const current = steps()[state.phase];
    const phaseName = current.phaseName || current.name;
    state.byRule = event.target.checked;
    const all = steps();
    // Stay in the same phase: at its last firing, or at the phase itself.
    let at = -1;
    all.forEach((step, k) => { if ((step.phaseName || step.name) === phaseName) at = k; });
    state.phase = at >= 0 ? at : all.length - 1;
    draw();
  };
  $("search").oninput = runSearch;
  $("constants").checked = state.constants;
  $("constants").onchange = (event) => { state.constants = event.target.checked; draw(); };
  $("fit").onclick = () => cy.fit(undefined, 20);
  $("title").textContent = model.title;
  $("subtitle").textContent = model.subtitle;
  if (model.entry_code) {
    $("entry-code").onclick = () => showDetails({ kind: "whole function", label: "generated code",
      id: "__entry__" });
    model.code = model.code || {};
    model.code.__entry__ = model.entry_code;
  } else {
    $("entry-code").style.display = "none";
  }
  fillFamilies();
  showDetails(null);
  draw();
  window.symgraphViewer = { cy: cy, state: state, draw: draw, model: model };
})();
