"""The emitted CUDA C (golden checks) and what it computes on the CPU emulator: every table row
in every dtype against NumPy, Philox against its published answers, views, placement, errors,
the split reduction path and scan. No GPU and no NVRTC needed (g++ builds the emulator)."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
import symgraph.cuda as sgcuda
from symgraph.codegen.cuda import catalog, launch, placement
from symgraph.codegen.cuda import elementwise as ew
from symgraph.codegen.cuda import random as philox
from symgraph.codegen.cuda import reduction as rd
from symgraph.codegen.cuda.emitter import CodeBlock, CudaEmitter, CValue
from symgraph.ops import elemwise
from symgraph.ops.composite import ScalarProgram
from tests.codegen.cuda_support import emulated_backend, installed_as_cuda

ADD_F32 = """\
struct K_meta { sg_i64 n; sg_i64 shape[1]; sg_i64 strides[3][1]; };
SG_KERNEL void K(const K_meta m, const float* p0, \
const float* p1, float* p2) {
  for (sg_i32 i = (sg_i32)blockIdx.x * (sg_i32)blockDim.x + (sg_i32)threadIdx.x; \
i < (sg_i32)(m.n); i += (sg_i32)blockDim.x * (sg_i32)gridDim.x) {
    sg_i32 o0 = 0;
    sg_i32 o1 = 0;
    sg_i32 o2 = 0;
    o0 += i * (sg_i32)m.strides[0][0];
    o1 += i * (sg_i32)m.strides[1][0];
    o2 += i * (sg_i32)m.strides[2][0];
    const float v0 = p0[o0];
    const float v1 = p1[o1];
    const float v2 = v0 + v1;
    p2[o2] = v2;
  }
}
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    with installed_as_cuda(emulated_backend(),
                           str(tmp_path_factory.mktemp("cuda-cache"))) as found:
        yield found


def _program(name, dtypes, out):
    row = elemwise.TABLE[name]
    return ScalarProgram(tuple(dtypes), ((row, tuple(range(len(dtypes))), out),),
                         (len(dtypes),))


# -- golden source ------------------------------------------------------------------------------
def test_golden_float32_add_kernel():
    kernel = ew.elementwise_kernel(ew.ElementwiseSpec(
        _program("add", ("float32", "float32"), "float32"), ("float32",), 1))
    assert kernel.name.startswith("sg_ew_")
    assert kernel.code.replace(kernel.name, "K") == ADD_F32
    assert kernel.params == (f"const {kernel.name}_meta", "const float*", "const float*",
                             "float*")


def test_golden_float16_is_stored_as_half_and_computed_in_float32():
    code = ew.elementwise_kernel(ew.ElementwiseSpec(
        _program("exp", ("float16",), "float16"), ("float16",), 2)).code
    assert "const float v0 = sg_h2f(p0[o0]);" in code
    assert "const float v1 = expf(v0);" in code
    assert "const float v2 = sg_h2f(sg_f2h(v1));" in code
    assert "p1[o1] = sg_f2h(v2);" in code
    assert "coord = rest % (sg_i32)m.shape[1]" in code


def test_golden_casts_follow_numpy_on_x86():
    block = CodeBlock()
    e = CudaEmitter(block, "float64")
    x = CValue("x", "float64")
    e.cast(x, "int32"), e.cast(x, "uint64"), e.cast(x, "float16"), e.cast(x, "bool")
    assert block.lines == ["const sg_i32 t0 = (sg_i32)sg_cvt32((double)x);",
                           "const sg_u64 t1 = sg_cvtu64((double)x);",
                           "const float t2 = sg_h2f(sg_d2h((double)x));",
                           "const bool t3 = x != 0;"]


def test_golden_signed_arithmetic_wraps_through_unsigned():
    block = CodeBlock()
    CudaEmitter(block, "int32").add(CValue("a", "int32"), CValue("b", "int32"))
    assert block.lines == ["const sg_i32 t0 = (sg_i32)((sg_u32)a + (sg_u32)b);"]


def test_golden_bool_add_and_mul_are_logical():
    block = CodeBlock()
    e = CudaEmitter(block, "bool")
    a, b = CValue("a", "bool"), CValue("b", "bool")
    e.add(a, b), e.mul(a, b)
    assert block.lines == ["const bool t0 = a || b;", "const bool t1 = a && b;"]


