"""The on-disk cache entry format shared by the LLVM object cache and the CUDA cubin cache.

An entry is ``magic + sha256(payload) + payload``: a truncated or corrupt one fails the checksum
and is treated as absent. Writes are atomic (rename), so readers never see a partial entry, and
builds happen under a per-entry file lock, so concurrent processes build each entry once.
Imports neither llvmlite nor cuda-bindings.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import filelock

LOCK_TIMEOUT = 120.0


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def load(path: Path, magic: bytes, valid: Callable[[bytes], bool]) -> bytes | None:
    """The payload stored at ``path``, or None if absent, damaged or not ``valid``."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    header = len(magic) + 32
    if not raw.startswith(magic) or len(raw) < header:
        return None
    payload = raw[header:]
    if hashlib.sha256(payload).digest() != raw[len(magic):header]:
        return None
    return payload if valid(payload) else None


def store(path: Path, magic: bytes, data: bytes) -> None:
    """Write atomically (rename), so readers never see a partial entry; errors are ignored:
    the cache is an optimisation."""
    try:
        write_atomic(path, magic + hashlib.sha256(data).digest() + data)
    except OSError:
        pass


def get_or_build(path: Path, magic: bytes, build: Callable[[], bytes],
                 valid: Callable[[bytes], bool],
                 lock_timeout: float = LOCK_TIMEOUT) -> tuple[bytes, bool]:
    """``(payload, came_from_disk)``; builds under a file lock so that processes building the
    same entry at once build it once."""
    data = load(path, magic, valid)
    if data is not None:
        return data, True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(path) + ".lock", timeout=lock_timeout):
            data = load(path, magic, valid)
            if data is not None:
                return data, True
            data = build()
            store(path, magic, data)
            return data, False
    except (OSError, filelock.Timeout):
        return build(), False
