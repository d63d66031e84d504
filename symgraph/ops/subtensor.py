"""Indexing: basic slicing, integer and boolean advanced indexing, set/inc_subtensor, take."""

__all__: list[str] = []