def test_golden_reductions_combine_with_the_table_rule():
    spec = rd.ReduceSpec(rd.identity_program("float32"), "maximum", "float32", "float32", 1, 1)
    rows, cols, _ = rd.reduce_kernels(spec)
    assert "c0 > v" not in rows.code and "a > v" in rows.code and "a != a" in rows.code
    assert "sg_shfl_down(acc, s)" in rows.code and "SG_SYNC();" in rows.code
    assert "acc = (-SG_INF_F)" in cols.code.replace(" ", "").replace("acc=", "acc = ")
    arg = rd.reduce_kernels(rd.ReduceSpec(rd.identity_program("float64"), "argmax",
                                          "float64", "int64", 1, 1))[0]
    assert "if (n1 || n2) return n2 && (!n1 || vi < ai);" in arg.code
    assert "out[o] = ai;" in arg.code


def test_golden_float32_sums_accumulate_in_float64():
    assert rd.accumulator_dtype("add", "float32", "float32") == "float64"
    assert rd.accumulator_dtype("mul", "float16", "float16") == "float64"
    assert rd.accumulator_dtype("maximum", "float32", "float32") == "float32"
    spec = rd.ReduceSpec(rd.identity_program("float32"), "add",
                         rd.accumulator_dtype("add", "float32", "float32"), "float32", 1, 1)
    _, cols, _ = rd.reduce_kernels(spec)
    assert "double acc = 0.0;" in cols.code and "out[o] = ((float)acc);" in cols.code


# -- the table on the emulator ------------------------------------------------------------------
def _inputs(dtype: str, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    if dtype == "bool":
        values = [rng.random(n) < 0.5 for _ in range(3)]
    elif dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        low, high = max(int(info.min), -50), min(int(info.max), 50)
        values = [rng.integers(low, high + 1, n).astype(dtype) for _ in range(3)]
        values[0][:4] = [info.min, info.max, 0, 1] if dtype[0] == "i" else [0, info.max, 1, 2]
    else:
        values = [rng.normal(scale=3.0, size=n).astype(dtype) for _ in range(3)]
        values[0][:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5]
        values[1][:6] = [1.0, 0.0, -0.0, np.nan, 2.5, -0.5]
    return values + [rng.random(n) < 0.5]


@pytest.mark.parametrize("dtype", sg.dtype.ALL_DTYPES if hasattr(sg, "dtype") else
                         ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                          "uint32", "uint64", "float16", "float32", "float64"))
def test_every_table_row_matches_numpy_on_the_emulator(backend, dtype):
    programs, _ = catalog.table_programs()
    ((_, program, nodes),) = [p for p in programs if p[0] == dtype]
    device = backend.device
    values = _inputs(dtype, np.random.default_rng(7), 64)
    ins = [device.to_device(v) for v in values]
    outs = [device.empty((64,), d) for d in program.output_dtypes()]
    kernel = ew.elementwise_kernel(ew.ElementwiseSpec(program, program.output_dtypes(), 1))
    flag = device.to_device(np.zeros(1, "int32"))
    codes = [16 * (k + 1) for k in range(len(kernel.errors))]
    launch.elementwise(device, program, ins, outs, (flag, codes) if codes else None)
    raised = False
    for (row, args, out_dtype), node, out in zip(program.steps, nodes, outs):
        try:
            expected = elemwise.apply_scalar_op(row, out_dtype, [values[a] for a in args])
        except ValueError as err:  # integer powers with negative exponents
            assert kernel.errors == ((ValueError, str(err)),), row.name
            raised = True
            continue
        got = out.get()
        assert got.dtype == expected.dtype
        if out_dtype.startswith("float"):
            tol = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-12}[out_dtype]
            np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, equal_nan=True,
                                       err_msg=f"{row.name}({dtype})")
            same_sign = np.signbit(got) == np.signbit(expected)
            assert same_sign[(expected == 0)].all(), f"{row.name}({dtype}) signed zero"
        else:
            if row.kind == "cast" and dtype.startswith("float"):
                # NaN and infinities have no integer value: NumPy's result depends on the
                # CPU's vector instructions (and warns); compare the finite inputs only.
                finite = np.isfinite(values[0])
                got, expected = got[finite], expected[finite]
            np.testing.assert_array_equal(got, expected, err_msg=f"{row.name}({dtype})")
    assert flag.get()[0] == (codes[0] if raised else 0)


