"""The CUDA backend: fused elementwise, reduction and neural-network kernels emitted as CUDA C,
compiled with NVRTC, launched through the CUDA driver; GEMM through cuBLAS.

Only this package touches the CUDA libraries, and only when a "cuda" function is compiled, so
``import symgraph`` needs neither a driver nor a GPU.
"""


def __getattr__(name: str) -> object:
    if name == "CudaBackend":
        from symgraph.codegen.cuda.backend import CudaBackend

        return CudaBackend
    raise AttributeError(name)


__all__ = ["CudaBackend"]
