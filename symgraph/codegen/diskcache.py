"""The on-disk compile cache behind the LLVM object cache and the CUDA cubin cache: entries that
name their key and are authenticated, kept in a directory private to the user.

An entry is ``magic + key + "\\n" + HMAC-SHA256(secret, magic + key + "\\n" + payload) +
payload``, with the per-user secret of ``cachetrust.secret``. An entry that is damaged, stored
under another key, or written by anyone without the secret is treated as absent: rebuilt and
overwritten. Writes are atomic (rename) and builds run under a bounded per-entry lock
(``cachelock``), so concurrent processes build each entry once and none waits for ever. Where
the directory or the secret is refused, entries live in this process's memory instead.
Imports neither llvmlite nor cuda-bindings.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from symgraph.codegen import cachetrust
from symgraph.codegen.cachetrust import CacheWarning
from symgraph.config import config

MAC_BYTES = hashlib.sha256().digest_size
MEMORY_ENTRIES = 512  # entries kept per process when the disk is not trusted


def root() -> Path:
    """The cache directory, ``config.compiledir``."""
    return Path(config.compiledir)


def _header(magic: bytes, key: str) -> bytes:
    data = key.encode("ascii")
    if b"\n" in data:
        raise ValueError(f"a cache key is one line, got {key!r}")
    return magic + data + b"\n"


def _mac(secret: bytes, header: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, header + payload, hashlib.sha256).digest()


def encode(magic: bytes, key: str, payload: bytes, secret: bytes) -> bytes:
    """The bytes of the entry holding ``payload`` under ``key``."""
    header = _header(magic, key)
    return header + _mac(secret, header, payload) + payload


def entry_problem(raw: bytes, magic: bytes, key: str, secret: bytes) -> str | None:
    """Why ``raw`` is not a valid entry for ``key`` (None when it is)."""
    header = _header(magic, key)
    if not raw.startswith(magic):
        return "not an entry of this format"
    if not raw.startswith(header):
        return "stored under another key"
    mac = raw[len(header):len(header) + MAC_BYTES]
    payload = raw[len(header) + MAC_BYTES:]
    if len(mac) < MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, header, payload)):
        return "not authenticated (damaged, or written without this user's secret)"
    return None


def decode(raw: bytes, magic: bytes, key: str, secret: bytes) -> bytes | None:
    """The payload of entry ``raw`` for ``key``, or None when it is not a valid one."""
    if entry_problem(raw, magic, key, secret) is not None:
        return None
    return raw[len(_header(magic, key)) + MAC_BYTES:]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; raises OSError."""
    cachetrust.make_private_directories(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


_MEMORY: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()
_MEMORY_LOCK = threading.Lock()


@dataclass(frozen=True)
class DiskCache:
    """The entries of one backend under ``root()/subdir``, each ``<key[:2]>/<key><suffix>``.

    ``magic`` names the format and the backend; ``suffixes`` are those its entries use.
    """

    subdir: str
    magic: bytes
    suffixes: tuple[str, ...]

    def directory(self) -> Path:
        return root() / self.subdir

    def path(self, key: str, suffix: str) -> Path:
        return self.directory() / key[:2] / f"{key}{suffix}"

    def secret(self) -> bytes | None:
        """The secret entries are read and written with, or None when the disk may not be used
        (a refused directory or secret): entries are then kept in memory."""
        for folder in (root(), self.directory()):
            if cachetrust.directory_problem(folder) is not None:
                return None
        return cachetrust.secret()

    def is_on_disk(self) -> bool:
        """Whether entries go to the disk (else to this process's memory)."""
        return self.secret() is not None

    def load(self, key: str, suffix: str, valid: Callable[[bytes], bool]) -> bytes | None:
        """The payload stored under ``key``, or None if absent, not valid or not ``valid``."""
        path = self.path(key, suffix)
        secret = self.secret()
        if secret is None:
            return self._recall(key + suffix, valid)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        data = decode(raw, self.magic, key, secret)
        return data if data is not None and valid(data) else None

    def store(self, key: str, suffix: str, data: bytes) -> None:
        """Write atomically (rename), so readers never see a partial entry; errors are ignored:
        the cache is an optimisation."""
        path = self.path(key, suffix)
        secret = self.secret()
        if secret is None:
            self._remember(key + suffix, data)
            return
        with contextlib.suppress(OSError):
            write_atomic(path, encode(self.magic, key, data, secret))

    def get_or_build(self, key: str, build: Callable[[], bytes], suffix: str,
                     valid: Callable[[bytes], bool]) -> tuple[bytes, bool]:
        """``(payload, reused)``: the entry stored under ``key``, else ``build()``'s result,
        stored. Builds under the entry's lock, so that processes wanting the same entry at once
        build it once; a lock not had within ``config.cache_lock_wait`` seconds is done
        without."""
        data = self.load(key, suffix, valid)
        if data is not None:
            return data, True
        path = self.path(key, suffix)
        lock_path = path.with_name(path.name + ".lock")
        lock = None
        if self.is_on_disk():
            try:
                cachetrust.make_private_directories(path.parent)
                # Imported here: filelock (with logging, socket, ...) costs ~25 ms at import,
                # and only a build that takes a lock needs it.
                from symgraph.codegen import cachelock

                lock = cachelock.acquire(lock_path, str(path),
                                         lambda: self.load(key, suffix, valid) is not None,
                                         float(config.cache_lock_wait))
            except (OSError, RuntimeError):  # no lock file, or filelock refuses (after a fork)
                lock = None
        try:
            data = self.load(key, suffix, valid)
            if data is not None:
                return data, True
            data = build()
            self.store(key, suffix, data)
            return data, False
        finally:
            if lock is not None:
                from symgraph.codegen import cachelock

                cachelock.release(lock_path, lock)

    def entries(self) -> list[Path]:
        """The entry files on disk (whether or not they are valid)."""
        folder = self.directory()
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*/*") if self._is_entry(p))

    def _is_entry(self, path: Path) -> bool:
        return path.suffix in self.suffixes and path.name.startswith(path.parent.name)

    def count_valid(self, files: list[Path]) -> int:
        """How many of ``files`` (from ``entries``) this process would use."""
        secret = cachetrust.secret()
        if secret is None:
            return 0
        valid = 0
        for path in files:
            try:
                raw = path.read_bytes()
            except OSError:
                continue
            valid += entry_problem(raw, self.magic, path.stem, secret) is None
        return valid

    def clear(self) -> int:
        """Delete every entry, lock and temporary file; the number of entries removed."""
        folder = self.directory()
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.glob("*/*"):
            if path.is_file() or path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += self._is_entry(path)
        for sub in folder.glob("*"):
            with contextlib.suppress(OSError):
                sub.rmdir()
        return removed

    def _recall(self, name: str, valid: Callable[[bytes], bool]) -> bytes | None:
        with _MEMORY_LOCK:
            data = _MEMORY.get((self.magic, name))
            if data is None or not valid(data):
                return None
            _MEMORY.move_to_end((self.magic, name))
            return data

    def _remember(self, name: str, data: bytes) -> None:
        with _MEMORY_LOCK:
            _MEMORY[(self.magic, name)] = data
            _MEMORY.move_to_end((self.magic, name))
            while len(_MEMORY) > MEMORY_ENTRIES:
                _MEMORY.popitem(last=False)


__all__ = ["CacheWarning", "DiskCache", "decode", "encode", "entry_problem", "root",
           "write_atomic"]
