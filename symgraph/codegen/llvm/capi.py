"""The CPython and NumPy object layouts that native entry points read, checked by a self-test
before any is built, and the process-wide table of C functions generated code calls.

Generated code never embeds an address: it reads C functions from the table ``@sg_api``
(registered with the JIT by name) and Python objects from its frame, so object code stays
valid in every process and can be cached on disk.
"""

from __future__ import annotations

import ctypes
import struct
import sys
import sysconfig
import threading
from typing import Any

import numpy as np

# PyObject and PyArrayObject_fields (numpy/ndarraytypes.h: the same in NumPy 1.x and 2.x for
# the default x86_64/aarch64 builds of CPython).
OB_TYPE = 8
ARRAY_DATA = 16
ARRAY_NDIM = 24
ARRAY_DIMS = 32
ARRAY_STRIDES = 40
ARRAY_BASE = 48
ARRAY_DESCR = 56
ARRAY_FLAGS = 64
DESCR_BYTEORDER = 26
DESCR_TYPE_NUM = 28

NPY_C_CONTIGUOUS = 0x1
NPY_ALIGNED = 0x100
NPY_WRITEABLE = 0x400
METH_FASTCALL = 0x80

# NumPy C-API table indices (numpy/__multiarray_api.h; part of NumPy's stable ABI).
_NUMPY_API = {"PyArray_Type": 2, "PyArray_NewCopy": 85, "PyArray_NewFromDescr": 94,
              "PyArray_SetBaseObject": 282}

# The entries of ``@sg_api``, in order; generated code indexes the table by position.
PYTHON_FUNCTIONS = ("Py_IncRef", "Py_DecRef", "PyObject_Vectorcall", "PyTuple_GetItem",
                    "PyList_New", "PyList_SetItem", "PyErr_NoMemory", "PyEval_SaveThread",
                    "PyEval_RestoreThread")
LIBC_FUNCTIONS = ("aligned_alloc", "free", "clock_gettime")
API_NAMES = PYTHON_FUNCTIONS + LIBC_FUNCTIONS + (
    "PyArray_Type", "PyArray_NewCopy", "PyArray_NewFromDescr", "PyArray_SetBaseObject")
API = {name: i for i, name in enumerate(API_NAMES)}


class LayoutError(RuntimeError):
    """This interpreter or NumPy does not have the object layouts native entry points read."""


class PyMethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


def _word(address: int) -> int:
    return ctypes.c_uint64.from_address(address).value


def _int32(address: int) -> int:
    return ctypes.c_int32.from_address(address).value


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise LayoutError(what)


def _check_platform() -> None:
    _check(sys.implementation.name == "cpython", "not CPython")
    _check(struct.calcsize("P") == 8 and sys.byteorder == "little", "not a 64-bit LE build")
    _check(not sysconfig.get_config_var("Py_GIL_DISABLED"), "free-threaded CPython")
    _check(sys.version_info >= (3, 9), "CPython before 3.9 has no PyObject_Vectorcall")


def _check_array_layout() -> None:
    base = np.zeros((4, 6), dtype="float32")
    view = base[::2, 1:]
    address = id(view)
    _check(_word(address + OB_TYPE) == id(np.ndarray), "ob_type offset")
    _check(_word(address + ARRAY_DATA) == view.ctypes.data, "ndarray data offset")
    _check(_int32(address + ARRAY_NDIM) == 2, "ndarray nd offset")
    dims, strides = _word(address + ARRAY_DIMS), _word(address + ARRAY_STRIDES)
    _check([_word(dims + 8 * d) for d in range(2)] == list(view.shape), "dimensions offset")
    _check([_word(strides + 8 * d) for d in range(2)] == list(view.strides), "strides offset")
    _check(_word(address + ARRAY_BASE) == id(base), "base offset")
    _check(_word(address + ARRAY_DESCR) == id(view.dtype), "descr offset")
    flags = _int32(id(base) + ARRAY_FLAGS)
    _check(bool(flags & NPY_C_CONTIGUOUS) and bool(flags & NPY_ALIGNED) and
           bool(flags & NPY_WRITEABLE), "flags offset")
    _check(not _int32(address + ARRAY_FLAGS) & NPY_C_CONTIGUOUS, "flags of a view")
    for name in ("bool", "int8", "int64", "uint32", "float16", "float32", "float64"):
        dtype = np.dtype(name)
        _check(_int32(id(dtype) + DESCR_TYPE_NUM) == dtype.num, f"type_num of {name}")
        order = ctypes.c_char.from_address(id(dtype) + DESCR_BYTEORDER).value
        _check(order in (b"=", b"|"), f"byteorder of {name}")


