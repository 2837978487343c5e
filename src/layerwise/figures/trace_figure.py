"""Figures of a :class:`~layerwise.figures.tracing.Trace` in the style of chapter 5, without Graphviz.

A network is a chain of layers, so its figure needs no layout engine: the layers stand one
under the other, the forward pass runs down in black, the backward pass comes back up in red.
Each edge carries, on the left, the array going forward (its shape, its values when there are
few, else min / mean / max, and a small heat map) and, on the right, the gradient coming back.
A layer with parameters shows their gradients beside it. The loss is at the bottom.

The drawing is built once as shapes (text, arrows, boxes, heat maps), each tagged with the
backward step from which it shows; frame ``k`` (``k`` backward steps done, 0..len(trace)) keeps
the shapes of steps up to ``k``. Each shape writes itself as SVG, which makes the still frames,
an animated SVG (CSS, no script) and an HTML page with a slider; and each paints itself on a
:class:`~layerwise.figures.raster.PillowCanvas`, which makes the same frames as PNG and an animated
GIF (the ``plot`` extra). The SVG's heat maps are PNG images made with the standard library
(zlib).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import ConfigError, printable
from layerwise.figures.graph.fmt import format_number
from layerwise.figures.trace_heatmaps import (
    MAX_CELL_PX,
    MAX_LISTED,
    heat_rgb,
    heat_tiles,
    png_bytes,
    shape_text,
    value_summary,
)
from layerwise.files.fileio import atomic_write_bytes
from layerwise.gradient_check import GradientCheckReport


class TraceStep(Protocol):
    """What the figure reads of a step of :class:`layerwise.figures.tracing.Trace` (named here as a
    protocol, so that drawing depends on the trace's shape, not on its module)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def x(self) -> NDArray[Any]: ...
    @property
    def out(self) -> NDArray[Any]: ...
    @property
    def dout(self) -> NDArray[Any]: ...
    @property
    def dx(self) -> NDArray[Any]: ...
    @property
    def grads(self) -> Mapping[str, NDArray[Any]]: ...
    @property
    def check(self) -> GradientCheckReport | None: ...


class Trace(Protocol):
    """What the figure reads of a :class:`layerwise.figures.tracing.Trace`."""

    @property
    def network(self) -> str: ...
    @property
    def steps(self) -> Sequence[TraceStep]: ...
    @property
    def loss(self) -> float: ...
    @property
    def t(self) -> NDArray[Any]: ...

    def backward_order(self) -> Sequence[TraceStep]: ...

__all__ = ["trace_svg", "trace_html", "trace_widget", "animated_svg", "layered_svg", "trace_png", "trace_gif",
           "save_trace",
           "TRACE_FORMATS", "RASTER_FORMATS", "png_bytes", "heat_rgb"]

#: The suffixes :func:`save_trace` writes; the last two are drawn with Pillow (the ``plot`` extra).
RASTER_FORMATS = ("gif", "png")
TRACE_FORMATS = ("svg", "html", *RASTER_FORMATS)

# Layout, in SVG user units (pixels).
WIDTH = 980
BOX_X, BOX_W, BOX_H = 370, 180, 40
FORWARD_X = BOX_X + 60          # the forward arrow, down
BACKWARD_X = BOX_X + BOX_W - 60  # the backward arrow, up
LEFT_X = 16                     # forward labels
RIGHT_X = BOX_X + BOX_W + 24    # backward labels
EDGE_H = 100
THUMB_H = 52
ARROW_WIDTH = 2
HEAD = 7  # an arrowhead's length and width, in stroke widths (the SVG marker's size)
RED = "#c62828"
INK = "#222222"
FONT = "font-family:DejaVu Sans,Verdana,Arial,sans-serif"

# -- the drawing --------------------------------------------------------------------------------
class Canvas(Protocol):
    """What a raster renderer offers (:class:`layerwise.figures.raster.PillowCanvas`), in the figure's
    units: pixels, y down, text placed by its baseline as in SVG."""

    def text(self, x: float, y: float, text: str, *, color: str, size: int, bold: bool,
             anchor: str) -> None: ...
    def line(self, x1: float, y1: float, x2: float, y2: float, *, color: str, width: float) -> None: ...
    def polygon(self, points: Sequence[tuple[float, float]], *, color: str) -> None: ...
    def rect(self, x: float, y: float, w: float, h: float, *, radius: float, fill: str | None,
             outline: str, width: float) -> None: ...
    def image(self, x: float, y: float, w: float, h: float, rgb: np.ndarray) -> None: ...


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    text: str
    color: str = INK
    size: int = 12
    bold: bool = False
    anchor: str = "start"  # SVG's text-anchor: start, middle, end

    def svg(self) -> str:
        weight = ' font-weight="bold"' if self.bold else ""
        return (f'<text x="{self.x:g}" y="{self.y:g}" font-size="{self.size}" fill="{self.color}"'
                f' text-anchor="{self.anchor}"{weight} xml:space="preserve">{html.escape(self.text)}</text>')

    def paint(self, canvas: Canvas) -> None:
        canvas.text(self.x, self.y, self.text, color=self.color, size=self.size, bold=self.bold,
                    anchor=self.anchor)


@dataclass(frozen=True)
class _Arrow:
    """A vertical arrow from ``y1`` to ``y2``, its head at ``y2``."""

    x: float
    y1: float
    y2: float
    color: str

    def svg(self) -> str:
        marker = "fwd" if self.color == INK else "bwd"
        return (f'<line x1="{self.x:g}" y1="{self.y1:g}" x2="{self.x:g}" y2="{self.y2:g}"'
                f' stroke="{self.color}" stroke-width="{ARROW_WIDTH}" marker-end="url(#lw-{marker})"/>')

    def paint(self, canvas: Canvas) -> None:
        # the SVG marker: a triangle HEAD x HEAD (its size is in stroke widths), the tip
        # HEAD / 10 beyond the line's end (refX 9 of a 10-unit box)
        head = HEAD * ARROW_WIDTH
        way = 1.0 if self.y2 >= self.y1 else -1.0
        tip = self.y2 + way * head / 10
        base = tip - way * head
        canvas.line(self.x, self.y1, self.x, base + way * 1, color=self.color, width=ARROW_WIDTH)
        canvas.polygon([(self.x - head / 2, base), (self.x, tip), (self.x + head / 2, base)],
                       color=self.color)


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    stroke: str
    stroke_width: float
    radius: float = 0.0
    fill: str | None = None

    def svg(self) -> str:
        rounded = f' rx="{self.radius:g}"' if self.radius else ""
        return (f'<rect x="{self.x:g}" y="{self.y:g}" width="{self.w:g}" height="{self.h:g}"{rounded}'
                f' fill="{self.fill or "none"}" stroke="{self.stroke}"'
                f' stroke-width="{self.stroke_width:g}"/>')

    def paint(self, canvas: Canvas) -> None:
        canvas.rect(self.x, self.y, self.w, self.h, radius=self.radius, fill=self.fill, outline=self.stroke,
                    width=self.stroke_width)


@dataclass(frozen=True, eq=False)
class _HeatMap:
    """An image of ``rgb`` stretched to ``w`` x ``h`` (each cell a flat block), framed in grey."""

    x: float
    y: float
    w: float
    h: float
    rgb: np.ndarray
    ref: str  # the id of the SVG symbol that holds it

    def frame(self) -> _Box:
        return _Box(self.x, self.y, self.w, self.h, "#999", 0.5)

    def svg(self) -> str:
        return (f'<use href="#{self.ref}" x="{self.x:g}" y="{self.y:g}" width="{self.w:g}"'
                f' height="{self.h:g}"/>' + self.frame().svg())

    def paint(self, canvas: Canvas) -> None:
        canvas.image(self.x, self.y, self.w, self.h, self.rgb)
        self.frame().paint(canvas)


_Shape = _Text | _Arrow | _Box | _HeatMap


@dataclass
class _Element:
    shape: _Shape
    shown_from: int = 0            # the first frame (backward steps done) that shows it
    only: bool = False             # shown in that frame only (the highlight of the latest step)

    @property
    def svg(self) -> str:
        return self.shape.svg()

    def shown_in(self, k: int) -> bool:
        return self.shown_from <= k and (not self.only or self.shown_from == k)


class _Drawing:
    """Shapes with the frame each appears in, and images shared between frames."""

    def __init__(self) -> None:
        self.elements: list[_Element] = []
        self.images: dict[bytes, tuple[str, int, int]] = {}
        self.height = 0.0

    def add(self, shape: _Shape, shown_from: int = 0, only: bool = False) -> None:
        self.elements.append(_Element(shape, shown_from, only))

    def frame(self, k: int) -> list[_Shape]:
        """The shapes of frame ``k``, in drawing order."""
        return [e.shape for e in self.elements if e.shown_in(k)]

    def text(self, x: float, y: float, text: str, *, color: str = INK, size: int = 12, bold: bool = False,
             anchor: str = "start", shown_from: int = 0) -> None:
        self.add(_Text(x, y, printable(text), color, size, bold, anchor), shown_from)

    def arrow(self, x: float, y1: float, y2: float, color: str, shown_from: int = 0) -> None:
        self.add(_Arrow(x, y1, y2, color), shown_from)

    def maps(self, x: float, y: float, value: np.ndarray, signed: bool | None, shown_from: int,
             max_width: float, image: bool = False) -> bool:
        """Heat maps of ``value`` from ``(x, y)``, at most THUMB_H high, as many as fit in
        ``max_width``; returns whether a note under them says which ones are drawn."""
        tiles, note_for, keep_aspect = heat_tiles(value, image)
        if signed is None:
            finite = np.asarray(value, dtype=np.float64)
            signed = bool(np.any(finite[np.isfinite(finite)] < 0))
        used, drawn = 0.0, 0
        for tile in tiles:
            h, w = tile.shape
            room = max_width - used
            if keep_aspect:  # images and feature maps: square cells, THUMB_H high at most
                scale = min(THUMB_H / h, MAX_CELL_PX)
                if used and w * scale > room:  # the next tile does not fit whole: stop there
                    break
                width, height = min(w * scale, room), min(w * scale, room) / w * h
            else:  # a matrix or a vector: stretched to the room there is
                width, height = min(room, w * MAX_CELL_PX), min(THUMB_H, h * MAX_CELL_PX)
            rgb = heat_rgb(tile, signed)
            self.add(_HeatMap(x + used, y, width, height, rgb, self.image(rgb)), shown_from)
            used += width + 3
            drawn += 1
        note = note_for(drawn)
        if note:
            self.text(x, y + THUMB_H + 11, note, size=9, color="#666", shown_from=shown_from)
        return bool(note)

    def image(self, rgb: np.ndarray) -> str:
        """The id of a symbol holding ``rgb`` as a PNG, drawn once however often it is used."""
        data = png_bytes(rgb)
        if data not in self.images:
            self.images[data] = (f"lw-img{len(self.images)}", rgb.shape[1], rgb.shape[0])
        return self.images[data][0]

    def defs(self) -> str:
        images = "".join(
            f'<symbol id="{ref}" viewBox="0 0 {w} {h}" preserveAspectRatio="none"><image width="{w}"'
            f' height="{h}" preserveAspectRatio="none" style="image-rendering:pixelated"'
            f' href="data:image/png;base64,{base64.b64encode(data).decode()}"/></symbol>'
            for data, (ref, w, h) in self.images.items()
        )
        markers = "".join(
            f'<marker id="lw-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{HEAD}"'
            f' markerHeight="{HEAD}" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            for name, color in (("fwd", INK), ("bwd", RED))
        )
        return f"<defs>{markers}{images}</defs>"


def _sample(array: np.ndarray, sample: int, batch: int) -> np.ndarray:
    """Row ``sample`` of a batch array; a scalar or a non-batch array as it is."""
    a = np.asarray(array)
    if a.ndim >= 1 and a.shape[0] == batch:
        return a[sample]
    return a


def _edge_labels(d: _Drawing, y: float, forward: tuple[str, str, np.ndarray | None],
                 backward: tuple[str, str, np.ndarray | None], shown_from: int, image: bool) -> None:
    """The two label blocks of one edge: forward on the left, backward (red) on the right."""
    (f_title, f_text, f_map), (b_title, b_text, b_map) = forward, backward
    d.text(LEFT_X, y + 14, f_title, bold=True)
    d.text(LEFT_X, y + 29, f_text, size=11)
    if f_map is not None:
        d.maps(LEFT_X, y + 36, f_map, None, 0, BOX_X - LEFT_X - 20, image)
    d.text(RIGHT_X, y + 14, b_title, color=RED, bold=True, shown_from=shown_from)
    d.text(RIGHT_X, y + 29, b_text, color=RED, size=11, shown_from=shown_from)
    if b_map is not None:
        d.maps(RIGHT_X, y + 36, b_map, True, shown_from, WIDTH - RIGHT_X - 12, image)


def _map_of(value: np.ndarray) -> np.ndarray | None:
    """A heat map is drawn for arrays with more values than a label lists."""
    return value if np.asarray(value).size > MAX_LISTED else None


def _build(trace: Trace, sample: int) -> _Drawing:
    steps = trace.steps
    n = len(steps)
    batch = steps[0].x.shape[0]
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer) or not 0 <= sample < batch:
        raise ConfigError(f"trace figure: sample: expected an integer in 0..{batch - 1}, got {sample!r}")
    d = _Drawing()
    target = _sample(trace.t, sample, batch)
    label = (f"label {int(target)}" if np.ndim(target) == 0
             else f"label {int(np.argmax(target))}" if np.ndim(target) == 1 else "")
    d.text(LEFT_X, 20, f"{trace.network}: forward (black) and backward (red), sample {sample} of {batch}"
           + (f", {label}" if label else ""), size=14, bold=True)
    d.text(LEFT_X, 38, "frame k: the backward pass has run through the last k layers", size=11,
           color="#555")
    y = 52.0
    for j, step in enumerate(steps):
        shown = n - j  # the backward step that reaches this layer's input edge
        if j == 0:
            f_title, f_value = f"x {shape_text(step.x.shape)}", _sample(step.x, sample, batch)
            b_title = f"∂L/∂x {shape_text(step.dx.shape)}"
        else:
            f_title = f"{steps[j - 1].name} → {step.name}  {shape_text(step.x.shape)}"
            f_value = _sample(step.x, sample, batch)
            b_title = f"dx of {step.name} = dout of {steps[j - 1].name}"
        b_value = _sample(step.dx, sample, batch)
        _edge_labels(d, y, (f_title, value_summary(f_value), _map_of(f_value)),
                     (b_title, value_summary(b_value), _map_of(b_value)), shown, image=j == 0)
        top, bottom = y + 4, y + EDGE_H
        d.arrow(FORWARD_X, top, bottom - 2, INK)
        d.arrow(BACKWARD_X, bottom, top + 2, RED, shown)
        y = bottom
        y = _node(d, step, y, shown, n)
    # below the loss layer: the loss forward, the seed 1 backward
    top, bottom = y, y + 40
    d.arrow(FORWARD_X, top + 2, bottom, INK)
    d.arrow(BACKWARD_X, bottom, top + 2, RED, 1)
    d.text(LEFT_X, top + 24, f"L = {format_number(trace.loss, 6)}", size=13, bold=True)
    d.text(RIGHT_X, top + 24, "∂L/∂L = 1", color=RED, size=13, bold=True, shown_from=1)
    d.height = bottom + 16
    return d


