"""1-bit gradient exchange (Seide et al., 2014): each rank sends the sign of every element and
two reconstruction values per block, and every rank averages the reconstructions.

The caller keeps the quantisation error and adds it to the next step's gradient (error
feedback); ``symgraph.distributed.average_gradients(..., compression="1bit")`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.graph import Apply
from symgraph.ops.basic import as_tensor_variable
from symgraph.ops.collective import Collective, Communicator


class OneBitAllreduce(Collective):
    """The mean over the ranks of 1-bit quantised ``x``, and this rank's own quantised ``x``.

    ``x`` (a float vector) is cut into blocks of ``block`` elements; within a block each
    element becomes one bit, ``x >= 0``, and is reconstructed as the mean of the block's
    non-negative elements or of its negative ones (the two values that minimise the squared
    error of a sign quantiser). Each rank sends ``ceil(n / 8)`` bytes of bits and two float32
    values per block (one allgather); the first output is the mean of every rank's
    reconstruction, the second this rank's (its quantisation error is ``x`` minus it).

    Notes
    -----
    Not differentiable: it exchanges gradients. The outputs have the dtype of ``x``.

    References
    ----------
    F. Seide, H. Fu, J. Droppo, G. Li, D. Yu, "1-bit stochastic gradient descent and its
    application to data-parallel distributed training of speech DNNs", Interspeech 2014.
    """

    __props__ = ("block", "comm")
    abstract = False

    def __init__(self, block: int, comm: Communicator) -> None:
        if int(block) < 1:
            raise ValueError(f"one-bit allreduce: block must be positive, got {block}")
        self.block = int(block)
        self.comm = comm

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 1 or not dt.is_float(x.dtype):
            raise TypeError(f"{self}: input x ({x}) must be a float vector, got "
                            f"{x.ndim} dimensions of {x.dtype}")
        return Apply(self, [x], [x.type.make_variable(), x.type.make_variable()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        x = np.asarray(inputs[0])
        bits, values = quantize(x, self.block)
        # One message: the bits, then the values' bytes.
        gathered = self.comm.allgather(np.concatenate([bits, values.reshape(-1).view(np.uint8)]))
        total = np.zeros(x.size, dtype=np.float64)
        for message in gathered:
            rank_values = message[bits.size:].view(np.float32).reshape(values.shape)
            total += dequantize(message[:bits.size], rank_values, x.size, self.block)
        output_storage[0][0] = (total / len(gathered)).astype(x.dtype)
        output_storage[1][0] = dequantize(bits, values, x.size, self.block).astype(x.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        return [tuple(input_shapes[0])] * 2

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        raise NotImplementedError(f"{self} exchanges gradients; it has no gradient itself")


def quantize(x: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """``(bits, values)``: the packed signs of ``x`` (uint8, ``ceil(n / 8)``) and, per block,
    the means of its non-negative and negative elements (float32, ``(blocks, 2)``)."""
    padded = _blocks(x, block)
    positive = padded >= 0
    n_neg = padded.shape[1] - np.count_nonzero(positive, axis=1)
    n_pos = padded.shape[1] - n_neg
    n_pos[-1] -= padded.size - x.size  # the padding zeros counted as non-negative
    total = padded.sum(axis=1, dtype=np.float64)
    sum_pos = np.where(positive, padded, 0).sum(axis=1, dtype=np.float64)
    values = np.stack([sum_pos / np.maximum(n_pos, 1),
                       (total - sum_pos) / np.maximum(n_neg, 1)], axis=1)
    return np.packbits(positive.reshape(-1)[:x.size]), values.astype(np.float32)


def dequantize(bits: np.ndarray, values: np.ndarray, n: int, block: int) -> np.ndarray:
    """The float64 vector of ``n`` elements that ``quantize`` describes."""
    positive = np.unpackbits(bits, count=values.shape[0] * block).astype(bool)
    blocks = np.where(positive.reshape(-1, block), values[:, :1], values[:, 1:])
    return blocks.reshape(-1)[:n].astype(np.float64)


def _blocks(x: np.ndarray, block: int) -> np.ndarray:
    """``x`` padded with zeros (which count as non-negative, then discounted) to whole blocks."""
    n_blocks = max(1, -(-x.size // block))
    if n_blocks * block == x.size:
        return x.reshape(n_blocks, block)
    padded = np.zeros(n_blocks * block, dtype=x.dtype)
    padded[:x.size] = x
    return padded.reshape(n_blocks, block)
