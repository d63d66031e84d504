"""The layer rule of shared/DESIGN.md: a module imports only from its own layer or below.

Every import statement counts, including those inside functions.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

import symgraph

ROOT = pathlib.Path(symgraph.__file__).parent

LAYERS = {
    "symgraph.config": 0, "symgraph.dtype": 0, "symgraph.type": 0, "symgraph.profiling": 0,
    "symgraph.graph": 1, "symgraph.op": 1, "symgraph.fgraph": 1, "symgraph.printing.text": 1,
    "symgraph.ops": 2, "symgraph.grad": 2,
    "symgraph.rewrite": 3, "symgraph.scan": 3, "symgraph.derivatives": 3,
    "symgraph.codegen": 4,
    "symgraph.function": 5, "symgraph.function_cache": 5, "symgraph.tiers": 5,
    "symgraph.tier_handoff": 5,
    "symgraph.gradcheck": 5, "symgraph.cache": 5,
    "symgraph.cuda": 5, "symgraph.debugmode": 5, "symgraph.devices": 5,
    "symgraph.demo": 6, "symgraph.printing": 6, "symgraph.distributed": 6,
    "symgraph.viewer": 6,
    "symgraph": 6,
}


def layer_of(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in LAYERS:
            return LAYERS[name]
    raise KeyError(f"module {module} has no layer in tests/test_layers.py")


def module_name(path: pathlib.Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: pathlib.Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from symgraph import dtype` imports symgraph.dtype: resolve by longest prefix.
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name.split(".")[0] == "symgraph"]


def test_every_module_has_a_layer():
    for path in ROOT.rglob("*.py"):
        layer_of(module_name(path))


def test_no_module_imports_a_higher_layer():
    violations = []
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        own = layer_of(name)
        for imported, line in imported_modules(path):
            if layer_of(imported) > own:
                violations.append(f"{name}:{line} imports {imported}")
    assert not violations, "upward imports:\n" + "\n".join(violations)


# The CUDA backend's packages: NVIDIA's cuda-bindings (``cuda.bindings.nvrtc``,
# ``cuda.pathfinder``) and the driver library, loaded with ctypes.
CUDA_TOOLKIT = re.compile(r"^\s*(from|import) cuda\.|libcuda", re.MULTILINE)


def test_backends_import_their_toolkits_only_in_their_packages():
    found_cuda = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        name = module_name(path)
        if "import llvmlite" in text or "from llvmlite" in text:
            assert name.startswith("symgraph.codegen.llvm"), name
        if CUDA_TOOLKIT.search(text):
            assert name.startswith("symgraph.codegen.cuda"), name
            found_cuda.append(name)
    assert found_cuda, "the CUDA toolkit pattern matches nothing: is it stale?"


MPI = re.compile(r"^\s*(from|import) mpi4py", re.MULTILINE)


def test_mpi_is_imported_only_by_symgraph_distributed():
    found = [module_name(p) for p in ROOT.rglob("*.py") if MPI.search(p.read_text())]
    assert found, "the mpi4py pattern matches nothing: is it stale?"
    assert all(name.startswith("symgraph.distributed") for name in found), found


def test_layer_checker_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from symgraph.function import function\n")
    assert imported_modules(bad) == [("symgraph.function.function", 2)]
    assert layer_of("symgraph.function") > layer_of("symgraph.ops.basic")


def _resolve(name: str, modules: set[str]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def module_cycles(root: pathlib.Path) -> list[set[str]]:
    """The sets of modules under ``root`` that import each other at module level (what runs
    at import time; imports inside functions break cycles, as Python resolves them later)."""
    nx = pytest.importorskip("networkx")
    paths = {module_name_under(root, p): p for p in root.rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in paths.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                found = _resolve(target, set(paths)) if target.startswith("symgraph") else None
                if found and found != name and not name.startswith(found + "."):
                    graph.add_edge(name, found)
    return [c for c in nx.strongly_connected_components(graph) if len(c) > 1]


def module_name_under(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_import_cycle_between_modules():
    cycles = module_cycles(ROOT)
    assert not cycles, f"import cycles between modules: {cycles}"


def test_cycle_search_finds_a_cycle(tmp_path):
    package = tmp_path / "symgraph"
    package.mkdir()
    (package / "a.py").write_text("from symgraph.b import g\n\ndef f():\n    return g\n")
    (package / "b.py").write_text("import symgraph.a\n\ndef g():\n    pass\n")
    (package / "c.py").write_text("def h():\n    from symgraph.a import f\n")
    assert module_cycles(package) == [{"symgraph.a", "symgraph.b"}]
