"""Printing graphs: ``debugprint`` (indented tree), ``pp`` (infix formula) and ``pydotprint``.

Every walk is iterative: graphs thousands of nodes deep print without touching the recursion limit.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from symgraph.config import config
from symgraph.fgraph import FunctionGraph
from symgraph.graph import Apply, Constant, Variable, toposort, user_op

__all__ = ["debugprint", "pp", "pydotprint"]

# Graphviz formats pydotprint writes without running the `dot` executable.
_TEXT_FORMATS = ("dot", "gv", "raw")


# ---------------------------------------------------------------------------------------------
# What to print: roots, updates and inputs of any printable object
# ---------------------------------------------------------------------------------------------

class _Target:
    """The roots of a printable object, its declared inputs, and its shared-variable updates.

    ``updates`` pairs each updated shared variable *as it appears in the graph* (a compiled
    function's graph holds clones) with the label of the user's variable and the update root.
    """

    def __init__(self, roots: list[Variable], inputs: Sequence[Variable] = (),
                 updates: Sequence[tuple[Variable | None, str, Variable]] = ()) -> None:
        self.roots = roots
        self.inputs = list(inputs)
        self.updates = list(updates)


def _target(obj: Any) -> _Target:
    """Interpret ``obj``: Variable, Apply, FunctionGraph, compiled function or a list of these."""
    if isinstance(obj, Variable):
        return _Target([obj])
    if isinstance(obj, Apply):
        return _Target(list(obj.outputs))
    if isinstance(obj, FunctionGraph):
        return _Target(list(obj.outputs), obj.inputs)
    if isinstance(getattr(obj, "fgraph", None), FunctionGraph):
        return _function_target(obj)
    if isinstance(obj, (list, tuple)):
        roots: list[Variable] = []
        for item in obj:
            roots.extend(_target(item).roots)
        return _Target(roots)
    raise TypeError(f"cannot print a {type(obj).__name__}: expected a Variable, an Apply, a list "
                    f"of Variables, a FunctionGraph or a compiled function")


def _function_target(function: Any) -> _Target:
    """Duck-typed compiled function: ``.fgraph`` whose last outputs are ``.updates``' values."""
    fgraph: FunctionGraph = function.fgraph
    updates = list(getattr(function, "updates", None) or [])
    n_outputs = getattr(function, "n_outputs", len(fgraph.outputs) - len(updates))
    mapping = getattr(fgraph, "update_mapping", {})
    pairs = []
    for j, ((shared, _), root) in enumerate(zip(updates, fgraph.outputs[n_outputs:])):
        # The graph's own record of which input an update writes; a graph from the function
        # cache holds copies of the shared variables, which only their position identifies.
        position = mapping.get(n_outputs + j)
        twin = fgraph.inputs[position] if position is not None else \
            _graph_twin(shared, fgraph.inputs)
        pairs.append((twin, str(shared), root))
    return _Target(list(fgraph.outputs), fgraph.inputs, pairs)


def _graph_twin(shared: Any, inputs: Sequence[Variable]) -> Variable | None:
    """The graph input standing for ``shared``: itself, or a clone sharing its container."""
    container = getattr(shared, "container", None)
    for var in inputs:
        if var is shared or (container is not None and getattr(var, "container", None)
                             is container):
            return var
    return None


def is_shared(var: Variable) -> bool:
    """True for shared variables (duck typing: an ownerless variable holding a value)."""
    return var.owner is None and not isinstance(var, Constant) and (
        hasattr(var, "container") or hasattr(var, "get_value"))


def inner_graph(op: Any) -> tuple[list[Variable], list[Variable]] | None:
    """``(inner_inputs, inner_outputs)`` of ops such as Composite and Scan, else ``None``."""
    inner_inputs = getattr(op, "inner_inputs", None)
    inner_outputs = getattr(op, "inner_outputs", None)
    if inner_inputs is None or inner_outputs is None:
        return None
    return list(inner_inputs), list(inner_outputs)


def has_inner_graph(op: Any) -> bool:
    """Like ``inner_graph(op) is not None``, without building the graph (often a property)."""
    return all(inspect.getattr_static(op, name, None) is not None
               for name in ("inner_inputs", "inner_outputs"))


def constant_text(const: Constant, max_size: int = 8) -> str:
    """A short text for a constant's value: ``2.0``, ``[1, 2, 3]``, ``float64(100, 100)``."""
    return value_text(const.data, max_size)


def value_text(data: Any, max_size: int = 8) -> str:
    """``constant_text`` of a value: floats to 6 significant digits, so ``0.1`` rather than
    ``0.09999999999999998``."""
    if not isinstance(data, (np.ndarray, np.generic)):
        return repr(data)
    array = np.asarray(data)
    if array.ndim == 0:
        value = array[()]
        if array.dtype.kind != "f":
            return str(value)
        text = f"{float(value):.6g}"
        return text if any(c in text for c in ".ein") else text + ".0"
    if array.size > max_size:
        return f"{array.dtype}{array.shape}"
    return np.array2string(array, separator=", ", precision=6).replace("\n", "")


def short_type(vtype: Any, shape: Sequence[int] | None = None) -> str:
    """``'(?, 256) float32'``: a tensor type's static shape (``?`` where unknown, or the given
    ``shape``) and dtype; other types as they print."""
    if not hasattr(vtype, "broadcastable") or not hasattr(vtype, "dtype"):
        return str(vtype)
    dims = list(shape) if shape is not None else \
        ["?" if d is None else d for d in getattr(vtype, "shape", ())]
    inner = ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "")
    return f"({inner}) {vtype.dtype}"