def _node(d: _Drawing, step: TraceStep, y: float, shown: int, n: int) -> float:
    """The layer's box, its gradient-check verdict and its parameter gradients; returns the
    y below them."""
    d.add(_Box(BOX_X, y, BOX_W, BOX_H, INK, 1.5, radius=6, fill="#f4f6fb"))
    d.add(_Box(BOX_X - 3, y - 3, BOX_W + 6, BOX_H + 6, RED, 3, radius=8), shown, only=True)
    title = step.name if step.name == step.kind else f"{step.name} ({step.kind})"
    d.text(BOX_X + BOX_W / 2, y + 25, title, anchor="middle", bold=True, size=13)
    if step.check is not None:
        verdict = "gradient check ok" if step.check.passed else "gradient check FAILED"
        worst = max((r.max_rel_error for r in step.check.rows), default=0.0)
        d.text(BOX_X - 12, y + 25, f"{verdict} ({worst:.1e})", anchor="end", size=10,
               color="#2e7d32" if step.check.passed else RED, shown_from=shown)
    below = y + BOX_H
    for key, grad in step.grads.items():
        d.text(RIGHT_X, below + 4, f"∂L/∂{key} {shape_text(grad.shape)}: {value_summary(grad)}", color=RED,
               size=11, shown_from=shown)
        if grad.size > MAX_LISTED:
            noted = d.maps(RIGHT_X, below + 10, grad, True, shown, WIDTH - RIGHT_X - 12)
            below += THUMB_H + (34 if noted else 22)
        else:
            below += 18
    if step.grads:
        d.arrow(FORWARD_X, y + BOX_H + 2, below, INK)
        d.arrow(BACKWARD_X, below, y + BOX_H + 2, RED, shown - 1 if shown > 1 else 1)
    return below


