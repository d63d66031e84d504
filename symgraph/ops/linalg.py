"""Linear algebra (``sg.linalg``): inv, solve, det, cholesky."""

__all__: list[str] = []
