"""Convolution and pooling: conv2d, max_pool_2d."""

__all__: list[str] = []
