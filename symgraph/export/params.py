"""The parameter files of exported libraries, from Python: ``write_params`` makes the file
``sg.export`` ships (the shared variables' current values), ``read_params`` reads one back,
for instance after a C program trained and saved its parameters.

Format (host byte order): ``b"SGPARAM1"``, uint32 count, then per parameter uint32 name length,
the UTF-8 name, int32 dtype code (``DTYPES``), int32 ndim, int64 shape[ndim] and the
C-ordered data.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

# Element types, numbered as the header's ``enum sg_dtype``.
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
MAGIC = b"SGPARAM1"


def write_params(path: str, values: Mapping[str, np.ndarray]) -> None:
    """Write ``values`` (name -> array) as a parameter file."""
    with open(path, "wb") as file:
        file.write(MAGIC + struct.pack("=I", len(values)))
        for name, value in values.items():
            array = np.array(value, order="C", copy=True)
            encoded = name.encode()
            file.write(struct.pack("=I", len(encoded)) + encoded)
            file.write(struct.pack("=ii", DTYPES.index(array.dtype.name), array.ndim))
            file.write(struct.pack(f"={array.ndim}q", *array.shape))
            file.write(array.tobytes())


def read_params(path: str) -> dict[str, np.ndarray]:
    """The parameters in a file ``write_params`` or a library's ``*_params_save`` wrote.

    Raises
    ------
    ValueError
        When the file is not a parameter file, or is truncated.
    """
    with open(path, "rb") as file:
        data = file.read()
    if data[:8] != MAGIC:
        raise ValueError(f"{path} is not a symgraph parameter file")
    (count,), at = struct.unpack_from("=I", data, 8), 12
    values = {}
    try:
        for _ in range(count):
            (length,) = struct.unpack_from("=I", data, at)
            name = data[at + 4:at + 4 + length].decode()
            at += 4 + length
            code, ndim = struct.unpack_from("=ii", data, at)
            shape = struct.unpack_from(f"={ndim}q", data, at + 8)
            at += 8 + 8 * ndim
            dtype = np.dtype(DTYPES[code])
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if at + nbytes > len(data):
                raise ValueError("truncated")
            values[name] = np.frombuffer(data, dtype, nbytes // dtype.itemsize,
                                         at).reshape(shape).copy()
            at += nbytes
    except (struct.error, IndexError, ValueError) as err:
        raise ValueError(f"{path} is truncated or damaged ({err})") from None
    return values
