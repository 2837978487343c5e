"""Pixels for figures drawn as shapes: a Pillow canvas, and PNG and animated-GIF files.

The trace figure (:mod:`layerwise.figures.trace_figure`) is laid out once as shapes (text, arrows,
boxes, heat maps). Each shape writes itself as SVG, or paints itself on a canvas with the few
calls of :class:`PillowCanvas`; this module knows nothing of traces. Coordinates are the SVG's
(pixels, y down, text placed by its baseline), multiplied by ``scale``.

Needs Pillow and the DejaVu Sans font, both in the ``plot`` extra (``pip install
'layerwise[plot]'``: the font comes with matplotlib); a Linux system's own DejaVu Sans
(Debian's ``fonts-dejavu-core``) serves too. Without them a :class:`~layerwise.errors.ConfigError`
says so before anything is drawn; there is no fallback font, because the figure's ``∂`` and
``→`` would come out as empty boxes.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from layerwise.errors import ConfigError, printable

__all__ = ["PillowCanvas", "require_raster", "png_file_bytes", "gif_file_bytes"]

INSTALL_HINT = "pip install 'layerwise[plot]'"
_SYSTEM_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu",
                     "/usr/local/share/fonts", "/Library/Fonts", os.path.expanduser("~/Library/Fonts"),
                     "C:/Windows/Fonts")
#: SVG's text-anchor (at the baseline) as Pillow's anchor.
_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


def _font_files() -> tuple[Path, Path] | None:
    """DejaVu Sans and DejaVu Sans Bold: matplotlib's copies (found without importing it),
    else the system's; None if neither has both."""
    folders = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(p) / "mpl-data" / "fonts" / "ttf" for p in spec.submodule_search_locations]
    folders += [Path(p) for p in _SYSTEM_FONT_DIRS]
    for folder in folders:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def require_raster(what: str) -> tuple[Path, Path]:
    """The font files, or :class:`ConfigError` naming ``what`` needs Pillow or the font."""
    try:
        import PIL.features
    except ImportError:
        raise ConfigError(f"{what} needs the Python package Pillow: {INSTALL_HINT}") from None
    if not PIL.features.check("freetype2"):
        raise ConfigError(f"{what} needs a Pillow built with FreeType (its wheels are): {INSTALL_HINT}")
    fonts = _font_files()
    if fonts is None:
        raise ConfigError(f"{what} needs the DejaVu Sans font (it comes with matplotlib): {INSTALL_HINT}")
    return fonts


@lru_cache(maxsize=64)
def _font(path: Path, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def _px(v: float) -> int:
    """The pixel edge nearest to the coordinate ``v`` (pixel ``i`` covers ``[i, i + 1)``)."""
    return int(math.floor(v + 0.5))


class PillowCanvas:
    """A white RGB picture ``width`` x ``height`` (figure units) drawn at ``scale`` pixels a unit."""

    def __init__(self, width: float, height: float, *, scale: float = 1.0,
                 what: str = "a raster figure") -> None:
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.25 <= scale <= 8:
            raise ConfigError(f"scale: expected a number in 0.25..8, got {scale!r}")
        self._fonts = require_raster(what)
        from PIL import Image, ImageDraw

        self.scale = float(scale)
        self.picture = Image.new("RGB", (max(1, _px(width * scale)), max(1, _px(height * scale))), "#ffffff")
        self._draw = ImageDraw.Draw(self.picture)

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, y * self.scale

    def text(self, x: float, y: float, text: str, *, color: str, size: int, bold: bool, anchor: str) -> None:
        font = _font(self._fonts[1] if bold else self._fonts[0], max(1, round(size * self.scale)))
        self._draw.text(self._xy(x, y), printable(text), fill=color, font=font, anchor=_ANCHORS[anchor])

    def line(self, x1: float, y1: float, x2: float, y2: float, *, color: str, width: float) -> None:
        self._draw.line([self._xy(x1, y1), self._xy(x2, y2)], fill=color,
                        width=max(1, round(width * self.scale)))

    def polygon(self, points: Sequence[tuple[float, float]], *, color: str) -> None:
        self._draw.polygon([self._xy(x, y) for x, y in points], fill=color)

    def rect(self, x: float, y: float, w: float, h: float, *, radius: float, fill: str | None,
             outline: str, width: float) -> None:
        """A rectangle whose outline is centred on its edges, as an SVG stroke is."""
        s, half = self.scale, width / 2
        left, top = _px((x - half) * s), _px((y - half) * s)
        # a box narrower than a pixel is still one pixel wide, as a browser shows a hairline
        box = (left, top, max(left, _px((x + w + half) * s) - 1), max(top, _px((y + h + half) * s) - 1))
        self._draw.rounded_rectangle(box, radius=(radius + half) * s if radius else 0, fill=fill,
                                     outline=outline, width=max(1, round(width * s)))

    def image(self, x: float, y: float, w: float, h: float, rgb: np.ndarray) -> None:
        """``rgb`` ``(rows, cols, 3)`` stretched over the box, each cell a flat block (as SVG's
        ``image-rendering: pixelated``)."""
        from PIL import Image

        s = self.scale
        left, top = _px(x * s), _px(y * s)
        size = (max(1, _px((x + w) * s) - left), max(1, _px((y + h) * s) - top))
        cells = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
        self.picture.paste(cells.resize(size, Image.Resampling.NEAREST), (left, top))


def png_file_bytes(canvas: PillowCanvas) -> bytes:
    """The canvas as a PNG file."""
    out = io.BytesIO()
    canvas.picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def gif_file_bytes(frames: Sequence[PillowCanvas], durations_ms: Sequence[int]) -> bytes:
    """The canvases as an animated GIF that loops for ever, frame ``i`` shown ``durations_ms[i]``."""
    if not frames or len(frames) != len(durations_ms):
        raise ConfigError(f"gif: expected one duration a frame, got {len(durations_ms)} for "
                          f"{len(frames)} frames")
    first, *rest = [frame.picture for frame in frames]
    out = io.BytesIO()
    first.save(out, format="GIF", save_all=True, append_images=rest, duration=list(durations_ms), loop=0)
    return out.getvalue()
