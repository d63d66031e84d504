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


def test_a_bad_value_is_one_line_naming_the_flag_and_the_valid_values():
    from symgraph.config import ConfigError

    with pytest.raises(ConfigError, match=r"^SYMGRAPH_FLAGS: invalid value 'float33' for config "
                       r"flag 'floatX'; valid values: float16, float32, float64$"):
        Config({"SYMGRAPH_FLAGS": "floatX=float33"})
    with pytest.raises(ValueError, match=r"^SYMGRAPH_FLOATX: .* 'floatX'; valid values: float16"):
        Config({"SYMGRAPH_FLOATX": "float"})
    with pytest.raises(ValueError, match="'num_threads'; valid values: an integer >= 0$"):
        Config({"SYMGRAPH_FLAGS": "num_threads=two"})
    with pytest.raises(ValueError, match="'mode'; valid values: llvm, py, cuda, FAST_RUN, "
                                         "FAST_COMPILE, DebugMode$"):
        Config({"SYMGRAPH_FLAGS": "mode=fast"})
    before = sg.config.floatX
    with pytest.raises(ConfigError, match=r"^invalid value 'x' for config flag 'floatX'; valid "
                       r"values: float16, float32, float64$"):
        sg.config.floatX = "x"
    with pytest.raises(ValueError, match="'rewrite_verbose'; valid values: true, false"):
        sg.config.rewrite_verbose = "maybe"
    assert sg.config.floatX == before
    assert "\n" not in str(pytest.raises(ValueError, Config, {"SYMGRAPH_FLAGS": "mode=x"}).value)


def test_a_bad_value_in_the_environment_fails_the_import_without_internal_traceback():
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(sg.__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", "import symgraph"], cwd=root,
                         env={"SYMGRAPH_FLAGS": "floatX=float33", "PATH": ""},
                         capture_output=True, text=True)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert lines[-1] == ("symgraph.config.ConfigError: SYMGRAPH_FLAGS: invalid value 'float33' "
                         "for config flag 'floatX'; valid values: float16, float32, float64")
    # The import line, symgraph/__init__.py's import of the settings, and the raise: no more.
    assert sum(line.lstrip().startswith("File ") for line in lines) <= 3, out.stderr