def _svg(d: _Drawing, body: Iterable[str], extra_style: str = "", id_: str = "") -> str:
    ident = f' id="{id_}"' if id_ else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg"{ident} width="{WIDTH}" height="{d.height:g}" '
            f'viewBox="0 0 {WIDTH} {d.height:g}" style="background:#fff;{FONT}">'
            f"{extra_style}{d.defs()}" + "".join(body) + "</svg>\n")


def _frame_count(trace: Trace, reached: int | None) -> int:
    n = len(trace.steps)
    if reached is None:
        return n
    if isinstance(reached, bool) or not isinstance(reached, int | np.integer) or not 0 <= reached <= n:
        raise ConfigError(f"trace figure: reached: expected an integer in 0..{n}, got {reached!r}")
    return int(reached)


def trace_svg(trace: Trace, reached: int | None = None, *, sample: int = 0) -> str:
    """Frame ``reached`` of the trace (backward steps done; all by default) as SVG text."""
    k = _frame_count(trace, reached)
    d = _build(trace, sample)
    return _svg(d, [shape.svg() for shape in d.frame(k)])


def _tagged(d: _Drawing) -> list[str]:
    """Every element in a group whose classes say from which frame it shows."""
    out = []
    for e in d.elements:
        if e.shown_from == 0 and not e.only:
            out.append(e.svg)
        else:
            cls = f"lw-at{e.shown_from}" if e.only else f"lw-from{e.shown_from}"
            out.append(f'<g class="{cls}">{e.svg}</g>')
    return out


