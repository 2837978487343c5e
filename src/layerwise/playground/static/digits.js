// Page 2: draw or pick a digit; the server centres it, predicts, and traces backward.
import { getJSON, postJSON, el, fmt } from "./api.js";
import { t, serverMessage, libraryText } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const canvas = $("draw-canvas");
const ctx = canvas.getContext("2d");
const probsBox = $("probs");
const errorBox = $("digit-error");
const stepsBox = $("trace-steps");
const detail = $("trace-detail");
const labelSelect = $("trace-label");
let lastRequest = null;
let shownSvg = null; // the trace figure now in #trace-svg
let result = null;
let reached = 0;
let ready = false;

export function initDigits() {
  clearCanvas();
  setupDrawing();
  $("draw-clear").addEventListener("click", clearCanvas);
  labelSelect.appendChild(el("option", { value: "" }, t("digits.prediction")));
  for (let d = 0; d < 10; d++) labelSelect.appendChild(el("option", { value: String(d) }, String(d)));
  labelSelect.addEventListener("change", () => { if (lastRequest) analyse(lastRequest); });
  $("trace-next").addEventListener("click", () => setReached(reached + 1));
  $("trace-prev").addEventListener("click", () => setReached(reached - 1));
  $("trace-all").addEventListener("click", () => setReached(result ? result.trace.steps.length : 0));
  pollStatus();
  loadSamples();
  renderTrace();
}

async function pollStatus() {
  const box = $("model-status");
  try {
    const s = await getJSON("/api/digits/status");
    $("model-progress").value = s.progress;
    box.dataset.state = s.state;
    if (s.state === "ready") {
      ready = true;
      box.classList.add("ready");
      $("model-text").textContent = t("digits.ready", { description: describeModel(s), trace: s.trace });
      return;
    }
    $("model-text").textContent = s.state === "failed" ? t("digits.failed", { message: s.message })
      : t("digits.training", { percent: Math.round(100 * s.progress) });
    if (s.state === "failed") return;
  } catch (e) {
    $("model-text").textContent = serverMessage(e);
  }
  setTimeout(pollStatus, 200);
}

// The model trained here is worded from its facts; one given to the server, by its description.
function describeModel(s) {
  const m = s.trained;
  if (!m) return s.description;
  return t("digits.trained", { network: m.network, filters: m.filters, size: m.filter_size, hidden: m.hidden,
    epochs: m.epochs, accuracy: `${(100 * m.test_accuracy).toFixed(1)}%` });
}

async function loadSamples() {
  const box = $("samples");
  const { samples } = await getJSON("/api/digits/samples");
  for (const s of samples) {
    const c = el("canvas", { width: 28, height: 28, title: t("digits.sample", { index: s.index, label: s.label }) });
    c.dataset.index = s.index;
    const bytes = Uint8Array.from(atob(s.pixels), (ch) => ch.charCodeAt(0));
    drawGray(c, Array.from(bytes, (b) => b / 255), 28, 28, 0, 1);
    c.addEventListener("click", () => {
      for (const other of box.querySelectorAll("canvas")) other.classList.toggle("chosen", other === c);
      analyse({ sample: s.index });
    });
    box.appendChild(c);
  }
}

// -- drawing --------------------------------------------------------------------------------
function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}

