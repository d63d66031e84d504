"""Printing graphs: debugprint, pp and Graphviz drawing (pydotprint)."""
