"""Part three of the demo: the trained MLP leaves Python. ``sg.export`` writes its predictor
and training step as a C library; examples/deploy_c/classify.c classifies test digits with it.
"""

from __future__ import annotations

import os
import shlex
import shutil

import numpy as np

from symgraph.demo.digits import DigitsData, DigitsResult
from symgraph.export import export
from symgraph.export.params import DTYPES

EXAMPLE = os.path.join("examples", "deploy_c", "classify.c")


def write_test_digits(path: str, images: np.ndarray, labels: np.ndarray) -> None:
    """The file classify.c reads: int64 count, int32 dtype, int32 0, pixels, int64 labels."""
    with open(path, "wb") as file:
        file.write(np.asarray([len(labels)], dtype=np.int64).tobytes())
        file.write(np.asarray([DTYPES.index(images.dtype.name), 0], dtype=np.int32).tobytes())
        file.write(np.ascontiguousarray(images).tobytes())
        file.write(np.asarray(labels, dtype=np.int64).tobytes())


def export_digits(result: DigitsResult, data: DigitsData, out: str) -> list[str] | None:
    """Export the trained MLP to ``out``; the commands that build and run classify.c, or None
    when no C compiler is installed."""
    if shutil.which("cc") is None:
        return None
    exported = export({"predict": result.predict_function,
                          "train_step": result.train_function}, out, name="digits")
    write_test_digits(os.path.join(out, "test_digits.bin"), data.x_test, data.y_test)
    program = os.path.join(out, "classify")
    return [shlex.join(exported.build_command(EXAMPLE, program)), shlex.join([program, out])]
