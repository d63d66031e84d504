"""Exported graphs beyond the MLP: scan loops, constants, baked parameters, a named CPU,
errors for what cannot leave Python. Each runs in a generated C program (crunner.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.export import ExportError
from tests.export.crunner import run_in_c

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")


def test_scan_loop(tmp_path):
    x = sg.matrix("x")
    w = sg.shared(np.random.default_rng(0).normal(size=(3, 3)) * 0.5, name="W")
    h0 = sg.vector("h0")
    hs, _ = sg.scan(lambda xt, h, W: sg.tanh(xt + h @ W), sequences=[x], outputs_info=[h0],
                    non_sequences=[w])
    f = sg.function([x, h0], [hs, hs[-1].sum()])
    result = sg.export({"f": f}, str(tmp_path), name="rnn", bake_params=True)
    xv = np.random.default_rng(1).normal(size=(5, 3))
    h0v = np.zeros(3)
    got = run_in_c(result, "rnn", "f", [xv, h0v], ["float64", "float64"], str(tmp_path), cc=CC)
    expected = f(xv, h0v)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def test_baked_params_and_updates(tmp_path):
    x = sg.vector("x")
    acc = sg.shared(np.arange(4.0), name="acc")
    f = sg.function([x], (acc * x).sum(), updates=[(acc, acc + x)])
    result = sg.export({"f": f}, str(tmp_path), name="acc", bake_params=True)
    xv = np.array([1.0, 2.0, 3.0, 4.0])
    # Three calls in C: the third sees the parameter updated twice.
    (got,) = run_in_c(result, "acc", "f", [xv], ["float64"], str(tmp_path), calls=3, cc=CC)
    for _ in range(3):
        expected = f(xv)
    assert got == expected
    # Without baking, a context made with no parameter file starts from zeros; with the file
    # it starts from the values at export time.
    result = sg.export({"f": f}, str(tmp_path / "plain"), name="acc")
    (zero,) = run_in_c(result, "acc", "f", [xv], ["float64"], str(tmp_path / "plain"), cc=CC)
    assert zero == 0.0
    (filed,) = run_in_c(result, "acc", "f", [xv], ["float64"], str(tmp_path / "plain"),
                        params=result.params, cc=CC)
    assert filed == (acc.get_value() * xv).sum()


def test_static_shape_names_the_input(tmp_path):
    x = sg.tensor("images", dtype="float32", shape=(None, 4))
    f = sg.function([x], sg.exp(x).sum(axis=1))
    result = sg.export({"f": f}, str(tmp_path), name="ss", cpu="x86-64-v3")
    good = np.ones((2, 4), dtype="float32")
    (got,) = run_in_c(result, "ss", "f", [good], ["float32"], str(tmp_path), cc=CC)
    np.testing.assert_allclose(got, f(good), rtol=1e-6)
    message = run_in_c(result, "ss", "f", [np.ones((2, 5), dtype="float32")], ["float32"],
                       str(tmp_path), cc=CC)
    assert message.startswith("error 1") and "'images'" in message and "(2, 5)" in message


def test_unsupported_draws_are_an_export_error(tmp_path):
    rng = sg.random.RandomStream(3)
    x = sg.vector("x")
    with warnings.catch_warnings():  # the op runs its perform in Python
        warnings.simplefilter("ignore", sg.PerformFallbackWarning)
        g = sg.function([x], rng.normal(x, 1.0, size=(4,)))  # the draw's line (vector loc)
    with pytest.raises(ExportError, match="normal") as info:
        sg.export({"g": g}, str(tmp_path), name="rnd")
    assert "the draw's line" in str(info.value)


def test_bad_names_and_arguments(tmp_path):
    x = sg.vector("x")
    f = sg.function([x], x * 2)
    with pytest.raises(ExportError, match="C identifier"):
        sg.export({"f": f}, str(tmp_path), name="my-lib")
    with pytest.raises(ExportError, match="C identifier"):
        sg.export({"2f": f}, str(tmp_path), name="lib")
    with pytest.raises(TypeError, match="sg.function"):
        sg.export({"f": lambda v: v}, str(tmp_path), name="lib")


def test_character_lstm_sampler_and_training_step(tmp_path):
    """The demo's character LSTM: its one-character sampler step, drawing a text in a C program
    (tests/export/lstm_sample.c: inverse-CDF draws with uniforms given from here, so the draws
    are the same as in Python), and its training step (a scan over the sequence, its gradient
    a reverse scan, Adam with gradient clipping). The lookup ``W_in[codes]`` and its gradient
    run natively: a negative code counts from the end, one out of range is an error code."""
    from symgraph.demo import charlstm
    from symgraph.demo.training import adam

    rng = np.random.default_rng(0)
    vocab, hidden = 12, 8
    params = charlstm.init_params(vocab, hidden, rng, "float64")
    inputs, targets, loss = charlstm.sequence_loss(params)
    train = sg.function([inputs, targets], loss,
                        updates=adam(loss, params.all(), 0.01, clip_norm=5.0))
    sample = charlstm.compile_sampler(params, "llvm")
    result = sg.export({"sample": sample, "train_step": train}, str(tmp_path), name="lstm")
    n, first = 20, 3
    uniforms = rng.random(n)
    uniforms.tofile(tmp_path / "u.bin")
    source = os.path.join(os.path.dirname(__file__), "lstm_sample.c")
    program = str(tmp_path / "lstm_sample")
    subprocess.run(result.build_command(source, program, cc=CC) + ["-Wall", "-Werror"],
                   check=True)
    subprocess.run([program, str(tmp_path), str(n), str(hidden), str(first)], check=True,
                   env={})
    codes = np.fromfile(tmp_path / "codes.bin", dtype=np.int64)
    probs = np.fromfile(tmp_path / "probs.bin").reshape(n, vocab)
    # The same draws in Python.
    code, h, c = first, np.zeros((1, hidden)), np.zeros((1, hidden))
    expected_codes = []
    for step in range(n):
        p, h, c = sample(np.array([code]), h, c)
        np.testing.assert_allclose(probs[step], p, rtol=1e-12, atol=1e-15)
        # The first code whose running total passes the uniform (C sums in the same order).
        code = min(int(np.searchsorted(np.cumsum(p), uniforms[step], side="right")), vocab - 1)
        expected_codes.append(code)
    assert codes.tolist() == expected_codes
    assert len(set(expected_codes)) > 3
    p, _, _ = sample(np.array([-1]), h, c)
    np.testing.assert_allclose(np.fromfile(tmp_path / "negative.bin"), p, rtol=1e-12,
                               atol=1e-15)
    status, message = (tmp_path / "error.txt").read_text().split(" ", 1)
    assert int(status) == 2 and "AdvancedSubtensor" in message and "index out of range" in \
        message
    with pytest.raises(IndexError):
        sample(np.array([vocab]), h, c)
    x = rng.integers(0, vocab, (6, 3))
    y = rng.integers(0, vocab, (6, 3))
    # Two steps in C from the exported parameters, then two in Python.
    (loss_c,) = run_in_c(result, "lstm", "train_step", [x, y], ["float64"], str(tmp_path),
                         params=result.params, calls=2, cc=CC)
    train(x, y)
    np.testing.assert_allclose(loss_c, train(x, y), rtol=1e-12)


MASK = np.uint64(0xFFFFFFFF)


def philox_reference(key: int, offset: int, n: int, dist: str, dtype: str, a: float,
                     b: float) -> np.ndarray:
    """Philox4x32-10 (Salmon et al., SC 2011) in NumPy, with the CUDA backend's layout: block
    ``g`` of a draw encrypts the counter ``(g, offset)`` under ``key``."""
    per = 2 if dtype == "float64" else 4
    g = np.arange(-(-n // per), dtype=np.uint64)
    offset, key = np.uint64(offset), np.uint64(key)
    c = [g & MASK, g >> np.uint64(32), np.full_like(g, offset & MASK),
         np.full_like(g, offset >> np.uint64(32))]
    k0, k1 = key & MASK, key >> np.uint64(32)
    for r in range(10):
        if r:
            k0, k1 = (k0 + np.uint64(0x9E3779B9)) & MASK, (k1 + np.uint64(0xBB67AE85)) & MASK
        p0, p1 = np.uint64(0xD2511F53) * c[0], np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ k1,
             p0 & MASK]
    if dtype == "float64":
        units = [((c[2 * j] >> np.uint64(5)).astype(np.float64) * 67108864.0 +
                  (c[2 * j + 1] >> np.uint64(6)).astype(np.float64)) * 2.0 ** -53
                 for j in range(2)]
    else:
        units = [(w >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24) for w in c]
    if dist == "normal":
        ty = np.dtype(dtype).type
        pairs = []
        for j in range(0, per, 2):
            radius = np.sqrt(ty(-2) * np.log(ty(1) - units[j]))
            angle = ty(2 * np.pi) * units[j + 1]
            pairs += [radius * np.cos(angle), radius * np.sin(angle)]
        units = pairs
    wide = np.stack([u.astype(np.float64) for u in units], axis=1).ravel()[:n]
    values = a + (b - a) * wide if dist == "uniform" else a + b * wide
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_random_draws_are_philox_streams_in_the_context(tmp_path, dtype):
    srng = sg.random.RandomStream(7)
    x = sg.vector("x", dtype=dtype)
    with warnings.catch_warnings():  # in Python the draws run NumPy's perform
        warnings.simplefilter("ignore", sg.PerformFallbackWarning)
        f = sg.function([x], [srng.uniform(-1.0, 2.0, size=(5, 3), dtype=dtype),
                              srng.normal(1.0, 3.0, size=x.shape, dtype=dtype) + x])
    result = sg.export({"f": f}, str(tmp_path), name="draws")
    keys = [int(v[0]) for v in sg.export.read_params(result.params).values()]
    xv = np.arange(7, dtype=dtype)
    # The third call draws with offset 2 of each stream.
    uniform, normal = run_in_c(result, "draws", "f", [xv], [dtype, dtype], str(tmp_path),
                               params=result.params, calls=3, cc=CC)
    np.testing.assert_array_equal(uniform.ravel(),
                                  philox_reference(keys[0], 2, 15, "uniform", dtype, -1, 2))
    # libm's and NumPy's log, cos and sin may differ in the last bit.
    np.testing.assert_allclose(normal, philox_reference(keys[1], 2, 7, "normal", dtype, 1, 3)
                               + xv, rtol=1e-13 if dtype == "float64" else 2e-6, atol=1e-6)
    assert abs(uniform.mean() - 0.5) < 0.8 and uniform.min() >= -1 and uniform.max() < 2


def test_input_names_that_are_not_c_names(tmp_path):
    a, b, c, d = sg.dvector("f"), sg.dvector("int"), sg.dvector("x"), sg.dvector("x")
    e = sg.dvector("out0")
    f = sg.function([a, b, c, d, e], a + b * c - d / e)
    result = sg.export({"combine": f}, str(tmp_path), name="names")
    values = [np.arange(1.0, 4.0) * k for k in range(1, 6)]
    (got,) = run_in_c(result, "names", "combine", values, ["float64"], str(tmp_path), cc=CC)
    np.testing.assert_array_equal(got, f(*values))


@pytest.mark.skipif(not (shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")),
                    reason="no aarch64 cross compiler and qemu-user (Debian: "
                           "gcc-aarch64-linux-gnu qemu-user)")
def test_cross_compiled_predictor_runs_on_aarch64(tmp_path):
    """A predictor (sums of products, softmax, argmax: no BLAS) exported for 64-bit ARM Linux,
    run under qemu-user: what a model trained here does on an ARM board."""
    rng = np.random.default_rng(0)
    x = sg.matrix("x")
    w = sg.shared(rng.normal(size=(64, 10)), name="W")
    b = sg.shared(rng.normal(size=10), name="b")
    logits = (x.dimshuffle(0, 1, "x") * w.dimshuffle("x", 0, 1)).sum(axis=1) + b
    probs = sg.nnet.softmax(logits)
    f = sg.function([x], [probs, probs.argmax(axis=1)])
    result = sg.export({"predict": f}, str(tmp_path), name="arm",
                       triple="aarch64-unknown-linux-gnu", cc="aarch64-linux-gnu-gcc")
    header = subprocess.run(["readelf", "-h", result.shared_library], capture_output=True,
                            text=True, check=True).stdout
    assert "AArch64" in header, header
    xv = rng.random((9, 64))
    got = run_in_c(result, "arm", "predict", [xv], ["float64", "int64"], str(tmp_path),
                   params=result.params, cc="aarch64-linux-gnu-gcc",
                   launcher=["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"])
    expected = f(xv)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got[1], expected[1])


def test_outputs_that_are_parameters_are_read_before_the_updates(tmp_path):
    x = sg.dmatrix("x")
    w = sg.shared(np.arange(6.0).reshape(2, 3), name="w")
    f = sg.function([x], [w, w.T, (w * x).sum()], updates=[(w, w + x)])
    result = sg.export({"f": f}, str(tmp_path), name="own")
    xv = np.ones((2, 3))
    got = run_in_c(result, "own", "f", [xv], ["float64"] * 3, str(tmp_path),
                   params=result.params, calls=2, cc=CC)
    f(xv)
    for value, expected in zip(got, f(xv)):  # the second call's outputs
        np.testing.assert_array_equal(value, expected)


@pytest.mark.skipif(not (shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")
                         and os.environ.get("SYMGRAPH_AARCH64_OPENBLAS")),
                    reason="needs the aarch64 cross tools and SYMGRAPH_AARCH64_OPENBLAS: a "
                           "directory with the scipy-openblas64 wheel's aarch64 libraries "
                           "(pip download --platform manylinux2014_aarch64) and an aarch64 "
                           "libz.so.1 (zlib1g:arm64), which its libgfortran needs")
def test_cross_compiled_mlp_with_matrix_products_on_aarch64(tmp_path):
    """The digits MLP's predictor and training step for aarch64, linked against the aarch64
    build of the scipy-openblas64 wheel, under qemu-user."""
    from symgraph.demo.digits import build_mlp
    from symgraph.demo.training import adam

    rng = np.random.default_rng(0)
    x, t, probs, params = build_mlp(64, 16, 10, rng, "float64")
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    step = sg.function([x, t], loss, updates=adam(loss, params, 0.01))
    predict = sg.function([x], [probs, probs.argmax(axis=1)])
    result = sg.export({"predict": predict, "train_step": step}, str(tmp_path), name="armmlp",
                       triple="aarch64-unknown-linux-gnu", cc="aarch64-linux-gnu-gcc",
                       blas_dir=os.environ["SYMGRAPH_AARCH64_OPENBLAS"])
    qemu = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    xv, tv = rng.random((9, 64)), rng.integers(0, 10, 9)
    got = run_in_c(result, "armmlp", "predict", [xv], ["float64", "int64"], str(tmp_path),
                   params=result.params, cc="aarch64-linux-gnu-gcc", launcher=qemu)
    expected = predict(xv)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got[1], expected[1])
    (loss_c,) = run_in_c(result, "armmlp", "train_step", [xv, tv], ["float64"],
                         str(tmp_path), params=result.params, calls=2,
                         cc="aarch64-linux-gnu-gcc", launcher=qemu)
    step(xv, tv)
    np.testing.assert_allclose(loss_c, step(xv, tv), rtol=1e-12)
