"""Run one exported function from a small generated C program (no Python in the process):
inputs go through files, outputs come back C-ordered (helpers in runner.h)."""

from __future__ import annotations

import os
import subprocess

import numpy as np

from symgraph.export.params import DTYPES

HERE = os.path.dirname(os.path.abspath(__file__))

MAIN = """
int main(int argc, char **argv) {
    %(lib)s_context *ctx;
    sg_tensor in[%(n_in)d], out[%(n_out)d];
    int status, call, calls = argc > 2 ? atoi(argv[2]) : 1;
    (void)in; (void)out;
    if ((status = %(lib)s_context_new(argc > 1 && argv[1][0] ? argv[1] : NULL, &ctx))) {
        printf("error %%d %%s\\n", status, %(lib)s_error_message(NULL));
        return 1;
    }
%(inputs)s
    for (call = 0; call < calls; call++) {
        if ((status = %(lib)s_%(fn)s(%(args)s))) {
            printf("error %%d %%s\\n", status, %(lib)s_error_message(ctx));
            return 1;
        }
    }
%(outputs)s
    %(lib)s_context_free(ctx);
    return 0;
}
"""


def c_program(library: str, function: str, inputs: list[np.ndarray], n_outputs: int) -> str:
    lines = []
    for i, array in enumerate(inputs):
        shape = ", ".join(str(d) for d in array.shape) or "0"
        lines.append(f"    {{ static int64_t shape[] = {{{shape}}};\n"
                     f"      sg_tensor_init(&in[{i}], load(\"in{i}.bin\", {array.nbytes}), "
                     f"{DTYPES.index(array.dtype.name)}, {array.ndim}, shape); }}")
    args = ["ctx"] + [f"&in[{i}]" for i in range(len(inputs))] + \
        [f"&out[{k}]" for k in range(n_outputs)]
    return f'#include "{library}.h"\n#include "runner.h"\n' + MAIN % {
        "lib": library, "fn": function, "n_in": max(len(inputs), 1),
        "n_out": max(n_outputs, 1), "inputs": "\n".join(lines), "args": ", ".join(args),
        "outputs": "\n".join(f'    save("out{k}.bin", &out[{k}]);' for k in range(n_outputs))}


def run_in_c(result, library: str, function: str, inputs: list[np.ndarray], dtypes: list[str],
             workdir: str, params: str | None = None, calls: int = 1, cc: str = "cc",
             launcher: list[str] | None = None):
    """Build and run the program (with ``launcher`` in front: an emulator) making ``calls``
    calls; the outputs (of ``dtypes``), or the error line it printed."""
    source = os.path.join(workdir, f"run_{function}.c")
    with open(source, "w") as file:
        file.write(c_program(library, function, inputs, len(dtypes)))
    program = os.path.join(workdir, f"run_{function}")
    subprocess.run(result.build_command(source, program, cc=cc) + ["-I", HERE, "-Wall",
                                                                   "-Werror"], check=True)
    for i, array in enumerate(inputs):
        np.ascontiguousarray(array).tofile(os.path.join(workdir, f"in{i}.bin"))
    done = subprocess.run([*(launcher or []), program, params or "", str(calls)], cwd=workdir,
                          capture_output=True, text=True, env={})
    if done.returncode != 0:
        return done.stdout.strip() or f"exit {done.returncode}: {done.stderr}"
    shapes = [tuple(int(d) for d in line.split()[1:]) for line in done.stdout.splitlines()
              if line.startswith("shape")]
    return [np.fromfile(os.path.join(workdir, f"out{k}.bin"), dtype=dtype).reshape(shape)
            for k, (dtype, shape) in enumerate(zip(dtypes, shapes))]
