"""Generated code, per node and per function: the LLVM IR of the kernels that run a node (or
the NumPy ``perform`` a reference-backend node runs), for ``sg.printing.source`` and the
viewer's code panel."""

from __future__ import annotations

import inspect
from typing import Any

from symgraph.graph import Apply, Variable


def _native(function: Any) -> Any:
    """The function's native entry point, or None (another backend, no entry point)."""
    if function.mode.backend != "llvm":
        return None
    return function._native


def _as_node(function: Any, node: Any) -> Apply:
    if isinstance(node, Variable):
        node = node.owner
    if isinstance(node, int):
        node = function.fgraph.toposort()[node]
    if not isinstance(node, Apply) or node not in function.fgraph.apply_nodes:
        raise ValueError(f"source: {node!r} is not a node of the compiled graph; pass a node of "
                         f"f.fgraph (or its index in f.fgraph.toposort(), or one of its outputs)")
    return node


def cuda_code(node: Apply) -> dict[str, str]:
    """The CUDA C the cuda backend emits for ``node`` (no GPU needed to see it)."""
    from symgraph.codegen.cuda import registry

    lowering = registry.lower(node)
    if lowering is None:
        return {"kind": "CUDA", "text": f"{node.op}: no CUDA rule; runs its perform on the "
                                        f"host, with transfers around it"}
    kernels = [k.code for k in lowering.kernels if getattr(k, "code", None)]
    if not kernels:
        return {"kind": "CUDA", "text": f"{node.op}: {lowering.note or 'a library call'} "
                                        f"(no kernel of its own)"}
    return {"kind": "CUDA C (kernel)", "text": "\n".join(kernels)}


def node_code(function: Any, node: Apply, native: Any = None,
              kind: str | None = None) -> dict[str, str]:
    """``{"kind": ..., "text": ...}``: the code that runs ``node`` in ``function``: LLVM IR,
    CUDA C or the op's Python ``perform`` (``kind`` 'llvm', 'cuda' or 'py'; default: the
    function's backend)."""
    kind = kind or function.mode.backend
    if kind == "cuda":
        return cuda_code(node)
    native = _native(function) if native is None and kind == "llvm" else native
    if native is not None and kind == "llvm":
        text = native.node_source(node)
        step = native.step_of(node)
        how = f"{type(step.rule).__name__}: {step.note}" if step is not None else \
            "no step of its own (a view, or folded into the node that reads it)"
        if text:
            return {"kind": "LLVM IR (kernel)", "text": f"; {node.op}, run by {how}\n{text}"}
        return {"kind": "compiled as", "text": f"{node.op}: {how}; its code is part of the "
                                               f"whole function's LLVM IR (f.dump('llvm'))"}
    perform = type(node.op).perform
    try:
        text = inspect.getsource(perform)
    except (OSError, TypeError):
        text = f"{type(node.op).__qualname__}.perform (source not available)"
    return {"kind": "Python (the op's perform)", "text": text}


def source(function: Any, node: Any, kind: str | None = None) -> str:
    """The generated code that runs one node of a compiled function.

    Parameters
    ----------
    function : Function
        A compiled function (``sg.function``).
    node : Apply, Variable or int
        A node of ``function.fgraph`` (the rewritten graph), one of its outputs, or its
        position in ``function.fgraph.toposort()``.
    kind : str, optional
        ``'llvm'``, ``'cuda'`` or ``'py'``: whose code to show. Default: the function's
        backend. ``'cuda'`` works without a GPU (the CUDA C is generated, not compiled).

    Returns
    -------
    str
        For the ``'llvm'`` backend, the LLVM IR of the kernel that runs the node (a fused
        elementwise loop, a reduction), or a line saying which rule runs it when it calls no
        kernel of its own (BLAS, views: see ``function.dump('llvm')``); for ``'cuda'``, the
        CUDA C of its kernels (or what runs it: cuBLAS, the host); for ``'py'``, the Python
        source of the op's ``perform``.

    Raises
    ------
    ValueError
        If ``node`` is not in the compiled graph, or for an unknown ``kind``.
    """
    if kind not in (None, "llvm", "cuda", "py"):
        raise ValueError(f"source: unknown kind {kind!r}; known: 'llvm', 'cuda', 'py'")
    node = _as_node(function, node)
    if kind == "llvm" and function.mode.backend != "llvm":
        raise ValueError(f"source: this function runs on {function.mode.backend!r}, so it has "
                         f"no LLVM IR")
    return node_code(function, node, kind=kind)["text"]
