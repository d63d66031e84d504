"""``scan`` as the Theano tutorial uses it, checked against NumPy: taps, until, go_backwards,
map/reduce/foldl/foldr, shared-variable updates, random draws and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.scan import Scan, foldl, foldr, map, reduce, scan, until

RAW = sg.Mode("py", rewrites=False)


def run(inputs, outputs, *values, updates=None, mode=RAW):
    return sg.function(inputs, outputs, updates=updates, mode=mode)(*values)


def test_power_with_a_state_and_a_non_sequence():
    A, k = sg.dvector("A"), sg.iscalar("k")
    result, updates = scan(lambda prior, A: prior * A, outputs_info=sg.ones_like(A),
                           non_sequences=A, n_steps=k)
    assert updates == {}
    a = np.array([1.0, 2.0, 3.0])
    got = run([A, k], result, a, 4)
    np.testing.assert_allclose(got, np.stack([a ** p for p in range(1, 5)]))
    np.testing.assert_allclose(run([A, k], result[-1], a, 10), a ** 10)


def test_polynomial_over_two_sequences_of_different_lengths():
    coefficients, x = sg.dvector("c"), sg.dscalar("x")
    components, _ = scan(lambda c, power, x: c * x ** power,
                         sequences=[coefficients, sg.arange(1000)], non_sequences=x)
    c = np.array([1.0, 0.0, 2.0, -1.5])
    got = run([coefficients, x], components.sum(), c, 3.0)
    np.testing.assert_allclose(got, np.polyval(c[::-1], 3.0))


def test_fibonacci_with_output_taps():
    x0 = sg.dvector("x0")
    fib, _ = scan(lambda a, b: a + b, outputs_info={"initial": x0, "taps": [-2, -1]}, n_steps=10)
    expected = [1.0, 1.0]
    for _ in range(10):
        expected.append(expected[-1] + expected[-2])
    np.testing.assert_allclose(run([x0], fib, np.array([1.0, 1.0])), expected[2:])


def test_output_taps_read_the_last_entries_of_a_longer_initial_value():
    x0 = sg.dvector("x0")
    out, _ = scan(lambda a, b: 10 * a + b, outputs_info={"initial": x0, "taps": [-3, -1]},
                  n_steps=4)
    history = [7.0, 1.0, 2.0, 3.0]  # x0[-3:] = 1, 2, 3
    for _ in range(4):
        history.append(10 * history[-3] + history[-1])
    np.testing.assert_allclose(run([x0], out, np.array([7.0, 1.0, 2.0, 3.0])), history[4:])


def test_cumulative_sum_and_sequence_taps_past_and_future():
    v = sg.dvector("v")
    total, _ = scan(lambda x, acc: acc + x, sequences=v, outputs_info=sg.constant(0.0))
    data = np.array([3.0, -1.0, 4.0, 1.0, 5.0])
    np.testing.assert_allclose(run([v], total, data), np.cumsum(data))
    # taps -1 and +2: u[t-1] * 100 + u[t+2], for t = 1 .. len-3
    out, _ = scan(lambda before, after: before * 100 + after,
                  sequences={"input": v, "taps": [-1, 2]})
    expected = [data[t - 1] * 100 + data[t + 2] for t in range(1, len(data) - 2)]
    np.testing.assert_allclose(run([v], out, data), expected)


def test_until_stops_after_the_step_where_the_condition_holds():
    limit = sg.dscalar("limit")
    values, _ = scan(lambda p: (p * 2, until(p * 2 > limit)), outputs_info=sg.constant(1.0),
                     n_steps=100)
    np.testing.assert_allclose(run([limit], values, 40.0), [2, 4, 8, 16, 32, 64])
    np.testing.assert_allclose(run([limit], values, 0.5), [2])
    assert values.owner.op.until
    # n_steps stays the maximum: without the condition holding, 100 steps
    assert run([limit], values.shape[0], 1e300) == 100


def test_go_backwards_iterates_from_the_end():
    v = sg.dvector("v")
    out, _ = scan(lambda x, acc: acc + x, sequences=v, outputs_info=sg.constant(0.0),
                  go_backwards=True)
    data = np.arange(1.0, 5.0)
    np.testing.assert_allclose(run([v], out, data), np.cumsum(data[::-1]))


def test_map_reduce_foldl_foldr():
    v = sg.dvector("v")
    data = np.array([1.0, 2.0, 3.0])
    doubled, _ = map(lambda x: x * 2, v)
    np.testing.assert_allclose(run([v], doubled, data), data * 2)
    digits = lambda x, acc: acc * 10 + x
    total, _ = reduce(digits, v, sg.constant(0.0))
    assert float(run([v], total, data)) == 123.0
    assert float(run([v], foldl(digits, v, sg.constant(0.0))[0], data)) == 123.0
    assert float(run([v], foldr(digits, v, sg.constant(0.0))[0], data)) == 321.0


def test_several_outputs_mixing_states_and_per_step_outputs():
    v = sg.dvector("v")
    (running, squares), _ = scan(lambda x, acc: [acc + x, x * x], sequences=v,
                                 outputs_info=[sg.constant(0.0), None])
    data = np.array([1.0, -2.0, 3.0])
    got_running, got_squares = run([v], [running, squares], data)
    np.testing.assert_allclose(got_running, np.cumsum(data))
    np.testing.assert_allclose(got_squares, data ** 2)
    listed, _ = scan(lambda x: x + 1, sequences=v, return_list=True)
    assert isinstance(listed, list) and len(listed) == 1


def test_free_variables_and_python_number_initial_states():
    v, w = sg.dvector("v"), sg.dscalar("w")
    # w is used without being passed; the Python int 0 takes the dtype the step computes
    out, _ = scan(lambda x, acc: acc + x * w, sequences=v, outputs_info=0)
    assert out.dtype == "float64"
    data = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(run([v, w], out, data, 2.0), np.cumsum(data * 2))


def test_shared_variable_updates_are_returned_and_applied():
    count = sg.shared(np.float64(0.0), name="count")
    v = sg.dvector("v")
    out, updates = scan(lambda x: (x + count, {count: count + 1}), sequences=v)
    assert list(updates) == [count]
    f = sg.function([v], out, updates=updates, mode=RAW)
    np.testing.assert_allclose(f(np.zeros(3)), [0.0, 1.0, 2.0])  # reads the value per step
    assert count.get_value() == 3.0
    np.testing.assert_allclose(f(np.zeros(2)), [3.0, 4.0])
    assert count.get_value() == 5.0


def test_random_draws_inside_the_step_advance_every_step_and_call():
    srng = sg.random.RandomStream(seed=3)
    M = sg.dmatrix("M")
    out, updates = scan(lambda x: x + srng.normal(size=(2,)), sequences=M)
    assert len(updates) == 1
    f = sg.function([M], out, updates=updates, mode=RAW)
    first, second = f(np.zeros((3, 2))), f(np.zeros((3, 2)))
    assert len({tuple(row) for row in first}) == 3  # a new draw at every step
    assert not np.allclose(first, second)  # and on every call


def test_shared_non_sequences_and_strict():
    W = sg.shared(np.eye(2) * 2.0, name="W")
    h0 = sg.dvector("h0")
    out, _ = scan(lambda h, W: sg.dot(h, W), outputs_info=h0, non_sequences=W, n_steps=3,
                  strict=True)
    np.testing.assert_allclose(run([h0], out[-1], np.ones(2)), [8.0, 8.0])
    with pytest.raises(ValueError, match="strict.*non_sequences"):
        scan(lambda h: sg.dot(h, W), outputs_info=h0, n_steps=3, strict=True)


def test_fn_receives_the_outer_non_sequences_themselves():
    # The Theano tutorial's Jacobian and Hessian: grad(y[i], x) inside fn needs y and x to be
    # the outer variables, so that y still depends on x.
    x = sg.dvector("x")
    y = x ** 2
    seen = []

    def row(i, y, x):
        seen.append((y, x))
        return sg.grad(y[i], x)

    J, updates = scan(row, sequences=sg.arange(y.shape[0]), non_sequences=[y, x], strict=True)
    assert seen[0] == (y, x) and updates == {}
    np.testing.assert_allclose(run([x], J, np.array([4.0, 3.0])), [[8.0, 0.0], [0.0, 6.0]])
    gy = sg.grad((x ** 3).sum(), x)
    H, _ = scan(lambda i, gy, x: sg.grad(gy[i], x), sequences=sg.arange(gy.shape[0]),
                non_sequences=[gy, x])
    np.testing.assert_allclose(run([x], H, np.array([1.0, 2.0]), mode="llvm"),
                               [[6.0, 0.0], [0.0, 12.0]])
    # the loop's constants are the non_sequences, in their order; what fn computes from them
    # (W.T) stays in the step
    assert J.owner.op.split_outer_inputs(J.owner.inputs)[1] == [y, x]
    W, h0 = sg.dmatrix("W"), sg.dvector("h0")
    out, _ = scan(lambda h, W: sg.tanh(sg.dot(h, W.T)), outputs_info=h0, non_sequences=W,
                  n_steps=3)
    assert out.owner.op.split_outer_inputs(out.owner.inputs)[1] == [W]


def test_the_node_is_one_canonical_scan_and_prints():
    x0 = sg.dvector("x0")
    fib, _ = scan(lambda a, b: a + b, outputs_info={"initial": x0, "taps": [-2, -1]}, n_steps=5,
                  name="fib")
    op = fib.owner.op
    assert isinstance(op, Scan) and (op.n_carries, op.n_seqs, op.n_ys) == (2, 0, 1)
    text = sg.debugprint(fib, file="str")
    assert "Scan{fib}" in text and "Inner graphs:" in text and "output0[t-2]" in text


def test_error_wrong_initial_state_dtype_names_the_output():
    v = sg.dvector("v")
    with pytest.raises(TypeError, match=r"output 1 of fn .* dtype float64 .*outputs_info\[1\]"):
        scan(lambda x, a, b: [a + 1, b + x], sequences=v,
             outputs_info=[sg.constant(0.0), sg.constant(np.zeros(1, dtype="float32"))])


def test_error_wrong_initial_state_rank_and_static_shape():
    v = sg.dvector("v")
    with pytest.raises(TypeError, match=r"output 0 of fn .* 1 dimensions .* has 0"):
        scan(lambda x, a: a + x, sequences=[sg.dmatrix()], outputs_info=[sg.constant(0.0)])
    with pytest.raises(ValueError, match=r"output 0 of fn .* static shape \(3,\).*\(2,\)"):
        scan(lambda a: sg.ones(3) * 2.0, outputs_info=[sg.constant(np.zeros(2))], n_steps=2)
    with pytest.raises(ValueError, match=r"leading axis of length >= 2"):
        scan(lambda a, b: a + b, outputs_info={"initial": sg.constant(np.zeros(1)),
                                                   "taps": [-2, -1]}, n_steps=2)
    del v


def test_error_state_changing_shape_at_run_time_names_the_state():
    h0, v = sg.dvector("h0"), sg.dvector("v")
    out, _ = scan(lambda h, v: v, outputs_info=h0, non_sequences=v, n_steps=2)
    f = sg.function([h0, v], out, mode=RAW)
    with pytest.raises(ValueError, match=r"state 0 \(output0\[t-1\]\) has shape \(3,\).*"
                                         r"initial state has shape \(2,\)"):
        f(np.zeros(2), np.zeros(3))


def test_error_too_few_outputs_info_and_no_length():
    v = sg.dvector("v")
    with pytest.raises(ValueError, match="fn returned 2 outputs but outputs_info has 1"):
        scan(lambda x, a: [a + x, x], sequences=v, outputs_info=[sg.constant(0.0)])
    with pytest.raises(ValueError, match="sequences or n_steps"):
        scan(lambda a: a, outputs_info=[sg.constant(0.0)])
    with pytest.raises(ValueError, match="taps of an output must be negative"):
        scan(lambda a: a, outputs_info=[{"initial": sg.constant(0.0), "taps": [0]}], n_steps=2)
    with pytest.raises(TypeError, match="0-d"):
        scan(lambda x: x, sequences=sg.dscalar())


def test_error_sequence_shorter_than_n_steps_at_run_time():
    v = sg.dvector("v")
    out, _ = scan(lambda x: x * 2, sequences=v, n_steps=5)
    f = sg.function([v], out, mode=RAW)
    np.testing.assert_allclose(f(np.arange(6.0)), np.arange(5.0) * 2)  # longer is fine
    with pytest.raises(ValueError, match="sequence 0 .* has 3 entries, fewer than the 5 steps"):
        f(np.arange(3.0))


def test_zero_steps_give_empty_histories_and_the_initial_state():
    h0, k = sg.dvector("h0"), sg.iscalar("k")
    out, _ = scan(lambda h: h * 2, outputs_info=h0, n_steps=k)
    history, last = run([h0, k], [out, out.owner.outputs[0]], np.ones(3), 0)
    assert history.shape == (0, 3)
    np.testing.assert_allclose(last, np.ones(3))


def test_scan_runs_under_the_default_pipeline():
    x0 = sg.dvector("x0")
    fib, _ = scan(lambda a, b: a + b, outputs_info={"initial": x0, "taps": [-2, -1]}, n_steps=6)
    got = sg.function([x0], [fib, fib.shape], mode="py")(np.array([0.0, 1.0]))
    np.testing.assert_allclose(got[0], [1, 2, 3, 5, 8, 13])
    assert tuple(got[1]) == (6,)
