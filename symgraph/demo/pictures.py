"""The demo's pictures: loss curves (matplotlib, Agg backend) and the compiled training graph.

The graph is drawn with ``sg.printing.pydotprint``: a PNG when Graphviz's ``dot`` program is
installed, else the Graphviz source (``.dot``), which needs nothing to write.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import symgraph as sg


def _smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over ``window`` values (the curves are noisy batch by batch)."""
    data = np.asarray(values, dtype="float64")
    if len(data) < 2 * window:
        return data
    kernel = np.ones(window) / window
    return np.convolve(data, kernel, mode="valid")


def write_loss_curves(path: str, curves: Mapping[str, Sequence[float]],
                      accuracy: Sequence[float] | None = None) -> str | None:
    """Plot each named training-loss curve (per batch) in its own panel; return the path.

    ``accuracy`` (per epoch) is drawn on a second axis of the first panel. Returns None when
    matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    curves = {name: values for name, values in curves.items() if len(values)}
    figure, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4), squeeze=False)
    for panel, (name, values) in zip(axes[0], curves.items()):
        window = max(1, len(values) // 50)
        smooth = _smooth(values, window)
        panel.plot(np.arange(len(values)), values, color="0.8", lw=0.8, label="per batch")
        panel.plot(np.arange(len(smooth)) + window // 2, smooth, color="C0", label="smoothed")
        panel.set(title=name, xlabel="training step (batch)", ylabel="loss")
        panel.legend(loc="upper right")
    if accuracy:
        first = axes[0][0]
        twin = first.twinx()
        steps = np.linspace(0, len(next(iter(curves.values()))), len(accuracy) + 1)[1:]
        twin.plot(steps, accuracy, "o-", color="C3", label="test accuracy (per epoch)")
        twin.set(ylabel="test accuracy", ylim=(0.0, 1.0))
        handles = first.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        first.legend(handles=handles, loc="center right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_graph_picture(function: Any, stem: str) -> tuple[str, bool]:
    """Draw a compiled function's graph to ``stem.png`` (Graphviz) or ``stem.dot``.

    Returns the path written and whether it is a rendered PNG.
    """
    has_graphviz = shutil.which("dot") is not None
    path = f"{stem}.png" if has_graphviz else f"{stem}.dot"
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    sg.printing.pydotprint(function, path, var_with_name_simple=True)
    return path, has_graphviz