function setupDrawing() {
  let drawing = false, last = null;
  const pos = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * (canvas.width / r.width), (ev.clientY - r.top) * (canvas.height / r.height)];
  };
  ctx.lineCap = "round"; ctx.lineJoin = "round";
  canvas.addEventListener("pointerdown", (ev) => {
    drawing = true; last = pos(ev);
    canvas.setPointerCapture?.(ev.pointerId);
    dot(last);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    const p = pos(ev);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 20;
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    for (const other of document.querySelectorAll("#samples canvas")) other.classList.remove("chosen");
    analyse(drawnImage());
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("pointerleave", end);
}

function dot(p) {
  ctx.fillStyle = "#fff";
  ctx.beginPath(); ctx.arc(p[0], p[1], 10, 0, 2 * Math.PI); ctx.fill();
}

// The drawing at 112×112 (the browser's smoothing), ink 1, paper 0, row by row.
function drawnImage() {
  const side = 112;
  const small = el("canvas", { width: side, height: side });
  const sctx = small.getContext("2d");
  sctx.drawImage(canvas, 0, 0, side, side);
  const data = sctx.getImageData(0, 0, side, side).data;
  const pixels = new Array(side * side);
  for (let i = 0; i < side * side; i++) pixels[i] = Math.round((data[4 * i] / 255) * 1000) / 1000;
  return { width: side, height: side, pixels };
}

// -- one analysis ---------------------------------------------------------------------------
async function analyse(request) {
  lastRequest = request;
  const label = labelSelect.value;
  const body = { ...request, label: label === "" ? null : Number(label) };
  try {
    const r = await postJSON("/api/digits/predict", body);
    if (lastRequest !== request) return;
    errorBox.textContent = "";
    result = r;
    reached = 0;
    show(r, request.sample !== undefined ? `sample:${request.sample}` : "drawing");
  } catch (e) {
    errorBox.textContent = ready ? serverMessage(e) : t("digits.wait", { message: serverMessage(e) });
  }
}

function show(r, source) {
  drawGray($("input-canvas"), r.input, 28, 28, 0, 1);
  probsBox.replaceChildren();
  probsBox.dataset.source = source;
  probsBox.dataset.prediction = r.prediction;
  probsBox.dataset.n = String(Number(probsBox.dataset.n || 0) + 1);
  r.probs.forEach((p, d) => {
    const top = d === r.prediction ? " top" : "";
    const digit = el("div", { class: `digit${top}` }, String(d));
    const bar = el("div", { class: `bar${top}` });
    const fill = el("div");
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    bar.appendChild(fill);
    const pct = el("div", { class: `pct${top}`, "data-digit": d, "data-p": String(p) }, `${(100 * p).toFixed(1)}%`);
    probsBox.append(digit, bar, pct);
  });
  showLayers(r.layers);
  renderTrace();
}

function showLayers(layers) {
  const box = $("layers");
  box.replaceChildren();
  for (const layer of layers) {
    const row = el("div", { class: "layer", "data-name": layer.name });
    const name = el("div", { class: "name" }, layer.name);
    name.appendChild(el("span", { class: "kind" }, `${layer.kind} → (${layer.out.shape.join("×")})`));
    row.appendChild(name);
    row.appendChild(arrayView(layer.out, "activation"));
    box.appendChild(row);
  }
}

// An array as pictures: feature maps as small images, a vector as a strip of cells.
function arrayView(s, how) {
  if (s.maps) {
    const maps = el("div", { class: "maps" });
    const [h, w] = s.map_shape;
    for (const m of s.maps) {
      const c = el("canvas", { width: w, height: h });
      if (how === "gradient") drawDiverging(c, m, w, h, s.absmax);
      else drawGray(c, m, w, h, Math.min(0, ...m), Math.max(1e-12, ...m));
      maps.appendChild(c);
    }
    if (s.channels > s.maps.length) maps.appendChild(el("span", { class: "muted small" }, t("digits.more", { count: s.channels - s.maps.length })));
    return maps;
  }
  if (s.values) {
    const n = s.values.length;
    const c = el("canvas", { width: n, height: 1, class: "strip" });
    c.style.width = `${Math.min(n * 7, 720)}px`;
    if (how === "gradient" || Math.min(...s.values) < 0) drawDiverging(c, s.values, n, 1, s.absmax);
    else drawGray(c, s.values, n, 1, 0, Math.max(1e-12, ...s.values));
    return c;
  }
  return el("span", { class: "muted small" }, t("digits.norm", { shape: s.shape.join("×"), norm: fmt(s.norm) }));
}

// -- the backward trace ---------------------------------------------------------------------
function setReached(k) {
  if (!result) return;
  reached = Math.max(0, Math.min(result.trace.steps.length, k));
  renderTrace();
}

function renderTrace() {
  const steps = result ? result.trace.steps : [];
  const n = steps.length;
  stepsBox.replaceChildren();
  stepsBox.dataset.reached = String(reached);
  stepsBox.dataset.total = String(n);
  const current = reached > 0 ? n - reached : -1;
  stepsBox.dataset.current = current >= 0 ? steps[current].name : "";
  steps.forEach((s, i) => {
    if (i > 0) stepsBox.appendChild(el("li", { class: "arrow" }, "→"));
    const cls = i === current ? "current done" : i > current && current >= 0 ? "done" : "";
    const li = el("li", { class: cls, "data-name": s.name }, s.name);
    li.appendChild(el("span", { class: "kind" }, s.kind));
    stepsBox.appendChild(li);
  });
  $("trace-prev").disabled = !result || reached === 0;
  $("trace-next").disabled = !result || reached === n;
  $("trace-all").disabled = !result || reached === n;
  $("trace-status").textContent = result
    ? t("digits.status", { label: result.label, loss: fmt(result.trace.loss), reached, total: n }) : t("digits.first");
  detail.replaceChildren();
  if (result && current >= 0) {
    const s = steps[current];
    const table = el("table");
    const row = (k, v) => { const tr = el("tr"); tr.append(el("td", {}, k)); const td = el("td"); td.append(v); tr.append(td); table.append(tr); };
    row(t("digits.step"), `${s.name} (${s.kind}).backward`);
    row(t("digits.dout"), describe(s.dout));
    row(t("digits.dx"), describe(s.dx));
    for (const [key, g] of Object.entries(s.grads)) row(`d${key}`, t("digits.norm", { shape: g.shape.join("×"), norm: fmt(g.norm) }));
    detail.append(table);
    if (s.dx.maps || (s.dx.values && s.dx.values.length > 1 && s.dx.values.length <= 800 && current > 0)) detail.append(arrayView(s.dx, "gradient"));
  } else if (result) {
    detail.append(el("p", { class: "muted" }, t("digits.forward.done")));
  }
  // the library's figure, every frame in one SVG: frame k shows what backward step k adds
  const box = $("trace-svg");
  const svg = result ? result.trace.svg : "";
  if (shownSvg !== svg) {
    box.innerHTML = svg;
    shownSvg = svg;
    for (const text of box.querySelectorAll("text")) text.textContent = libraryText(text.textContent);
  }
  for (let i = 1; i <= n; i++) {
    box.querySelectorAll(".lw-from" + i).forEach((e) => { e.style.visibility = i <= reached ? "visible" : "hidden"; });
    box.querySelectorAll(".lw-at" + i).forEach((e) => { e.style.visibility = i === reached ? "visible" : "hidden"; });
  }
  box.dataset.reached = String(result ? reached : -1);
  const done = result && reached === n;
  $("input-grad").hidden = !done;
  if (done) drawDiverging($("input-grad-canvas"), result.trace.input_grad, 28, 28);
}

function describe(s) {
  const shape = `(${s.shape.join("×")})`;
  if (s.values && s.values.length <= 10) return `${shape} [${s.values.map((v) => fmt(v, 3)).join(", ")}]`;
  return t("digits.norm.max", { shape: s.shape.join("×"), norm: fmt(s.norm), max: fmt(s.absmax) });
}

// -- pictures -------------------------------------------------------------------------------
function drawGray(c, values, w, h, lo, hi) {
  const g = c.getContext("2d");
  const img = g.createImageData(w, h);
  const span = hi - lo || 1;
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(255 * Math.max(0, Math.min(1, (values[i] - lo) / span)));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}

function drawDiverging(c, values, w, h, absmax) {
  const g = c.getContext("2d");
  const img = g.createImageData(w, h);
  const m = absmax || Math.max(1e-30, ...values.map(Math.abs));
  for (let i = 0; i < w * h; i++) {
    const t = Math.max(-1, Math.min(1, values[i] / m));
    const k = Math.round(255 * (1 - Math.abs(t)));
    const [r, gg, b] = t >= 0 ? [255, k, k] : [k, k, 255];
    img.data[4 * i] = r; img.data[4 * i + 1] = gg; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}
