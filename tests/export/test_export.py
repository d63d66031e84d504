"""sg.export: the digits MLP's predictor and Adam training step exported as a C library, run
from a C program with no Python (tests/export/digits_check.c, which also predicts from four
threads with a context each), compared with the Python functions; bad calls return error
codes with messages; what the library links against."""

from __future__ import annotations

import os
import shutil
import warnings
import subprocess

import numpy as np
import pytest

import symgraph as sg
from symgraph.demo.digits import build_mlp
from symgraph.demo.training import adam
from symgraph.export import ExportError, read_params, write_params

HERE = os.path.dirname(os.path.abspath(__file__))
N = 24
CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")


def build_digits(seed=0):
    rng = np.random.default_rng(seed)
    x, t, probs, params = build_mlp(64, 16, 10, rng, "float64")
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()
    rate = sg.shared(np.asarray(0.01), name="learning_rate")
    step = sg.function([x, t], loss, updates=adam(loss, params, rate), name="train_step")
    predict = sg.function([x], [probs, probs.argmax(axis=1)], name="predict")
    shared = params + [v for v, _ in step.updates if v not in params] + [rate]
    return predict, step, shared


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The exported library, the C program built against its static library, and the data."""
    out = str(tmp_path_factory.mktemp("digits"))
    predict, step, shared = build_digits()
    result = sg.export({"predict": predict, "train_step": step}, out, name="digits")
    program = os.path.join(out, "digits_check")
    subprocess.run(result.build_command(os.path.join(HERE, "digits_check.c"), program,
                                        cc=CC) + ["-Wall", "-Werror", "-pthread"], check=True)
    rng = np.random.default_rng(1)
    x = rng.random((N, 64))
    t = rng.integers(0, 10, N).astype("int64")
    x.tofile(os.path.join(out, "x.bin"))
    t.tofile(os.path.join(out, "t.bin"))
    bad = read_params(result.params)
    bad["W1"] = np.zeros((64, 15))
    write_params(os.path.join(out, "bad.params"), bad)
    return out, result, program, predict, step, shared, x, t


def load(out, name, dtype="float64", shape=None):
    data = np.fromfile(os.path.join(out, name), dtype=dtype)
    return data.reshape(shape) if shape is not None else data


def test_c_program_matches_python(exported):
    out, result, program, predict, step, shared, x, t = exported
    subprocess.run([program, out, str(N)], check=True, env={})
    probs, labels = predict(x)
    # Matrix products may run in another build of OpenBLAS: equal within float tolerance.
    np.testing.assert_allclose(load(out, "probs.bin", shape=(N, 10)), probs, rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(load(out, "labels.bin", "int64"), labels)
    np.testing.assert_allclose(load(out, "probs_strided.bin", shape=(N, 10)), probs,
                               rtol=1e-12, atol=1e-15)
    losses = [float(step(x, t)), float(step(x, t))]
    np.testing.assert_allclose([load(out, "loss.bin")[0], load(out, "loss2.bin")[0]], losses,
                               rtol=1e-12)
    assert losses[1] < losses[0]
    np.testing.assert_allclose(load(out, "probs_after.bin", shape=(N, 10)), predict(x)[0],
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(load(out, "probs_reloaded.bin", shape=(N, 10)),
                               load(out, "probs_after.bin", shape=(N, 10)), rtol=0, atol=0)
    # The parameters the C program saved after two steps are the Python ones after two steps.
    saved = read_params(os.path.join(out, "after.params"))
    names = [v.name for v in shared]
    for var in shared:
        np.testing.assert_allclose(saved[var.name], var.get_value(), rtol=1e-10, atol=1e-14,
                                   err_msg=var.name)
    assert sorted(saved) == sorted(names)


def test_bad_calls_return_errors(exported):
    out, result, program, *_ = exported
    subprocess.run([program, out, str(N)], check=True, env={})
    with open(os.path.join(out, "errors.txt")) as file:
        errors = [line.rstrip("\n").split("|", 1) for line in file]
    codes = [int(code) for code, _ in errors]
    messages = [message for _, message in errors]
    # x (?, 63) passes the input check (x is any matrix) and fails in the product, named
    # with the line that built it (in the demo's build_mlp: the demo's lines count as the
    # user's) and the shapes that met.
    assert codes[0] == 2 and "digits.py" in messages[0] and "(24, 63)" in messages[0]
    assert codes[1] == 1 and "'x'" in messages[1] and "float32" in messages[1]
    assert codes[2] == 1 and "'x'" in messages[2] and "rank" in messages[2]
    assert codes[3] == 2 and "train_step" in messages[3] and "(23,)" in messages[3]
    assert codes[4] == 1 and "'x'" in messages[4]
    assert codes[5] == 4 and "W1" in messages[5] and "(64, 15)" in messages[5]
    assert codes[6] == 5 and "W9" in messages[6]
    assert codes[7] == 3 and "out of memory" in messages[7] and "17592186044416" in messages[7]


def test_shared_library_and_links(exported):
    out, result, program, *_ = exported
    shared_program = os.path.join(out, "digits_check_shared")
    subprocess.run(result.build_command(os.path.join(HERE, "digits_check.c"), shared_program,
                                        static=False, cc=CC) + ["-pthread"], check=True)
    subprocess.run([shared_program, out, str(N)], check=True, env={})
    # No Python, no NumPy: nothing undefined but libc, libm, OpenMP and the CBLAS.
    for library in (result.shared_library, result.static_library):
        undefined = subprocess.run(["nm", "-u", library], capture_output=True, text=True,
                                   check=True).stdout.split()
        assert not [s for s in undefined if s.startswith(("Py", "_Py", "PyArray"))]
        assert not [s for s in undefined if "cblas" in s and not s.startswith("scipy_cblas")]
    needed = subprocess.run(["ldd", result.shared_library], capture_output=True, text=True,
                            check=True).stdout
    for line in needed.splitlines():
        library = line.split()[0]
        assert any(key in library for key in ("linux-vdso", "ld-linux", "libc.so", "libm.so",
                                              "libpthread", "libgomp", "openblas")), line


def test_elementwise_and_reductions_are_bitwise(tmp_path):
    x = sg.matrix("x", dtype="float32")
    y = sg.tanh(x) * 2 + sg.exp(-x)
    f = sg.function([x], [y, y.sum(axis=1), sg.log1p(x * x).max()])
    result = sg.export({"f": f}, str(tmp_path), name="ew")
    program = tmp_path / "ew.c"
    program.write_text(EW_PROGRAM)
    subprocess.run(result.build_command(str(program), str(tmp_path / "ew"), cc=CC), check=True)
    data = np.random.default_rng(2).normal(size=(7, 33)).astype("float32")
    data.tofile(tmp_path / "x.bin")
    subprocess.run([str(tmp_path / "ew"), str(tmp_path)], check=True, env={})
    expected = f(data)
    got = np.fromfile(tmp_path / "out.bin", dtype="float32")
    np.testing.assert_array_equal(got, np.concatenate([e.ravel() for e in expected]))


EW_PROGRAM = r"""
#include <stdio.h>
#include "ew.h"
int main(int argc, char **argv) {
    char path[4096]; float x[7 * 33]; int64_t shape[2] = {7, 33}, i, j; FILE *file;
    ew_context *ctx; sg_tensor tx, out[3];
    (void)argc;
    snprintf(path, sizeof path, "%s/x.bin", argv[1]);
    file = fopen(path, "rb"); if (fread(x, 4, 7 * 33, file) != 7 * 33) return 2; fclose(file);
    if (ew_context_new(NULL, &ctx)) return 1;
    sg_tensor_init(&tx, x, SG_FLOAT32, 2, shape);
    if (ew_f(ctx, &tx, &out[0], &out[1], &out[2])) { puts(ew_error_message(ctx)); return 1; }
    snprintf(path, sizeof path, "%s/out.bin", argv[1]);
    file = fopen(path, "wb");
    for (i = 0; i < 7; i++) for (j = 0; j < 33; j++)
        fwrite((float *)out[0].data + i * out[0].strides[0] + j * out[0].strides[1], 4, 1, file);
    for (i = 0; i < 7; i++) fwrite((float *)out[1].data + i * out[1].strides[0], 4, 1, file);
    fwrite(out[2].data, 4, 1, file);
    fclose(file);
    ew_context_free(ctx);
    return 0;
}
"""


def test_a_relative_directory_works(tmp_path, monkeypatch):
    # The compiler and archiver run inside the directory: paths given to them must not be
    # relative to it a second time (the demo exports to a relative path).
    monkeypatch.chdir(tmp_path)
    x = sg.vector("x", dtype="float64")
    f = sg.function([x], sg.tanh(x).sum())
    result = sg.export({"f": f}, os.path.join("out", "lib"), name="rel")
    for produced in ("rel.h", "librel.a", "librel.so"):
        assert (tmp_path / "out" / "lib" / produced).is_file(), produced
    assert result is not None


def test_perform_only_op_is_an_error(tmp_path):
    @sg.as_op(itypes=[sg.dvector], otypes=[sg.dvector])
    def numpy_sort(v):
        return np.sort(v)

    v = sg.dvector("v")
    with warnings.catch_warnings():  # the op runs its perform in Python
        warnings.simplefilter("ignore", sg.PerformFallbackWarning)
        f = sg.function([v], numpy_sort(v) * 2)  # the line the error names
    with pytest.raises(ExportError, match=r"numpy_sort|as_op|FromFunctionOp") as info:
        sg.export({"f": f}, str(tmp_path), name="bad")
    assert "test_export.py" in str(info.value) and "the line the error names" in str(info.value)
