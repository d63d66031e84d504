"""The on-disk compile cache: ``python -m symgraph.cache info`` shows where it is and how big,
``python -m symgraph.cache clear`` empties it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _llvm_cache() -> Any:
    from symgraph.codegen.llvm import cache

    return cache


def info() -> dict[str, object]:
    """Directory, number of entries and total size of the LLVM object cache."""
    return _llvm_cache().info()


def clear() -> int:
    """Delete every cached object; returns how many were removed."""
    return _llvm_cache().clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symgraph.cache",
                                     description="Inspect or clear symgraph's compile cache.")
    parser.add_argument("command", choices=["info", "clear"])
    args = parser.parse_args(argv)
    if args.command == "info":
        details = info()
        print(f"directory: {details['directory']}")
        print(f"entries:   {details['entries']}")
        print(f"size:      {int(details['bytes']) / 1024:.1f} KiB")  # type: ignore[call-overload]
    else:
        print(f"removed {clear()} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
