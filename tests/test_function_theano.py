"""function()'s Theano options: In (default values, keyword names), Function.copy, named
modes and Mode(linker=, optimizer=), config.on_unused_input and config.optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg

MODES = ["llvm", "py"]


@pytest.mark.parametrize("mode", MODES)
def test_in_default_values_and_names(mode):
    x, y, w = sg.dscalars("x", "y", "w")
    f = sg.function([x, sg.In(y, value=1), sg.In(w, value=2.0, name="w_by_name")],
                    (x + y) * w, mode=mode)
    assert f(33) == 68.0
    assert f(33, 2) == 70.0
    assert f(33, 0, 1) == 33.0
    assert f(33, w_by_name=1) == 34.0
    assert f(33, w_by_name=1, y=0) == 33.0
    with pytest.raises(TypeError, match="no input named 'w'"):
        f(33, w=1)
    with pytest.raises(TypeError, match="missing input 0"):
        f(y=1)


@pytest.mark.parametrize("mode", ["llvm", "py"])
def test_out_marks_an_output_and_is_ignored(mode):
    # The aliasing tutorial: function([In(x, borrow=True)], Out(y, borrow=True)).
    import pickle

    from symgraph.compile.io import Out

    x = sg.dmatrix("x")
    f = sg.function([sg.In(x, borrow=True)], sg.Out(2 * x, borrow=True), mode=mode)
    assert f(np.ones((2, 2))).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    g = sg.function([x], [Out(x + 1), x - 1], mode=mode)
    assert [v.tolist() for v in g([[1.0]])] == [[[2.0]], [[0.0]]]
    assert pickle.loads(pickle.dumps(g))([[1.0]])[0].tolist() == [[2.0]]
    with pytest.raises(TypeError, match="not a Variable"):
        sg.Out(3.0)


def test_in_checks_its_arguments():
    x = sg.dvector("x")
    with pytest.raises(TypeError, match="not a Variable"):
        sg.In(3.0)
    with pytest.raises(NotImplementedError, match="updates="):
        sg.In(x, update=x * 2)
    i = sg.ivector("i")
    with pytest.raises(TypeError, match="default of input 0"):
        sg.function([sg.In(i, value=[1.5])], i * 2)
    # A default in the middle: later inputs are still required positionally.
    a, b, c = sg.dscalars("a", "b", "c")
    g = sg.function([a, sg.In(b, value=1.0), c], a + b + c)
    assert g(1.0, c=2.0) == 4.0
    with pytest.raises(TypeError, match="expects 3 inputs"):
        g(1.0)


@pytest.mark.parametrize("mode", MODES)
def test_copy_shares_swaps_or_drops_the_state(mode):
    state = sg.shared(0, name="state")
    inc = sg.iscalar("inc")
    accumulator = sg.function([inc], state, updates=[(state, state + inc)], mode=mode)
    accumulator(10)
    assert state.get_value() == 10
    shared_copy = accumulator.copy()
    shared_copy(1)
    assert state.get_value() == 11  # a plain copy updates the same shared variable
    new_state = sg.shared(0, name="new_state")
    swapped = accumulator.copy(swap={state: new_state})
    assert swapped(100) == 0
    assert (state.get_value(), new_state.get_value()) == (11, 100)
    frozen = accumulator.copy(delete_updates=True, name="frozen")
    assert frozen(9000) == 11 and state.get_value() == 11
    assert frozen.name == "frozen" and frozen.mode.backend == mode
    with pytest.raises(TypeError, match="same type|type"):
        accumulator.copy(swap={state: sg.shared(np.zeros(2))})


def test_copy_swaps_shared_variables_inside_expressions():
    w = sg.shared(np.array([1.0, 2.0]), name="w")
    x = sg.dvector("x")
    f = sg.function([x], (x * w).sum(), updates=[(w, w * 2)])
    other = sg.shared(np.array([10.0, 10.0]), name="other")
    g = f.copy(swap={w: other})
    assert g([1.0, 1.0]) == 20.0 and other.get_value().tolist() == [20.0, 20.0]
    assert w.get_value().tolist() == [1.0, 2.0]


def test_named_modes():
    x = sg.dvector("x")
    fast = sg.function([x], sg.exp(x).sum(), mode="FAST_RUN")
    assert fast.mode.backend == "llvm" and fast.mode.rewrites
    quick = sg.function([x], sg.exp(x).sum(), mode="FAST_COMPILE")
    assert quick.mode.backend == "py" and "fusion" in quick.mode.excluding
    assert not any("Composite" in str(n.op) for n in quick.fgraph.apply_nodes)
    assert fast([0.0, 0.0]) == quick([0.0, 0.0]) == 2.0
    with pytest.raises(ValueError, match="unknown mode"):
        sg.function([x], x, mode="FAST_WALK")


def test_mode_linker_and_optimizer():
    assert sg.Mode(linker="py").backend == "py"
    assert sg.Mode(linker="cvm").backend == "llvm"
    assert sg.Mode("c|py", "fast_compile").backend == "llvm"  # Theano's positional form
    assert sg.Mode(optimizer=None).rewrites is False
    assert sg.Mode(optimizer="None").rewrites is False
    assert "fusion" in sg.Mode(optimizer="fast_compile").excluding
    assert sg.Mode(optimizer="fast_run").excluding == frozenset()
    with pytest.raises(ValueError, match="unknown linker"):
        sg.Mode(linker="gpu")
    with pytest.raises(ValueError, match="unknown optimizer"):
        sg.Mode(optimizer="fastest")
    x = sg.dvector("x")
    f = sg.function([x], sg.log(sg.exp(x)) * 1.0, mode=sg.Mode(linker="py", optimizer=None))
    assert len(f.fgraph.apply_nodes) == 4  # the graph exactly as built (padding included)
    assert f([2.0]).tolist() == [2.0]


def test_config_optimizer_and_mode_flags():
    x = sg.dvector("x")
    with sg.config.change_flags(optimizer="None"):
        f = sg.function([x], sg.log(sg.exp(x)) * 1.0)
    assert not f.mode.rewrites and len(f.fgraph.apply_nodes) == 4
    with sg.config.change_flags(mode="FAST_COMPILE"):
        assert sg.function([x], x * 2).mode.backend == "py"
        assert sg.Mode().backend == "py"
    with sg.config.change_flags(mode="DebugMode"):
        assert isinstance(sg.function([x], x * 2).mode, sg.DebugMode)
    with pytest.raises(ValueError):
        sg.config.mode = "FAST_WALK"


def test_config_on_unused_input():
    x, y = sg.dvectors("x", "y")
    with pytest.raises(sg.UnusedInputError):
        sg.function([x, y], x * 2)
    with sg.config.change_flags(on_unused_input="ignore"):
        assert sg.function([x, y], x * 2)([1.0], [5.0]).tolist() == [2.0]
    with sg.config.change_flags(on_unused_input="warn"):
        with pytest.warns(UserWarning, match="not used"):
            sg.function([x, y], x * 2)
    with pytest.raises(sg.UnusedInputError):  # an explicit argument wins over the flag
        with sg.config.change_flags(on_unused_input="ignore"):
            sg.function([x, y], x * 2, on_unused_input="raise")


def test_maker_gives_the_compiled_graph():
    x = sg.dvector("x")
    f = sg.function([x], sg.exp(x) * 2, mode="py")
    assert f.maker.fgraph is f.fgraph and f.maker.mode is f.mode
    assert f.maker.inputs == [x] and f.maker.outputs == f.outputs
