"""On-disk cache of compiled object code under ``config.compiledir``/llvm.

An entry is keyed by a hash of the kernel IR, the CPU name and features and the llvmlite
version (see ``Engine.key``). ``diskcache`` checks that an entry was stored under that key by
this user (HMAC) before it is used; here an object must also define the symbols asked for,
so that nothing else ever reaches the JIT. Unusable entries are rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from symgraph.codegen import diskcache

MAGIC = b"SGOBJ2\n"
SUFFIX = ".o"
CACHE = diskcache.DiskCache("llvm", MAGIC, (SUFFIX,))


def directory() -> Path:
    return CACHE.directory()


def looks_like_object(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def defines_symbols(data: bytes, symbols: Sequence[str]) -> bool:
    """Whether ``data`` is an ELF object whose string table names every one of ``symbols``
    (a cheap check: the names are hashes of the code)."""
    return looks_like_object(data) and all(s.encode() + b"\0" in data for s in symbols)


def _validator(symbols: Sequence[str]) -> Callable[[bytes], bool]:
    return lambda data: defines_symbols(data, symbols)


def load(key: str, symbols: Sequence[str] = ()) -> bytes | None:
    """The object code stored under ``key``, or None if absent, damaged, not stored by this
    user under this key, or missing one of ``symbols``."""
    return CACHE.load(key, SUFFIX, _validator(symbols))


def store(key: str, data: bytes) -> None:
    """Write atomically (rename), so readers never see a partial entry; errors are ignored:
    the cache is an optimisation."""
    CACHE.store(key, SUFFIX, data)


def get_or_build(key: str, build: Callable[[], bytes],
                 symbols: Sequence[str] = ()) -> tuple[bytes, bool]:
    """``(object code, reused)``; builds under a bounded file lock so that processes
    compiling the same kernel at once build it once."""
    return CACHE.get_or_build(key, build, SUFFIX, _validator(symbols))


def entries() -> list[Path]:
    return CACHE.entries()


def info() -> dict[str, object]:
    files = entries()
    return {"directory": str(directory()), "entries": len(files),
            "bytes": sum(f.stat().st_size for f in files)}


def clear() -> int:
    """Delete every entry (and stale lock files); returns the number of entries removed."""
    return CACHE.clear()
