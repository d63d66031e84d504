"""The on-disk compile cache: ``python -m symgraph.cache info`` shows where it is, whether it is
trusted and how big, ``python -m symgraph.cache clear`` empties it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from symgraph import function_cache
from symgraph.codegen import cachetrust, diskcache


def _caches() -> dict[str, diskcache.DiskCache]:
    from symgraph.codegen.cuda import compile as cuda_compile
    from symgraph.codegen.llvm import cache as llvm_cache
    from symgraph.codegen.llvm import entry_cache

    return {"functions": function_cache.CACHE, "entry points": entry_cache.CACHE,
            "llvm": llvm_cache.CACHE, "cuda": cuda_compile.CACHE}


def lookups() -> dict[str, dict[str, int]]:
    """This process's hits and misses: whole functions (rewritten graphs), their native entry
    points (loaded from disk with no code generation, stored, absent, refused) and LLVM code
    (kernels and entry points: compiled, loaded from disk, shared in memory)."""
    found = {"functions": {k: v for k, v in function_cache.info().items()
                           if isinstance(v, int) and k != "entries"}}
    entries = sys.modules.get("symgraph.codegen.llvm.entry_cache")
    if entries is not None:
        found["entry points"] = dataclasses.asdict(entries.STATS)
    jit = sys.modules.get("symgraph.codegen.llvm.jit")
    engine = getattr(jit, "_ENGINE", None)
    if engine is not None:
        stats = engine.stats
        found["llvm code"] = {"compiled": stats.compiled, "from_disk": stats.from_disk,
                              "from_memory": stats.from_memory}
    return found


def problem() -> str | None:
    """Why symgraph would not use the cache directory (None when it would)."""
    folders = [diskcache.root()] + [c.directory() for c in _caches().values()]
    return next(filter(None, map(cachetrust.peek_directory_problem, folders)), None)


def info() -> dict[str, object]:
    """The cache directory, whether it is trusted (``problem`` says why not), the secret's path,
    and the number of entries (``valid``: usable by this user) and their total size."""
    files = {name: cache.entries() for name, cache in _caches().items()}
    why_not = problem()
    has_secret = cachetrust.secret_path().exists()
    valid = sum(_caches()[name].count_valid(found) for name, found in files.items()) \
        if has_secret and why_not is None else 0
    return {"directory": str(diskcache.root()), "trusted": why_not is None,
            "problem": why_not, "secret": str(cachetrust.secret_path()),
            "entries": sum(map(len, files.values())), "valid": valid,
            "by_backend": {name: len(found) for name, found in files.items()},
            "bytes": sum(f.stat().st_size for found in files.values() for f in found),
            "lookups": lookups()}


def clear() -> int:
    """Delete every cached entry; returns how many were removed. A directory symgraph does not
    trust (see ``problem``) is left alone."""
    if problem() is not None:
        return 0
    return sum(cache.clear() for cache in _caches().values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symgraph.cache",
                                     description="Inspect or clear symgraph's compile cache.")
    parser.add_argument("command", choices=["info", "clear"])
    args = parser.parse_args(argv)
    why_not = problem()
    if args.command == "info":
        details = info()
        per_backend = ", ".join(f"{name} {len(cache.entries())}"
                                for name, cache in _caches().items())
        print(f"directory: {details['directory']}")
        print("trusted:   " + ("yes" if why_not is None else
                               f"no: it {why_not} (symgraph keeps compiled code in memory)"))
        print(f"secret:    {details['secret']}")
        print(f"entries:   {details['entries']} ({per_backend}; {details['valid']} valid)")
        print(f"size:      {int(details['bytes']) / 1024:.1f} KiB")  # type: ignore[call-overload]
        for level, counts in lookups().items():
            print(f"{level} (this process): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    elif why_not is not None:
        print(f"not clearing {diskcache.root()}: it {why_not}", file=sys.stderr)
        return 1
    else:
        print(f"removed {clear()} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