def layered_svg(trace: Trace, *, sample: int = 0) -> str:
    """Every frame in one SVG, drawn once: the elements that frame ``k`` adds carry the class
    ``lw-from{k}`` and the highlight of frame ``k`` alone ``lw-at{k}``, so that a page shows
    frame ``k`` by hiding the others (what the HTML slider and the playground do)."""
    d = _build(trace, sample)
    return _svg(d, _tagged(d))


def animated_svg(trace: Trace, *, sample: int = 0, seconds_per_step: float = 1.0) -> str:
    """The backward pass as an animated SVG (CSS animation, no script): one step a second."""
    d = _build(trace, sample)
    frames = len(trace.steps) + 2  # forward only, each backward step, and a pause at the end
    period = frames * seconds_per_step
    rules = []
    for k in range(1, len(trace.steps) + 1):
        start = 100.0 * k / frames
        rules.append(f"@keyframes lw-f{k}{{0%,{start - 0.01:.2f}%{{visibility:hidden}}"
                     f"{start:.2f}%,100%{{visibility:visible}}}}"
                     f".lw-from{k}{{animation:lw-f{k} {period:g}s step-end infinite}}")
        end = 100.0 * (k + 1) / frames
        rules.append(f"@keyframes lw-a{k}{{0%,{start - 0.01:.2f}%{{visibility:hidden}}"
                     f"{start:.2f}%,{end - 0.01:.2f}%{{visibility:visible}}"
                     f"{end:.2f}%,100%{{visibility:hidden}}}}"
                     f".lw-at{k}{{animation:lw-a{k} {period:g}s step-end infinite}}")
    style = "<style>" + "".join(rules) + "</style>"
    return _svg(d, _tagged(d), style)


