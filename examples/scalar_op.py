"""An elementwise op of your own that compiles like a built-in: Mish (Misra, 2019,
"Mish: A Self Regularized Non-Monotonic Activation Function"), mish(x) = x * tanh(softplus(x)).

``sg.scalar_op`` takes the scalar definition: the NumPy reference, the dtype rule, the gradient
and the kernel rule. The op then fuses with its neighbours into one native kernel on LLVM (and
CUDA), differentiates, and runs on the reference backend from ``impl``.
Run: python examples/scalar_op.py
"""

import numpy as np

import symgraph as sg


def mish_reference(x):
    return x * np.tanh(np.logaddexp(0.0, x))


def mish_kernel(e, x):
    # Written against sg.Emitter: the same rule builds the LLVM IR and the CUDA C.
    return e.mul(x, e.call("tanh", e.call("softplus", x)))


mish = sg.scalar_op(
    "mish", mish_reference,
    output_dtype="float",  # floats keep their dtype, integers compute in float
    # d/dx mish = tanh(sp) + x * (1 - tanh(sp)^2) * sigmoid(x), sp = softplus(x)
    grad="g * (tanh(softplus(x)) + x * (1 - sqr(tanh(softplus(x)))) * sigmoid(x))",
    emit=mish_kernel,
    doc="Mish activation, x * tanh(softplus(x))",
    domain="every real number",
    reference="Misra (2019), arXiv:1908.08681",
)


def main(argv=None):
    x = sg.fmatrix("x")
    w = sg.shared(np.random.default_rng(0).normal(size=(8, 4)).astype("float32"), name="w")
    hidden = mish(sg.dot(x, w) + 0.5)
    cost = hidden.sum()
    f = sg.function([x], [hidden, sg.grad(cost, w)], profile=True)

    batch = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    values, dw = f(batch)
    pre = batch.astype("float64") @ w.get_value().astype("float64") + 0.5
    print("max |mish - NumPy|:", float(np.abs(values - mish_reference(pre)).max()))

    sg.verify_grad(mish, [np.linspace(-4, 4, 9)], rng=np.random.default_rng(0))
    print("verify_grad: the gradient matches finite differences")

    ran = sorted(set(f.profile.node_notes.values()))
    print("how the nodes ran:", ran)  # native only: no 'perform' (NumPy) among them
    return values, pre, dw, ran


if __name__ == "__main__":
    main()
