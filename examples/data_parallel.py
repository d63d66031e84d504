"""Data-parallel training of the digits MLP over MPI: each rank takes its shard of every batch.

Run: mpiexec -n 2 python examples/data_parallel.py [--epochs N] [--compression 1bit] [--quick]
(one process, `python examples/data_parallel.py`, trains alone on the whole batches).
"""

import time

import numpy as np
from _common import parser

import symgraph as sg
from symgraph.demo.digits import load_digits_data


def main(argv=None):
    options = parser(__doc__, "two epochs")
    options.add_argument("--epochs", type=int, default=20)
    options.add_argument("--hidden", type=int, default=256)
    options.add_argument("--batch", type=int, default=64, help="global batch, split over ranks")
    options.add_argument("--compression", choices=["none", "1bit"], default="none")
    args = options.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    D = sg.distributed
    rank, size = D.rank(), D.size()

    data = load_digits_data(seed=0)
    x, t = sg.matrix("x"), sg.lvector("t")
    rng = np.random.default_rng(D.seed(0, per_rank=True))  # different draws: rank 0's win
    dtype = sg.config.floatX
    W1 = sg.shared(rng.normal(0, 64 ** -0.5, (64, args.hidden)).astype(dtype), name="W1")
    b1 = sg.shared(np.zeros(args.hidden, dtype=dtype), name="b1")
    W2 = sg.shared(rng.normal(0, args.hidden ** -0.5, (args.hidden, 10)).astype(dtype), name="W2")
    b2 = sg.shared(np.zeros(10, dtype=dtype), name="b2")
    probs = sg.nnet.softmax(sg.nnet.relu(x @ W1 + b1) @ W2 + b2)
    loss = sg.nnet.categorical_crossentropy(probs, t).mean()

    def momentum(params, grads, learning_rate=0.1, mass=0.5):
        updates = []
        for param, grad in zip(params, grads):
            velocity = sg.shared(np.zeros_like(param.get_value()))
            new_velocity = mass * velocity - learning_rate * grad
            updates += [(velocity, new_velocity), (param, param + new_velocity)]
        return updates

    compression = None if args.compression == "none" else args.compression
    step = D.data_parallel([x, t], loss, [W1, b1, W2, b2], momentum, compression=compression)
    predict = sg.function([x], probs.argmax(axis=1))

    order_rng = np.random.default_rng(1)  # the same on every rank: the ranks agree on batches
    steps, start = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(data.y_train))
        losses = []
        for first in range(0, len(order) - args.batch + 1, args.batch):
            rows = order[first:first + args.batch]
            losses.append(step(D.shard(data.x_train[rows]), D.shard(data.y_train[rows])))
            steps += 1
        accuracy = np.mean(predict(data.x_test) == data.y_test)
        mean_loss = D.mpi().COMM_WORLD.allreduce(float(np.mean(losses))) / size
        if rank == 0:
            print(f"epoch {epoch:2d}  loss {mean_loss:.4f}  test accuracy {accuracy:.3f}")
    seconds = time.perf_counter() - start
    if rank == 0:
        print(f"{size} rank(s), {args.compression}: {steps} steps in {seconds:.2f} s, "
              f"{step.bytes_sent() / steps:.0f} bytes sent per step and rank")
    return accuracy


if __name__ == "__main__":
    main()
