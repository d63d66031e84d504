"""Theano's module paths under symgraph (symgraph.tensor, .ifelse, .gradient, .compile,
.sandbox, ...): they import as Theano's did, load lazily, and follow Theano's semantics where
those differ from sg.*'s."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import symgraph as sg

MODES = ["llvm", "py"]
LAZY = ("symgraph.tensor", "symgraph.ifelse", "symgraph.gradient", "symgraph.compile",
        "symgraph.sandbox", "symgraph.callable_module", "symgraph.printing.print_op",
        "symgraph.scalar")


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---------------------------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------------------------

def test_import_symgraph_does_not_load_the_theano_paths():
    out = run_python("import sys, symgraph\n"
                     f"print(sorted(m for m in sys.modules if m.startswith({LAZY!r})))")
    assert out.strip() == "[]"


def test_a_theano_program_ports_by_renaming_its_imports():
    # Every import line of a typical Theano program, with "theano" replaced.
    out = run_python(
        "import symgraph\n"
        "import symgraph.tensor as T\n"
        "from symgraph import function, shared, In, Mode, config, printing, gradient\n"
        "from symgraph.tensor.nnet import conv2d, sigmoid, softmax, relu\n"
        "from symgraph.tensor.nnet import conv\n"
        "from symgraph.tensor.signal import pool, downsample\n"
        "from symgraph.tensor.shared_randomstreams import RandomStreams\n"
        "from symgraph.sandbox.rng_mrg import MRG_RandomStreams\n"
        "from symgraph.ifelse import ifelse\n"
        "from symgraph.printing import Print, pprint, debugprint, pydotprint\n"
        "from symgraph.gradient import grad, jacobian, hessian, disconnected_grad\n"
        "from symgraph.compile.ops import as_op\n"
        "from symgraph.compile.io import In\n"
        "from symgraph.compile.mode import FAST_RUN, get_mode\n"
        "from symgraph.compile.debugmode import DebugMode\n"
        "from symgraph.scan_module import until\n"
        "from symgraph.gof import Op, Apply\n"
        "import symgraph.nnet, symgraph.random, symgraph.linalg\n"
        "print(symgraph.tensor.nnet.sigmoid is sigmoid, T.grad is grad, symgraph.scan)\n")
    assert out.startswith("True True <function scan")


def test_tensor_is_a_module_and_the_constructor_of_the_api():
    import symgraph.tensor as T

    assert sg.tensor is T
    assert sg.tensor("x", "float32", (None, 3)).type == sg.TensorType("float32", (None, 3))
    assert sg.tensor(name="r", dtype="float64", shape=(1, None)).broadcastable == (True, False)
    assert T.tensor(dtype="int32", shape=(2,)).type == sg.TensorType("int32", (2,))
    assert T.dmatrix("m").type == sg.dmatrix().type
    assert T.frow().type == sg.TensorType("float32", (1, None))
    assert T.icol().type == sg.TensorType("int32", (None, 1))
    x, y = T.dcols("x y")
    assert x.name == "x" and y.type.shape == (None, 1)


def test_tensor_has_theano_names():
    import symgraph.tensor as T

    for name in ("abs_", "sgn", "inv", "true_div", "int_div", "floor_div", "neq", "switch",
                 "grad", "jacobian", "hessian", "Rop", "Lop", "verify_grad", "TensorType",
                 "TensorVariable", "TensorConstant", "as_tensor_variable", "as_tensor",
                 "constant", "shape_padleft", "shape_padright", "shape_padaxis",
                 "addbroadcast", "unbroadcast", "patternbroadcast", "max_and_argmax", "join",
                 "iround", "largest", "smallest", "set_subtensor", "inc_subtensor",
                 "get_scalar_constant_value", "NotScalarConstantError", "nnet", "signal",
                 "shared_randomstreams", "nlinalg", "slinalg", "extra_ops"):
        assert hasattr(T, name), name
    assert "nnet" in dir(T) and "dmatrix" in T.__all__


def test_typed_constructors_are_tensor_types():
    # The tutorial: "T.dscalar is the type we assign to 0-d arrays of doubles".
    import symgraph.tensor as T

    x = T.dscalar("x")
    assert x.type == T.dscalar and isinstance(T.dscalar, sg.TensorType)
    assert T.fmatrix == sg.TensorType("float32", (None, None)) and T.fmatrix().ndim == 2
    assert T.irow == sg.TensorType("int32", (1, None)) and T.lcol.broadcastable == (False, True)
    assert T.btensor3.dtype == "int8" and T.dtensor5.ndim == 5 and T.wvector.dtype == "int16"
    # the floatX constructors stay functions that take a dtype, as in Theano
    assert T.matrix("m", dtype="int64").type == T.lmatrix
    assert [v.type for v in T.dscalars("a", "b")] == [T.dscalar, T.dscalar]
    assert sg.dscalar("s").type == T.dscalar  # sg.* keeps its functions


def test_scalar_is_a_module_and_the_constructor_of_the_api():
    # Python ops written for Theano call theano.scalar.upcast (the extending tutorial)
    import symgraph.scalar

    assert sg.scalar is symgraph.scalar
    assert sg.scalar("s").type == sg.TensorType(sg.config.floatX, ())
    assert sg.scalar(dtype="int32").dtype == "int32"
    assert symgraph.scalar.upcast("float32", "int64") == "float64"


@pytest.mark.parametrize("mode", MODES)
def test_xlogx_module(mode):
    import symgraph.tensor as T

    x, y = T.dvectors("x", "y")
    f = sg.function([x, y], [T.xlogx.xlogx(x), T.xlogx.xlogy0(x, y),
                             *sg.grad(T.xlogx.xlogy0(x, y).sum(), [x, y]),
                             sg.grad(T.xlogx.xlogx(x).sum(), x)], mode=mode)
    xv, yv = np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.25, 2.0])
    h, c, gx, gy, g = f(xv, yv)
    np.testing.assert_allclose(h, [0.0, 0.5 * np.log(0.5), 0.0])
    np.testing.assert_allclose(c, [0.0, 0.5 * np.log(0.25), np.log(2.0)])
    # where x is 0 the derivatives are 0, no NaN
    np.testing.assert_allclose(gx, [0.0, np.log(0.25), np.log(2.0)])
    np.testing.assert_allclose(gy, [0.0, 2.0, 0.5])
    np.testing.assert_allclose(g, [0.0, np.log(0.5) + 1, 1.0])


def test_shared_with_a_broadcastable_pattern():
    bias = sg.shared(np.zeros((1, 3)), broadcastable=(True, False))
    assert bias.broadcastable == (True, False) and bias.type.shape == (1, None)
    m = sg.dmatrix("m")
    assert sg.function([m], m + bias)(np.ones((2, 3))).shape == (2, 3)
    with pytest.raises(TypeError, match="dimension 0 must be 1"):
        sg.shared(np.zeros((2, 3)), broadcastable=(True, False))
    with pytest.raises(TypeError, match="not both"):
        sg.shared(np.zeros((1, 3)), broadcastable=(True, False), shape=(1, 3))


def test_clone_replaces_variables():
    import symgraph.tensor as T

    x, y = T.dvectors("x", "y")
    z = T.exp(x) + 1
    (w,) = sg.clone([z], replace={x: y})
    assert sg.function([y], w)([0.0]).tolist() == [2.0]
    assert sg.clone(z, replace=[(x, 2 * y)]).owner.inputs[0].owner.inputs[0].owner is not None
    with pytest.raises(TypeError, match="strict=False"):
        sg.clone(z, replace={x: T.dmatrix("m")})
    r = T.dmatrix("r")
    assert sg.clone(z, replace={x: r}, strict=False).ndim == 2


@pytest.mark.parametrize("mode", MODES)
def test_tensor_functions_with_theano_signatures(mode):
    import symgraph.tensor as T

    a, b = T.dvectors("a", "b")
    m = T.dmatrix("m")
    outputs = [T.stack(a, b), T.stack([a, b], axis=1), T.join(0, a, b), T.sum(m, 0, "float32"),
               T.mean(m, axis=1), T.var(m, 0, 1), T.std(m, None, 0, True),
               T.round(a, "half_away_from_zero"), T.iround(a), T.largest(a, b, 2.0),
               T.smallest(a, b), *T.max_and_argmax(m, axis=1), T.flatten(m, outdim=1),
               T.inv(a), T.sgn(a - 2)]
    f = sg.function([a, b, m], outputs, mode=mode)
    av, bv = np.array([0.5, 2.5]), np.array([1.0, -1.0])
    mv = np.array([[1.0, 5.0], [3.0, 2.0]])
    got = f(av, bv, mv)
    expected = [np.stack([av, bv]), np.stack([av, bv], 1), np.concatenate([av, bv]),
                mv.sum(0).astype("float32"), mv.mean(1), mv.var(0, ddof=1),
                mv.std(keepdims=True), [1.0, 3.0], [0, 2], [2.0, 2.5], [0.5, -1.0],
                [5.0, 3.0], [1, 0], mv.ravel(), 1 / av, np.sign(av - 2)]
    for index, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, err_msg=f"output {index}")
    assert got[3].dtype == np.float32 and got[8].dtype == np.int64


def test_broadcastable_patterns():
    import symgraph.tensor as T

    m = T.dmatrix("m")
    row = T.addbroadcast(m, 0)
    assert row.broadcastable == (True, False)
    assert T.unbroadcast(row, 0).broadcastable == (False, False)
    assert T.patternbroadcast(row, (False, True)).broadcastable == (False, True)
    assert T.shape_padleft(m).broadcastable == (True, False, False)
    assert T.shape_padright(m, 2).ndim == 4
    assert T.shape_padaxis(m, 1).broadcastable == (False, True, False)
    v = T.dvector("v")
    total = (T.unbroadcast(row, 0) * 2).sum() + T.unbroadcast(v.dimshuffle("x", 0), 0).sum()
    f = sg.function([m, v], [total, sg.grad(total, [m, v])[1]])
    value, gradient = f(np.ones((1, 3)), np.arange(3.0))
    assert value == 9.0 and gradient.tolist() == [1.0, 1.0, 1.0]
    # Dropped where the input's type can stand for the output's; a view otherwise, never a
    # call back into Python.
    notes = f._native.builder_notes if f._native is not None else {}
    assert all(notes.get(n) == "view" for n in f.fgraph.apply_nodes
               if "Unbroadcast" in str(n.op)) or sg.config.mode != "llvm"
    with pytest.raises(ValueError):
        sg.function([m], row)(np.ones((2, 3)))


def test_get_scalar_constant_value():
    import symgraph.tensor as T

    assert T.get_scalar_constant_value(sg.constant(np.full((2, 2), 3.0))) == 3.0
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(T.dscalar())


# ---------------------------------------------------------------------------------------------
# tensor.nnet
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_nnet_softmax_of_a_vector_is_a_row_as_in_theano(mode):
    from symgraph.tensor import nnet

    v = sg.dvector("v")
    assert nnet.softmax(v).type.shape == (1, None)
    assert nnet.logsoftmax(v).type.shape == (1, None)
    assert sg.nnet.softmax(v).type.shape == (None,)  # sg.* keeps NumPy's semantics
    assert nnet.softmax(v, axis=-1).type.shape == (None,)
    value = np.array([1.0, 2.0, 3.0])
    expected = np.exp(value) / np.exp(value).sum()
    f = sg.function([v], [nnet.softmax(v)[:, 1], nnet.log_softmax(v), nnet.softmax_graph(v),
                          nnet.softmax_with_bias(v.dimshuffle("x", 0), v)], mode=mode)
    second, log_row, graph, biased = f(value)
    np.testing.assert_allclose(second, expected[[1]])
    np.testing.assert_allclose(log_row, np.log(expected)[None, :])
    np.testing.assert_allclose(graph, expected)
    biased_expected = np.exp(2 * value) / np.exp(2 * value).sum()
    np.testing.assert_allclose(biased, biased_expected[None, :])


@pytest.mark.parametrize("mode", MODES)
def test_nnet_crossentropies_and_activations(mode):
    from symgraph.tensor import nnet

    x = sg.dmatrix("x")
    y = sg.ivector("y")
    t = sg.dmatrix("t")
    nll, sm = nnet.crossentropy_softmax_1hot(x, y)
    f = sg.function([x, y, t], [nll, sm, nnet.sigmoid_binary_crossentropy(x, t),
                                nnet.ultra_fast_sigmoid(x), nnet.relu(x, 0.1)], mode=mode)
    xv = np.array([[1.0, -2.0], [40.0, 0.5]])
    yv = np.array([0, 1], dtype=np.int32)
    tv = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = f(xv, yv, tv)
    softmax = np.exp(xv - xv.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(got[0], -np.log(softmax[[0, 1], yv]))
    np.testing.assert_allclose(got[1], softmax)
    bce = tv * np.logaddexp(0, -xv) + (1 - tv) * np.logaddexp(0, xv)
    np.testing.assert_allclose(got[2], bce)  # stable at x = 40: 40, not inf
    np.testing.assert_allclose(got[3], 1 / (1 + np.exp(-xv)))
    np.testing.assert_allclose(got[4], np.where(xv > 0, xv, 0.1 * xv))


@pytest.mark.parametrize("mode", MODES)
def test_nnet_conv2d_keywords_old_and_new(mode):
    from symgraph.tensor import nnet
    from symgraph.tensor.nnet import conv

    images, filters = sg.dtensor4("images"), sg.dtensor4("filters")
    new = nnet.conv2d(images, filters, image_shape=(1, 1, 4, 4), filter_shape=(2, 1, 3, 3))
    old = conv.conv2d(images, filters, image_shape=(1, 1, 4, 4), filter_shape=(2, 1, 3, 3),
                      border_mode="full")
    assert new.type.shape == (1, 2, 2, 2) and old.type.shape == (1, 2, 6, 6)
    rng = np.random.default_rng(0)
    iv, fv = rng.normal(size=(1, 1, 4, 4)), rng.normal(size=(2, 1, 3, 3))
    got_new, got_old = sg.function([images, filters], [new, old], mode=mode)(iv, fv)
    flipped = fv[:, :, ::-1, ::-1]  # Theano's conv2d is a true convolution
    expected = np.array([[[[np.sum(iv[0, 0, r:r + 3, c:c + 3] * flipped[k, 0])
                            for c in range(2)] for r in range(2)] for k in range(2)]])
    np.testing.assert_allclose(got_new, expected)
    np.testing.assert_allclose(got_old[:, :, 2:4, 2:4], expected)
    with pytest.raises(ValueError, match="not both"):
        nnet.conv2d(images, filters, input_shape=(1, 1, 4, 4), image_shape=(1, 1, 4, 4))
    with pytest.raises(NotImplementedError):
        nnet.conv2d(images, filters, filter_dilation=(2, 2))
    with pytest.raises(ValueError, match="'valid' or 'full'"):
        conv.conv2d(images, filters, border_mode="half")


def test_nnet_batch_normalization():
    from symgraph.tensor.nnet import bn

    x = sg.dmatrix("x")
    out = bn.batch_normalization(x, 2.0, 1.0, x.mean(0, keepdims=True),
                                 x.std(0, keepdims=True) + 1e-9)
    value = sg.function([x], out)(np.array([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(value, [[-1.0, -1.0], [3.0, 3.0]])
    with pytest.raises(ValueError, match="mode"):
        bn.batch_normalization(x, 1, 0, 0, 1, mode="fast")


# ---------------------------------------------------------------------------------------------
# tensor.signal.pool
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_pool_2d_theano_keywords_and_defaults(mode):
    from symgraph.tensor.signal import downsample, pool

    x = sg.dtensor4("x")
    value = np.arange(25.0).reshape(1, 1, 5, 5)
    outputs = [
        pool.pool_2d(x, ws=(2, 2)),  # Theano 1.0's default: ignore_border=False
        pool.pool_2d(x, ds=(2, 2), ignore_border=True),  # deprecated names
        pool.pool_2d(x, ws=(3, 3), st=(1, 1), ignore_border=True, mode="sum"),
        pool.pool_2d(x, (2, 2), True, padding=(1, 1), mode="average_exc_pad"),
        pool.pool_2d(x, (2, 2), True, pad=(1, 1), mode="average_inc_pad"),
        downsample.max_pool_2d(x, (2, 2), ignore_border=True),
        pool.max_pool_2d_same_size(x, (2, 2)),
    ]
    got = sg.function([x], outputs, mode=mode)(value)
    v = value[0, 0]
    np.testing.assert_array_equal(got[0][0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    np.testing.assert_array_equal(got[1][0, 0], [[6, 8], [16, 18]])
    np.testing.assert_array_equal(got[2][0, 0], [[v[r:r + 3, c:c + 3].sum() for c in range(3)]
                                                  for r in range(3)])
    padded = np.pad(v, 1)
    windows = [[padded[r:r + 2, c:c + 2] for c in range(0, 6, 2)] for r in range(0, 6, 2)]
    inc = [[w.sum() / 4 for w in row] for row in windows]
    counts = np.pad(np.ones((5, 5)), 1)
    exc = [[windows[r][c].sum() / counts[2 * r:2 * r + 2, 2 * c:2 * c + 2].sum()
            for c in range(3)] for r in range(3)]
    np.testing.assert_allclose(got[3][0, 0], exc)
    np.testing.assert_allclose(got[4][0, 0], inc)
    np.testing.assert_array_equal(got[5], got[1])
    same = np.zeros((5, 5))
    for r, c in [(1, 1), (1, 3), (3, 1), (3, 3), (1, 4), (3, 4), (4, 1), (4, 3), (4, 4)]:
        same[r, c] = v[r, c]
    np.testing.assert_array_equal(got[6][0, 0], same)


def test_pool_2d_errors():
    from symgraph.tensor.signal import pool

    x = sg.dtensor4("x")
    with pytest.raises(ValueError, match="ws or its old name ds"):
        pool.pool_2d(x, ws=(2, 2), ds=(2, 2))
    with pytest.raises(ValueError, match="window size"):
        pool.pool_2d(x)
    with pytest.raises(ValueError, match="unknown mode"):
        pool.pool_2d(x, (2, 2), mode="median")
    with pytest.raises(NotImplementedError):
        pool.pool_2d(sg.dvector(), (2, 2))


# ---------------------------------------------------------------------------------------------
# Random streams
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_random_streams_take_the_size_first(mode):
    from symgraph.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(seed=234)
    x = sg.dmatrix("x")
    draws = [srng.uniform((2, 3), 2.0, 3.0), srng.normal((4000,), 5.0, 0.5),
             srng.binomial(size=x.shape, n=1, p=0.25, dtype=sg.config.floatX),
             srng.binomial((3,), 10, 0.5), srng.random_integers((500,), 1, 3),
             srng.choice((4,), 3), srng.permutation((2,), 4), srng.multinomial((3,), 1, [0, 1.0]),
             srng.shuffle_row_elements(x)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = sg.function([x], draws, mode=mode)
        got = f(np.ones((200, 3)))
    assert got[0].shape == (2, 3) and ((2 <= got[0]) & (got[0] < 3)).all()
    assert abs(got[1].mean() - 5.0) < 0.05 and abs(got[1].std() - 0.5) < 0.05
    assert got[2].dtype == np.float64 and set(np.unique(got[2])) <= {0.0, 1.0}
    assert 0.15 < got[2].mean() < 0.35
    assert got[3].dtype == np.int64 and got[3].max() <= 10
    assert set(np.unique(got[4])) == {1, 2, 3}  # high is included, as in Theano
    assert got[5].shape == (4,) and set(got[5]) <= {0, 1, 2}
    assert got[6].shape == (2, 4) and all(sorted(r) == [0, 1, 2, 3] for r in got[6])
    np.testing.assert_array_equal(got[7], [[0, 1]] * 3)
    assert got[8].shape == (200, 3)
    again = f(np.ones((200, 3)))
    assert not np.array_equal(again[0], got[0])  # each call advances the streams


def test_random_streams_binomial_float_dtype_is_theano_only():
    from symgraph.tensor.shared_randomstreams import RandomStreams

    x = sg.fmatrix("x")
    mask = RandomStreams(1).binomial(size=x.shape, n=1, p=0.9, dtype="float32")
    assert (mask * x).dtype == "float32"
    with pytest.raises(TypeError, match="integer"):
        sg.random.RandomStream(1).binomial(1, 0.9, size=(2,), dtype="float32")


def test_draws_carry_their_generator_as_in_theano():
    from symgraph.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = sg.function([], rv_u)
    first = f()
    rng, next_state = rv_u.update
    assert rng is rv_u.rng and next_state.owner is rv_u.owner
    saved = rv_u.rng.get_value()
    second = f()
    rv_u.rng.set_value(saved)
    np.testing.assert_array_equal(f(), second)
    assert not np.array_equal(first, second)
    assert srng.binomial((2,), 1, 0.5, dtype="float32").rng is not None


@pytest.mark.parametrize("mode", MODES)
def test_a_draws_generator_seeds_and_saves_its_state_as_randomstate(mode):
    # The tutorial's "Seeding Streams" and "Sharing Streams Between Functions".
    import copy

    from symgraph.tensor.shared_randomstreams import RandomStreams, SeedableGenerator

    rv_u = RandomStreams(seed=234).uniform((2, 2))
    f = sg.function([], rv_u, mode=mode)
    rng_val = rv_u.rng.get_value(borrow=True)
    rng_val.seed(89234)
    rv_u.rng.set_value(rng_val, borrow=True)
    first = f()
    assert isinstance(rv_u.rng.get_value(borrow=True), SeedableGenerator)  # after a call too
    state = rv_u.rng.get_value().get_state()
    second = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state)
    rv_u.rng.set_value(rng, borrow=True)
    np.testing.assert_array_equal(f(), second)
    rng.seed(89234)
    rv_u.rng.set_value(rng, borrow=True)
    np.testing.assert_array_equal(f(), first)
    for twin in (copy.deepcopy(rng), pickle.loads(pickle.dumps(rng))):
        assert type(twin) is SeedableGenerator and twin.get_state() == rng.get_state()


def test_mrg_rstate_copies_where_the_next_draws_come_from():
    from symgraph.sandbox.rng_mrg import MRG_RandomStreams

    one, two = MRG_RandomStreams(123), MRG_RandomStreams(987)
    two.rstate = one.rstate
    a = sg.function([], one.uniform((3,)))()
    b = sg.function([], two.uniform((3,)))()
    np.testing.assert_array_equal(a, b)


def test_random_streams_same_seed_same_numbers():
    from symgraph.tensor.shared_randomstreams import RandomStreams

    first = sg.function([], RandomStreams(7).normal((3,)))()
    second = sg.function([], RandomStreams(7).normal((3,)))()
    third = sg.function([], RandomStreams(8).normal((3,)))()
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


@pytest.mark.parametrize("mode", MODES)
def test_mrg_random_streams_is_its_own_class(mode):
    from symgraph.sandbox.rng_mrg import MRG_RandomStreams
    from symgraph.tensor.shared_randomstreams import RandomStreams

    mrg = MRG_RandomStreams(seed=42)
    assert isinstance(mrg, MRG_RandomStreams) and not isinstance(mrg, RandomStreams)
    assert not isinstance(RandomStreams(1), MRG_RandomStreams)
    pvals = sg.dmatrix("pvals")
    draws = [mrg.uniform((1000,), -1.0, 1.0), mrg.normal(size=(1000,), avg=1.0, std=2.0),
             mrg.binomial(size=(1000,), p=0.8, dtype="float32"),
             mrg.multinomial(pvals=pvals, dtype="float64")]
    got = sg.function([pvals], draws, mode=mode)(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    assert got[0].min() >= -1 and got[0].max() < 1 and abs(got[0].mean()) < 0.1
    assert abs(got[1].mean() - 1.0) < 0.2 and abs(got[1].std() - 2.0) < 0.2
    assert got[2].dtype == np.float32 and 0.75 < got[2].mean() < 0.85
    np.testing.assert_array_equal(got[3], [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(NotImplementedError):
        mrg.normal((2,), truncate=True)
    with pytest.raises(NotImplementedError):
        mrg.multinomial(pvals=pvals, n=2)


# ---------------------------------------------------------------------------------------------
# ifelse, printing, gradient, compile
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_ifelse_is_a_module_and_a_function(mode):
    import symgraph.ifelse as ifelse_module
    from symgraph.ifelse import IfElse, ifelse

    assert sg.ifelse is ifelse_module and callable(sg.ifelse)
    a, b = sg.dscalars("a", "b")
    f = sg.function([a, b], [ifelse(sg.lt(a, b), a, b), sg.ifelse(sg.gt(a, b), a, b)],
                    mode=mode)
    assert [float(v) for v in f(1.0, 2.0)] == [1.0, 2.0]
    assert isinstance(ifelse(sg.lt(a, b), a, b).owner.op, IfElse)


@pytest.mark.parametrize("mode", MODES)
def test_print_prints_at_run_time(mode, capfd):
    from symgraph.printing import Print

    x = sg.dvector("x")
    printed = Print("x is")(x)
    shown = Print("stats", attrs=("shape", "sum"))(x * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no PerformFallbackWarning: printing is the point
        f = sg.function([x], printed.sum() + shown.sum(), mode=mode)
    assert capfd.readouterr().out == ""
    assert f(np.array([1.0, 2.0])) == 9.0
    assert f(np.array([3.0])) == 9.0
    lines = capfd.readouterr().out.splitlines()
    assert sorted(lines) == sorted(["x is __str__ = [1. 2.]", "stats shape = (2,)",
                                    "stats sum = 6.0", "x is __str__ = [3.]",
                                    "stats shape = (1,)", "stats sum = 6.0"])
    gradient = sg.function([x], sg.grad((Print("g")(x) ** 2).sum(), x), mode=mode)
    np.testing.assert_array_equal(gradient(np.array([1.0, 2.0])), [2.0, 4.0])


def test_print_inside_scan(capfd):
    from symgraph.printing import Print

    v = sg.dvector("v")
    out, _ = sg.scan(lambda e, acc: acc + Print("step")(e), sequences=[v],
                     outputs_info=[sg.constant(0.0)])
    assert sg.function([v], out[-1])(np.array([1.0, 2.0])) == 3.0
    assert capfd.readouterr().out.splitlines() == ["step __str__ = 1.0", "step __str__ = 2.0"]


def test_pprint_is_pp():
    from symgraph import printing

    x = sg.dvector("x")
    assert printing.pprint is printing.pp
    assert printing.pprint(x * 2 + 1) == "((x * 2.0) + 1.0)"


@pytest.mark.parametrize("mode", MODES)
def test_gradient_module(mode):
    from symgraph import gradient as G

    v = sg.dvector("v")
    costs = [(G.grad_clip(v, -1.0, 1.0) ** 3).sum(), (G.zero_grad(v) * v).sum(),
             (G.grad_scale(v, 3.0) ** 2).sum(), (G.consider_constant(v) * v).sum(),
             (G.disconnected_grad(v) * v).sum()]
    f = sg.function([v], [G.grad(c, v) for c in costs] + [G.zero_grad(v) * 1.0], mode=mode)
    got = f(np.array([2.0, 0.5]))
    np.testing.assert_allclose(got[0], [1.0, 0.75])  # 3 v**2, clipped to [-1, 1]
    np.testing.assert_allclose(got[1], [2.0, 0.5])
    np.testing.assert_allclose(got[2], [12.0, 3.0])
    np.testing.assert_allclose(got[3], [2.0, 0.5])
    np.testing.assert_allclose(got[4], [2.0, 0.5])
    np.testing.assert_allclose(got[5], [2.0, 0.5])
    assert not any(type(n.op).__name__ in ("GradientOverride", "DisconnectedGrad")
                   for n in f.fgraph.apply_nodes)
    with pytest.raises(G.NullTypeGradError):
        G.grad(G.undefined_grad(v).sum(), v)
    with pytest.raises(ValueError, match="lower_bound"):
        G.grad_clip(v, 1.0, -1.0)
    assert G.jacobian is sg.jacobian and G.hessian is sg.hessian
    w = sg.dmatrix("w")
    assert G.grad((w * 2).sum(), w).type == w.type


def test_compile_module():
    from symgraph import compile as C

    assert C.function is sg.function and C.shared is sg.shared and C.In is sg.In
    assert C.FAST_RUN.backend == "llvm" and C.FAST_COMPILE.backend == "py"
    assert isinstance(C.get_mode("DebugMode"), C.DebugMode)
    assert C.get_default_mode().backend == sg.config.mode
    assert set(C.predefined_modes) >= {"FAST_RUN", "FAST_COMPILE", "DebugMode"}
    from symgraph.compile.ops import as_op

    assert as_op is sg.as_op


def test_nnet_random_linalg_import_as_modules():
    import symgraph.linalg
    import symgraph.nnet
    import symgraph.random

    assert symgraph.nnet is sg.nnet and symgraph.random is sg.random
    assert symgraph.linalg.inv is sg.linalg.inv
    assert pickle.loads(pickle.dumps(symgraph.nnet.softmax)) is sg.nnet.softmax


def test_extra_ops_and_linalg_paths():
    from symgraph.tensor import extra_ops, nlinalg, slinalg

    y = sg.ivector("y")
    hot = sg.function([y], extra_ops.to_one_hot(y, 3))(np.array([2, 0], dtype=np.int32))
    np.testing.assert_array_equal(hot, [[0, 0, 1], [1, 0, 0]])
    assert hot.dtype == sg.config.floatX
    a = sg.dmatrix("a")
    inverse = sg.function([a], nlinalg.matrix_inverse(a))(np.array([[2.0, 0.0], [0.0, 4.0]]))
    np.testing.assert_allclose(inverse, [[0.5, 0], [0, 0.25]])
    assert slinalg.solve is sg.linalg.solve and extra_ops.cumsum is sg.cumsum
