"""Theano tutorial, "Loop", and the scan guide of the library reference: A ** k, a
polynomial (summed after the loop and inside it), a running sum, values written at
positions, a Gibbs chain with random draws, a counter updated by the step, scan until a
condition, several taps, the Jacobian of tanh(v.A), the rows' norms, a trace."""

import numpy
import pytest
import symgraph
import symgraph.tensor as T

pytestmark = pytest.mark.theano_programs

symgraph.config.warn.subtensor_merge_bug = False


def test_power():
    k = T.iscalar("k")
    A = T.vector("A")

    def inner_fct(prior_result, A):
        return prior_result * A

    result, updates = symgraph.scan(fn=inner_fct, outputs_info=T.ones_like(A),
                                    non_sequences=A, n_steps=k)
    # only the last power is wanted; scan does not keep the others
    final_result = result[-1]
    power = symgraph.function(inputs=[A, k], outputs=final_result, updates=updates)
    assert str(power(range(10), 2)) == "[ 0.  1.  4.  9. 16. 25. 36. 49. 64. 81.]"
    assert str(power(range(10), 4)) == (
        "[0.000e+00 1.000e+00 1.600e+01 8.100e+01 2.560e+02 6.250e+02 1.296e+03\n"
        " 2.401e+03 4.096e+03 6.561e+03]")


def test_polynomial():
    coefficients = symgraph.tensor.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000

    full_range = symgraph.tensor.arange(max_coefficients_supported)
    components, updates = symgraph.scan(
        fn=lambda coeff, power, free_var: coeff * (free_var ** power),
        outputs_info=None, sequences=[coefficients, full_range], non_sequences=x)
    polynomial = components.sum()
    calculate_polynomial = symgraph.function(inputs=[coefficients, x], outputs=polynomial)

    test_coeff = numpy.asarray([1, 0, 2], dtype=numpy.float32)
    assert str(calculate_polynomial(test_coeff, 3)) == "19.0"
    assert 1.0 * (3 ** 0) + 0.0 * (3 ** 1) + 2.0 * (3 ** 2) == 19.0


def test_polynomial_reduced_inside_scan():
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    full_range = T.arange(10000)
    outputs_info = T.as_tensor_variable(numpy.asarray(0, 'float64'))
    components, updates = symgraph.scan(
        fn=lambda coeff, power, prior_value, free_var: prior_value + (coeff * (free_var ** power)),
        sequences=[coefficients, full_range], outputs_info=outputs_info, non_sequences=x)
    polynomial = components[-1]
    calculate_polynomial = symgraph.function(inputs=[coefficients, x], outputs=polynomial,
                                             updates=updates)
    test_coeff = numpy.asarray([1, 0, 2], dtype=numpy.float32)
    assert str(calculate_polynomial(test_coeff, 3)) == "19.0"