def _slider(trace: Trace, sample: int, uid: str) -> str:
    """An SVG of every frame with a range input that shows frame k (a few lines of script;
    without script the whole backward pass shows)."""
    d = _build(trace, sample)
    n = len(trace.steps)
    figure = _svg(d, _tagged(d), id_=f"{uid}-svg")
    names = [step.name for step in trace.backward_order()]
    captions = ["forward pass only"] + [f"backward through {', '.join(names[:k])}" for k in range(1, n + 1)]
    script = (
        "<script>(function(){"
        f"var s=document.getElementById('{uid}-range'),c=document.getElementById('{uid}-caption'),"
        f"g=document.getElementById('{uid}-svg'),caps={_js_list(captions)};"
        "function show(k){for(var i=1;i<=" + str(n) + ";i++){"
        "g.querySelectorAll('.lw-from'+i).forEach(function(e){e.style.visibility=i<=k?'visible':'hidden';});"
        "g.querySelectorAll('.lw-at'+i).forEach(function(e){e.style.visibility=i==k?'visible':'hidden';});}"
        "c.textContent='frame '+k+' of " + str(n) + ": '+caps[k];}"
        "s.addEventListener('input',function(){show(+s.value);});show(+s.value);})();</script>"
    )
    controls = (
        f'<div style="{FONT};margin:6px 0"><label for="{uid}-range">backward steps </label>'
        f'<input type="range" id="{uid}-range" min="0" max="{n}" value="{n}" step="1" style="width:320px">'
        f' <span id="{uid}-caption">frame {n} of {n}: {html.escape(captions[n])}</span></div>'
    )
    return f'<div class="layerwise-trace">{controls}{figure}{script}</div>'


