"""Figures: the chapter-5 computational graphs (:mod:`layerwise.figures.graph`), traces of
backprop through a network (:mod:`layerwise.figures.tracing`) and their drawing."""
