"""TensorType.filter: what a compiled function accepts as an argument, converted without
loss (lists, tuples, ranges, arrays of other libraries through DLPack or __array__)."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.type import TensorType

MODES = ["llvm", "py"]


class ArrayLike:
    """An object NumPy converts through ``__array__`` only."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)


class DLPackOnly:
    """An object exposing only the DLPack protocol (as GPU-less CuPy or torch tensors do)."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def __dlpack__(self, **kwargs):
        return self.value.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.value.__dlpack_device__()


class RefusesBoth:
    """Like a GPU array: has the protocols, refuses to give CPU memory."""

    def __dlpack__(self, **kwargs):
        raise BufferError("the array lives on a GPU")

    def __dlpack_device__(self):
        return (2, 0)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("implicit conversion to a NumPy array is not allowed")


@pytest.mark.parametrize("mode", MODES)
def test_sequences_and_ranges_are_converted(mode):
    x = sg.dvector("x")
    i = sg.ivector("i")
    f = sg.function([x, i], [x * 2, i + 1], mode=mode)
    doubled, incremented = f(range(3), range(1, 4))
    assert doubled.tolist() == [0.0, 2.0, 4.0] and incremented.tolist() == [2, 3, 4]
    assert incremented.dtype == np.int32
    doubled, incremented = f((1.5, 2), [7])
    assert doubled.tolist() == [3.0, 4.0] and incremented.tolist() == [8]
    with pytest.raises(TypeError, match="input 1 .'i'."):
        f(range(2), [1.5])  # floats into an int input lose information
    with pytest.raises(TypeError, match="input 1"):
        f(range(2), range(2**31, 2**31 + 2))  # out of int32's range


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrap", [ArrayLike, DLPackOnly])
def test_array_likes_follow_the_ndarray_rules(mode, wrap):
    x = sg.fvector("x")
    d = sg.dvector("d")
    f = sg.function([x, d], [x * 2, d + 1], mode=mode)
    values = f(wrap(np.array([1.0, 2.0], dtype=np.float32)),
               wrap(np.array([1, 2], dtype=np.int32)))
    assert values[0].dtype == np.float32 and values[0].tolist() == [2.0, 4.0]
    assert values[1].tolist() == [2.0, 3.0]
    with pytest.raises(TypeError, match="expected dtype float32, got float64"):
        f(wrap(np.array([1.0])), [1.0])


def test_jax_arrays_are_accepted():
    jnp = pytest.importorskip("jax.numpy")
    x = sg.fmatrix("x")
    got = sg.function([x], x.sum(axis=0))(jnp.ones((2, 3), dtype=jnp.float32))
    assert got.dtype == np.float32 and got.tolist() == [2.0, 2.0, 2.0]


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    x = sg.dvector("x")
    assert sg.function([x], x * 2)(torch.arange(3, dtype=torch.float64)).tolist() == [0, 2, 4]


def test_what_cannot_be_read_says_how_to_fix_it():
    t = TensorType("float64", (None,))
    with pytest.raises(TypeError, match="cannot read the RefusesBoth.*convert it to a NumPy"):
        t.filter(RefusesBoth(), name="input 0")
    with pytest.raises(TypeError, match="got object"):
        t.filter(object(), name="input 0")
    with pytest.raises(TypeError, match="Python objects"):
        t.filter(ArrayLike(np.array([object()])), name="input 0")


def test_shared_variables_take_array_likes():
    w = sg.shared(np.zeros(2), name="w")
    w.set_value(ArrayLike([1.0, 2.0]))
    assert w.get_value().tolist() == [1.0, 2.0]
    w.set_value(range(2))
    assert w.get_value().tolist() == [0.0, 1.0]


def test_tensor_type_takes_theanos_broadcastable_keyword():
    assert TensorType("float64", broadcastable=(True, False)) == TensorType("float64", (1, None))
    assert TensorType(dtype="int32", broadcastable=[False] * 3).shape == (None, None, None)
    assert TensorType("float32", (False, True)).shape == (None, 1)  # positional, as Theano's