def _js_list(items: list[str]) -> str:
    import json

    return json.dumps(items).replace("</", "<\\/")


def trace_widget(trace: Trace, *, sample: int = 0) -> str:
    """An HTML fragment for Jupyter: the figure with its slider (ids unique per call)."""
    uid = "lwtrace" + os.urandom(4).hex()
    return _slider(trace, sample, uid)


def trace_html(trace: Trace, *, sample: int = 0) -> str:
    """A self-contained HTML page with the figure and a slider over the backward steps."""
    title = html.escape(f"layerwise trace: {trace.network}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body style=\"margin:16px\">{_slider(trace, sample, 'lwtrace')}</body></html>\n")


def _painted(d: _Drawing, k: int, scale: float, what: str) -> Any:
    """Frame ``k`` of the drawing painted on a :class:`~layerwise.figures.raster.PillowCanvas`."""
    from layerwise.figures.raster import PillowCanvas

    canvas = PillowCanvas(WIDTH, d.height, scale=scale, what=what)
    for shape in d.frame(k):
        shape.paint(canvas)
    return canvas


def trace_png(trace: Trace, reached: int | None = None, *, sample: int = 0, scale: float = 1.0) -> bytes:
    """Frame ``reached`` (all backward steps by default) as PNG file bytes, the SVG's layout
    drawn with Pillow at ``scale`` pixels a unit (needs the ``plot`` extra)."""
    from layerwise.figures.raster import png_file_bytes

    k = _frame_count(trace, reached)
    return png_file_bytes(_painted(_build(trace, sample), k, scale, "a .png trace"))


def trace_gif(trace: Trace, *, sample: int = 0, seconds_per_step: float = 1.0, scale: float = 1.0) -> bytes:
    """The backward pass as an animated GIF: the frames of :func:`trace_png`, one a
    ``seconds_per_step``, the last held twice as long, as :func:`animated_svg` does."""
    from layerwise.figures.raster import gif_file_bytes

    if isinstance(seconds_per_step, bool) or not isinstance(seconds_per_step, int | float) \
            or not 0.02 <= seconds_per_step <= 600:
        raise ConfigError("seconds_per_step: expected a number of seconds in 0.02..600, "
                          f"got {seconds_per_step!r}")
    d = _build(trace, sample)
    n = len(trace.steps)
    frames = [_painted(d, k, scale, "a .gif trace") for k in range(n + 1)]
    step_ms = round(1000 * seconds_per_step)
    return gif_file_bytes(frames, [step_ms] * n + [2 * step_ms])


def _format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in TRACE_FORMATS:
        raise ConfigError(f"cannot tell the format of {str(path)!r}: use a suffix among "
                          + ", ".join(f".{f}" for f in TRACE_FORMATS))
    return suffix


def save_trace(trace: Trace, path: str | os.PathLike[str], *, sample: int = 0, animate: bool = False) -> Path:
    """Write the trace's figure to ``path`` atomically, the format by its suffix: ``.svg`` (the
    whole backward pass, or animated with ``animate``), ``.html`` (with a slider), ``.gif``
    (always the animation) or ``.png`` (the whole backward pass); GIF and PNG need the ``plot``
    extra."""
    out = Path(path)
    fmt = _format(out)
    if fmt == "gif":
        data = trace_gif(trace, sample=sample)
    elif fmt == "png":
        data = trace_png(trace, sample=sample)
    else:
        text = (trace_html(trace, sample=sample) if fmt == "html" else
                animated_svg(trace, sample=sample) if animate else trace_svg(trace, sample=sample))
        data = text.encode("utf-8")
    atomic_write_bytes(out, data)
    return out
