"""Trace figures as pixels (issue 19's ``-o trace.gif``): PNG frames and an animated GIF drawn
with Pillow from the same layout as the SVG. The pictures are checked against the layers' own
values (heat-map colours), against the SVG (its positions, and Chromium's rendering of it) and
against each other (GIF frame k is PNG frame k)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layerwise as lw
from layerwise.errors import ConfigError
from layerwise.figures.trace_figure import heat_rgb, trace_gif, trace_png, trace_svg
from tests._optional import require, require_program

Image = require("PIL.Image", "GIF and PNG traces are drawn with Pillow (the plot extra)")

SCALE = 4  # every heat-map cell several pixels wide, so that its centre is its own colour


def _trace(check: bool = False) -> Any:
    """A TwoLayerNet on one 28 x 28 image: the input drawn as an image, vectors of 20 and 10."""
    rng = np.random.default_rng(5)
    net = lw.TwoLayerNet(784, 20, 10, rng=rng)
    x = rng.random((1, 784)).astype(np.float32)
    return lw.trace(net, x, np.array([3]), check=check)


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _heat_maps(svg: str) -> list[tuple[float, float, float, float, np.ndarray]]:
    """Each heat map the SVG draws: its box and the cells of the PNG symbol it uses."""
    symbols = {ref: _rgb(base64.b64decode(data)) for ref, data in
               re.findall(r'<symbol id="([^"]+)"[^>]*><image[^>]*href="data:image/png;base64,([^"]+)"', svg)}
    return [(float(x), float(y), float(w), float(h), symbols[ref]) for ref, x, y, w, h in
            re.findall(r'<use href="#([^"]+)" x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"/>', svg)]


def _cell_centres(box: tuple[float, float, float, float], cells: np.ndarray) -> Iterator[tuple[int, int, int, int]]:
    x, y, w, h = box
    rows, cols = cells.shape[:2]
    for r in range(rows):
        for c in range(cols):
            yield r, c, int((y + (r + 0.5) * h / rows) * SCALE), int((x + (c + 0.5) * w / cols) * SCALE)


@pytest.mark.parametrize("reached", [0, 2, None])
def test_png_heat_maps_are_the_svgs_at_the_svgs_places(reached: int | None) -> None:
    tr = _trace()
    svg, picture = trace_svg(tr, reached), _rgb(trace_png(tr, reached, scale=SCALE))
    maps = _heat_maps(svg)
    assert maps, "the figure has heat maps"
    height = float(re.search(r'<svg[^>]* height="([^"]+)"', svg).group(1))  # type: ignore[union-attr]
    assert picture.shape == (round(height * SCALE), 980 * SCALE, 3)
    for x, y, w, h, cells in maps:
        for r, c, py, px in _cell_centres((x, y, w, h), cells):
            assert tuple(picture[py, px]) == tuple(cells[r, c]), (x, y, r, c)


def test_png_colours_are_the_layers_values() -> None:
    """The input image and the gradient sent back to it, cell by cell: heat_rgb of the arrays
    the layers saw and returned (greys for the input, blue–red around 0 for the gradient)."""
    tr = _trace()
    svg, picture = trace_svg(tr), _rgb(trace_png(tr, scale=SCALE))
    (x_box, x_cells), (dx_box, dx_cells) = [(m[:4], m[4]) for m in _heat_maps(svg)[:2]]
    np.testing.assert_array_equal(x_cells, heat_rgb(tr.steps[0].x[0].reshape(28, 28)))
    np.testing.assert_array_equal(dx_cells, heat_rgb(tr.steps[0].dx[0].reshape(28, 28), signed=True))
    for box, cells in ((x_box, x_cells), (dx_box, dx_cells)):
        for r, c, py, px in _cell_centres(box, cells):
            assert tuple(picture[py, px]) == tuple(cells[r, c])


def _red_pixels(picture: np.ndarray) -> int:
    r, g, b = (picture[..., i].astype(int) for i in range(3))
    return int(np.sum((r > 150) & (g < 90) & (b < 90)))


def test_each_frame_adds_the_next_backward_step() -> None:
    tr = _trace()
    frames = [_rgb(trace_png(tr, k)) for k in range(len(tr) + 1)]
    # the backward arrows' column (BACKWARD_X = 490): no red in frame 0; each step adds one
    # arrow or more, the shortest (the loss's seed 1) 38 pixels long
    column = [int(np.sum(np.all(f[:, 490] == (198, 40, 40), axis=-1))) for f in frames]
    assert column[0] == 0 and all(b - a >= 36 for a, b in zip(column, column[1:], strict=False)), column
    reds = [_red_pixels(f) for f in frames]
    assert all(a < b for a, b in zip(reds, reds[1:], strict=False)), reds


def test_gif_frames_are_the_png_frames() -> None:
    tr = _trace()
    n = len(tr)
    pngs = [_rgb(trace_png(tr, k)).astype(np.int16) for k in range(n + 1)]
    with Image.open(io.BytesIO(trace_gif(tr, seconds_per_step=0.5))) as gif:
        assert gif.n_frames == n + 1 and gif.info["loop"] == 0
        durations, frames = [], []
        for k in range(n + 1):
            gif.seek(k)
            durations.append(gif.info["duration"])
            frames.append(np.asarray(gif.convert("RGB")).astype(np.int16))
    assert durations == [500] * n + [1000]  # the last frame held, as the animated SVG does
    for k, frame in enumerate(frames):
        distances = [float(np.mean(np.abs(frame - png))) for png in pngs]
        assert int(np.argmin(distances)) == k and distances[k] < 1.0, distances


def test_trace_methods_and_save(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tr = _trace()
    assert tr.to_png(1) == trace_png(tr, 1)
    assert tr.to_gif() == trace_gif(tr)
    assert tr.save(tmp_path / "t.png").read_bytes() == tr.to_png()
    assert tr.save(tmp_path / "t.gif").read_bytes() == tr.to_gif()
    assert tr.save(tmp_path / "T.GIF").read_bytes() == tr.to_gif()  # the suffix in any case


@pytest.mark.parametrize(("call", "message"), [
    (lambda tr: trace_png(tr, scale=0), "scale: expected a number in 0.25..8, got 0"),
    (lambda tr: trace_png(tr, scale=True), "scale: expected a number in 0.25..8, got True"),
    (lambda tr: trace_png(tr, len(tr) + 1), "reached: expected an integer in 0..4, got 5"),
    (lambda tr: trace_gif(tr, seconds_per_step=float("nan")), "seconds_per_step: expected a number"),
    (lambda tr: trace_gif(tr, seconds_per_step=0), "seconds_per_step: expected a number"),
    (lambda tr: trace_gif(tr, sample=1), "sample: expected an integer in 0..0, got 1"),
])
def test_bad_arguments_are_named(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        call(_trace())


def test_without_the_font_or_pillow_nothing_is_written(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No fallback font (its ∂ and → would be empty boxes): a named error, and no file."""
    import layerwise.figures.raster as raster

    tr = _trace()
    monkeypatch.setattr(raster, "_font_files", lambda: None)
    with pytest.raises(ConfigError, match=r"a \.gif trace needs the DejaVu Sans font .*layerwise\[plot\]"):
        tr.save(tmp_path / "t.gif")
    monkeypatch.undo()
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    with pytest.raises(ConfigError, match=r"a \.png trace needs the Python package Pillow"):
        tr.save(tmp_path / "t.png")
    assert list(tmp_path.iterdir()) == []


