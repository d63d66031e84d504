"""On-disk cache of compiled object code under ``config.compiledir``/llvm.

An entry is keyed by a hash of the kernel IR, the CPU name and features and the llvmlite
version (see ``Engine.key``). Entries carry a checksum: a truncated or corrupt one is ignored
and rebuilt. A per-entry file lock makes concurrent processes build each entry once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import filelock

from symgraph.config import config

MAGIC = b"SGOBJ1\n"
LOCK_TIMEOUT = 120.0


def directory() -> Path:
    return Path(config.compiledir) / "llvm"


def _path(key: str) -> Path:
    return directory() / key[:2] / f"{key}.o"


def looks_like_object(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def load(key: str) -> bytes | None:
    """The object code stored under ``key``, or None if absent or damaged."""
    try:
        raw = _path(key).read_bytes()
    except OSError:
        return None
    header = len(MAGIC) + 32
    if not raw.startswith(MAGIC) or len(raw) < header:
        return None
    payload = raw[header:]
    if hashlib.sha256(payload).digest() != raw[len(MAGIC):header]:
        return None
    return payload if looks_like_object(payload) else None


def store(key: str, data: bytes) -> None:
    """Write atomically (rename), so readers never see a partial entry; errors are ignored:
    the cache is an optimisation."""
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + hashlib.sha256(data).digest() + data)
        os.replace(tmp, path)
    except OSError:
        pass


def get_or_build(key: str, build: Callable[[], bytes]) -> tuple[bytes, bool]:
    """``(object code, came_from_disk)``; builds under a file lock so that processes
    compiling the same kernel at once build it once."""
    data = load(key)
    if data is not None:
        return data, True
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT)
        with lock:
            data = load(key)
            if data is not None:
                return data, True
            data = build()
            store(key, data)
            return data, False
    except (OSError, filelock.Timeout):
        return build(), False


def entries() -> list[Path]:
    root = directory()
    return sorted(root.glob("*/*.o")) if root.exists() else []


def info() -> dict[str, object]:
    files = entries()
    return {"directory": str(directory()), "entries": len(files),
            "bytes": sum(f.stat().st_size for f in files)}


def clear() -> int:
    """Delete every entry (and stale lock files); returns the number of entries removed."""
    removed = 0
    root = directory()
    if not root.exists():
        return 0
    for path in root.glob("*/*"):
        try:
            path.unlink()
            removed += path.suffix == ".o"
        except OSError:
            pass
    for sub in root.glob("*"):
        try:
            sub.rmdir()
        except OSError:
            pass
    return removed
