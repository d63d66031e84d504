"""Build locks of compile-cache entries that cannot wedge a compile: the wait is bounded, a lock
whose holder died or that is older than ``STALE_AFTER`` is broken, and a long wait says whom
it waits for.

The lock itself is a ``filelock.FileLock`` (``flock``), which the kernel frees when its holder
dies; but a hung holder, or a child that inherited the descriptor of a holder that exited,
keeps it. So the holder also records its pid, host and start time beside the lock file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import filelock

from symgraph.codegen.cachetrust import CacheWarning

NOTICE_AFTER = 3.0  # seconds of waiting before saying so
STALE_AFTER = 600.0  # seconds after which a lock is broken even if its holder still runs
POLL = 0.2  # seconds between looks at the holder and at the entry

_ABANDONED: set[tuple[str, int]] = set()  # (host, pid) of holders a wait gave up on
_ABANDONED_LOCK = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """Who holds a build lock: process ``pid`` on ``host`` since ``since`` (seconds since the
    epoch)."""

    pid: int
    host: str
    since: float

    @classmethod
    def this_process(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), time.time())

    def is_dead(self) -> bool:
        """True only when the holder is on this host and no process has its pid."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # EPERM: it exists under another user
            return False
        return False

    def age(self) -> float:
        return time.time() - self.since

    def __str__(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host} since {started}"


def holder_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder")


def read_holder(lock_path: Path) -> Holder | None:
    """The holder recorded beside ``lock_path``; None when there is no readable record."""
    try:
        record = json.loads(holder_path(lock_path).read_text())
        return Holder(int(record["pid"]), str(record["host"]), float(record["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_holder(lock_path: Path, holder: Holder) -> None:
    """Record ``holder`` beside ``lock_path`` (atomically, through a rename)."""
    record = holder_path(lock_path)
    temporary = record.with_name(f"{record.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(asdict(holder)))
    os.replace(temporary, record)


def acquire(lock_path: Path, entry: str, is_ready: Callable[[], bool],
            wait: float) -> filelock.BaseFileLock | None:
    """The build lock of cache entry ``entry``, held, or None when the wait ended without it:
    ``is_ready()`` turned true (another process stored the entry), or ``wait`` seconds passed,
    or the holder is one a wait already gave up on. Raises OSError when the lock file cannot be
    made.

    A lock whose recorded holder is dead or older than ``STALE_AFTER`` is broken at once.
    Waiting longer than ``NOTICE_AFTER`` seconds, and giving up, warn with a ``CacheWarning``
    that names the entry and the holder.
    """
    lock = filelock.FileLock(str(lock_path), mode=0o600)
    start = time.monotonic()
    broken: set[Holder] = set()
    noticed = False
    while True:
        try:
            lock.acquire(timeout=POLL if wait > 0 else 0, poll_interval=POLL / 4)
        except filelock.Timeout:
            pass
        else:
            with contextlib.suppress(OSError):
                write_holder(lock_path, Holder.this_process())
            return lock
        if is_ready():
            return None
        holder = read_holder(lock_path)
        if holder is not None and holder not in broken and (
                holder.is_dead() or holder.age() > STALE_AFTER):
            broken.add(holder)
            _break(lock_path)
            continue
        waited = time.monotonic() - start
        abandoned = _is_abandoned(holder)
        if waited >= wait or abandoned:
            _abandon(holder)
            again = ", which an earlier wait gave up on" if abandoned else ""
            warnings.warn(f"symgraph: gave up after {waited:.1f} s waiting for the build lock "
                          f"of compile-cache entry {entry}, held by {_describe(holder)}{again}; "
                          "compiling it here without the lock", CacheWarning, stacklevel=4)
            return None
        if not noticed and waited >= min(NOTICE_AFTER, wait / 2):
            noticed = True
            warnings.warn(f"symgraph: waiting for the build lock of compile-cache entry "
                          f"{entry}, held by {_describe(holder)} (at most {wait:.0f} s, "
                          "config.cache_lock_wait)", CacheWarning, stacklevel=4)


def release(lock_path: Path, lock: filelock.BaseFileLock) -> None:
    """Give back a lock from ``acquire``, with its holder record if that is still this one."""
    try:
        holder = read_holder(lock_path)
        if holder is not None and (holder.pid, holder.host) == (os.getpid(),
                                                                socket.gethostname()):
            with contextlib.suppress(OSError):
                holder_path(lock_path).unlink()
    finally:
        with contextlib.suppress(OSError):
            lock.release()


def _break(lock_path: Path) -> None:
    # A new lock file (a new inode) is free, whoever still holds the old one. Two builders of
    # one entry cost time only: entries are written by an atomic rename.
    for path in (holder_path(lock_path), lock_path):
        with contextlib.suppress(OSError):
            path.unlink()


def _describe(holder: Holder | None) -> str:
    return str(holder) if holder is not None else "a process that left no record"


def _is_abandoned(holder: Holder | None) -> bool:
    with _ABANDONED_LOCK:
        return holder is not None and (holder.host, holder.pid) in _ABANDONED


def _abandon(holder: Holder | None) -> None:
    if holder is not None:
        with _ABANDONED_LOCK:
            _ABANDONED.add((holder.host, holder.pid))
