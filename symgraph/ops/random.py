"""Random numbers (``sg.random``): the generator type, the ``RandomVariable`` op and
``RandomStream``, which hands out draws whose generators advance on every function call."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symgraph import dtype as dt
from symgraph.config import config
from symgraph.graph import Apply, Constant, Variable
from symgraph.op import Op
from symgraph.ops import elemwise, shape
from symgraph.ops.basic import SharedVariable, as_tensor_variable, constant
from symgraph.type import TensorType, Type, broadcast_static_shapes

__all__ = ["RandomGeneratorType", "RandomStream", "RandomVariable", "random_generator_shared"]


class RandomGeneratorType(Type):
    """The type of a variable holding a ``numpy.random.Generator`` (an RNG state).

    All generator types are equal: the bit generator is part of the value, not of the type.
    """

    def filter(self, value: Any, name: str = "value", allow_downcast: bool = False) -> Any:
        """Return ``value`` unchanged if it is a ``numpy.random.Generator``.

        Raises
        ------
        TypeError
            Naming ``name``, for any other value.
        """
        if isinstance(value, np.random.Generator):
            return value
        raise TypeError(f"{name}: expected a numpy.random.Generator, got "
                        f"{type(value).__name__} {value!r}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return "RandomGeneratorType"


def random_generator_shared(value: np.random.Generator, name: str | None = None,
                            borrow: bool = False) -> SharedVariable:
    """A shared variable holding a NumPy generator (what ``sg.shared(generator)`` returns).

    Parameters
    ----------
    value : numpy.random.Generator
        Copied unless ``borrow``.
    name : str, optional

    Raises
    ------
    TypeError
        If ``value`` is not a ``numpy.random.Generator``.
    """
    return SharedVariable(RandomGeneratorType(), value, name=name, borrow=borrow)


# ---------------------------------------------------------------------------------------------
# The distribution table
# ---------------------------------------------------------------------------------------------

# Written as a string: numpy.random loads on first use, not when symgraph is imported.
Draw = Callable[["np.random.Generator", list[Any], "tuple[int, ...] | None", str], Any]


@dataclass(frozen=True)
class Distribution:
    """One row of the distribution table.

    Attributes
    ----------
    name : str
        The name ``RandomVariable`` is parametrised by.
    n_params : tuple of int
        Accepted numbers of parameters.
    output_kind : str
        ``'f'`` for float draws, ``'i'`` for integer ones, ``''`` for the dtype of a parameter.
    shape_rule : str
        ``'broadcast'``: the draw has shape ``size``, or the broadcast shape of the parameters
        when ``size`` is None; ``'size'``: shape ``size`` whatever the parameters' shapes;
        ``'permutation'``: the shape of the parameter (or ``(n,)`` for an integer ``n``).
    draw : callable
        ``draw(generator, params, size, dtype)`` calling NumPy; ``size`` is a tuple or None.
    param_kinds : tuple of str
        NumPy dtype kinds accepted for each parameter.
    """

    name: str
    n_params: tuple[int, ...]
    output_kind: str
    shape_rule: str
    draw: Draw
    param_kinds: tuple[str, ...]


def _choice(replace: bool) -> Draw:
    def draw(g: np.random.Generator, ps: list[Any], size: Any, dtype: str) -> Any:
        return g.choice(ps[0], size, replace=replace, p=ps[1] if len(ps) > 1 else None)

    return draw


_NUMERIC = "biuf"
DISTRIBUTIONS: dict[str, Distribution] = {d.name: d for d in (
    Distribution("normal", (2,), "f", "broadcast",
                 lambda g, ps, size, dtype: g.normal(ps[0], ps[1], size), (_NUMERIC,) * 2),
    Distribution("uniform", (2,), "f", "broadcast",
                 lambda g, ps, size, dtype: g.uniform(ps[0], ps[1], size), (_NUMERIC,) * 2),
    Distribution("binomial", (2,), "i", "broadcast",
                 lambda g, ps, size, dtype: g.binomial(ps[0], ps[1], size), ("biu", _NUMERIC)),
    Distribution("integers", (2,), "i", "broadcast",
                 lambda g, ps, size, dtype: g.integers(ps[0], ps[1], size, dtype=dtype),
                 ("biu", "biu")),
    Distribution("choice", (1, 2), "", "size", _choice(True), (_NUMERIC, "biuf")),
    Distribution("choice_without_replacement", (1, 2), "", "size", _choice(False),
                 (_NUMERIC, "biuf")),
    Distribution("permutation", (1,), "", "permutation",
                 lambda g, ps, size, dtype: g.permutation(
                     ps[0].item() if np.ndim(ps[0]) == 0 else ps[0]), (_NUMERIC,)),
)}


# ---------------------------------------------------------------------------------------------
# The op
# ---------------------------------------------------------------------------------------------

class RandomVariable(Op):
    """A draw from a NumPy distribution: ``(rng, size, *params) -> (next_rng, draw)``.

    The draw is a pure function of the generator's state: ``perform`` copies the input
    generator, draws from the copy and returns the advanced copy as ``next_rng``, so the same
    state always gives the same numbers. ``RandomStream`` makes ``next_rng`` the generator's
    ``default_update``, which is how compiled functions advance it between calls.

    Parameters
    ----------
    dist : str
        A key of ``DISTRIBUTIONS``: ``normal(loc, scale)``, ``uniform(low, high)``,
        ``binomial(n, p)``, ``integers(low, high)`` (``high`` excluded), ``choice(a[, p])``,
        ``choice_without_replacement(a[, p])``, ``permutation(x or n)`` — NumPy's
        ``Generator`` methods of those names, with NumPy's parameter semantics.
    dtype : str
        Output dtype; float draws are made in float64 by NumPy and cast, integers are drawn
        directly in ``dtype`` (NumPy's integer streams depend on it).
    ndim : int
        Rank of the draw.

    Inputs
    ------
    rng : RandomGeneratorType variable
    size : (ndim,) or (0,) int64
        The draw's shape. An empty ``size`` means NumPy's ``size=None``: for ``normal``,
        ``uniform``, ``binomial`` and ``integers`` the draw then has the broadcast shape of
        the parameters (Theano broadcasting: only static-1 dimensions broadcast).
    params : tensors
        Broadcast against ``size`` as in NumPy.

    Raises
    ------
    TypeError
        From ``make_node``: an rng that is not a generator variable, a ``size`` of unknown
        length or whose length is not ``ndim``, a wrong number of parameters, a parameter of
        the wrong dtype kind or of more than ``ndim`` dimensions.
    ValueError
        From ``perform``: parameters NumPy rejects (negative scale, p outside [0, 1], ...),
        parameters that do not broadcast to ``size``.

    Notes
    -----
    Not differentiable: ``L_op`` gives no gradient to any input. For a gradient through the
    parameters, write the draw reparametrised (``loc + scale * normal(0, 1)``).
    """

    __props__ = ("dist", "dtype", "ndim")
    default_output = 1

    def __init__(self, dist: str, dtype: Any, ndim: int) -> None:
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {dist!r}; known: {sorted(DISTRIBUTIONS)}")
        self.dist = dist
        self.dtype = dt.canonical(dtype)
        self.ndim = int(ndim)
        kind = DISTRIBUTIONS[dist].output_kind
        if kind == "f" and not dt.is_float(self.dtype):
            raise TypeError(f"{dist} draws floats; dtype {self.dtype} is not a float dtype")
        if kind == "i" and not dt.is_integer(self.dtype):
            raise TypeError(f"{dist} draws integers; dtype {self.dtype} is not an integer dtype")

    def __str__(self) -> str:
        return f"RandomVariable{{{self.dist}, {self.dtype}, ndim={self.ndim}}}"

    def make_node(self, rng: Any, size: Any, *params: Any) -> Apply:
        if not (isinstance(rng, Variable) and isinstance(rng.type, RandomGeneratorType)):
            raise TypeError(f"{self}: input 0 (rng) must be a generator variable (sg.shared("
                            f"numpy.random.default_rng(seed))), got {rng!r}")
        size = as_size(size)
        dist = DISTRIBUTIONS[self.dist]
        if len(params) not in dist.n_params:
            raise TypeError(f"{self}: {self.dist} takes {' or '.join(map(str, dist.n_params))} "
                            f"parameters, got {len(params)}")
        tensors = [as_tensor_variable(p) for p in params]
        for i, (p, kinds) in enumerate(zip(tensors, dist.param_kinds)):
            if np.dtype(p.dtype).kind not in kinds:
                raise TypeError(f"{self}: parameter {i} ({p}) has dtype {p.dtype}, "
                                f"{self.dist} does not accept it")
        out_shape = self._static_shape(size, tensors)
        draw = TensorType(self.dtype, out_shape).make_variable()
        return Apply(self, [rng, size, *tensors], [rng.type.make_variable(), draw])

    def _static_shape(self, size: Any, params: list[Any]) -> tuple[int | None, ...]:
        length = size.type.shape[0]
        rule = DISTRIBUTIONS[self.dist].shape_rule
        if rule == "broadcast":
            for i, p in enumerate(params):
                if p.ndim > self.ndim:
                    raise TypeError(f"{self}: parameter {i} ({p}) has {p.ndim} dimensions, "
                                    f"more than the draw's {self.ndim}")
        if rule == "permutation":
            x = params[0]
            if x.ndim == 0:
                n = x.data if isinstance(x, Constant) else None
                static: tuple[int | None, ...] = (None if n is None else int(n),)
            else:
                static = x.type.shape
        elif length == 0 and rule == "broadcast":
            padded = [(1,) * (self.ndim - p.ndim) + p.type.shape for p in params]
            try:
                static = broadcast_static_shapes(*padded)
            except ValueError as err:
                raise ValueError(f"{self}: parameters {err}") from err
        elif length == 0:
            static = ()
        else:
            static = static_size(size)
        if len(static) != self.ndim:
            raise TypeError(f"{self}: the draw would have {len(static)} dimensions, the op "
                            f"declares {self.ndim} (size {size})")
        return static

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        rng, size, *params = inputs
        # Draw from a copy: the input state must stay valid for whoever else reads it.
        generator = copy.deepcopy(rng)
        dist = DISTRIBUTIONS[self.dist]
        size_arg = tuple(int(s) for s in size) if len(size) else None
        if size_arg is None and dist.shape_rule == "broadcast":
            _check_param_broadcast(node, params)
        value = dist.draw(generator, list(params), size_arg, self.dtype)
        output_storage[0][0] = generator
        output_storage[1][0] = np.asarray(value, dtype=self.dtype)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: Sequence[Any]) -> list:
        size, params = node.inputs[1], node.inputs[2:]
        rule = DISTRIBUTIONS[self.dist].shape_rule
        static = node.outputs[1].type.shape
        if rule == "permutation":
            if params[0].ndim == 0:
                out: tuple[Any, ...] = (elemwise.cast(params[0], "int64"),)
            else:
                out = tuple(input_shapes[2])
        elif size.type.shape[0] == 0 and rule == "broadcast":
            out = _broadcast_shape(static, params, input_shapes[2:])
        else:
            out = size_entries(size, self.ndim)
        return [None, tuple(s if s is not None else d for s, d in zip(static, out))]

    def L_op(self, inputs: Sequence[Any], outputs: Sequence[Any],
             output_grads: Sequence[Any]) -> list[Any]:
        return [None] * len(inputs)

    def do_constant_folding(self, node: Apply) -> bool:
        # A folded draw would be the same numbers on every call.
        return False


def _broadcast_shape(static: Sequence[int | None], params: Sequence[Any],
                     shapes: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """Symbolic broadcast shape of the parameters, read from one that does not broadcast."""
    ndim = len(static)
    out: list[Any] = []
    for axis in range(ndim):
        for p, p_shape in zip(params, shapes):
            offset = axis - (ndim - p.ndim)
            if offset >= 0 and p.type.shape[offset] != 1:
                out.append(p_shape[offset])
                break
        else:
            out.append(1)
    return tuple(out)


def _check_param_broadcast(node: Apply, params: Sequence[Any]) -> None:
    ndim = node.outputs[1].type.ndim
    for axis in range(ndim):
        sizes = set()
        for var, value in zip(node.inputs[2:], params):
            offset = axis - (ndim - var.ndim)
            if offset >= 0 and var.type.shape[offset] != 1:
                sizes.add(np.shape(value)[offset])
        if len(sizes) > 1:
            raise ValueError(
                f"parameter shapes {[np.shape(p) for p in params]} do not match on axis {axis}; "
                f"only dimensions declared broadcastable (static shape 1) broadcast")


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------

def as_size(size: Any) -> Any:
    """``size`` as an int64 vector Variable of static length; None gives an empty one.

    Accepts None, an int or 0-d integer Variable (a 1-d draw), a tuple or list of ints and
    0-d integer Variables, or a 1-d integer Variable of known length such as ``x.shape``.

    Raises
    ------
    TypeError
        For non-integer entries, or a symbolic size whose length is not known statically.
    """
    if size is None:
        return constant(np.zeros(0, dtype="int64"))
    if isinstance(size, (int, np.integer)) or (
            isinstance(size, Variable) and getattr(size, "ndim", None) == 0):
        size = (size,)
    if isinstance(size, (tuple, list)):
        return _size_from_sequence(size)
    if isinstance(size, np.ndarray):
        return _size_from_sequence(list(size))
    size = as_tensor_variable(size)
    if size.ndim != 1 or not dt.is_integer(size.dtype):
        raise TypeError(f"size must be a tuple of ints or a 1-d integer vector, got {size} "
                        f"({size.type})")
    if size.type.shape[0] is None:
        raise TypeError(f"size {size} has a length unknown until run time; give a tuple "
                        f"(e.g. (n, m)) or a vector of static length such as x.shape")
    return elemwise.cast(size, "int64")


def _size_from_sequence(entries: Sequence[Any]) -> Any:
    if all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in entries):
        return constant(np.asarray(entries, dtype="int64").reshape(len(entries)))
    scalars = []
    for i, entry in enumerate(entries):
        var = as_tensor_variable(entry)
        if var.ndim != 0 or not dt.is_integer(var.dtype):
            raise TypeError(f"size entry {i} ({entry}) must be an int or a 0-d integer "
                            f"variable, got {getattr(var, 'type', var)}")
        scalars.append(elemwise.cast(var, "int64"))
    return shape.stack(scalars)


def static_size(size: Any) -> tuple[int | None, ...]:
    """What is known statically of the values of a size vector built by ``as_size``."""
    length = size.type.shape[0]
    if isinstance(size, Constant):
        return tuple(int(s) for s in size.data)
    owner = size.owner
    if owner is not None and isinstance(owner.op, shape.Shape):
        return tuple(owner.inputs[0].type.shape)
    scalars = _stacked_scalars(size)
    if scalars is not None:
        return tuple(int(s.data) if isinstance(s, Constant) else None for s in scalars)
    return (None,) * length


def _stacked_scalars(size: Any) -> list[Any] | None:
    """The 0-d variables ``size`` stacks (the form ``shape.stack`` gives), else None."""
    owner = size.owner
    if owner is None:
        return None
    parts = owner.inputs if isinstance(owner.op, shape.Join) else [size]
    scalars = []
    for part in parts:
        node = part.owner
        if node is None or not isinstance(node.op, elemwise.DimShuffle) or \
                node.op.new_order != ("x",):
            return None
        scalars.append(node.inputs[0])
    return scalars if len(scalars) == size.type.shape[0] else None


def size_entries(size: Any, ndim: int) -> tuple[Any, ...]:
    """The entries of a size vector as ints or 0-d int64 Variables (for ``infer_shape``)."""
    known = static_size(size)
    owner = size.owner
    scalars = _stacked_scalars(size)
    entries: list[Any] = []
    for i in range(ndim):
        if known[i] is not None:
            entries.append(known[i])
        elif owner is not None and isinstance(owner.op, shape.Shape):
            entries.append(shape.shape_i(owner.inputs[0], i))
        elif scalars is not None:
            entries.append(elemwise.cast(scalars[i], "int64"))
        else:
            entries.append(size[i])
    return tuple(entries)


# ---------------------------------------------------------------------------------------------
# RandomStream
# ---------------------------------------------------------------------------------------------

class RandomStream:
    """A source of symbolic random draws, each with its own generator that advances per call.

    Every draw method creates a shared ``numpy.random.Generator`` seeded from this stream's
    ``numpy.random.SeedSequence`` (the k-th draw gets the k-th spawned child), builds a
    ``RandomVariable`` node and sets the generator's ``default_update`` to the advanced state.
    ``sg.function`` applies default updates, so each call of a compiled function gives new
    numbers; with ``function(..., no_default_updates=True)`` every call gives the same ones.
    The same seed gives the same sequence of draws. This is PyTensor's ``RandomStream`` (with
    NumPy's parameter names), Theano's ``RandomStreams``.

    Parameters
    ----------
    seed : int, sequence of int or None
        Entropy for ``numpy.random.SeedSequence``; None draws fresh entropy from the OS.

    Examples
    --------
    >>> import symgraph as sg
    >>> srng = sg.random.RandomStream(seed=42)
    >>> f = sg.function([], srng.uniform(size=(2,)))
    >>> bool((f() != f()).all())
    True
    """

    def __init__(self, seed: Any = None) -> None:
        self._seed_sequence = np.random.SeedSequence(seed)
        self.state_updates: list[tuple[SharedVariable, Variable]] = []

    def seed(self, new_seed: Any = None) -> None:
        """Reseed every generator this stream made, as a new ``RandomStream(new_seed)`` would."""
        self._seed_sequence = np.random.SeedSequence(new_seed)
        for shared_rng, _ in self.state_updates:
            shared_rng.set_value(self._next_generator(), borrow=True)

    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        """``(generator, next_state)`` pairs of every draw made so far."""
        return list(self.state_updates)

    def _next_generator(self) -> np.random.Generator:
        (child,) = self._seed_sequence.spawn(1)
        return np.random.default_rng(child)

    def gen(self, dist: str, size: Any, *params: Any, dtype: Any) -> Any:
        """Build a draw of ``dist`` with a new generator; return the draw."""
        size_var = as_size(size)
        tensors = [as_tensor_variable(p) for p in params]
        op = RandomVariable(dist, dtype, _draw_ndim(dist, size_var, tensors))
        shared_rng = random_generator_shared(self._next_generator(), borrow=True)
        node = op.make_node(shared_rng, size_var, *tensors)
        shared_rng.default_update = node.outputs[0]
        self.state_updates.append((shared_rng, node.outputs[0]))
        return node.outputs[1]

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
               dtype: Any = None) -> Any:
        """Gaussian draws, as ``numpy.random.Generator.normal``.

        Parameters
        ----------
        loc, scale : float tensors broadcasting together (and to ``size``)
        size : tuple of (int or 0-d int Variable), or a static-length int vector
            such as ``x.shape``; None gives the broadcast shape of ``loc`` and ``scale``.
        dtype : float dtype, default ``config.floatX``

        Returns
        -------
        Tensor of shape ``size`` and dtype ``dtype``.

        Raises
        ------
        TypeError
            For a non-float dtype or an invalid size; ValueError at run time for scale < 0.
        """
        return self.gen("normal", size, loc, scale, dtype=_float_dtype(dtype))

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None,
                dtype: Any = None) -> Any:
        """Draws uniform on ``[low, high)``, as ``numpy.random.Generator.uniform``.

        Parameters and shapes as for ``normal``; ``dtype`` defaults to ``config.floatX``.
        """
        return self.gen("uniform", size, low, high, dtype=_float_dtype(dtype))

    def binomial(self, n: Any = 1, p: Any = 0.5, size: Any = None, dtype: Any = "int64") -> Any:
        """Counts of successes in ``n`` trials of probability ``p``, as NumPy's ``binomial``.

        Raises
        ------
        TypeError
            For a non-integer ``n`` or ``dtype``; ValueError at run time for ``p`` outside
            [0, 1] or ``n < 0``.
        """
        return self.gen("binomial", size, n, p, dtype=dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None,
                 dtype: Any = "int64") -> Any:
        """Integers uniform on ``[low, high)`` (``[0, low)`` when ``high`` is None), as
        ``numpy.random.Generator.integers`` with ``endpoint=False``.

        Raises
        ------
        TypeError
            For non-integer bounds or dtype; ValueError at run time when ``low >= high``.
        """
        if high is None:
            low, high = 0, low
        return self.gen("integers", size, low, high, dtype=dtype)

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None) -> Any:
        """Samples of ``a`` (a 1-d tensor, or an int ``n`` meaning ``arange(n)``), as
        ``numpy.random.Generator.choice`` on axis 0.

        Parameters
        ----------
        a : (n,) tensor or 0-d int
        size : as for ``normal``; None gives one 0-d sample
        replace : bool
        p : (n,) float tensor, optional
            Probabilities of the entries of ``a``; uniform when None.

        Returns
        -------
        Tensor of shape ``size``, of ``a``'s dtype (int64 for an int ``a``).

        Raises
        ------
        TypeError
            For ``a`` of more than one dimension or ``p`` not 1-d; ValueError at run time
            when ``p`` does not sum to 1 or more samples than entries are asked without
            replacement.
        """
        a = as_tensor_variable(a)
        if a.ndim > 1 or (a.ndim == 0 and not dt.is_integer(a.dtype)):
            raise TypeError(f"choice: a must be a vector or an int, got {a} ({a.type})")
        params = [a] if p is None else [a, as_tensor_variable(p)]
        if len(params) > 1 and params[1].ndim != 1:
            raise TypeError(f"choice: p must be a vector, got {params[1].ndim} dimensions")
        dtype = "int64" if a.ndim == 0 else a.dtype
        dist = "choice" if replace else "choice_without_replacement"
        return self.gen(dist, size, *params, dtype=dtype)

    def permutation(self, x: Any) -> Any:
        """A random permutation of ``arange(x)`` for an int ``x``, else of ``x`` along axis 0,
        as ``numpy.random.Generator.permutation``."""
        x = as_tensor_variable(x)
        if x.ndim == 0 and not dt.is_integer(x.dtype):
            raise TypeError(f"permutation: x must be an int or an array, got {x.type}")
        dtype = "int64" if x.ndim == 0 else x.dtype
        return self.gen("permutation", None, x, dtype=dtype)


def _float_dtype(dtype: Any) -> str:
    return config.floatX if dtype is None else dt.canonical(dtype)


def _draw_ndim(dist: str, size: Any, params: Sequence[Any]) -> int:
    rule = DISTRIBUTIONS[dist].shape_rule
    if rule == "permutation":
        return 1 if params[0].ndim == 0 else params[0].ndim
    length = size.type.shape[0]
    if length == 0 and rule == "broadcast":
        return max((p.ndim for p in params), default=0)
    return length
