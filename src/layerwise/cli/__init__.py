"""The ``layerwise`` command line (:mod:`layerwise.cli.main`) and its sub-commands
(:mod:`layerwise.cli.commands`)."""

from layerwise.cli.main import main

__all__ = ["main"]
