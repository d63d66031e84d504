"""``import symgraph`` stays cheap: the code generators, their toolkits and the optional
libraries load when first used, never at import (checked in a fresh process, not by timing)."""

import json
import subprocess
import sys

HEAVY = ("llvmlite", "symgraph.codegen.llvm", "symgraph.codegen.cuda", "cuda", "filelock",
         "networkx", "pydot", "scipy", "numpy.random", "symgraph.tensor", "symgraph.demo")


def test_import_symgraph_loads_no_heavy_module():
    code = ("import json, sys, symgraph; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout) == []


def test_linking_a_tiered_function_leaves_the_code_generator_to_the_background():
    code = ("import json, sys, symgraph as sg; from symgraph import tiers; "
            "tiers.submit = lambda f: None; x = sg.dvector('x'); "
            "f = sg.function([x], sg.tanh(x) * 2, tier='tiered'); f([1.0, 2.0]); "
            "print(json.dumps([m for m in ('llvmlite', 'symgraph.codegen.llvm.jit') "
            "if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout) == []
