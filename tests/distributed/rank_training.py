"""Run by tests/distributed/test_mpi.py on every rank (``mpiexec -n 2``): data-parallel
training of the digits MLP.

1. Same results: 20 steps with a per-rank batch of B against a one-rank run (the same code on
   MPI's COMM_SELF) with the batch of 2B, in float64; the ranks start from different weights,
   so the broadcast from rank 0 is part of what is checked.
2. 1-bit SGD with error feedback against full precision: test accuracy after the same epochs,
   and the bytes each rank hands to MPI per step.

Prints one ``RESULT key=value ...`` line per measurement (rank 0).
"""

import sys

import numpy as np

import symgraph as sg
from symgraph import distributed as D
from symgraph.demo.digits import load_digits_data

RANK, SIZE = D.rank(), D.size()
DATA = load_digits_data(seed=0, dtype="float64")


def build(comm, init_seed, compression=None, hidden=32, lr=0.1, momentum=0.9, block=256,
          **parallel):
    rng = np.random.default_rng(init_seed)
    shapes = [(64, hidden), (hidden,), (hidden, 10), (10,)]
    params = [sg.shared(rng.normal(0, 0.1, s) if len(s) == 2 else np.zeros(s), name=f"p{i}")
              for i, s in enumerate(shapes)]
    w1, b1, w2, b2 = params
    x, t = sg.dmatrix("x"), sg.lvector("t")
    probs = sg.nnet.softmax(sg.nnet.relu(x @ w1 + b1) @ w2 + b2)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()

    def updates(params, grads):
        pairs = []
        for p, g in zip(params, grads):
            v = sg.shared(np.zeros_like(p.get_value()))
            pairs += [(v, momentum * v - lr * g), (p, p + momentum * v - lr * g)]
        return pairs

    step = D.data_parallel([x, t], loss, params, updates, comm=comm, compression=compression,
                            block=block, **parallel)
    predict = sg.function([x], probs.argmax(axis=1))
    return step, predict, params


def same_results(per_rank_batch=16, steps=20):
    order = np.random.default_rng(1).permutation(len(DATA.y_train))
    world = build(None, init_seed=RANK)  # rank 0's weights win the broadcast
    # Non-blocking allreduces of small buckets (one per parameter), started during the
    # backward pass: the same numbers.
    overlapped = build(None, init_seed=RANK, bucket_bytes=64, overlap=True)
    check_overlapped_schedule(overlapped[0])
    alone = build("self", init_seed=0)   # one rank, batch 2B, rank 0's initial weights
    for k in range(steps):
        rows = order[k * SIZE * per_rank_batch:(k + 1) * SIZE * per_rank_batch]
        for step in (world[0], overlapped[0]):
            step(D.shard(DATA.x_train[rows]), D.shard(DATA.y_train[rows]))
        alone[0](DATA.x_train[rows], DATA.y_train[rows])
    for name, model in (("blocking", world), ("overlapped", overlapped)):
        worst = 0.0
        for a, b in zip(model[2], alone[2]):
            a, b = a.get_value(), b.get_value()
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
            worst = max(worst, float(np.max(np.abs(a - b))))
        if RANK == 0:
            print(f"RESULT same_results {name} ranks={SIZE} batch_per_rank={per_rank_batch} "
                  f"steps={steps} max_abs_param_diff={worst:.3e}")


def check_overlapped_schedule(step):
    """The starts go out in bucket order before any wait, with gradient work between them."""
    kinds = [type(node.op).__name__ for node in step.maker.fgraph.toposort()]
    starts = [i for i, k in enumerate(kinds) if k == "AllreduceStart"]
    waits = [i for i, k in enumerate(kinds) if k == "AllreduceWait"]
    assert len(starts) == len(waits) == 4, kinds
    assert max(starts) < min(waits), kinds
    assert max(starts) - min(starts) > len(starts), kinds  # backward work in between


def train(compression, epochs, per_rank_batch=32, **options):
    step, predict, _ = build(None, init_seed=0, compression=compression, **options)
    rng = np.random.default_rng(2)
    n_steps, global_batch = 0, SIZE * per_rank_batch
    for _ in range(epochs):
        order = rng.permutation(len(DATA.y_train))
        for start in range(0, len(order) - global_batch + 1, global_batch):
            rows = order[start:start + global_batch]
            step(D.shard(DATA.x_train[rows]), D.shard(DATA.y_train[rows]))
            n_steps += 1
    accuracy = float(np.mean(predict(DATA.x_test) == DATA.y_test))
    return accuracy, step.bytes_sent() / n_steps


def compression_accuracy(epochs):
    # Momentum 0.5: with 0.9 (and lr 0.1) the sign noise of 1-bit steps, summed by the
    # momentum, derails training (docs/distributed.md has the figures).
    full, full_bytes = train(None, epochs, momentum=0.5)
    one_bit, one_bit_bytes = train("1bit", epochs, momentum=0.5)
    if RANK == 0:
        print(f"RESULT one_bit ranks={SIZE} epochs={epochs} accuracy_full={full:.4f} "
              f"accuracy_1bit={one_bit:.4f} bytes_per_step_full={full_bytes:.0f} "
              f"bytes_per_step_1bit={one_bit_bytes:.0f}")
    assert abs(full - one_bit) <= 0.01, (full, one_bit)


same_results()
compression_accuracy(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
print(f"rank {RANK} of {SIZE}: ok")
