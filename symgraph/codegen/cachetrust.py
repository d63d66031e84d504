"""What lets the compile cache trust the disk: a per-user secret that authenticates entries, and
a cache directory that only this user can write. Refusals warn once and are remembered.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import warnings
from pathlib import Path

SECRET_BYTES = 32
# Nobody else may write a cache directory; nobody else may even read the secret.
DIRECTORY_FORBIDDEN_MODE = stat.S_IWGRP | stat.S_IWOTH
SECRET_FORBIDDEN_MODE = stat.S_IRWXG | stat.S_IRWXO


class CacheWarning(UserWarning):
    """The compile cache is not used as configured: a directory or secret was refused, or a
    build lock was waited for."""


class _Refused(Exception):
    """A file or directory the cache may not trust; the message says why."""


def secret_path() -> Path:
    """``$XDG_CONFIG_HOME/symgraph/cache-secret`` (``~/.config`` when the variable is unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "symgraph" / "cache-secret"


_LOCK = threading.Lock()
_SECRETS: dict[Path, bytes | None] = {}
_DIRECTORIES: dict[Path, str | None] = {}


def secret() -> bytes | None:
    """The key that authenticates cache entries, or None when the secret file was refused.

    The file is made on first use (``SECRET_BYTES`` random bytes, mode 0600). One that is not a
    regular file of this user, or that others may read or write, is refused with a
    ``CacheWarning``: the process then keeps compiled code in memory, trusting nothing on disk.
    """
    path = secret_path()
    with _LOCK:
        if path not in _SECRETS:
            _SECRETS[path] = _load_or_create_secret(path)
        return _SECRETS[path]


def _load_or_create_secret(path: Path) -> bytes | None:
    try:
        try:
            return _read_secret(path)
        except FileNotFoundError:
            return _create_secret(path)
    except _Refused as refusal:
        problem = str(refusal)
    except OSError as err:
        problem = f"cannot be created ({err.strerror or err})"
    warnings.warn(f"symgraph: the compile-cache secret {path} {problem}; nothing is read from or "
                  "written to the disk cache in this process (remove the file to have a new one "
                  "made)", CacheWarning, stacklevel=4)
    return None


def _read_secret(path: Path) -> bytes:
    """The secret in ``path``; FileNotFoundError when there is none, _Refused when it is unsafe."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as err:  # ELOOP: a symbolic link, which anyone could have pointed anywhere
        raise _Refused(f"cannot be opened safely ({err.strerror or err})") from err
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("is not a regular file")
        problem = ownership_problem(info, SECRET_FORBIDDEN_MODE)
        if problem is not None:
            raise _Refused(problem)
        data = handle.read(SECRET_BYTES + 1)
    if len(data) != SECRET_BYTES:
        raise _Refused(f"holds {len(data)} bytes instead of {SECRET_BYTES}")
    return data


def _create_secret(path: Path) -> bytes:
    """Make the secret: written whole to a private temporary file, then linked into place, so
    that a process racing this one reads either no file or a complete one, and the first link
    wins."""
    make_private_directories(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".cache-secret-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return _read_secret(path)


def ownership_problem(info: os.stat_result, forbidden_mode: int) -> str | None:
    """Why a file or directory with ``info`` is not private to this user, or None."""
    if info.st_uid != os.geteuid():
        return f"belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()})"
    mode = stat.S_IMODE(info.st_mode)
    if mode & forbidden_mode:
        return f"has mode {mode:04o}, which lets other users in"
    return None


def make_private_directories(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700; raises OSError."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass


def directory_problem(path: Path) -> str | None:
    """Why the cache may not use ``path`` (created with mode 0700 when missing), or None.

    A directory that belongs to another user or that group or others may write is refused
    once per process with a ``CacheWarning``; the answer is remembered.
    """
    with _LOCK:
        if path in _DIRECTORIES:
            return _DIRECTORIES[path]
        problem = _check_directory(path)
        _DIRECTORIES[path] = problem
    if problem is not None:
        warnings.warn(f"symgraph: not using the compile-cache directory {path}: it {problem}; "
                      "compiled code is kept in memory in this process (set SYMGRAPH_CACHE_DIR or "
                      "config.compiledir to a directory of your own, mode 0700)", CacheWarning,
                      stacklevel=4)
    return problem


def peek_directory_problem(path: Path, missing_ok: bool = True) -> str | None:
    """``directory_problem`` without creating ``path``, warning, or remembering the answer (for
    ``python -m symgraph.cache info``)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None if missing_ok else "does not exist"
    except OSError as err:
        return f"cannot be examined ({err.strerror or err})"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    return ownership_problem(info, DIRECTORY_FORBIDDEN_MODE)


def _check_directory(path: Path) -> str | None:
    try:
        make_private_directories(path)
    except OSError as err:
        return f"cannot be created ({err.strerror or err})"
    return peek_directory_problem(path, missing_ok=False)
