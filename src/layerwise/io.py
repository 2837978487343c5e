"""The old name of :mod:`layerwise.model_files`, kept so that existing code keeps working.

``layerwise.io.save_model`` / ``load_model`` (as the README has long shown them) are the very
functions of :mod:`layerwise.model_files`; new code should import from there, whose name says
what it holds (and does not shadow the standard library's :mod:`io`).
"""

from __future__ import annotations

from layerwise import model_files as _model_files
from layerwise.model_files import *  # noqa: F403 - the same names, re-exported whole

__all__ = list(_model_files.__all__)