def slot_offset(cls: type, attribute: str) -> int:
    """Byte offset of the ``__slots__`` member ``attribute`` in instances of ``cls``, found by
    looking for a known object's address (the member descriptor does not expose it)."""
    probe = object.__new__(cls)
    marker = object()
    setattr(probe, attribute, marker)
    for offset in range(16, cls.__basicsize__, 8):
        if _word(id(probe) + offset) == id(marker):
            return offset
    raise LayoutError(f"no slot {attribute!r} in {cls.__name__}")


def _numpy_api_table() -> int:
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    capsule = umath._ARRAY_API
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    table = get_pointer(capsule, get_name(capsule))
    _check(bool(table), "NumPy C-API capsule")
    _check(_word(table + 8 * _NUMPY_API["PyArray_Type"]) == id(np.ndarray), "NumPy API table")
    return int(table)


def _address(library: Any, name: str) -> int:
    return int(ctypes.cast(getattr(library, name), ctypes.c_void_p).value or 0)


class Api:
    """The table ``@sg_api``: one pointer per entry of ``API_NAMES``."""

    def __init__(self) -> None:
        _check_platform()
        _check_array_layout()
        numpy_table = _numpy_api_table()
        libc = ctypes.CDLL(None)
        addresses = []
        for name in API_NAMES:
            if name in _NUMPY_API:
                addresses.append(_word(numpy_table + 8 * _NUMPY_API[name]))
            elif name in PYTHON_FUNCTIONS:
                addresses.append(_address(ctypes.pythonapi, name))
            else:
                addresses.append(_address(libc, name))
        _check(all(addresses), "a C function of the table is missing")
        self.table = (ctypes.c_void_p * len(addresses))(*addresses)
        self.address = ctypes.addressof(self.table)
        self.none = id(None)

    def register(self, add_symbol: Any) -> None:
        add_symbol("sg_api", self.address)


_API: list[Api | LayoutError] = []
_API_LOCK = threading.Lock()


def api() -> Api | LayoutError:
    """The checked table, or the ``LayoutError`` that rules native entry points out.

    One table per process: code linked against ``sg_api`` keeps reading it, so two threads
    asking first (a tiered function's background build, a kept entry point loaded on the
    caller's thread) must not each make one, the loser's then freed under linked code."""
    with _API_LOCK:
        if not _API:
            try:
                _API.append(Api())
            except LayoutError as err:
                _API.append(err)
            except (ImportError, AttributeError, OSError, ValueError) as err:
                _API.append(LayoutError(str(err)))
        return _API[0]


_NEW_FUNCTION = ctypes.pythonapi.PyCFunction_NewEx
_NEW_FUNCTION.restype = ctypes.py_object
_NEW_FUNCTION.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]


class FastcallFunction:
    """A ``builtin_function`` calling the METH_FASTCALL C function at ``address`` with
    ``self_object`` as its first argument; keeps the method definition alive."""

    def __init__(self, name: str, address: int, self_object: Any) -> None:
        self._name = name.encode()
        self._definition = PyMethodDef(self._name, address, METH_FASTCALL, None)
        self._self = self_object
        self.function = _NEW_FUNCTION(ctypes.addressof(self._definition), self_object, None)
