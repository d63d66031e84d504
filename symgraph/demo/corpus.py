"""The demo's English corpus: prose paragraphs from the docstrings of standard-library modules.

Every Python installation has them, so the corpus needs no download and no data file; code
examples, tables and argument lists are filtered out, leaving plain sentences.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import numpy as np

# Pure-Python modules with well-written docstrings and no side effects on import.
MODULES = (
    "abc argparse ast asyncio base64 bisect calendar cmd codecs collections configparser "
    "contextlib copy csv dataclasses datetime decimal difflib doctest email enum fileinput "
    "fnmatch fractions ftplib functools getopt gettext glob gzip hashlib heapq hmac html http "
    "imaplib inspect io ipaddress itertools json locale logging mailbox mimetypes numbers "
    "operator optparse os pathlib pdb pickle pkgutil platform plistlib poplib pprint profile "
    "pstats queue quopri random re reprlib sched secrets selectors shelve shlex shutil signal "
    "smtplib socket socketserver statistics string struct subprocess tarfile tempfile textwrap "
    "threading timeit tokenize trace traceback types typing unittest urllib uuid warnings wave "
    "weakref zipfile zipimport"
).split()

# A paragraph of prose: starts with a capital, ends with a full stop, and holds only letters,
# spaces and ordinary punctuation (which rules out code, signatures and tables).
_PROSE = re.compile(r"^[A-Z][A-Za-z ,.;:'()\-]+\.$")
_MIN_PARAGRAPH = 80
MIN_CORPUS = 20_000


def _docstrings(module: ModuleType) -> Iterator[str]:
    """The docstrings of a module, its classes and functions, and the classes' methods."""
    yield inspect.getdoc(module) or ""
    for _, obj in sorted(vars(module).items()):
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            for _, method in sorted(vars(obj).items()):
                if inspect.isfunction(method):
                    yield inspect.getdoc(method) or ""


def prose_paragraphs(modules: tuple[str, ...] | list[str] = tuple(MODULES)) -> list[str]:
    """Distinct prose paragraphs (one line each) from the docstrings of ``modules``."""
    seen: set[str] = set()
    paragraphs = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception:  # a module a minimal Python build lacks (e.g. no _ssl) is skipped
            continue
        with warnings.catch_warnings():  # reading deprecated attributes (typing.io) warns
            warnings.simplefilter("ignore", DeprecationWarning)
            docs = list(_docstrings(module))
        for doc in docs:
            for block in doc.split("\n\n"):
                if any(line[:1].isspace() for line in block.splitlines()):
                    continue  # indented: code or a parameter list
                text = " ".join(block.split())
                if len(text) >= _MIN_PARAGRAPH and text not in seen and _PROSE.match(text):
                    seen.add(text)
                    paragraphs.append(text)
    return paragraphs


def english_text(max_chars: int | None = None) -> str:
    """The corpus: prose paragraphs joined by newlines, cut to ``max_chars``.

    Raises
    ------
    RuntimeError
        When docstrings are missing (Python run with ``-OO``), so no corpus can be built.
    """
    text = "\n".join(prose_paragraphs())
    if len(text) < MIN_CORPUS:
        raise RuntimeError(
            f"only {len(text)} characters of docstring prose found: was Python started with "
            f"-OO (which strips docstrings)? The character models need the docstrings.")
    return text if max_chars is None else text[:max_chars]


class Vocabulary:
    """Maps characters to integer codes and back (codes in order of the sorted characters)."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype="int64")

    def decode(self, codes: np.ndarray | list[int]) -> str:
        return "".join(self.chars[int(i)] for i in codes)


def sequence_batches(codes: np.ndarray, seq_len: int, batch_size: int,
                     rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch of ``(inputs, targets)`` pairs, each ``(seq_len, batch_size)`` int64.

    The text is cut into windows of ``seq_len + 1`` characters, shuffled and grouped; the
    targets are the inputs shifted by one character. Time is the leading axis (scan's).
    """
    n_windows = (len(codes) - 1) // seq_len
    starts = rng.permutation(n_windows) * seq_len
    batches = []
    for i in range(0, n_windows - batch_size + 1, batch_size):
        windows = np.stack([codes[s:s + seq_len + 1] for s in starts[i:i + batch_size]], axis=1)
        batches.append((windows[:-1], windows[1:]))
    return batches


def sample_text(step: Any, vocab: Vocabulary, states: Sequence[np.ndarray], prime: str,
                length: int, rng: np.random.Generator, temperature: float = 0.7) -> str:
    """``prime`` followed by ``length`` characters sampled from a character model.

    ``step(codes, *states) -> [probabilities, *new_states]`` runs the model one character
    ahead on a batch of one (``codes`` is a length-1 int64 vector); ``temperature`` below 1
    sharpens the distribution (fewer misspellings, less variety).
    """
    codes = list(vocab.encode(prime))
    states = list(states)
    for code in codes[:-1]:
        states = step(np.array([code]), *states)[1:]
    for _ in range(length):
        probs, *states = step(np.array([codes[-1]]), *states)
        logits = np.log(np.maximum(probs, 1e-12)) / temperature
        weights = np.exp(logits - logits.max())
        codes.append(int(rng.choice(len(weights), p=weights / weights.sum())))
    return vocab.decode(codes)
