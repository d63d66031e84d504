"""The size of native entry points: steps of the same shape share one outlined function, so
the entry point's IR grows by a call per step, not by each step's whole code; large entry
points go through LLVM's fast code generator and still compute what the reference does."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import symgraph as sg

pytest.importorskip("llvmlite")

from symgraph.codegen.llvm import native

# Bytes of entry-point IR per step of the 100-op chain below (outlined functions included):
# about 0.9 KB with outlining; 9.6 KB when every step was inlined.
BYTES_PER_STEP = 2000


@pytest.fixture
def entry_sizes(monkeypatch):
    """(IR bytes, steps, outlined functions, IR) of each entry point built in the test."""
    sizes: list[tuple[int, int, int, str]] = []
    real = native.EntryBuilder.build

    def build(self: native.EntryBuilder) -> str:
        text = real(self)
        sizes.append((len(text), self.program.count_steps(), text.count("define internal"),
                      text))
        return text

    monkeypatch.setattr(native.EntryBuilder, "build", build)
    return sizes


def chain(length: int = 100) -> tuple[list, list]:
    """dot, tanh, scale and add on 32x32 float32 in turn, with the loss's gradients."""
    x = sg.fmatrix("x")
    w = sg.shared((np.random.default_rng(0).normal(size=(32, 32)) * 0.2).astype("float32"))
    out = x
    for k in range(length):
        out = [lambda v: v @ w, sg.tanh, lambda v: v * 0.9, lambda v: v + x][k % 4](out)
    loss = out.sum()
    return [x], [loss] + sg.grad(loss, [w, x])


def test_entry_point_ir_grows_by_a_call_per_step(entry_sizes):
    inputs, outputs = chain()
    f = sg.function(inputs, outputs, mode="llvm", tier="final")
    (size, steps, functions, _), = entry_sizes
    assert steps > 100
    assert size < BYTES_PER_STEP * steps, f"{size / steps:.0f} bytes of IR per step"
    assert functions < steps / 4  # steps of the same shape share their code
    value = np.random.default_rng(1).normal(size=(32, 32)).astype("float32") * 0.1
    want = sg.function(inputs, outputs, mode="py")(value)
    for got, expected in zip(f(value), want):
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-5)
    assert f.fallbacks == 0


def test_steps_of_one_shape_share_code_but_not_their_values(entry_sizes):
    """Two steps of one outlined function read and write their own slots and buffers."""
    x, y = sg.fmatrices("x", "y")
    f = sg.function([x, y], [sg.dot(x, y), sg.dot(y, x), sg.tanh(x)], mode="llvm", tier="final")
    (_, steps, _, text), = entry_sizes
    entry = text[text.index("define ptr @"):]
    entry = entry[:entry.index("\n}\n")]
    called = [name for name in re.findall(r'call i32 @"(sg_\w+)"', entry)
              if not name.startswith("sg_bind")]
    assert len(called) == steps == 3 and called[0] == called[1] != called[2]
    rng = np.random.default_rng(2)
    a, b = (rng.normal(size=(3, 3)).astype("float32") for _ in range(2))
    for got, want in zip(f(a, b), [a @ b, b @ a, np.tanh(a)]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_large_entry_points_use_the_fast_code_generator_and_agree(monkeypatch):
    """An LSTM-like loop with its gradient, built by FastISel (every entry point here)."""
    monkeypatch.setattr(native, "FAST_CODEGEN_STEPS", 1)
    levels = []
    real = native.engine().compile

    def compile(text, symbols, speed_level=3, codegen_level=3):
        if speed_level == native.ENTRY_SPEED_LEVEL:
            levels.append(codegen_level)
        return real(text, symbols, speed_level, codegen_level)

    monkeypatch.setattr(native.engine(), "compile", compile)
    rng = np.random.default_rng(3)
    w = sg.shared(rng.normal(size=(4, 8)).astype("float32"))
    xs = sg.ftensor3("xs")

    def step(x_t, h):
        z = sg.dot(h, w) + x_t
        return sg.tanh(z[:, :4]) * sg.nnet.sigmoid(z[:, 4:])

    h0 = sg.zeros((xs.shape[1], 4), dtype="float32")
    hs, _ = sg.scan(step, sequences=[xs], outputs_info=[h0])
    loss = (hs ** 2).sum()
    outputs = [loss] + sg.grad(loss, [w, xs])
    f = sg.function([xs], outputs, mode="llvm", tier="final")
    assert levels and set(levels) == {0}
    value = rng.normal(size=(5, 3, 8)).astype("float32")
    want = sg.function([xs], outputs, mode="py")(value)
    results: list[list[np.ndarray]] = []
    threads = [threading.Thread(target=lambda: results.append(f(value))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for got in results + [f(value)]:
        for g, expected in zip(got, want):
            np.testing.assert_allclose(g, expected, rtol=2e-4, atol=2e-5)
    with pytest.raises(ValueError):
        f(value[:, :, :5])  # a shape the loop body refuses: the Python path reports it
