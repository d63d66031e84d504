"""The compile cache under damage: swapped, forged and corrupt entries, directories and secrets
other users could write, and build locks held by hung or dead processes. (The LLVM and CUDA
caches run the same checks end to end in test_llvm_cache.py and test_cuda_compile.py.)"""

from __future__ import annotations

import hashlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest

import symgraph as sg
from symgraph.codegen import cachetrust, diskcache
from symgraph.codegen.cachetrust import CacheWarning

ROOT = Path(__file__).resolve().parents[2]
MAGIC = b"SGTEST1\n"
CACHE = diskcache.DiskCache("test", MAGIC, (".bin",))
KEY_A = hashlib.sha256(b"a").hexdigest()
KEY_B = hashlib.sha256(b"b").hexdigest()
ANOTHER_UID = 65534  # nobody


def _accept(data: bytes) -> bool:
    return True


class Builder:
    """``build`` functions that count their calls."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, payload: bytes):
        def build() -> bytes:
            self.calls.append(payload)
            return payload
        return build


@pytest.fixture
def private(tmp_path, monkeypatch):
    """A fresh secret (``tmp_path/config``) and cache directory (``tmp_path/cache``)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(diskcache, "_MEMORY", OrderedDict())
    with sg.config.change_flags(compiledir=str(tmp_path / "cache")):
        yield tmp_path / "cache"


def _entry(key: str) -> Path:
    return CACHE.path(key, ".bin")


# -- the entry format ---------------------------------------------------------------------------
def test_an_entry_names_its_key_and_is_authenticated():
    secret, other = os.urandom(32), os.urandom(32)
    raw = diskcache.encode(MAGIC, KEY_A, b"payload", secret)
    assert diskcache.decode(raw, MAGIC, KEY_A, secret) == b"payload"
    assert diskcache.entry_problem(raw, MAGIC, KEY_B, secret) == "stored under another key"
    assert "not authenticated" in diskcache.entry_problem(raw, MAGIC, KEY_A, other)
    flipped = raw[:-1] + bytes([raw[-1] ^ 1])
    assert "not authenticated" in diskcache.entry_problem(flipped, MAGIC, KEY_A, secret)
    assert "not authenticated" in diskcache.entry_problem(raw[:-3], MAGIC, KEY_A, secret)
    legacy = b"SGTEST0\n" + hashlib.sha256(b"payload").digest() + b"payload"
    assert diskcache.entry_problem(legacy, MAGIC, KEY_A, secret) == "not an entry of this format"


def test_entries_are_reused_and_private(private):
    build = Builder()
    assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", False)
    assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", True)
    assert build.calls == [b"a"]
    for path in (private, _entry(KEY_A).parent, _entry(KEY_A)):
        assert path.stat().st_mode & 0o077 == 0, path


def test_swapped_entries_are_rebuilt(private):
    build = Builder()
    CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept)
    CACHE.get_or_build(KEY_B, build(b"b"), ".bin", _accept)
    raw_a, raw_b = _entry(KEY_A).read_bytes(), _entry(KEY_B).read_bytes()
    _entry(KEY_A).write_bytes(raw_b)
    _entry(KEY_B).write_bytes(raw_a)
    assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", False)
    assert CACHE.get_or_build(KEY_B, build(b"b"), ".bin", _accept) == (b"b", False)
    assert (_entry(KEY_A).read_bytes(), _entry(KEY_B).read_bytes()) == (raw_a, raw_b)


@pytest.mark.parametrize("forgery", ["checksum", "other secret", "truncated"])
def test_forged_or_damaged_entries_are_rebuilt(private, forgery):
    build = Builder()
    CACHE.get_or_build(KEY_A, build(b"good"), ".bin", _accept)
    good = _entry(KEY_A).read_bytes()
    header = MAGIC + KEY_A.encode() + b"\n"
    forged = {"checksum": header + hashlib.sha256(b"evil").digest() + b"evil",
              "other secret": diskcache.encode(MAGIC, KEY_A, b"evil", os.urandom(32)),
              "truncated": good[:-2]}[forgery]
    _entry(KEY_A).write_bytes(forged)
    assert CACHE.load(KEY_A, ".bin", _accept) is None
    assert CACHE.get_or_build(KEY_A, build(b"good"), ".bin", _accept) == (b"good", False)
    assert _entry(KEY_A).read_bytes() == good


