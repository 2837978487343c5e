// Line charts in plain SVG: axes, ticks, one polyline per series, a legend.
import { svgEl } from "./api.js";

// About n round values from lo to hi, a whole number apart at least when minStep is 1
// (epochs and iterations: no tick at epoch 1.25).
function ticks(lo, hi, n = 5, minStep = 0) {
  if (!(hi > lo)) return [lo];
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
  const err = (n * step) / (hi - lo);
  const mult = err <= 0.15 ? 10 : err <= 0.35 ? 5 : err <= 0.75 ? 2 : 1;
  const s = Math.max(step * mult, minStep);
  const out = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + s * 1e-9; v += s) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

// series: [{name, key, color, points: [[x, y], ...]}] (name: the legend; key, or else name: data-series); opts: {logY, yMin, yMax, integerX} (the x axis is
// named in the title; integerX: whole numbers on it only)
export function lineChart(svg, series, opts = {}) {
  const W = svg.clientWidth || 600, H = svg.clientHeight || 200;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const m = { l: 48, r: 12, t: 10, b: 26 };
  const tr = opts.logY ? (v) => Math.log10(Math.max(v, 1e-12)) : (v) => v;
  const all = series.flatMap((s) => s.points);
  let x0 = 0, x1 = 1, y0 = opts.yMin ?? Infinity, y1 = opts.yMax ?? -Infinity;
  if (all.length) {
    x0 = Math.min(...all.map((p) => p[0])); x1 = Math.max(...all.map((p) => p[0]));
    if (opts.yMin === undefined) y0 = Math.min(...all.map((p) => tr(p[1])));
    if (opts.yMax === undefined) y1 = Math.max(...all.map((p) => tr(p[1])));
  }
  if (!Number.isFinite(y0)) y0 = 0;
  if (!Number.isFinite(y1)) y1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) { y1 = y0 + (opts.logY ? 1 : Math.abs(y0) * 0.1 + 0.1); }
  const px = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  let yt = opts.logY ? ticks(Math.floor(y0), Math.ceil(y1), 4).filter((v) => Number.isInteger(v) && v >= y0 && v <= y1) : ticks(y0, y1, 4);
  if (opts.logY && yt.length < 2) yt = ticks(y0, y1, 3); // less than a decade: ticks between
  for (const v of yt) {
    if (v < y0 - 1e-9 || v > y1 + 1e-9) continue;
    svgEl("line", { class: "gridline", x1: m.l, x2: W - m.r, y1: py(v), y2: py(v) }, svg);
    const t = svgEl("text", { class: "tick", "data-axis": "y", x: m.l - 6, y: py(v) + 3.5, "text-anchor": "end" }, svg);
    t.textContent = opts.logY ? String(Number(Math.pow(10, v).toPrecision(2))) : label(v);
  }
  let xt = ticks(x0, x1, 6, opts.integerX ? 1 : 0);
  if (opts.integerX) xt = xt.filter((v) => Number.isInteger(v));
  for (const v of xt) {
    const t = svgEl("text", { class: "tick", "data-axis": "x", x: px(v), y: H - m.b + 15, "text-anchor": "middle" }, svg);
    t.textContent = label(v);
  }
  svgEl("line", { class: "axis", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, svg);
  svgEl("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }, svg);
  let lx = m.l + 10;
  for (const s of series) {
    const pts = s.points.map((p) => `${px(p[0]).toFixed(1)},${py(tr(p[1])).toFixed(1)}`).join(" ");
    svgEl("polyline", { class: "series", points: pts, stroke: s.color, "data-series": s.key ?? s.name,
      "data-n": s.points.length }, svg);
    if (s.points.length === 1) {
      svgEl("circle", { cx: px(s.points[0][0]), cy: py(tr(s.points[0][1])), r: 2.5, fill: s.color }, svg);
    }
    if (series.length > 1) {
      svgEl("rect", { x: lx, y: m.t + 2, width: 10, height: 3, fill: s.color }, svg);
      const t = svgEl("text", { class: "legend", x: lx + 14, y: m.t + 7 }, svg);
      t.textContent = s.name;
      lx += 22 + (t.getComputedTextLength?.() || 6.5 * s.name.length);
    }
  }
}