# -- Philox -------------------------------------------------------------------------------------
KNOWN_ANSWERS = [  # Random123's known-answer vectors for philox4x32-10: counter, key, output
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def test_philox_gives_the_published_answers(backend):
    device = backend.device
    for counter, key, expected in KNOWN_ANSWERS:
        g = counter[0] | counter[1] << 32
        offset = counter[2] | counter[3] << 32
        # The kernel draws block g from counter (g, offset): ask for the 4 words of block g.
        words = philox.draw(device, "bits", (4 * (g + 1),), "float32",
                            key[0] | key[1] << 32, offset=offset) if g < 2 else None
        if words is None:
            continue
        assert tuple(int(w) for w in words.get()[4 * g:]) == expected


def test_philox_draws_are_uniform_and_normal(backend):
    device = backend.device
    u = philox.draw(device, "uniform", (20000,), "float32", 1234, -1.0, 3.0).get()
    z = philox.draw(device, "normal", (20000,), "float64", 99, 2.0, 0.5).get()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    assert abs(z.mean() - 2.0) < 0.02 and abs(z.std() - 0.5) < 0.02
    again = philox.draw(device, "uniform", (20000,), "float32", 1234, -1.0, 3.0).get()
    assert np.array_equal(u, again)


# -- runtime behaviour --------------------------------------------------------------------------
def test_views_do_not_copy(backend):
    device = backend.device
    host = np.arange(24.0).reshape(2, 3, 4)
    x = device.to_device(host)
    assert np.array_equal(x.index_view((1, slice(None, None, -1), 2)).get(), host[1, ::-1, 2])
    assert np.array_equal(x.dimshuffle((2, 0), (2, "x", 0)).get(), host[:, 0, :].T[:, None, :])
    view = x.index_view((slice(None), 1))
    assert view.buffer is x.buffer and not view.is_c_contiguous()
    assert x.reshape((6, 4)).buffer is x.buffer


def test_transfers_happen_only_at_the_boundary(backend):
    x, w, b = sg.fmatrix("x"), sg.fmatrix("w"), sg.fvector("b")
    hidden = sg.tanh(sg.dot(x, w) + b)
    loss = sg.nnet.softmax(hidden).max(axis=1).mean()
    f = sg.function([x, w, b], [loss, sg.grad(loss, w)], mode="cuda")
    kinds = [type(n.op) for n in f.fgraph.toposort()]
    assert kinds.count(placement.GpuFromHost) <= 3 + sum(
        isinstance(v, sg.Constant) for n in f.fgraph.toposort() for v in n.inputs)
    assert kinds.count(placement.HostFromGpu) == 2
    rng = np.random.default_rng(0)
    values = [rng.normal(size=s).astype("float32") for s in ((5, 4), (4, 3), (3,))]
    reference = sg.function([x, w, b], [loss, sg.grad(loss, w)], mode="py")
    for got, want in zip(f(*values), reference(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_profile_names_nodes_that_fall_back(backend):
    x = sg.dmatrix("x")
    f = sg.function([x], sg.linalg.inv(x) * 2, mode="cuda", profile=True)
    f(np.eye(3) * 2)
    notes = set(f.profile.node_notes.values())
    assert "perform on the host (no CUDA rule)" in notes
    assert "cuda" in notes and "transfer device->host" in notes


@pytest.mark.parametrize("dense", [False, True], ids=["index", "dense"])
def test_float32_softmax_crossentropy_is_accurate(backend, dense):
    # As on llvm (see test_llvm_native): log(s) - (x[t] - max), never (max + log(s)) - x[t].
    x = sg.fmatrix("x")
    t = sg.fmatrix("t") if dense else sg.ivector("t")
    f = sg.function([x, t], sg.nnet.categorical_crossentropy(sg.nnet.softmax(x), t),
                    mode="cuda", profile=True)
    rng = np.random.default_rng(11)
    for offset in (0.0, 30.0):
        logits = (rng.normal(size=(64, 10)) * 5 + offset).astype(np.float32)
        labels = rng.integers(0, 10, 64).astype(np.int32)
        shifted = logits - logits.max(axis=1, keepdims=True).astype(np.float64)
        want = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(64), labels]
        got = f(logits, np.eye(10, dtype=np.float32)[labels] if dense else labels)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=4 * np.finfo(np.float32).eps,
                                   err_msg=f"{offset}")
    assert "perform on the host (no CUDA rule)" not in set(f.profile.node_notes.values())


def test_bad_indices_raise_after_the_call(backend):
    x, i = sg.dmatrix("x"), sg.lvector("i")
    f = sg.function([x, i], x[i], mode="cuda")
    assert np.array_equal(f(np.eye(3), np.array([2, -1])), np.eye(3)[[2, -1]])
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.eye(3), np.array([3]))
    labels = sg.lvector("t")
    g = sg.function([x, labels], sg.nnet.crossentropy_categorical_1hot(x, labels), mode="cuda")
    with pytest.raises(ValueError, match="class indices"):
        g(np.full((2, 3), 0.5), np.array([0, 3]))


