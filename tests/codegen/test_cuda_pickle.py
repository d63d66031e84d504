"""Pickling what lives on the device, on the CPU emulator of the CUDA backend: a shared variable
in device memory and a function compiled for mode "cuda" round-trip, their values uploaded to
the device again on load."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.cuda.array import DeviceArray
from tests.codegen.cuda_support import emulated_backend, installed_as_cuda


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    with installed_as_cuda(emulated_backend(),
                           str(tmp_path_factory.getbasetemp() / "cache")) as backend:
        yield backend


def test_device_arrays_pickle_their_values(emulated):
    array = sg.cuda.to_device(np.arange(6.0).reshape(2, 3))
    loaded = pickle.loads(pickle.dumps(array))
    assert isinstance(loaded, DeviceArray) and loaded is not array
    np.testing.assert_array_equal(loaded.get(), np.arange(6.0).reshape(2, 3))


def test_device_shared_variables_and_cuda_functions_round_trip(emulated):
    w = sg.shared(np.array([1.0, 2.0]), name="w", target="cuda")
    x = sg.dvector("x")
    f = sg.function([x], (x * w).sum(), updates=[(w, w * 2)], mode="cuda")
    assert f([1.0, 1.0]) == 3.0
    new_f, new_w = pickle.loads(pickle.dumps((f, w)))
    assert isinstance(new_w.get_value(return_internal_type=True), DeviceArray)
    np.testing.assert_array_equal(new_w.get_value(), [2.0, 4.0])
    assert new_f([1.0, 1.0]) == 6.0
    np.testing.assert_array_equal(new_w.get_value(), [4.0, 8.0])
    np.testing.assert_array_equal(w.get_value(), [2.0, 4.0])  # the original is untouched
