"""The main job of symgraph on real data, run as ``python -m symgraph.demo``.

An MLP on scikit-learn's digits and a character-level LSTM (written with ``scan``) on English
prose from the Python standard library's docstrings; ``--help`` lists the options.
"""
