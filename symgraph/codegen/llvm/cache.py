"""On-disk cache of compiled object code under ``config.compiledir``/llvm.

An entry is keyed by a hash of the kernel IR, the CPU name and features and the llvmlite
version (see ``Engine.key``). Entries carry a checksum: a truncated or corrupt one is ignored
and rebuilt. A per-entry file lock makes concurrent processes build each entry once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from symgraph.codegen import diskcache
from symgraph.config import config

MAGIC = b"SGOBJ1\n"
LOCK_TIMEOUT = diskcache.LOCK_TIMEOUT


def directory() -> Path:
    return Path(config.compiledir) / "llvm"


def _path(key: str) -> Path:
    return directory() / key[:2] / f"{key}.o"


def looks_like_object(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def load(key: str) -> bytes | None:
    """The object code stored under ``key``, or None if absent or damaged."""
    return diskcache.load(_path(key), MAGIC, looks_like_object)


def store(key: str, data: bytes) -> None:
    """Write atomically (rename), so readers never see a partial entry; errors are ignored:
    the cache is an optimisation."""
    diskcache.store(_path(key), MAGIC, data)


def get_or_build(key: str, build: Callable[[], bytes]) -> tuple[bytes, bool]:
    """``(object code, came_from_disk)``; builds under a file lock so that processes
    compiling the same kernel at once build it once."""
    return diskcache.get_or_build(_path(key), MAGIC, build, looks_like_object, LOCK_TIMEOUT)


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
