"""Docstrings of the public elementwise functions, written from their table rows (definition,
parameters, dtypes, domain, gradient, reference), so that the table stays the one source."""

from __future__ import annotations

from typing import Any

KIND_NAMES = {"b": "bool", "i": "signed integers", "u": "unsigned integers", "f": "floats"}
WIDTH = 88


def kind_names(kinds: str) -> str:
    return ", ".join(KIND_NAMES[k] for k in kinds)


def gradient_text(row: Any) -> str:
    """The row's gradient as the docstring states it."""
    if row.grad is None:
        return "none (the function is defined on integers and bools only)."
    if isinstance(row.grad, str):
        several = "," in _top_level(row.grad)
        return (f"``{row.grad}``{' (one expression per input)' if several else ''}, where ``g``"
                f" is the gradient of the output and ``out`` the output.")
    summary = (row.grad.__doc__ or "").strip().split("\n")[0]
    return summary or "given by the row's gradient rule."


def _top_level(text: str) -> str:
    """``text`` without its parenthesised parts (to find the commas between expressions)."""
    depth, kept = 0, []
    for char in text:
        depth += char == "("
        if depth == 0:
            kept.append(char)
        depth -= char == ")"
    return "".join(kept)


def _paragraph(text: str, indent: str = "") -> list[str]:
    """``text`` filled into lines of at most WIDTH characters (greedy, at spaces): what
    textwrap.wrap gives for these plain sentences, at a fraction of its cost on import."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(indent) + len(line) + 1 + len(word) > WIDTH:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(indent + line)
    return lines


def _parameters(row: Any) -> list[str]:
    accepted = kind_names(row.input_kinds)
    skip = row.skip_promotion
    lines = []
    for i, name in enumerate(row.args):
        if i < skip:
            lines += [f"{name} : tensor or number, any dtype (nonzero is true)"]
        else:
            lines += [f"{name} : tensor or number ({accepted})"]
    if row.nin < 0:
        lines += ["... : more tensors or numbers, as many as wanted"]
    lines += _paragraph("Inputs broadcast together: a dimension broadcasts only where its static "
                        "length is 1; Python numbers are weak, as in NumPy.", "    ")
    return lines


def docstring(row: Any) -> str:
    """The docstring of the public function of ``row``."""
    dtype_doc = row.output_dtype.doc or "given by the row's dtype rule"
    rejected = f"outside {kind_names(row.input_kinds)}"
    if row.promoted_kinds != "biuf":
        rejected += f", or inputs whose common dtype is outside {kind_names(row.promoted_kinds)}"
    lines = [*_paragraph(f"Elementwise {row.doc}."), "", "Parameters", "----------",
             *_parameters(row), "", "Returns", "-------", "tensor",
             *_paragraph(f"Of the inputs' broadcast shape; dtype from the inputs' common "
                         f"(promoted) dtype: {dtype_doc}.", "    "),
             "", "Raises", "------", "TypeError",
             *_paragraph(f"For an input dtype {rejected}.", "    "),
             "ValueError", "    For shapes that do not broadcast.", "",
             "Notes", "-----", *_paragraph(f"Domain: {row.domain or 'every input'}."), "",
             *_paragraph(f"Gradient: {gradient_text(row)}")]
    if row.perform_only:
        lines += ["", *_paragraph(f"Compiled modes run NumPy for it: {row.perform_only}.")]
    if row.reference:
        lines += ["", "References", "----------", *_paragraph(row.reference)]
    return "\n".join(lines) + "\n"