def test_a_payload_the_backend_rejects_is_rebuilt(private):
    build = Builder()
    CACHE.get_or_build(KEY_A, build(b"old"), ".bin", _accept)
    is_new = lambda data: data == b"new"  # noqa: E731
    assert CACHE.get_or_build(KEY_A, build(b"new"), ".bin", is_new) == (b"new", False)
    assert CACHE.load(KEY_A, ".bin", is_new) == b"new"


# -- the directory ------------------------------------------------------------------------------
def _refused(directory: Path, match: str) -> None:
    """Compiling with ``directory`` as the cache warns (``match``), keeps entries in memory and
    touches nothing on disk."""
    before = sorted(directory.rglob("*"))
    build = Builder()
    with sg.config.change_flags(compiledir=str(directory)):
        with pytest.warns(CacheWarning, match=match):
            assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", False)
        assert not CACHE.is_on_disk()
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)  # the warning came once
            assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", True)
    assert build.calls == [b"a"]
    assert sorted(directory.rglob("*")) == before


def test_a_directory_others_may_write_is_refused(private):
    shared = private.parent / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    _refused(shared, "mode 0777")


@pytest.mark.skipif(os.geteuid() != 0, reason="making a directory of another user needs root")
def test_a_directory_of_another_user_is_refused(private):
    foreign = private.parent / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, ANOTHER_UID, ANOTHER_UID)
    _refused(foreign, f"belongs to uid {ANOTHER_UID}")


def test_a_new_directory_is_made_private(private):
    deep = private.parent / "new" / "cache"
    with sg.config.change_flags(compiledir=str(deep)):
        CACHE.store(KEY_A, ".bin", b"a")
    assert CACHE.is_on_disk()
    assert deep.stat().st_mode & 0o777 == 0o700