def test_fonts_are_found_in_matplotlib_or_the_system() -> None:
    from layerwise.figures.raster import _font_files

    found = _font_files()
    assert found is not None
    regular, bold = found
    assert regular.name == "DejaVuSans.ttf" and bold.name == "DejaVuSans-Bold.ttf"


def _pool(picture: np.ndarray, f: int = 8) -> np.ndarray:
    h, w = picture.shape[0] // f * f, picture.shape[1] // f * f
    return picture[:h, :w].astype(np.float64).reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3))


def test_the_raster_looks_as_chromium_draws_the_svg() -> None:
    """Chromium renders SVG frame k; of all the PNG frames, frame k is the nearest to it, and
    near everywhere: averaged over 16 x 16 blocks, no block differs by 20 of 255 in any
    colour (text antialiasing and hairlines differ by up to about 15; a missing arrow, a
    moved label or heat map by more)."""
    require("playwright")
    chromium = require_program("chromium", "the SVG is compared with a real browser's rendering")
    from playwright.sync_api import sync_playwright

    tr = _trace(check=True)
    n = len(tr)
    rasters = [_rgb(trace_png(tr, k)) for k in range(n + 1)]
    pngs = [_pool(raster) for raster in rasters]
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            height = _rgb(trace_png(tr)).shape[0]
            page = browser.new_page(viewport={"width": 980, "height": height})
            for k in range(n + 1):
                page.set_content(f'<html><body style="margin:0">{trace_svg(tr, k)}</body></html>')
                shot = _rgb(page.screenshot())
                distances = [float(np.mean(np.abs(_pool(shot) - png))) for png in pngs]
                assert int(np.argmin(distances)) == k, (k, distances)
                blocks = np.abs(_pool(shot, 16) - _pool(rasters[k], 16)).max(axis=-1)
                worst = np.unravel_index(int(np.argmax(blocks)), blocks.shape)
                assert blocks.max() < 20, f"frame {k}: block at y={16 * worst[0]}, x={16 * worst[1]} differs"
        finally:
            browser.close()


