"""Command line of ``python -m symgraph.demo``: parse options, pick the backend, run both
models, print what happened and write the pictures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

import symgraph as sg
from symgraph.demo import charlstm, deploy, digits, pictures
from symgraph.demo.training import blas_threads

MODES = ("llvm", "py", "cuda")
MLP_EPOCHS = 10
LSTM_EPOCHS = 4
TARGET_ACCURACY = 0.95
QUICK_LSTM = charlstm.LSTMConfig(n_hidden=32, seq_len=16, batch_size=16, corpus_chars=6_000,
                                 sample_chars=60)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m symgraph.demo",
        description="Train an MLP on scikit-learn's digits and a character-level LSTM (scan) "
                    "on English prose, with symgraph.")
    parser.add_argument("--mode", choices=MODES, default=sg.config.mode,
                        help="backend (default: sg.config.mode, now %(default)r)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs of each model (default: {MLP_EPOCHS} for the MLP, "
                             f"{LSTM_EPOCHS} for the LSTM)")
    parser.add_argument("--quick", action="store_true",
                        help="a small LSTM on a short text (seconds; for tests)")
    parser.add_argument("--out", default="symgraph-demo",
                        help="directory for the pictures (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads of the BLAS library (default: %(default)s; 0: its own "
                             "default)")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def mode_problem(mode: str) -> str | None:
    """Why ``mode`` cannot compile and run a tiny function here, or None if it can."""
    x = sg.vector("x")
    try:
        result = sg.function([x], x + 1, mode=mode)(np.zeros(2, dtype=x.dtype))
    except Exception as err:  # any failure means: this backend is not usable here
        return f"{type(err).__name__}: {err}"
    if not np.allclose(result, 1.0):
        return f"a test function returned {result!r} instead of [1. 1.]"
    return None


def choose_mode(requested: str) -> str | None:
    """The mode to run in, after checking ``requested``; None means: give up."""
    problem = mode_problem(requested)
    if problem is None:
        return requested
    if requested == "cuda":
        print(f"symgraph demo: the 'cuda' mode is not available on this machine ({problem}).\n"
              f"It needs an NVIDIA GPU with its driver, and NVIDIA's cuda-bindings and NVRTC "
              f"wheels (pip install -e \".[cuda]\"). "
              f"Run with --mode llvm or --mode py instead.", file=sys.stderr)
        return None
    if requested == "llvm":
        print(f"note: the 'llvm' mode is not available here ({problem}); running in 'py' "
              f"mode (the NumPy reference backend) instead.")
        return "py"
    raise RuntimeError(f"the {requested!r} mode does not work: {problem}")


def run_digits(mode: str, epochs: int, seed: int, show_progress: bool) -> digits.DigitsResult:
    data = digits.load_digits_data(seed)
    print(f"\n== 1. MLP on scikit-learn's digits: {len(data.y_train)} training and "
          f"{len(data.y_test)} test images of 8x8 pixels; 64 -> 128 (tanh) -> 10 (softmax) ==")
    result = digits.train_mlp(epochs, mode, seed=seed, show_progress=show_progress)
    verdict = "reached" if result.test_accuracy[-1] >= TARGET_ACCURACY else "NOT reached"
    print(f"ready to run after:  {result.compile_seconds:.2f} s (gradient, training step and "
          f"prediction; native code compiles in the background meanwhile)")
    print(f"time per epoch:      {np.mean(result.epoch_seconds):.3f} s")
    print(f"final test accuracy: {result.test_accuracy[-1]:.4f} "
          f"(target {TARGET_ACCURACY} {verdict})")
    return result


def run_lstm(mode: str, epochs: int, quick: bool, seed: int,
             show_progress: bool) -> charlstm.LSTMResult | None:
    config = QUICK_LSTM if quick else charlstm.LSTMConfig()
    print(f"\n== 2. Character-level LSTM (scan) on prose from the Python standard library's "
          f"docstrings: {config.n_hidden} hidden units, windows of {config.seq_len} "
          f"characters ==")
    try:
        result = charlstm.train_lstm(epochs, mode, config, seed=seed,
                                     show_progress=show_progress)
    except charlstm.ScanUnavailableError as err:
        print(f"skipped: this installation has no working scan ({err}).")
        return None
    losses = " -> ".join(f"{loss:.3f}" for loss in
                         [result.batch_losses[0]] + result.epoch_losses)
    print(f"corpus:              {result.corpus_chars:,} characters, {result.vocab_size} "
          f"distinct")
    print(f"ready to run after:  {result.compile_seconds:.2f} s (gradient, training step and "
          f"sampler; native code compiles in the background meanwhile)")
    print(f"time per epoch:      {np.mean(result.epoch_seconds):.2f} s")
    print(f"loss (nats/char):    {losses} (first batch, then the mean of each epoch)")
    print(f"generated sample:    {result.sample!r}")
    return result


def write_pictures(out: str, mlp: digits.DigitsResult,
                   lstm: charlstm.LSTMResult | None) -> None:
    os.makedirs(out, exist_ok=True)
    curves = {"MLP on digits: cross-entropy": mlp.batch_losses}
    if lstm is not None:
        curves["character LSTM: nats per character"] = lstm.batch_losses
    print("\n== Pictures ==")
    loss_path = pictures.write_loss_curves(os.path.join(out, "loss_curves.png"), curves,
                                           mlp.test_accuracy)
    if loss_path is None:
        print("loss curves:    not drawn (matplotlib is not installed: "
              "pip install -e \".[examples]\")")
    else:
        print(f"loss curves:    {loss_path}")
    graph_path, rendered = pictures.write_graph_picture(
        mlp.train_function, os.path.join(out, "mlp_training_graph"))
    how = ("rendered by Graphviz" if rendered else
           "Graphviz source: the 'dot' program is not installed, so no PNG was rendered; "
           "install Graphviz or render elsewhere with `dot -Tpng`")
    print(f"training graph: {graph_path} (the compiled MLP training step; {how})")
    viewer_path = sg.printing.html(mlp.train_function,
                                   os.path.join(out, "mlp_training_viewer.html"),
                                   example=mlp.example_batch or None)
    print(f"graph viewer:   {viewer_path} (open it in a browser: the rewrite phases, your "
          f"lines, the generated code)")


def run_export(mlp: digits.DigitsResult, out: str, seed: int) -> None:
    print("\n== 3. The MLP without Python: sg.export writes it as a C library ==")
    directory = os.path.join(out, "deploy")
    try:
        commands = deploy.export_digits(mlp, digits.load_digits_data(seed), directory)
    except sg.export.ExportError as err:
        print(f"skipped: {err}")
        return
    if commands is None:
        print("skipped: no C compiler ('cc') on this machine")
        return
    print(f"library:        {directory} (digits.h, libdigits.a, libdigits.so, digits.params)")
    print("build and run a C program classifying the test digits (from the repository root):")
    for command in commands:
        print(f"    {command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    mode = choose_mode(args.mode)
    if mode is None:
        return 2
    if importlib.util.find_spec("sklearn") is None:
        print("symgraph demo: the digits data set comes with scikit-learn, which is not "
              "installed. Install the demo's dependencies with: pip install -e \".[examples]\"",
              file=sys.stderr)
        return 1
    show = not args.no_progress
    with blas_threads(args.blas_threads or None) as blas_note:
        print(f"symgraph {sg.__version__} demo: mode {mode!r}, floatX {sg.config.floatX}, "
              f"{blas_note}")
        mlp = run_digits(mode, args.epochs or MLP_EPOCHS, args.seed, show)
        lstm = run_lstm(mode, args.epochs or LSTM_EPOCHS, args.quick, args.seed, show)
    write_pictures(args.out, mlp, lstm)
    if mode == "llvm":
        run_export(mlp, args.out, args.seed)
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return 0
