"""Random numbers (``sg.random``): RandomStream and the random-variable ops."""

__all__: list[str] = []