coordinate = st.floats(min_value=-2000, max_value=2000, allow_nan=False)
extent = st.floats(min_value=0, max_value=500, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(x=coordinate, y=coordinate, w=extent, h=extent, radius=st.floats(0, 50), width=st.floats(0.1, 8),
       rows=st.integers(1, 40), cols=st.integers(1, 40), scale=st.sampled_from([0.25, 1.0, 2.5]),
       text=st.text(max_size=30), anchor=st.sampled_from(["start", "middle", "end"]))
def test_canvas_takes_any_box_on_or_off_the_picture(x: float, y: float, w: float, h: float, radius: float,
                                                    width: float, rows: int, cols: int, scale: float, text: str,
                                                    anchor: str) -> None:
    """Shapes partly or wholly outside the picture, empty boxes, any text: painted or clipped,
    never an error, and the picture keeps its size."""
    from layerwise.figures.raster import PillowCanvas

    canvas = PillowCanvas(120, 80, scale=scale)
    size = canvas.picture.size
    canvas.rect(x, y, w, h, radius=radius, fill="#f4f6fb", outline="#222", width=width)
    canvas.image(x, y, w, h, np.zeros((rows, cols, 3), dtype=np.uint8))
    canvas.line(x, y, x + w, y + h, color="#c62828", width=width)
    canvas.polygon([(x, y), (x + w, y), (x, y + h)], color="#c62828")
    canvas.text(x, y, text, color="#222", size=max(1, int(width * 3)), bold=bool(rows % 2), anchor=anchor)
    assert canvas.picture.size == size


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(min_value=1e-20, max_value=1e3), seed=st.integers(0, 2**32 - 1),
       zeros=st.booleans())
def test_any_finite_trace_draws(scale: float, seed: int, zeros: bool) -> None:
    """Tiny, huge or all-zero values (no colour scale to take) draw, the frames as many as the steps."""
    rng = np.random.default_rng(seed)
    net = lw.TwoLayerNet(9, 7, 3, rng=rng)
    x = (np.zeros((2, 9)) if zeros else rng.standard_normal((2, 9)) * scale).astype(np.float32)
    tr = lw.trace(net, x, np.array([0, 2]))
    picture = _rgb(trace_png(tr, sample=1))
    with Image.open(io.BytesIO(trace_gif(tr, sample=1))) as gif:
        assert gif.n_frames == len(tr) + 1 and gif.size == picture.shape[1::-1]


@settings(max_examples=25, deadline=None)
@given(names=st.lists(st.text(min_size=1, max_size=12, alphabet=st.characters(exclude_categories=())), min_size=2,
                      max_size=2, unique=True))
def test_any_layer_names_give_an_svg_that_parses_and_a_picture(names: list[str]) -> None:
    """Layer names are the user's (or a model file's): control characters, line separators and
    lone surrogates are written as escapes, so that the SVG is well-formed XML, writes as
    UTF-8, and Pillow lays the text out."""
    import xml.etree.ElementTree as ET

    from layerwise.errors import printable
    from layerwise.layers import Affine, Relu
    from layerwise.networks import Sequential

    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 2)).astype(np.float32), np.zeros(2, dtype=np.float32)
    net = Sequential([Affine(w, b), Relu()], lw.SoftmaxWithLoss(), names=names)
    tr = lw.trace(net, rng.standard_normal((1, 3)).astype(np.float32), np.array([1]))
    svg = tr.to_svg()
    texts = ["".join(e.itertext()) for e in ET.fromstring(svg.encode("utf-8")).iter("{http://www.w3.org/2000/svg}text")]
    for name in names:
        assert any(printable(name) in text for text in texts)
    assert _rgb(tr.to_png()).shape[1] == 980


def test_a_control_character_in_a_name_is_shown_as_its_escape() -> None:
    from layerwise.layers import Affine, Relu
    from layerwise.networks import Sequential

    rng = np.random.default_rng(0)
    net = Sequential([Affine(rng.standard_normal((3, 2)).astype(np.float32), np.zeros(2, dtype=np.float32)),
                      Relu()], lw.SoftmaxWithLoss(), names=["fc\x1e1", "act\n"])
    tr = lw.trace(net, np.ones((1, 3), dtype=np.float32), np.array([0]))
    assert "fc\\x1e1 (Affine)" in tr.to_svg() and "act\\x0a (Relu)" in tr.to_svg()
    tr.to_png()  # Pillow's layout fails on a raw U+001E
