"""Graph rewrites (layer L3): the engine, the standard phases, fusion and inplace."""
