"""The ``layerwise`` command line (:mod:`layerwise.cli.program`) and its sub-commands
(:mod:`layerwise.cli.commands`)."""

from layerwise.cli.program import main

__all__ = ["main"]
