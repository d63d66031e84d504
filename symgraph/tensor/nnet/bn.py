"""Theano's ``theano.tensor.nnet.bn``: batch normalisation written with elementwise ops."""

from __future__ import annotations

from typing import Any

from symgraph.ops import elemwise as _elemwise
from symgraph.ops.basic import as_tensor_variable

__all__ = ["batch_normalization"]


def batch_normalization(inputs: Any, gamma: Any, beta: Any, mean: Any, std: Any,
                        mode: str = "low_mem") -> Any:
    """``(inputs - mean) * (gamma / std) + beta``, everything broadcasting against ``inputs``.

    Parameters
    ----------
    inputs : tensor
    gamma, beta, mean, std : tensors broadcastable to ``inputs``
    mode : {'low_mem', 'high_mem'}
        Theano's choice of memory use; both give the same values here.

    References
    ----------
    Ioffe, Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
    Internal Covariate Shift", ICML 2015.
    """
    if mode not in ("low_mem", "high_mem"):
        raise ValueError(f"batch_normalization: mode must be 'low_mem' or 'high_mem', got "
                         f"{mode!r}")
    inputs = as_tensor_variable(inputs)
    return _elemwise.true_divide((inputs - mean) * gamma, std) + beta
