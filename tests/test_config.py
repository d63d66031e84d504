"""Config flags: defaults, SYMGRAPH_FLAGS, specific variables, change_flags."""

import pytest

import symgraph as sg
from symgraph.config import Config


def test_defaults_and_environment():
    assert Config({}).floatX == "float64"
    assert Config({}).mode == "llvm"
    cfg = Config({"SYMGRAPH_FLAGS": "floatX=float32, mode=py,rewrite_verbose=true"})
    assert cfg.floatX == "float32" and cfg.mode == "py" and cfg.rewrite_verbose is True
    assert Config({"SYMGRAPH_FLOATX": "float32"}).floatX == "float32"
    assert Config({"SYMGRAPH_CACHE_DIR": "/tmp/x"}).compiledir == "/tmp/x"
    assert Config({"SYMGRAPH_FLAGS": "cache_lock_wait=2.5"}).cache_lock_wait == 2.5


def test_bad_flags_are_rejected():
    with pytest.raises(AttributeError, match="unknown"):
        Config({"SYMGRAPH_FLAGS": "nope=1"})
    with pytest.raises(ValueError, match="key=value"):
        Config({"SYMGRAPH_FLAGS": "floatX"})
    with pytest.raises(ValueError, match="invalid"):
        sg.config.floatX = "int8"


def test_change_flags_context_and_decorator():
    before = sg.config.floatX
    with sg.config.change_flags(floatX="float32"):
        assert sg.config.floatX == "float32"
        assert sg.dvector().dtype == "float64"
        assert sg.vector().dtype == "float32"
        assert sg.constant(1.5).dtype == "float32"
    assert sg.config.floatX == before

    @sg.change_flags(floatX="float32")
    def make():
        return sg.matrix()

    assert make().dtype == "float32"
    assert sg.config.floatX == before


def test_floatx_from_environment_in_a_new_process():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import symgraph as sg; print(sg.vector().dtype, sg.config.mode)"],
        env={"SYMGRAPH_FLAGS": "floatX=float32,mode=py", "PATH": ""}, capture_output=True,
        text=True, check=True)
    assert out.stdout.split() == ["float32", "py"]
