"""layerwise: neural networks from layers that each own forward() and backward()."""

from __future__ import annotations

__version__ = "0.1.0"
