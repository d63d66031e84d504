"""The export's error (no llvmlite needed to import it)."""


class ExportError(ValueError):
    """A function cannot be exported (an op with no native rule, an unsupported type, a
    missing BLAS or C compiler)."""
