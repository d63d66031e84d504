"""Neural-network ops (``sg.nnet``): softmax, log_softmax, crossentropies, dropout."""

__all__: list[str] = []
