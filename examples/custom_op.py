"""Writing your own op in Python: ``perform`` (NumPy), ``grad`` (a graph) and ``infer_shape``.

The op is the normalised sinc function, sin(pi x) / (pi x) with sinc(0) = 1 (NumPy's
``np.sinc``). Run: python examples/custom_op.py
"""

import numpy as np

import symgraph as sg


class Sinc(sg.Op):
    """Elementwise normalised sinc of a float tensor; same shape and dtype as the input."""

    __props__ = ()  # no parameters: all Sinc() ops are equal (and merge in a graph)

    def make_node(self, x):
        x = sg.as_tensor_variable(x)
        if not x.dtype.startswith("float"):
            raise TypeError(f"Sinc: input x must be a float tensor, got {x.type}")
        return sg.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = np.sinc(x).astype(x.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]  # the output has the input's shape: no data needed

    def grad(self, inputs, output_grads):
        # d/dx sinc(x) = (cos(pi x) - sinc(x)) / x, which tends to 0 at x = 0.
        (x,), (g,) = inputs, output_grads
        safe_x = sg.switch(sg.eq(x, 0), 1.0, x)
        slope = (sg.cos(np.pi * x) - self(x)) / safe_x
        return [g * sg.switch(sg.eq(x, 0), 0.0, slope)]


sinc = Sinc()


def main(argv=None):
    x = sg.dvector("x")
    y = sinc(x)
    dy = sg.grad(y.sum(), x)
    f = sg.function([x], [y, dy])

    points = np.array([-1.5, -0.5, 0.0, 0.25, 2.0])
    values, slopes = f(points)
    print("x          ", points)
    print("sinc(x)    ", np.round(values, 6) + 0.0)  # + 0.0 turns -0.0 into 0.0
    print("d sinc / dx", np.round(slopes, 6))

    # The gradient agrees with finite differences (verify_grad raises if it does not) ...
    sg.verify_grad(sinc, [points], rng=np.random.default_rng(0))
    print("verify_grad: the gradient matches finite differences")

    # ... and shape queries are answered by infer_shape, without running perform.
    shape = sg.function([x], y.shape)
    print("y.shape for 5 inputs:", shape(points))
    sg.debugprint(shape)
    return values, slopes


if __name__ == "__main__":
    main()
