"""``sg.distributed`` in one process (MPI without mpiexec is a world of one rank): the public
functions, the data-parallel helpers, and what needs no second rank."""

import pickle

import numpy as np
import pytest

import symgraph as sg

pytest.importorskip("mpi4py", reason="needs the mpi extra: pip install -e '.[mpi]'")
D = sg.distributed


def test_one_rank_world():
    assert (D.rank(), D.size()) == (0, 1)
    assert D.is_available()
    assert D.shard(np.arange(5)).tolist() == [0, 1, 2, 3, 4]
    assert D.seed(7) == D.seed(7, per_rank=True) == 7


def test_collectives_are_the_identity_and_pickle():
    x = sg.dmatrix("x")
    f = sg.function([x], [D.allreduce(x, "mean"), D.broadcast(x), D.allgather(x, axis=1)])
    value = np.arange(6.0).reshape(2, 3)
    for got in f(value):
        np.testing.assert_array_equal(got, value)
    again = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(again(value)[0], value)


def test_average_gradients_buckets_and_restores_shapes():
    params = [sg.shared(np.full(s, float(i)), name=f"p{i}")
              for i, s in enumerate([(3, 4), (4,), (2, 2)])]
    cost = sum((p ** 2).sum() for p in params)
    grads = sg.grad(cost, params)
    averaged, updates = D.average_gradients(grads, params, bucket_bytes=100)
    f = sg.function([], averaged)
    for got, p in zip(f(), params):
        np.testing.assert_allclose(got, 2 * p.get_value())
    assert updates == []
    with pytest.raises(ValueError, match="compression"):
        D.average_gradients(grads, params, compression="2bit")


def test_one_bit_error_feedback_keeps_the_residual():
    p = sg.shared(np.array([0.5, -1.0, 2.0, -0.25]), name="p")
    x = sg.dvector("x")
    step = D.data_parallel([x], (p * x).sum(), [p], lambda ps, gs: [(ps[0], ps[0] - gs[0])],
                           compression="1bit")
    step(np.array([1.0, -3.0, 2.0, 4.0]))
    # Block means: non-negative {1, 2, 4} -> 7/3, negative {-3} -> -3.
    np.testing.assert_allclose(p.get_value(), [0.5 - 7 / 3, -1.0 + 3, 2.0 - 7 / 3, -0.25 - 7 / 3],
                               rtol=1e-6)
    assert step.bytes_sent() == 1 + 8  # one byte of signs, two float32 values
    again = pickle.loads(pickle.dumps(step))
    again(np.zeros(4))