def op_label(op: Any) -> str:
    """An op's name for pictures: a fused elementwise op (Composite) as the list of its
    scalar steps, constants left out (``fused{mul, add, tanh}``)."""
    program = getattr(op, "program", None)
    if program is not None and hasattr(program, "steps"):
        names = [row.name for row, _, _ in program.steps if row.nin != 0]  # -1: variadic
        inplace = " (in place)" if getattr(op, "inplace_pattern", ()) else ""
        return f"fused{{{', '.join(names)}}}{inplace}"
    return str(op)


def node_label(node: Apply) -> str:
    """``'Matmul → Gemm{no_inplace}'``: the op the user wrote and what the rewrites made of
    it, or the op alone when they are the same."""
    written, ran = op_label(user_op(node)), op_label(node.op)
    return ran if written == ran else f"{written} \u2192 {ran}"


# ---------------------------------------------------------------------------------------------
# debugprint
# ---------------------------------------------------------------------------------------------

def _letters(number: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'BA': base 26 with letters for digits (Theano's ids)."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = chr(ord("A") + digit) + text
        if number == 0:
            return text


class _DebugPrinter:
    """Accumulates the lines of one ``debugprint`` call; ids are shared by all its trees."""

    def __init__(self, print_type: bool, depth: int, ids: str, print_destroy_map: bool,
                 print_view_map: bool, stop_on_name: bool) -> None:
        if ids not in ("id", "CHAR", "int", ""):
            raise ValueError(f"ids must be 'id', 'CHAR', 'int' or '', got {ids!r}")
        self.print_type = print_type
        self.depth = depth
        self.ids = ids
        self.print_destroy_map = print_destroy_map
        self.print_view_map = print_view_map
        self.stop_on_name = stop_on_name
        self.lines: list[str] = []
        self._numbers: dict[Any, int] = {}
        self._expanded: set[Apply] = set()
        self.inner_nodes: list[Apply] = []
        self._inner_seen: set[Apply] = set()

    def id_of(self, key: Any) -> str:
        """``' [id A]'`` for the Apply (computed variables) or Variable (leaves) ``key``."""
        if not self.ids:
            return ""
        number = self._numbers.setdefault(key, len(self._numbers))
        return f" [id {number if self.ids == 'int' else _letters(number)}]"

    def head(self, var: Variable) -> str:
        """One variable's line, without the tree prefix."""
        node = var.owner
        if node is None:
            label = f"{type(var).__name__}{{{constant_text(var)}}}" if isinstance(
                var, Constant) else str(var)
            text = label + self.id_of(var)
            if isinstance(var, Constant) and var.name:
                text += f" '{var.name}'"
        else:
            text = self.label(var) + self.id_of(node) + (f" '{var.name}'" if var.name else "")
        if self.print_type:
            text += f" <{var.type}>"
        if node is not None:
            text += self._maps(node)
        return text

    @staticmethod
    def label(var: Variable) -> str:
        """``Op`` for a computed variable, ``Op.i`` for output ``i`` of a multi-output node."""
        node = var.owner
        assert node is not None
        return str(node.op) + (f".{var.index}" if len(node.outputs) > 1 else "")

    def _maps(self, node: Apply) -> str:
        text = ""
        destroy_map = getattr(node.op, "destroy_map", None)
        view_map = getattr(node.op, "view_map", None)
        if self.print_destroy_map and destroy_map:
            text += f" d={dict(destroy_map)}"
        if self.print_view_map and view_map:
            text += f" v={dict(view_map)}"
        return text

    def tree(self, root: Variable, prefix: str = "", child_prefix: str = "") -> None:
        """Print ``root`` and, depth first, the inputs it depends on."""
        stack: list[tuple[Variable, str, str, int]] = [(root, prefix, child_prefix, 1)]
        while stack:
            var, line_prefix, below, level = stack.pop()
            if self.depth >= 0 and level > self.depth:
                continue
            self.lines.append(line_prefix + self.head(var))
            node = var.owner
            if node is None or node in self._expanded:
                continue
            if self.stop_on_name and var.name is not None and level > 1:
                continue
            if node not in self._inner_seen and has_inner_graph(node.op):
                self._inner_seen.add(node)
                self.inner_nodes.append(node)
            if self.depth >= 0 and level >= self.depth:
                continue  # not marked expanded: a shallower occurrence may still show its inputs
            self._expanded.add(node)
            last = len(node.inputs) - 1
            for i in range(last, -1, -1):
                stack.append((node.inputs[i], below + " |",
                              below + ("  " if i == last else " |"), level + 1))

    def updates(self, updates: Sequence[tuple[Variable | None, str, Variable]]) -> None:
        if not updates:
            return
        self.lines.append("")
        self.lines.append("Updates:")
        for twin, label, root in updates:
            target = label + (self.id_of(twin) if twin is not None else "")
            source = (self.label(root) + self.id_of(root.owner)) if root.owner else \
                self.head(root)
            self.lines.append(f" {target} <- {source}")

    def inner_graphs(self) -> None:
        """The 'Inner graphs:' section; an inner graph may itself hold inner graphs."""
        if not self.inner_nodes:
            return
        self.lines.append("")
        self.lines.append("Inner graphs:")
        done = 0
        while done < len(self.inner_nodes):
            node = self.inner_nodes[done]
            done += 1
            _, outputs = inner_graph(node.op)  # type: ignore[misc]
            self.lines.append("")
            self.lines.append(f"{node.op}{self.id_of(node)}")
            for out in outputs:
                self.tree(out, " >", " >")


def debugprint(obj: Any, file: Any = None, print_type: bool = True, depth: int = -1,
               ids: str = "id", print_destroy_map: bool = False, print_view_map: bool = False,
               stop_on_name: bool = False) -> Any:
    """Print a graph as an indented tree, one line per variable (Theano's ``debugprint``).

    Each line shows the op computing the variable (or the variable itself, for inputs, shared
    variables and constants), an id, its name in quotes and its type (see Examples).
    A node used several times shows its inputs the first time only; later lines repeat its id.
    For a compiled function an ``Updates:`` section lists ``shared [id] <- update [id]``.
    Ops with inner graphs (an ``inner_inputs`` and an ``inner_outputs`` attribute, as Composite
    and Scan have) get an ``Inner graphs:`` section, each inner output marked with ``>``.

    Parameters
    ----------
    obj : Variable, list of Variable, Apply, FunctionGraph or compiled function
        A compiled function is anything with an ``fgraph`` (FunctionGraph) whose last outputs are
        the values of its ``updates`` (a list of ``(shared_variable, expression)``).
    file : file-like, ``"str"`` or None
        Where to write: ``None`` means ``sys.stdout``; ``"str"`` returns the text instead.
    print_type : bool
        Append each variable's type.
    depth : int
        Levels to print (``1``: the roots only); ``-1`` for no limit.
    ids : {"id", "CHAR", "int", ""}
        Letters (``[id A]``, the default; ``"CHAR"`` is a synonym), numbers, or no ids.
    print_destroy_map, print_view_map : bool
        Append the op's ``destroy_map`` (``d={0: [0]}``) or ``view_map`` (``v={...}``).
    stop_on_name : bool
        Do not show the inputs of named variables (other than the roots).

    Returns
    -------
    str or file-like
        The text when ``file == "str"``, else the file written to.

    Raises
    ------
    TypeError
        For an object that is none of the accepted kinds.
    ValueError
        For an unknown ``ids``.

    Examples
    --------
    >>> import symgraph as sg
    >>> x, y = sg.dmatrix("x"), sg.dmatrix("y")
    >>> z = (x + y) * 2.0
    >>> z.name = "z"
    >>> _ = debugprint(z)
    Elemwise{mul} [id A] 'z' <TensorType(float64, (?, ?))>
     |Elemwise{add} [id B] <TensorType(float64, (?, ?))>
     | |x [id C] <TensorType(float64, (?, ?))>
     | |y [id D] <TensorType(float64, (?, ?))>
     |DimShuffle{x,x} [id E] <TensorType(float64, (1, 1))>
       |TensorConstant{2.0} [id F] <TensorType(float64, ())>
    """
    target = _target(obj)
    printer = _DebugPrinter(print_type, depth, ids, print_destroy_map, print_view_map,
                            stop_on_name)
    for root in target.roots:
        printer.tree(root)
    printer.updates(target.updates)
    printer.inner_graphs()
    text = "\n".join(printer.lines) + "\n"
    if isinstance(file, str):
        if file != "str":
            raise ValueError(f"file must be a file-like object, None or 'str', got {file!r}")
        return text
    stream: TextIO = sys.stdout if file is None else file
    stream.write(text)
    return stream


# ---------------------------------------------------------------------------------------------
# pp
# ---------------------------------------------------------------------------------------------

_INFIX = {
    "add": "+", "sub": "-", "mul": "*", "true_divide": "/", "int_div": "//", "mod": "%",
    "pow": "**", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "neq": "!=",
    "and_": "&", "or_": "|", "xor": "^",
}
_PREFIX = {"neg": "-", "invert": "~"}
# Theano's and PyTensor's pp name ``second(x, v)`` after what it does: x's shape filled with v.
_RENAMED = {"second": "fill"}


def _is_broadcast(op: Any) -> bool:
    """A DimShuffle that only inserts broadcastable dimensions: invisible in a formula."""
    order = getattr(op, "new_order", None)
    if order is None or getattr(op, "input_ndim", None) is None:
        return False
    kept = [o for o in order if o != "x"]
    return kept == list(range(op.input_ndim))


def _is_elemwise(op: Any) -> bool:
    """Elemwise by class name, so printing needs no import of the op modules above it."""
    return any(cls.__name__ == "Elemwise" for cls in type(op).__mro__)


def _format_apply(var: Variable, args: list[str]) -> str:
    op: Any = var.owner.op  # type: ignore[union-attr]
    name = op.scalar_op.name if _is_elemwise(op) else None
    if name in _INFIX and len(args) >= 2:
        return "(" + f" {_INFIX[name]} ".join(args) + ")"
    if name in _PREFIX and len(args) == 1:
        arg = args[0]
        return _PREFIX[name] + (f"({arg})" if arg[:1] in "-~" else arg)
    if name is not None:
        return f"{_RENAMED.get(name, name)}({', '.join(args)})"
    if _is_broadcast(op) and len(args) == 1:
        return args[0]
    return f"{_DebugPrinter.label(var)}({', '.join(args)})"


def _leaf_text(var: Variable) -> str:
    if isinstance(var, Constant):
        return var.name or constant_text(var)
    return str(var)


def pp(var: Variable | Sequence[Variable]) -> str:
    """A readable infix formula for ``var``: ``((x + y) * 2.0)``, ``exp(-x)``, ``(x < y)``.

    Arithmetic and comparison elementwise ops print infix (every binary operation in
    parentheses), ``neg`` as ``-x``; other elementwise ops as ``name(args)`` (``second`` as
    Theano's ``fill``) and any other op as ``str(op)(args)``. Broadcasting DimShuffles are
    left out. Named variables print by name (the root is always expanded), constants by value.
    A subexpression used several times is written out each time.

    Parameters
    ----------
    var : Variable or list of Variable
        A list gives one formula per line.

    Returns
    -------
    str

    Examples
    --------
    >>> import symgraph as sg
    >>> x, y = sg.dvector("x"), sg.dvector("y")
    >>> pp((x + y) * 2.0)
    '((x + y) * 2.0)'
    >>> pp(sg.exp(-x) < y)
    '(exp(-x) < y)'
    """
    if not isinstance(var, Variable):
        return "\n".join(pp(v) for v in var)
    memo: dict[Variable, str] = {}
    stack: list[tuple[Variable, bool]] = [(var, False)]
    while stack:
        current, ready = stack.pop()
        if current in memo:
            continue
        node = current.owner
        if node is None:
            memo[current] = _leaf_text(current)
            continue
        if current.name is not None and current is not var:
            memo[current] = current.name
            continue
        if ready:
            memo[current] = _format_apply(current, [memo[i] for i in node.inputs])
            continue
        stack.append((current, True))
        stack.extend((i, False) for i in reversed(node.inputs) if i not in memo)
    return memo[var]


# ---------------------------------------------------------------------------------------------
# pydotprint
# ---------------------------------------------------------------------------------------------

_COLORS = {"input": "limegreen", "output": "dodgerblue", "shared": "orange",
           "constant": "lightgrey", "apply": "white", "intermediate": "white"}


def _output_format(outfile: str | os.PathLike[str] | None, format: str | None) -> tuple[str, str]:
    """The path and Graphviz format: the format defaults to the suffix of ``outfile``."""
    if outfile is None:
        fmt = (format or "png").lower()
        return os.path.join(config.compiledir, f"symgraph.pydotprint.{fmt}"), fmt
    path = os.fspath(outfile)
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    fmt = (format or suffix or "png").lower()
    if not suffix:
        path = f"{path}.{fmt}"
    return path, fmt


def _require_dot(fmt: str) -> None:
    if shutil.which("dot") is None:
        raise RuntimeError(
            f"pydotprint: writing a {fmt!r} file runs the Graphviz 'dot' program, which is not "
            f"on PATH. Install Graphviz (e.g. `apt-get install graphviz`, `brew install "
            f"graphviz` or `conda install graphviz`), or write a '.dot' file, which needs no "
            f"Graphviz and can be rendered elsewhere (`dot -Tpng graph.dot -o graph.png`)."
        )


def _quote(text: str, max_size: int) -> str:
    if max_size > 3 and len(text) > max_size:
        text = text[:max_size - 3] + "..."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _DotBuilder:
    """Turns a ``_Target`` into a ``pydot.Dot``: one box per Apply, one ellipse per variable."""

    def __init__(self, pydot: Any, target: _Target, with_ids: bool, compact: bool,
                 var_with_name_simple: bool, max_label_size: int,
                 node_colors: Mapping[str, str], legend: bool = True) -> None:
        self.pydot = pydot
        self.legend = legend
        self.target = target
        self.with_ids = with_ids
        self.compact = compact
        self.var_with_name_simple = var_with_name_simple
        self.max_label_size = max_label_size
        self.node_colors = node_colors
        self.graph = pydot.Dot(graph_type="digraph")
        self._names: dict[Any, str] = {}
        self._n_applies = 0
        self._roots = set(target.roots)
        self._update_of = {root: label for _, label, root in target.updates}

    def build(self) -> Any:
        nodes = toposort(self.target.roots, blockers=self.target.inputs)
        for node in nodes:
            self._add_apply(node)
            for position, var in enumerate(node.inputs):
                source = self._variable(var)
                label = str(position) if len(node.inputs) > 1 else None
                self._edge(source, self._names[node], label)
            for position, var in enumerate(node.outputs):
                if not self._is_hidden(var):
                    label = str(position) if len(node.outputs) > 1 else None
                    self._edge(self._names[node], self._variable(var), label)
        for root in self.target.roots:
            self._variable(root)
        if self.legend:
            self._add_legend()
        return self.graph

    def _add_legend(self) -> None:
        """A box in a corner naming the colours."""
        legend = self.pydot.Cluster("legend", label='"legend"', fontsize="10", color="grey")
        for kind in ("input", "shared", "constant", "output"):
            legend.add_node(self.pydot.Node(f"legend_{kind}", label=kind, shape="ellipse",
                                            style="filled", fillcolor=_COLORS[kind],
                                            fontsize="9"))
        legend.add_node(self.pydot.Node("legend_apply", label='"what you wrote \u2192 what '
                                        'runs"', shape="box", fontsize="9"))
        self.graph.add_subgraph(legend)

    def _is_hidden(self, var: Variable) -> bool:
        """In compact mode unnamed intermediate variables vanish: Apply links to Apply."""
        return (self.compact and var.owner is not None and var.name is None
                and var not in self._roots)

    def _add_apply(self, node: Apply) -> None:
        name = self._names[node] = f"a{len(self._names)}"
        label = node_label(node) + (f" [id {_letters(self._n_applies)}]" if self.with_ids
                                    else "")
        self._n_applies += 1
        color = self.node_colors.get(type(node.op).__name__, _COLORS["apply"])
        self.graph.add_node(self.pydot.Node(name, label=_quote(label, self.max_label_size),
                                            shape="box", style="filled", fillcolor=color))

    def _variable(self, var: Variable) -> str:
        """The dot name standing for ``var`` (its owner's, when ``var`` is hidden)."""
        if self._is_hidden(var):
            return self._names[var.owner]
        if var in self._names:
            return self._names[var]
        name = self._names[var] = f"v{len(self._names)}"
        kind = self._kind(var)
        attrs: dict[str, Any] = {"shape": "ellipse", "style": "filled",
                                 "fillcolor": _COLORS[kind]}
        if kind == "constant":
            attrs.update(fontsize="8", height="0.2", margin="0.02,0.01")
        label = self._label(var, kind)
        self.graph.add_node(self.pydot.Node(name, label=_quote(label, self.max_label_size),
                                            **attrs))
        return name

    def _kind(self, var: Variable) -> str:
        if var in self._roots:
            return "output"
        if isinstance(var, Constant):
            return "constant"
        if is_shared(var):
            return "shared"
        return "input" if var.owner is None else "intermediate"

    def _label(self, var: Variable, kind: str) -> str:
        if kind == "constant":
            return var.name or constant_text(var)  # type: ignore[arg-type]
        value = var.get_value(borrow=True) if kind == "shared" else None
        vtype = short_type(var.type, getattr(value, "shape", None))
        if var.name is not None:
            label = var.name if self.var_with_name_simple else f"{var.name} {vtype}"
        else:
            label = vtype
        if var in self._update_of:
            label += f" (update of {self._update_of[var]})"
        return label

    def _edge(self, source: str, destination: str, label: str | None) -> None:
        attrs = {"label": _quote(label, 0)} if label is not None else {}
        self.graph.add_edge(self.pydot.Edge(source, destination, **attrs))


def pydotprint(obj: Any, outfile: str | os.PathLike[str] | None = None, format: str | None = None,
               with_ids: bool = False, compact: bool = False, var_with_name_simple: bool = False,
               max_label_size: int = 70, node_colors: Mapping[str, str] | None = None,
               return_image: bool = False, print_output_file: bool = False,
               legend: bool = True) -> Any:
    """Draw a graph with Graphviz (through ``pydot``): Theano's ``pydotprint``.

    One box per Apply and one ellipse per variable: graph inputs green, outputs blue, shared
    variables orange, constants small and grey. An edge into an Apply with several inputs is
    labelled with the input's position. Ops with inner graphs are drawn as one box. An Apply
    reads ``what you wrote → what runs`` (``Matmul → Gemm{no_inplace}``), a fused op lists
    its scalar steps, a variable shows its type as ``(?, 256) float32`` (a shared variable,
    its value's shape), and constants print without float noise. For an interactive view,
    see ``sg.printing.html``.

    Parameters
    ----------
    obj : Variable, list of Variable, Apply, FunctionGraph or compiled function
        Update outputs of a compiled function are labelled ``(update of <shared>)``.
    outfile : path, optional
        Default: ``symgraph.pydotprint.<format>`` in ``config.compiledir``.
    format : str, optional
        Any Graphviz output format; default: the suffix of ``outfile``, else ``"png"``.
        ``"dot"`` (the graph's text) needs no Graphviz installation; the others need the
        ``dot`` executable.
    with_ids : bool
        Append an id to each Apply's label.
    compact : bool
        Leave out unnamed intermediate variables (edges then go from Apply to Apply).
    var_with_name_simple : bool
        Label named variables by name only, not name and type.
    max_label_size : int
        Labels longer than this are cut with ``...``.
    node_colors : mapping, optional
        Fill colour of Apply boxes by op class name, e.g. ``{"Elemwise": "yellow"}``.
    return_image : bool
        Return the rendered bytes instead of writing a file.
    print_output_file : bool
        Print where the file was written.
    legend : bool
        Draw a legend of the colours.

    Returns
    -------
    str or bytes
        The path written, or the image's bytes with ``return_image``.

    Raises
    ------
    RuntimeError
        When ``format`` needs the Graphviz ``dot`` executable and it is not on PATH.
    TypeError
        For an object that is none of the accepted kinds.
    """
    import pydot

    path, fmt = _output_format(outfile, format)
    if fmt not in _TEXT_FORMATS:
        _require_dot(fmt)
    graph = _DotBuilder(pydot, _target(obj), with_ids, compact, var_with_name_simple,
                        max_label_size, node_colors or {}, legend).build()
    data = graph.to_string().encode() if fmt in _TEXT_FORMATS else graph.create(format=fmt)
    if return_image:
        return data
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    if print_output_file:
        print(f"The output file is available at {path}")
    return path

