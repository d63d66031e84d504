"""The documentation runs: every Python code block of docs/*.md and README.md is a doctest.

A file's blocks run in order in one namespace, as a reader would type them; a failure names
the file and the line. Blocks tagged ``bash``, ``console``, ``text`` or ``c`` are not run; any
other block must hold ``>>>`` examples, so no code in the docs goes untested.
"""

from __future__ import annotations

import doctest
import io
import re
from pathlib import Path

import numpy as np
import pytest

import symgraph as sg

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
NOT_RUN = {"bash", "sh", "console", "text", "shell", "c"}
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
OPTIONS = doctest.ELLIPSIS
NEEDS = re.compile(r"<!-- doctest: needs ([\w.]+) -->")


def code_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """``(first line number, language, lines)`` of each fenced block (lines count from 1)."""
    blocks, current, language, start = [], None, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if current is None and match:
            current, language, start = [], match.group(1).lower(), number + 1
        elif current is not None and line.startswith("```"):
            blocks.append((start, language, current))
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise ValueError(f"unclosed code block starting at line {start - 1}")
    return blocks


def doctest_source(text: str) -> str:
    """The file with everything but the runnable blocks blanked, so line numbers match."""
    lines = [""] * len(text.splitlines())
    for start, language, block in code_blocks(text):
        if language not in NOT_RUN:
            lines[start - 1:start - 1 + len(block)] = block
    return "\n".join(lines) + "\n"


def test_the_block_reader_keeps_line_numbers():
    text = "intro\n```python\n>>> 1 + 1\n2\n```\nprose\n```bash\nls\n```\n"
    assert code_blocks(text) == [(3, "python", [">>> 1 + 1", "2"]), (8, "bash", ["ls"])]
    assert doctest_source(text).splitlines()[2:4] == [">>> 1 + 1", "2"]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_every_code_block_is_a_doctest(path):
    for start, language, block in code_blocks(path.read_text()):
        if language not in NOT_RUN:
            assert any(line.lstrip().startswith(">>>") for line in block), (
                f"{path.name}:{start}: a {language or 'untagged'} block without >>> examples; "
                f"write it as a doctest or tag it bash/text")


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_docs_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # pictures and files the examples write land here
    text = path.read_text()
    for module in NEEDS.findall(text):  # a page about an optional extra
        pytest.importorskip(module, reason=f"{path.name} needs {module}")
    source = doctest_source(text)
    test = doctest.DocTestParser().get_doctest(source, {}, path.name, str(path), 0)
    if not test.examples:
        pytest.skip(f"{path.name} has no examples")
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    with sg.config.change_flags(compiledir=str(tmp_path / "cache")), \
            np.printoptions(**np.get_printoptions()):
        runner.run(test, out=report.write)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples failed:\n{report.getvalue()}"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_relative_links_point_to_files(path):
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for start, language, block in code_blocks(readme)
                if language in NOT_RUN for line in block if line.strip()]
    assert len(commands) == 2, commands
    assert commands[0].endswith("python -m symgraph.demo")
    assert commands[1] in ci.splitlines()
