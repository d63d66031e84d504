"""dtype names and promotion rules (NumPy 2 semantics, NEP 50 weak Python scalars).

float16 is a storage type: arithmetic on it is done in float32 and stored back as float16.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BOOL_DTYPES = ("bool",)
INT_DTYPES = ("int8", "int16", "int32", "int64")
UINT_DTYPES = ("uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64")
ALL_DTYPES = BOOL_DTYPES + INT_DTYPES + UINT_DTYPES + FLOAT_DTYPES
INTEGER_DTYPES = INT_DTYPES + UINT_DTYPES
DISCRETE_DTYPES = BOOL_DTYPES + INTEGER_DTYPES

_SHORT_NAMES = {
    "b": "int8", "w": "int16", "i": "int32", "l": "int64",
    "f": "float32", "d": "float64", "h": "float16",
}


def canonical(dtype: Any) -> str:
    """Return the canonical name of ``dtype`` (``'float32'``, ``'int64'``, ...).

    Raises
    ------
    TypeError
        If ``dtype`` is not one symgraph supports (complex, object, strings, ...).
    """
    if isinstance(dtype, str):
        name = _CANONICAL.get(dtype)
        if name is not None:
            return name
        if dtype == "floatX":
            return _floatx()
    try:
        return _RESOLVED[dtype]
    except (KeyError, TypeError):  # not seen yet, or unhashable
        pass
    try:
        name = np.dtype(dtype).name
    except TypeError as err:
        raise TypeError(f"unknown dtype {dtype!r}") from err
    if name not in ALL_DTYPES:
        raise TypeError(f"dtype {name!r} is not supported; symgraph supports {ALL_DTYPES}")
    try:
        _RESOLVED[dtype] = name
    except TypeError:
        pass
    return name


_CANONICAL = {name: name for name in ALL_DTYPES}
_CANONICAL.update(_SHORT_NAMES)
# Other spellings already resolved (numpy dtype objects, scalar types, 'f4', ...): np.dtype(...)
# .name is slow, and graph building asks for the same few dtypes all the time.
_RESOLVED: dict[Any, str] = {}
# NumPy kind character of each supported dtype ('b', 'i', 'u', 'f').
KIND: dict[str, str] = {name: np.dtype(name).kind for name in ALL_DTYPES}


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_integer(dtype: str) -> bool:
    return dtype in INTEGER_DTYPES


def is_discrete(dtype: str) -> bool:
    """True for bool and integer dtypes: they carry no gradient."""
    return dtype in DISCRETE_DTYPES


def upcast(*dtypes_or_scalars: Any) -> str:
    """Result dtype of combining the arguments, as NumPy 2 promotes them.

    Arguments are dtype names, or Python ``bool``/``int``/``float`` values, which are *weak*
    (NEP 50): ``upcast('float32', 2.0) == 'float32'`` and ``upcast('int8', 3) == 'int8'``.
    """
    # Under NEP 50 only the type of a Python scalar matters, never its value, so results are
    # cached by (dtype, scalar type) keys; all-scalar calls depend on floatX and are not cached.
    # A weak scalar's key is its type in a 1-tuple, so it never collides with a dtype given
    # as a class (``float`` as a dtype is strong float64).
    key = tuple((type(a),) if isinstance(a, (bool, int, float)) else a
                for a in dtypes_or_scalars)
    try:
        return _UPCAST[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable argument: let NumPy judge it
        return _upcast(dtypes_or_scalars)
    result = _upcast(dtypes_or_scalars)
    if not all(isinstance(a, tuple) for a in key):
        _UPCAST[key] = result
    return result


_UPCAST: dict[tuple[Any, ...], str] = {}


def _upcast(dtypes_or_scalars: tuple[Any, ...]) -> str:
    args = [a if isinstance(a, (bool, int, float)) else np.dtype(a) for a in dtypes_or_scalars]
    if all(isinstance(a, (bool, int, float)) for a in args):
        return python_scalar_dtype(args[0]) if len(args) == 1 else canonical(
            np.result_type(*[python_scalar_dtype(a) for a in args])
        )
    return canonical(np.result_type(*args))


def python_scalar_dtype(value: bool | int | float) -> str:
    """dtype a Python scalar takes when it stands alone: bool, int64 or ``config.floatX``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    return _floatx()


def _floatx() -> str:
    global _CONFIG
    if _CONFIG is None:
        from symgraph.config import config  # imported late: config sits above this module

        _CONFIG = config
    return _CONFIG.floatX


_CONFIG: Any = None


def upgrade_to_float(dtype: str) -> str:
    """dtype of a float-valued function of ``dtype`` (Theano's rule).

    Floats are kept; bool, int8, int16, uint8 and uint16 become float32, wider integers float64.
    """
    if dtype in FLOAT_DTYPES:
        return dtype
    if dtype in ("bool", "int8", "int16", "uint8", "uint16"):
        return "float32"
    return "float64"


def compute_dtype(dtype: str) -> str:
    """dtype arithmetic is done in: float16 storage computes in float32."""
    return "float32" if dtype == "float16" else dtype