# -- the secret ---------------------------------------------------------------------------------
def test_the_secret_is_made_once_and_private(private):
    secret = cachetrust.secret()
    path = cachetrust.secret_path()
    assert path == private.parent / "config" / "symgraph" / "cache-secret"
    assert path.read_bytes() == secret and len(secret) == cachetrust.SECRET_BYTES
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_racing_processes_make_one_secret(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    code = ("from symgraph.codegen import cachetrust; import sys; "
            "sys.stdout.write(cachetrust.secret().hex())")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [proc.communicate(timeout=300) for proc in procs]
    secrets = {out for out, _ in results}
    assert len(secrets) == 1 and len(secrets.pop()) == 2 * cachetrust.SECRET_BYTES, results
    assert [p.name for p in (tmp_path / "symgraph").iterdir()] == ["cache-secret"]


def _spoil(path: Path, how: str) -> str:
    """Make the secret file at ``path`` unsafe in way ``how``; the warning to expect."""
    path.parent.mkdir(parents=True, mode=0o700)
    if how == "symlink":
        target = path.parent / "elsewhere"
        target.write_bytes(os.urandom(32))
        target.chmod(0o600)
        path.symlink_to(target)
        return "cannot be opened safely"
    path.write_bytes(os.urandom(32))
    if how == "readable":
        path.chmod(0o644)
        return "mode 0644"
    path.chmod(0o600)
    os.chown(path, ANOTHER_UID, ANOTHER_UID)
    return f"belongs to uid {ANOTHER_UID}"


@pytest.mark.parametrize("how", ["readable", "symlink",
                                 pytest.param("foreign", marks=pytest.mark.skipif(
                                     os.geteuid() != 0, reason="chown needs root"))])
def test_an_unsafe_secret_is_refused(private, how):
    match = _spoil(cachetrust.secret_path(), how)
    build = Builder()
    with pytest.warns(CacheWarning, match=match):
        assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", False)
    assert cachetrust.secret() is None and not CACHE.is_on_disk()
    assert CACHE.get_or_build(KEY_A, build(b"a"), ".bin", _accept) == (b"a", True)
    assert build.calls == [b"a"] and not _entry(KEY_A).exists()


# -- build locks --------------------------------------------------------------------------------
HOLD = """
import fcntl, os, socket, sys, time
from pathlib import Path
from symgraph.codegen import cachelock
mode, locks = sys.argv[1], [Path(p) for p in sys.argv[2:]]
since = time.time() - (2 * cachelock.STALE_AFTER if mode == "old" else 0)
for lock in locks:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    cachelock.write_holder(lock, cachelock.Holder(os.getpid(), socket.gethostname(), since))
if mode == "fork":  # the child inherits the descriptors, and with them the locks
    child = os.fork()
    if child:
        print(child, flush=True)
        os._exit(0)
else:
    print(os.getpid(), flush=True)
if mode == "store":
    time.sleep(1)
    from tests.codegen.test_diskcache import CACHE
    for lock in locks:
        CACHE.store(lock.name.split(".")[0], ".bin", b"theirs")
time.sleep(120)
"""


class Holding:
    """A process that holds the build locks of the entries at ``paths`` and sleeps. ``mode``:
    "hung"; "old", its record is older than STALE_AFTER; "fork", it exits, leaving the locks to
    a child; "store", it stores the entries after a second."""

    def __init__(self, mode: str, paths: list[Path]) -> None:
        self.locks = [p.with_name(p.name + ".lock") for p in paths]
        for lock in self.locks:
            lock.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, mode, *map(str, self.locks)],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.pid = int(self.proc.stdout.readline())
        if mode == "fork":
            self.proc.wait(timeout=60)  # the recorded holder is gone; its lock is not
        for lock in self.locks:
            with open(lock, "rb") as handle, pytest.raises(BlockingIOError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def __enter__(self) -> Holding:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        else:
            os.kill(self.pid, signal.SIGKILL)


def _timed_build(key: str, wait: float) -> tuple[float, bytes, list[str]]:
    """Seconds taken by ``get_or_build(key)`` with ``cache_lock_wait=wait``, what it returned,
    and its CacheWarning messages."""
    with sg.config.change_flags(cache_lock_wait=wait), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheWarning)
        start = time.monotonic()
        data, _ = CACHE.get_or_build(key, lambda: b"mine", ".bin", _accept)
        elapsed = time.monotonic() - start
    return elapsed, data, [str(w.message) for w in caught if w.category is CacheWarning]


def test_a_hung_holder_delays_a_build_by_the_bound_only(private):
    CACHE.is_on_disk()  # make the directory and the secret
    wait = 1.5
    with Holding("hung", [_entry(KEY_A), _entry(KEY_B)]) as holder:
        elapsed, data, messages = _timed_build(KEY_A, wait)
        assert wait <= elapsed < wait + 2 and data == b"mine", messages
        waiting, gave_up = messages
        for message in messages:
            assert str(_entry(KEY_A)) in message and f"pid {holder.pid} " in message
        assert "waiting for the build lock" in waiting and "gave up" in gave_up
        # A holder that a wait gave up on is not waited for again.
        elapsed, data, messages = _timed_build(KEY_B, wait)
        assert elapsed < 1 and len(messages) == 1 and "gave up" in messages[0]
    assert CACHE.load(KEY_A, ".bin", _accept) == b"mine"


@pytest.mark.parametrize("mode", ["fork", "old"])
def test_a_lock_of_a_dead_holder_or_too_old_is_broken_at_once(private, mode):
    CACHE.is_on_disk()
    with Holding(mode, [_entry(KEY_A)]):
        elapsed, data, messages = _timed_build(KEY_A, 30)
    assert elapsed < 1.5 and data == b"mine" and not messages


def test_a_waiter_takes_the_entry_its_holder_stores(private, monkeypatch):
    CACHE.is_on_disk()
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(private))
    with Holding("store", [_entry(KEY_A)]):
        elapsed, data, messages = _timed_build(KEY_A, 30)
    assert data == b"theirs" and elapsed < 5 and not messages