def test_accumulation_into_a_scalar():
    up_to = T.iscalar("up_to")

    def accumulate_by_adding(arange_val, sum_to_date):
        return sum_to_date + arange_val

    seq = T.arange(up_to)
    # the initial state must have the dtype of what the step computes
    outputs_info = T.as_tensor_variable(numpy.asarray(0, seq.dtype))
    scan_result, scan_updates = symgraph.scan(fn=accumulate_by_adding,
                                              outputs_info=outputs_info, sequences=seq)
    triangular_sequence = symgraph.function(inputs=[up_to], outputs=scan_result)

    some_num = 15
    assert list(triangular_sequence(some_num)) == [n * (n + 1) // 2 for n in range(some_num)]


def test_setting_values_at_positions():
    location = T.imatrix("location")
    values = T.vector("values")
    output_model = T.matrix("output_model")

    def set_value_at_position(a_location, a_value, output_model):
        zeros = T.zeros_like(output_model)
        zeros_subtensor = zeros[a_location[0], a_location[1]]
        return T.set_subtensor(zeros_subtensor, a_value)

    result, updates = symgraph.scan(fn=set_value_at_position, outputs_info=None,
                                    sequences=[location, values], non_sequences=output_model)
    assign_values_at_positions = symgraph.function(inputs=[location, values, output_model],
                                                   outputs=result)

    test_locations = numpy.asarray([[1, 1], [2, 3]], dtype=numpy.int32)
    test_values = numpy.asarray([42, 50], dtype=numpy.float32)
    test_output_model = numpy.zeros((5, 5), dtype=numpy.float32)
    out = assign_values_at_positions(test_locations, test_values, test_output_model)
    expected = numpy.zeros((2, 5, 5))
    expected[0, 1, 1] = 42
    expected[1, 2, 3] = 50
    assert out.shape == (2, 5, 5) and numpy.array_equal(out, expected)


def test_gibbs_sampling_with_shared_variables():
    rng = numpy.random.RandomState(0)
    W_values = rng.normal(size=(6, 4))
    bvis_values = numpy.zeros(6)
    bhid_values = numpy.zeros(4)
    W = symgraph.shared(W_values)
    bvis = symgraph.shared(bvis_values)
    bhid = symgraph.shared(bhid_values)

    trng = T.shared_randomstreams.RandomStreams(1234)

    def OneStep(vsample):
        hmean = T.nnet.sigmoid(symgraph.dot(vsample, W) + bhid)
        hsample = trng.binomial(size=hmean.shape, n=1, p=hmean)
        vmean = T.nnet.sigmoid(symgraph.dot(hsample, W.T) + bvis)
        return trng.binomial(size=vsample.shape, n=1, p=vmean,
                             dtype=symgraph.config.floatX)

    sample = symgraph.tensor.vector()
    values, updates = symgraph.scan(OneStep, outputs_info=sample, n_steps=10)
    gibbs10 = symgraph.function([sample], values[-1], updates=updates)

    first = gibbs10(numpy.ones(6))
    samples = [gibbs10(numpy.ones(6)) for _ in range(5)]
    assert first.shape == (6,) and set(numpy.unique(first)) <= {0.0, 1.0}
    # the random state moves on from call to call
    assert any(not numpy.array_equal(first, s) for s in samples)


def test_updates_returned_by_the_step():
    a = symgraph.shared(1)
    values, updates = symgraph.scan(lambda: {a: a + 1}, n_steps=10)
    b = a + 1
    c = updates[a] + 1
    f = symgraph.function([], [b, c], updates=updates)
    assert [int(v) for v in f()] == [2, 12] and a.get_value() == 11
    assert [int(v) for v in f()] == [12, 22] and a.get_value() == 21


def test_counting_the_steps_in_a_shared_variable():
    k = symgraph.shared(0)
    n_sym = T.iscalar("n_sym")
    results, updates = symgraph.scan(lambda: {k: (k + 1)}, n_steps=n_sym)
    accumulator = symgraph.function([n_sym], [], updates=updates, allow_input_downcast=True)
    assert k.get_value() == 0
    accumulator(5)
    assert k.get_value() == 5


def test_until():
    def power_of_2(previous_power, max_value):
        return previous_power * 2, symgraph.scan_module.until(previous_power * 2 > max_value)

    max_value = T.scalar()
    values, _ = symgraph.scan(power_of_2, outputs_info=T.constant(1.),
                              non_sequences=max_value, n_steps=1024)
    f = symgraph.function([max_value], values)
    assert list(f(45)) == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]


