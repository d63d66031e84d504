"""User-defined ops: an elementwise op from its scalar definition (``sg.scalar_op``), which
compiles like a built-in, and a plain NumPy function wrapped as an op
(``@sg.as_op(itypes=[...], otypes=[...])``), which runs through ``perform``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgraph.graph import Apply, Variable
from symgraph.op import Op
from symgraph.ops import elemwise as ew
from symgraph.ops.basic import as_tensor_variable
from symgraph.type import TensorType, Type

__all__ = ["as_op", "FromFunctionOp", "scalar_op"]


def _as_type(spec: Any) -> Type:
    """Accept a Type, or a Theano-style constructor such as ``sg.dmatrix``."""
    if isinstance(spec, Type):
        return spec
    if callable(spec):
        made = spec()
        if isinstance(made, Variable):
            return made.type
    raise TypeError(f"as_op: {spec!r} is neither a Type nor a variable constructor")


class FromFunctionOp(Op):
    """An op whose ``perform`` calls a Python function on NumPy arrays.

    It has no gradient unless one is given, and an ``infer_shape`` only when the decorator
    received one (``infer_shape(node, input_shapes)``, Theano's form).
    """

    __props__ = ("fn", "itypes", "otypes", "infer_shape_fn", "grad_fn")

    def __init__(self, fn: Callable[..., Any], itypes: Sequence[Type], otypes: Sequence[Type],
                 infer_shape: Callable[..., Any] | None = None,
                 grad: Callable[..., Any] | None = None) -> None:
        self.fn = fn
        self.itypes = tuple(itypes)
        self.otypes = tuple(otypes)
        self.infer_shape_fn = infer_shape
        self.grad_fn = grad
        self.__name__ = getattr(fn, "__name__", "as_op")
        self.__doc__ = fn.__doc__

    def __str__(self) -> str:
        return f"FromFunctionOp{{{self.__name__}}}"

    def __reduce__(self) -> Any:
        # ``@as_op`` replaces the function by the op under the function's own name, so the
        # function cannot be pickled by reference: the op is, when that name leads to it.
        module, qualname = getattr(self.fn, "__module__", None), self.fn.__qualname__
        if module and _find_global(module, qualname) is self:
            return (_load_global, (module, qualname))
        return super().__reduce__()

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != len(self.itypes):
            raise TypeError(f"{self}: expected {len(self.itypes)} inputs, got {len(inputs)}")
        variables = []
        for i, (value, itype) in enumerate(zip(inputs, self.itypes)):
            var = as_tensor_variable(value)
            if not itype.is_compatible(var.type):
                raise TypeError(f"{self}: input {i} ({var}) has type {var.type}, expected {itype}")
            variables.append(var)
        return Apply(self, variables, [t.make_variable() for t in self.otypes])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        results = self.fn(*inputs)
        if len(self.otypes) == 1:
            results = [results]
        if len(results) != len(self.otypes):
            raise ValueError(f"{self}: the function returned {len(results)} values, declared "
                             f"{len(self.otypes)} outputs")
        for cell, value, otype in zip(output_storage, results, self.otypes):
            cell[0] = np.asarray(value, dtype=otype.dtype) if isinstance(
                otype, TensorType) else value

    def infer_shape(self, node: Apply, input_shapes: Sequence[Any]) -> list:
        if self.infer_shape_fn is None:
            raise NotImplementedError(f"{self} was made without infer_shape")
        return list(self.infer_shape_fn(node, input_shapes))

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        if self.grad_fn is None:
            raise NotImplementedError(
                f"{self} has no gradient: pass grad=... to as_op or subclass sg.Op and define "
                f"grad/L_op")
        return list(self.grad_fn(inputs, output_grads))


def _find_global(module: str, qualname: str) -> Any:
    """``module.qualname`` if that module is imported and has it, else None."""
    target: Any = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target


def _load_global(module: str, qualname: str) -> Any:
    """``module.qualname``, importing the module as unpickling any global does."""
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def as_op(itypes: Sequence[Any], otypes: Sequence[Any],
          infer_shape: Callable[..., Any] | None = None,
          grad: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Op]:
    """Decorator turning a NumPy function into an op (Theano's ``as_op``).

    Parameters
    ----------
    itypes, otypes : list of TensorType (or constructors such as ``sg.dmatrix``)
        Input and output types; inputs are checked against ``itypes``.
    infer_shape : callable, optional
        ``infer_shape(node, input_shapes) -> [output shape, ...]``.
    grad : callable, optional
        ``grad(inputs, output_grads) -> [input gradient, ...]`` built from symgraph ops.

    Returns
    -------
    A function that builds the op's node when called on symbolic inputs.

    Raises
    ------
    TypeError
        When called on inputs of the wrong number or type.
    """
    input_types = [_as_type(t) for t in itypes]
    output_types = [_as_type(t) for t in otypes]

    def decorator(fn: Callable[..., Any]) -> Op:
        return FromFunctionOp(fn, input_types, output_types, infer_shape, grad)

    return decorator


_DTYPE_RULES = {"float": ew.to_float, "same": ew.same, "same_dtype": ew.same_dtype,
                "bool": ew.to_bool}


def scalar_op(name: str, impl: Callable[..., Any], nin: int = 1, *,
              output_dtype: Any = "float", grad: Any = None, emit: Any = None,
              doc: str = "", args: Sequence[str] = (), domain: str = "", reference: str = "",
              cost: int = ew.MATH_COST, positive: bool = False) -> Callable[..., Any]:
    """Define an elementwise op from its scalar definition; returns its public function.

    The op is a row of the same kind as the built-in table's (``sg.exp``, ``sg.cbrt``): it
    broadcasts like NumPy, fuses with its neighbours into one kernel, differentiates through
    ``grad`` and compiles natively on LLVM and CUDA through ``emit``.

    Parameters
    ----------
    name : str
        The op's name, unique in the process (rows compare by name); not a built-in's name.
    impl : callable
        The reference: a NumPy function of ``nin`` arrays (already broadcast and promoted to
        the common dtype) returning one array. ``mode="py"`` and the tests use it.
    nin : int
        Number of inputs.
    output_dtype : {'float', 'same', 'same_dtype', 'bool'}, DtypeRule or callable
        The output dtype from the inputs' common (NumPy-promoted) dtype: ``'float'`` keeps
        floats and turns integers and bool into floats (as ``sg.exp``); ``'same'`` keeps it (bool
        computes in int8, Theano's rule); ``'bool'`` for predicates; or ``dtype -> dtype``.
    grad : str, callable or None
        The gradient: one expression per input over the public elementwise functions, the
        inputs (named by ``args``, default ``x``, ``y``, ``z``), the output ``out`` and its
        gradient ``g`` (``"g * cos(x)"``; two inputs: ``"g * y, g * x"``); or
        ``grad(inputs, output, g) -> [gradient per input]`` building any graph. ``None``: not
        differentiable (``sg.grad`` raises through it).
    emit : callable or None
        The kernel rule ``emit(e, *xs) -> value`` against ``sg.Emitter``, the vocabulary that
        LLVM and CUDA both implement (``e.add``, ``e.mul``, ``e.div``, ``e.select``,
        ``e.compare``, ``e.constant``, ``e.call("exp", x)``, ...); ``xs`` arrive in the compute
        dtype ``e.dtype``. ``None``: compiled modes run ``impl`` for it and warn
        (``PerformFallbackWarning``).
    doc, args, domain, reference : str
        The definition as a noun phrase (``"cube root"``: the docstring starts "Elementwise
        cube root."), the input names, where it is defined, the source of the maths: the
        function's docstring is written from them as for the built-in ops.
    cost : int
        Work per element (``MATH_COST`` for a transcendental function, 0 for arithmetic): it
        weights whether a kernel runs on several threads.
    positive : bool
        The output is > 0 wherever it is defined (lets rewrites simplify ``f(x) / f(x)``).

    Returns
    -------
    callable
        ``f(*inputs)``: takes tensors, arrays or numbers (also by the names in ``args``) and
        returns the output Variable.

    Raises
    ------
    ValueError
        If ``name`` is a built-in op's or was defined before with another definition (the
        same definition run again returns the same op), or ``output_dtype`` is unknown.

    Notes
    -----
    Graphs holding a user's scalar op are compiled anew in each process (the function cache
    keeps only graphs of symgraph's own ops, since a definition may change between runs);
    their kernels still come from the kernel cache when the generated code is the same.
    Pickled graphs and functions find the op by name: define it before unpickling.
    """
    if name in ew.TABLE or name.partition("{")[0] in ew.SCALAR_OP_FACTORIES:
        raise ValueError(f"scalar_op: {name!r} is a built-in elementwise op; choose another name")
    rule = _DTYPE_RULES.get(output_dtype, output_dtype) if isinstance(output_dtype, str) \
        else output_dtype
    if isinstance(rule, str):
        raise ValueError(f"scalar_op: output_dtype {output_dtype!r} is not one of "
                         f"{sorted(_DTYPE_RULES)}, a DtypeRule or a function")
    row = ew.ScalarOp(name, nin, impl, rule, grad, emit, doc=doc or name,
                      args=tuple(args), domain=domain, reference=reference, cost=cost,
                      positive=positive,
                      perform_only="" if emit is not None else "it was defined without emit")
    existing = ew.USER_ROWS.setdefault(name, row)
    if existing is not row:
        if not _same_definition(existing, row):
            raise ValueError(f"scalar_op: {name!r} is already defined in this process with "
                             f"another definition (ops compare by name); choose another name")
        row = existing  # the same definition run again (a script re-run, a notebook cell)
    return ew.make_function(row)


def _same_definition(a: ew.ScalarOp, b: ew.ScalarOp) -> bool:
    """Whether two rows were made from the same source (functions compare by their code)."""
    def canonical(value: Any) -> Any:
        code = getattr(value, "__code__", None)
        return (code.co_code, code.co_consts) if code is not None else value

    return all(canonical(getattr(a, f)) == canonical(getattr(b, f))
               for f in ("nin", "impl", "grad", "emit", "doc", "args", "domain", "reference",
                         "cost", "positive")) and a.output_dtype.name == b.output_dtype.name
