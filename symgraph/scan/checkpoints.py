"""``scan_checkpoints``: a loop whose gradient stores the states every N steps only and
recomputes the steps in between (Theano's memory-for-time trade; Chen et al. 2016).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from symgraph.ops import construct, elemwise
from symgraph.ops import shape as shape_ops
from symgraph.ops.basic import as_tensor_variable, constant
from symgraph.scan import frontend

__all__ = ["scan_checkpoints"]


def scan_checkpoints(fn: Callable[..., Any], sequences: Any = None, outputs_info: Any = None,
                     non_sequences: Any = None, name: str = "checkpointscan_fn",
                     n_steps: Any = None, save_every_N: int = 10,
                     padding: bool = True) -> tuple[Any, dict[Any, Any]]:
    """``scan`` whose gradient keeps only every ``save_every_N``-th state (Theano's).

    The loop runs as an outer loop over chunks of ``save_every_N`` steps, each an inner loop.
    Only the states between chunks are stored for the gradient; the reverse pass recomputes
    each chunk's steps from its first state, so memory grows with ``n_steps / save_every_N``
    instead of ``n_steps``, for about one more forward pass of computation.

    Parameters
    ----------
    fn, sequences, outputs_info, non_sequences, n_steps
        As for ``scan``, with these limits: sequences without taps, outputs with the single
        tap -1 (a tensor initial state) or None, no ``until``.
    save_every_N : int
        Steps per chunk (>= 1).
    padding : bool
        Pad the sequences with zeros up to a multiple of ``save_every_N`` (the last chunk runs
        only the remaining steps). Without padding their length must be such a multiple.

    Returns
    -------
    outputs : tensor or list of tensors
        The value of each output at the end of every chunk: ``(n_chunks, *shape)`` with
        ``n_chunks = ceil(n_steps / save_every_N)``; ``outputs[-1]`` is the last step's.
    updates : dict
        As for ``scan``.

    Raises
    ------
    ValueError
        For taps, a dict outputs_info with other taps than [-1], ``save_every_N < 1``, or
        neither sequences nor ``n_steps``.

    References
    ----------
    T. Chen, B. Xu, C. Zhang, C. Guestrin, "Training Deep Nets with Sublinear Memory Cost",
    arXiv:1604.06174, 2016.
    """
    every = int(save_every_N)
    if every < 1:
        raise ValueError(f"scan_checkpoints: save_every_N must be >= 1, got {save_every_N}")
    seqs = [_plain_sequence(i, s) for i, s in enumerate(frontend._as_list(sequences))]
    infos = [_plain_output(k, o) for k, o in enumerate(frontend._as_list(outputs_info))]
    non_seqs = frontend._as_list(non_sequences)
    if n_steps is None:
        if not seqs:
            raise ValueError("scan_checkpoints: give sequences or n_steps")
        n_steps = shape_ops.shape_i(seqs[0], 0)
    total = elemwise.cast(as_tensor_variable(n_steps), "int64")
    n_chunks = elemwise.int_div(total + (every - 1), constant(every, dtype="int64"))
    starts = construct.arange(n_chunks, dtype="int64") * every
    lengths = elemwise.minimum(total - starts, every)
    chunked = [_chunks(s, total, n_chunks, every, padding) for s in seqs]
    n_seqs, n_states = len(seqs), sum(o is not None for o in infos)

    def outer_step(*args: Any) -> Any:
        chunk_seqs, length = list(args[:n_seqs]), args[n_seqs]
        states = list(args[n_seqs + 1:n_seqs + 1 + n_states])
        inner_info = [None if o is None else states.pop(0) for o in infos]
        results, updates = frontend.scan(
            fn, sequences=chunk_seqs, outputs_info=inner_info or None,
            non_sequences=list(args[n_seqs + 1 + n_states:]), n_steps=length,
            name=f"{name}_inner", return_list=True)
        return [r[-1] for r in results], updates

    outputs, updates = frontend._build(
        outer_step, chunked + [lengths], infos or None, non_seqs, None, -1, False, name,
        False, False)
    if len(outputs) == 1:
        return outputs[0], updates
    return outputs, updates


def _plain_sequence(i: int, seq: Any) -> Any:
    if isinstance(seq, Mapping):
        if list(seq.get("taps", [0]) or [0]) != [0]:
            raise ValueError(f"scan_checkpoints: sequence {i} has taps; only plain sequences "
                             f"are supported")
        seq = seq["input"]
    return as_tensor_variable(seq)


def _plain_output(k: int, info: Any) -> Any:
    if isinstance(info, Mapping):
        if list(info.get("taps", [-1]) or [-1]) != [-1]:
            raise ValueError(f"scan_checkpoints: outputs_info[{k}] has taps other than [-1]")
        info = info.get("initial")
    return None if info is None else as_tensor_variable(info)


def _chunks(seq: Any, total: Any, n_chunks: Any, every: int, padding: bool) -> Any:
    """``seq[:total]`` as ``(n_chunks, every, ...)``, zero-padded at the end if allowed."""
    seq = seq[:total]
    if padding:
        pad = n_chunks * every - total
        rest = [shape_ops.shape_i(seq, d) for d in range(1, seq.ndim)]
        zeros = construct.zeros([pad, *rest], dtype=seq.dtype)
        seq = shape_ops.concatenate([seq, zeros])
    dims = [n_chunks, every] + [shape_ops.shape_i(seq, d) for d in range(1, seq.ndim)]
    return shape_ops.reshape(seq, dims)