def test_several_taps_recurrent_network():
    floatX = symgraph.config.floatX
    rng = numpy.random.RandomState(1)
    n, nin, nout = 3, 2, 2
    W = symgraph.shared(rng.uniform(-0.5, 0.5, (n, n)).astype(floatX))
    W_in_1 = symgraph.shared(rng.uniform(-0.5, 0.5, (nin, n)).astype(floatX))
    W_in_2 = symgraph.shared(rng.uniform(-0.5, 0.5, (nin, n)).astype(floatX))
    W_feedback = symgraph.shared(rng.uniform(-0.5, 0.5, (nout, n)).astype(floatX))
    W_out = symgraph.shared(rng.uniform(-0.5, 0.5, (n, nout)).astype(floatX))

    def oneStep(u_tm4, u_t, x_tm3, x_tm1, y_tm1, W, W_in_1, W_in_2, W_feedback, W_out):
        x_t = T.tanh(symgraph.dot(x_tm1, W) + symgraph.dot(u_t, W_in_1)
                     + symgraph.dot(u_tm4, W_in_2) + symgraph.dot(y_tm1, W_feedback))
        y_t = symgraph.dot(x_tm3, W_out)
        return [x_t, y_t]

    u = T.matrix()   # a sequence of vectors
    x0 = T.matrix()  # three initial states: the step looks back to x[t-3]
    y0 = T.vector()  # y[t-1] only
    ([x_vals, y_vals], updates) = symgraph.scan(
        fn=oneStep, sequences=dict(input=u, taps=[-4, -0]),
        outputs_info=[dict(initial=x0, taps=[-3, -1]), y0],
        non_sequences=[W, W_in_1, W_in_2, W_feedback, W_out])
    f = symgraph.function([u, x0, y0], [x_vals, y_vals])

    u_val = rng.uniform(size=(9, nin)).astype(floatX)
    x0_val = rng.uniform(size=(3, n)).astype(floatX)
    y0_val = numpy.zeros(nout, dtype=floatX)
    xs, ys = f(u_val, x0_val, y0_val)

    # the same loop in NumPy
    x_hist, y_prev, want_x, want_y = list(x0_val), y0_val, [], []
    for t in range(4, 9):
        x_t = numpy.tanh(x_hist[-1] @ W.get_value() + u_val[t] @ W_in_1.get_value()
                         + u_val[t - 4] @ W_in_2.get_value() + y_prev @ W_feedback.get_value())
        y_t = x_hist[-3] @ W_out.get_value()
        x_hist.append(x_t)
        y_prev = y_t
        want_x.append(x_t)
        want_y.append(y_t)
    assert xs.shape == (5, n) and ys.shape == (5, nout)
    assert numpy.allclose(xs, want_x) and numpy.allclose(ys, want_y)


def test_elementwise_tanh_and_jacobian_without_passing_the_variables():
    X = T.matrix("X")
    W = T.matrix("W")
    b_sym = T.vector("b_sym")
    results, updates = symgraph.scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    compute_elementwise = symgraph.function(inputs=[X, W, b_sym], outputs=results)
    x = numpy.eye(2)
    w = numpy.ones((2, 2))
    b = numpy.ones(2)
    b[1] = 2
    assert numpy.allclose(compute_elementwise(x, w, b), numpy.tanh(x.dot(w) + b))

    v = T.vector()
    A = T.matrix()
    y = T.tanh(T.dot(v, A))
    results, updates = symgraph.scan(lambda i: T.grad(y[i], v), sequences=[T.arange(y.shape[0])])
    compute_jac_t = symgraph.function([A, v], results, allow_input_downcast=True)
    x = numpy.eye(5)[0]
    w = numpy.eye(5, 3)
    w[2] = numpy.ones(3)
    want = ((1 - numpy.tanh(x.dot(w)) ** 2) * w).T
    assert numpy.allclose(compute_jac_t(w, x), want)


def test_norms_and_trace():
    X = T.matrix("X")
    results, updates = symgraph.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X])
    compute_norm_lines = symgraph.function(inputs=[X], outputs=results)
    results, updates = symgraph.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X.T])
    compute_norm_cols = symgraph.function(inputs=[X], outputs=results)
    x = numpy.diag(numpy.arange(1, 6, dtype=symgraph.config.floatX), 1)
    assert numpy.allclose(compute_norm_lines(x), [1, 2, 3, 4, 5, 0])
    assert numpy.allclose(compute_norm_cols(x), [0, 1, 2, 3, 4, 5])

    floatX = symgraph.config.floatX
    results, updates = symgraph.scan(
        lambda i, j, t_f: T.cast(X[i, j] + t_f, floatX),
        sequences=[T.arange(X.shape[0]), T.arange(X.shape[1])],
        outputs_info=numpy.asarray(0., dtype=floatX))
    result = results[-1]
    compute_trace = symgraph.function(inputs=[X], outputs=result)
    x = numpy.eye(5, dtype=floatX)
    x[0] = numpy.arange(5, dtype=floatX)
    assert compute_trace(x) == numpy.diagonal(x).sum() == 4.0
