// Page 1: a figure of layerwise.figures.graph, computed by the server, laid out and drawn here in SVG.
import { getJSON, postJSON, svgEl, el } from "./api.js";
import { t, libraryText, figureText, serverMessage } from "./i18n.js";

const select = document.getElementById("figure-select");
const form = document.getElementById("figure-inputs");
const svg = document.getElementById("figure-svg");
const notes = document.getElementById("figure-notes");
const errorBox = document.getElementById("figure-error");
const docBox = document.getElementById("figure-doc");
const staleBox = document.getElementById("figure-stale");
let specs = [];
let timer = null;
let requestNo = 0;

export async function initGraphs() {
  specs = (await getJSON("/api/graphs")).figures;
  for (const s of specs) select.appendChild(el("option", { value: s.name }, s.name));
  select.addEventListener("change", () => chooseFigure(select.value));
  await chooseFigure(specs[0].name);
}

async function chooseFigure(name) {
  const spec = specs.find((s) => s.name === name);
  docBox.textContent = figureText(spec, "doc");
  form.replaceChildren();
  for (const p of spec.params) {
    const value = p.default === null ? "" : p.kind === "numbers" ? p.default.join(", ") : String(p.default);
    const input = el("input", { name: p.name, id: `input-${p.name}`, value, placeholder: p.optional ? t("graphs.not.given") : "",
      type: p.kind === "numbers" ? "text" : "number", step: p.kind === "integer" ? "1" : "any" });
    input.dataset.kind = p.kind;
    input.dataset.label = p.label || p.name;
    if (p.optional) input.dataset.optional = "1";
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 120); });
    // the field says what the figure calls the input (apple, not price: the argument's name)
    const name = p.label || p.name;
    const label = el("label", { class: "field", "data-label": name, title: t("graphs.argument", { name: p.name }) },
      p.kind === "numbers" ? t(p.optional ? "graphs.numbers.optional" : "graphs.numbers", { name }) : name);
    label.appendChild(input);
    form.appendChild(label);
  }
  await update();
}

function readParams() {
  const params = {};
  for (const input of form.querySelectorAll("input")) {
    const text = input.value.trim();
    if (input.dataset.optional && text === "") continue;
    if (input.dataset.kind === "numbers") {
      const parts = text.split(/[\s,]+/).filter((t) => t.length);
      const values = parts.map(Number);
      if (!parts.length || values.some((v) => !Number.isFinite(v))) throw new Error(t("graphs.expect.numbers", { label: input.dataset.label }));
      params[input.name] = values;
    } else {
      const v = Number(text);
      if (text === "" || !Number.isFinite(v)) throw new Error(t("graphs.expect.number", { label: input.dataset.label }));
      params[input.name] = v;
    }
  }
  return params;
}

// The figure drawn is of inputs that are no longer those in the form: say so on it.
function markStale(message) {
  errorBox.textContent = message;
  svg.classList.add("stale");
  svg.dataset.stale = "1";
  staleBox.hidden = false;
}

// The caption: the doc's worked example while the inputs are the defaults, else the title and
// what these inputs give (the doc's "= 220" is of the defaults only).
function caption(spec, params, graph) {
  const same = spec.params.every((p) => JSON.stringify(params[p.name] ?? null) === JSON.stringify(p.default));
  if (same) return figureText(spec, "doc");
  const outs = graph.outputs.map((id) => graph.nodes.find((n) => n.id === id))
    .filter((n) => n).map((n) => `${n.label} = ${n.text}`);
  return t("graphs.with.inputs", { title: figureText(spec, "title"), outputs: outs.join(", ") });
}

async function update() {
  const no = ++requestNo;
  let params;
  try { params = readParams(); } catch (e) { markStale(e.message); return; } // worded here
  try {
    const graph = await postJSON(`/api/graphs/${encodeURIComponent(select.value)}`, { params });
    if (no !== requestNo) return; // a newer edit is on its way
    errorBox.textContent = "";
    svg.classList.remove("stale");
    delete svg.dataset.stale;
    staleBox.hidden = true;
    docBox.textContent = caption(specs.find((s) => s.name === select.value), params, graph);
    draw(graph);
  } catch (e) {
    if (no === requestNo) markStale(serverMessage(e));
  }
}

// Tree layout from the outputs back (the book's figures are trees): depth = columns from the
// right, each leaf gets a row, an inner node sits between its inputs.
function layout(graph) {
  const byId = new Map(graph.nodes.map((n) => [n.id, { ...n, inputs: [] }]));
  for (const e of graph.edges) byId.get(e.dst).inputs[e.slot] = byId.get(e.src);
  const size = new Map();
  const sizeOf = (n) => {
    if (!size.has(n.id)) size.set(n.id, n.inputs.length ? n.inputs.reduce((s, c) => s + sizeOf(c), 0) : 1);
    return size.get(n.id);
  };
  const placed = new Set();
  let maxDepth = 0;
  const place = (n, depth, top) => {
    if (placed.has(n.id)) return;
    placed.add(n.id);
    n.depth = depth;
    maxDepth = Math.max(maxDepth, depth);
    if (!n.inputs.length) { n.row = top + 0.5; return; }
    let t = top;
    for (const c of n.inputs) { place(c, depth + 1, t); t += sizeOf(c); }
    const rows = n.inputs.map((c) => c.row);
    n.row = (Math.min(...rows) + Math.max(...rows)) / 2;
  };
  let top = 0;
  const groupTops = {};
  for (const id of graph.outputs) {
    const out = byId.get(id);
    if (out.group && groupTops[out.group] === undefined && top > 0) top += 0.6; // room for the title
    groupTops[out.group] = top;
    place(out, 0, top);
    top += sizeOf(out) + 0.3;
  }
  return { nodes: [...byId.values()], byId, maxDepth, rows: top };
}

