"""The package's version: one place, read by ``pyproject.toml`` and by whatever writes it into a
file (model metadata, ONNX, the download client's name), without climbing back to the package root."""

__version__ = "0.1.0"
