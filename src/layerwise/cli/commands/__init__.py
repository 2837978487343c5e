"""Sub-commands of the ``layerwise`` command line.

Each module here defines ``add_parser(subparsers)``, which adds one sub-command whose parser
sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
"""
