"""Every name of the public API contract (shared/API.md) is reachable from ``import symgraph``."""

import importlib
import types

import pytest

import symgraph as sg

TOP_LEVEL = """
scalar vector matrix tensor3 tensor4 fscalar dscalar iscalar lscalar bscalar fvector dvector
ivector lvector fmatrix dmatrix imatrix lmatrix ftensor3 dtensor3 ftensor4 dtensor4 dmatrices
scalars vectors matrices fmatrices as_tensor_variable tensor constant shared
abs exp exp2 log log1p log2 log10 expm1 sqrt sqr square sin cos tan arcsin arccos arctan arctan2
sinh cosh tanh sign floor ceil round erf erfc maximum minimum clip where switch pow true_divide
int_div mod isnan isinf eq neq lt le gt ge and_ or_ xor invert cast
sum mean prod max min argmax argmin std var all any logsumexp cumsum cumprod
dot matmul outer tensordot batched_dot
reshape flatten transpose dimshuffle concatenate stack split squeeze expand_dims zeros ones
zeros_like ones_like full alloc arange eye diag tile repeat set_subtensor inc_subtensor take
function grad Lop Rop jacobian hessian disconnected_grad stop_gradient verify_grad ifelse
Op as_op Apply Variable Constant TensorType FunctionGraph debugprint config change_flags Mode
rewrite_graph In DebugMode
""".split()

# "Theano's module paths": each imports as a module.
THEANO_PATHS = """
symgraph.tensor symgraph.tensor.nnet symgraph.tensor.signal.pool
symgraph.tensor.shared_randomstreams symgraph.sandbox.rng_mrg symgraph.ifelse symgraph.printing
symgraph.gradient symgraph.compile symgraph.nnet symgraph.random
""".split()

SUBMODULES = {
    "nnet": "sigmoid softplus relu softmax log_softmax categorical_crossentropy "
            "binary_crossentropy conv2d max_pool_2d dropout",
    "linalg": "inv solve det cholesky",
    "random": "RandomStream",
    "printing": "pydotprint pp debugprint",
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name(name):
    assert hasattr(sg, name), f"sg.{name} is missing"


@pytest.mark.parametrize("module, name", [(m, n) for m, ns in SUBMODULES.items()
                                          for n in ns.split()])
def test_submodule_name(module, name):
    assert hasattr(getattr(sg, module), name), f"sg.{module}.{name} is missing"


@pytest.mark.parametrize("path", THEANO_PATHS)
def test_theano_module_path(path):
    module = importlib.import_module(path)
    assert isinstance(module, types.ModuleType)


def test_theano_named_modes_and_callable_paths():
    for name in ("FAST_RUN", "FAST_COMPILE", "DebugMode"):
        assert isinstance(sg.function([], sg.constant(1.0), mode=name).mode, sg.Mode)
    assert sg.Mode(linker="py", optimizer=None).backend == "py"
    assert callable(sg.tensor) and callable(sg.ifelse)


def test_variable_methods_and_attributes():
    x = sg.dmatrix("x")
    for attr in ["T", "ndim", "dtype", "shape", "type", "name", "owner", "sum", "mean", "prod",
                 "max", "min", "argmax", "argmin", "std", "var", "reshape", "dimshuffle",
                 "flatten", "astype", "dot", "clip", "eval"]:
        assert hasattr(x, attr), attr
    for expr in [x + 1, x - 1, x * 2, x / 2, x // 2, x % 2, x ** 2, x @ x, -x, abs(x), x < 1,
                 x <= 1, x > 1, x >= 1, x[0], x[:, 1:], x.T]:
        assert isinstance(expr, sg.Variable)