function textWidth(text) { return 6.7 * text.length * (/[^\x00-\u2fff]/.test(text) ? 1.6 : 1); }

function draw(graph) {
  const { nodes, byId, maxDepth, rows } = layout(graph);
  const half = (n) => {
    if (n.kind !== "op" && n.kind !== "output") return 0;
    if (n.kind === "output") return 0;
    const label = libraryText(n.label), wide = /[^\x00-\u2fff]/.test(label) ? 2 : 1; // Hangul: about twice as wide
    return n.shape === "box" ? Math.max(24, 12 + 4.2 * wide * label.length) : Math.max(19, 10 + 4.4 * wide * label.length);
  };
  // the gap before depth d holds the longest edge text between the nodes it joins
  const gap = new Array(maxDepth).fill(110);
  for (const e of graph.edges) {
    const s = byId.get(e.src), d = byId.get(e.dst);
    const need = Math.max(textWidth(libraryText(e.fwd)), textWidth(libraryText(e.grad_text || ""))) + half(s) + half(d) + 70;
    gap[d.depth] = Math.max(gap[d.depth], need);
  }
  const offset = new Array(maxDepth + 1).fill(0); // x of depth d, from the left
  for (let d = maxDepth - 1; d >= 0; d--) offset[d] = offset[d + 1] + gap[d];
  const leafText = nodes.filter((n) => n.kind !== "op" && n.kind !== "output").map((n) => textWidth(n.label));
  const rowH = 74, left = Math.max(40, ...leafText) + 16, topPad = graph.groups && Object.keys(graph.groups).length ? 34 : 16;
  const X = (n) => left + offset[n.depth];
  const Y = (n) => topPad + n.row * rowH;
  const width = left + offset[0] + 90, height = topPad + rows * rowH + 8;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.maxWidth = `${Math.round(Math.max(width * 1.3, 600))}px`;
  svg.replaceChildren();
  svg.dataset.figure = graph.name;

  for (const [key, title] of Object.entries(graph.groups || {})) {
    const members = nodes.filter((n) => n.group === key);
    if (!members.length) continue;
    const x0 = Math.min(...members.map(X)) - 55, x1 = Math.max(...members.map(X)) + 40;
    const y0 = Math.min(...members.map(Y)) - 48, y1 = Math.max(...members.map(Y)) + 36;
    svgEl("rect", { class: "group", x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 8 }, svg);
    svgEl("text", { class: "group-title", x: x0 + 8, y: y0 + 14 }, svg).textContent = libraryText(title);
  }

  for (const e of graph.edges) {
    const s = byId.get(e.src), d = byId.get(e.dst);
    const xs = X(s) + (s.kind === "op" ? half(s) : 8), ys = Y(s);
    const xd = X(d) - (d.kind === "op" ? half(d) : 10), yd = Y(d);
    const bend = Math.max(xs + 10, xd - 26);
    const g = svgEl("g", { class: "edge-group", "data-src": s.label, "data-src-id": s.id, "data-dst-id": d.id,
      "data-slot": e.slot }, svg);
    svgEl("path", { class: "edge", d: `M ${xs} ${ys} H ${bend} L ${xd} ${yd}`, "marker-end": "url(#arrow)" }, g);
    const mid = (xs + bend) / 2;
    const f = svgEl("text", { class: "fwd", x: mid, y: ys - 7 }, g);
    f.textContent = libraryText(e.fwd);
    if (e.value !== null) f.dataset.value = JSON.stringify(e.value);
    if (e.grad_text !== null) {
      const b = svgEl("text", { class: "bwd", x: mid, y: ys + 17 }, g);
      b.textContent = libraryText(e.grad_text);
      if (e.grad !== null) b.dataset.grad = JSON.stringify(e.grad);
    }
  }
  const defs = svgEl("defs", {}, svg);
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse" }, defs);
  svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#1d2330" }, marker);

  for (const n of nodes) {
    const g = svgEl("g", { class: `node node-${n.kind}`, "data-id": n.id, "data-label": n.label }, svg);
    if (n.kind === "op") {
      const w = half(n);
      if (n.shape === "box") svgEl("rect", { class: "node-op", x: X(n) - w, y: Y(n) - 17, width: 2 * w, height: 34, rx: 6 }, g);
      else if (w > 19) svgEl("ellipse", { class: "node-op", cx: X(n), cy: Y(n), rx: w, ry: 19 }, g);
      else svgEl("circle", { class: "node-op", cx: X(n), cy: Y(n), r: 19 }, g);
      svgEl("text", { class: "node-text", x: X(n), y: Y(n) }, g).textContent = libraryText(n.label);
    } else {
      const anchor = n.kind === "output" ? "start" : "end";
      const t = svgEl("text", { class: "var-text", x: X(n) + (n.kind === "output" ? -6 : 4), y: Y(n), "text-anchor": anchor }, g);
      t.textContent = n.label;
    }
  }
  notes.replaceChildren(...graph.notes.map((line) => el("li", {}, libraryText(line))));
}
