"""Products: dot, matmul, outer, tensordot, batched_dot."""

__all__: list[str] = []
