"""Lazy conditional: ``ifelse(cond, then, else)`` evaluates only the branch taken."""

__all__: list[str] = []