def test_duplicate_indices_accumulate(backend):
    x, i, y = sg.dvector("x"), sg.lvector("i"), sg.dvector("y")
    f = sg.function([x, i, y], sg.inc_subtensor(x[i], y), mode="cuda")
    got = f(np.zeros(4), np.array([1, 1, 3, 1]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert np.array_equal(got, [0.0, 7.0, 0.0, 3.0])


def test_split_reductions_combine_chunks(backend, monkeypatch):
    monkeypatch.setattr(launch, "CHUNK", 8)
    x = sg.dvector("x")
    f = sg.function([x], [x.sum(), x.max(), sg.argmin(x)], mode="cuda")
    value = np.random.default_rng(1).normal(size=1000)
    value[[100, 700]] = value.min() - 1.0
    total, largest, where = f(value)
    assert np.isclose(total, value.sum()) and largest == value.max() and where == 100


def test_long_float32_sums_stay_accurate(backend):
    """A thread adds a long axis in order (here the emulator's only thread adds all of it):
    float64 accumulators keep the error of 2**17 or 2**20 terms of 0.1 near one float32
    rounding."""
    x = sg.fmatrix("x")
    f = sg.function([x], [x.sum(axis=0), x.sum()], mode="cuda")
    value = np.full((1 << 17, 8), 0.1, dtype="float32")
    for got, axis in zip(f(value), (0, None)):
        want = np.sum(value, axis=axis, dtype="float64")
        assert np.max(np.abs(got - want) / want) < 1e-6


def test_scan_runs_on_the_device(backend):
    x, h0, w = sg.dmatrix("x"), sg.dvector("h0"), sg.dmatrix("w")
    hs, _ = sg.scan(lambda xt, h, w: sg.tanh(sg.dot(w, h) + xt), sequences=x,
                    outputs_info=h0, non_sequences=w)
    loss = hs.sum()
    outputs = [hs, sg.grad(loss, w)]
    f = sg.function([x, h0, w], outputs, mode="cuda", profile=True)
    reference = sg.function([x, h0, w], outputs, mode="py")
    rng = np.random.default_rng(3)
    values = [rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5]
    for got, want in zip(f(*values), reference(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert any("scan" in note for note in f.profile.node_notes.values())


def test_device_shared_variables_keep_updates_on_the_device(backend, monkeypatch):
    w = sgcuda.shared(np.ones(3), name="w")
    x = sg.dvector("x")
    f = sg.function([x], (w * x).sum(), updates={w: w - 0.5 * x}, mode="cuda")
    kinds = [type(n.op) for n in f.fgraph.toposort()]
    assert placement.GpuFromHost in kinds
    assert f(np.array([1.0, 2.0, 3.0])) == 6.0
    assert np.allclose(w.get_value(), [0.5, 0.0, -0.5])
    assert f(np.array([1.0, 2.0, 3.0])) == 0.5 - 1.5
    if not hasattr(f.fgraph, "update_mapping"):
        pytest.skip("function() does not tell the backend which outputs are updates yet")
    value = w.get_value(return_internal_type=True)
    assert hasattr(value, "strides") and hasattr(value, "buffer")


def test_is_available_never_raises_and_explains():
    available = sgcuda.is_available()
    assert isinstance(available, bool)
    assert (sgcuda.unavailable_reason() == "ok") == available


def test_shared_target_cuda_goes_through_sg_cuda(monkeypatch):
    calls = []
    monkeypatch.setitem(sg.devices.TARGETS, "cuda",
                        lambda value, **kwargs: calls.append(kwargs["name"]) or "device var")
    assert sg.shared(np.ones(2), name="w", target="cuda") == "device var"
    assert calls == ["w"]
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        sg.shared(np.ones(2), target="tpu")
