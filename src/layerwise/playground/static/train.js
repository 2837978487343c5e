// Page 3: one training session per tab, its events streamed from the server.
import { getJSON, postJSON, el, fmt } from "./api.js";
import { lineChart } from "./plot.js";
import { t, serverMessage, libraryText } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const COLORS = ["#2458d6", "#d62828", "#2a9d8f", "#e9a100", "#7b2cbf", "#6b7280", "#f15bb5", "#00a6fb"];
const SUGGESTED_LR = { SGD: 0.1, Momentum: 0.05, Nesterov: 0.05, AdaGrad: 0.05, RMSprop: 0.002, Adam: 0.002 };
let session = null;
let source = null;
let data = null;
let pending = false;

export async function initTrain() {
  const opts = await getJSON("/api/train/options");
  for (const n of opts.networks) $("train-network").appendChild(el("option", { value: n.name, title: libraryText(n.about) }, n.name));
  for (const o of opts.optimizers) $("train-optimizer").appendChild(el("option", { value: o }, o));
  $("train-network").value = opts.defaults.network;
  $("train-optimizer").value = opts.defaults.optimizer;
  $("save-dir").textContent = opts.save_dir;
  $("train-optimizer").addEventListener("change", () => { $("train-lr").value = SUGGESTED_LR[$("train-optimizer").value] ?? 0.01; });
  $("train-start").addEventListener("click", start);
  $("train-pause").addEventListener("click", pauseOrResume);
  $("train-stop").addEventListener("click", () => act("stop"));
  $("train-save").addEventListener("click", save);
  $("train-new").addEventListener("click", reset);
  window.addEventListener("resize", redraw);
  reset();
}

function settings() {
  return {
    network: $("train-network").value, optimizer: $("train-optimizer").value,
    lr: Number($("train-lr").value), batch_size: Number($("train-batch").value), epochs: Number($("train-epochs").value),
  };
}

function reset() {
  if (source) source.close();
  source = null; session = null; lastStatus = "";
  data = { loss: [], train: [], test: [], grads: {}, layers: [] };
  $("train-saved").replaceChildren();
  $("train-error").textContent = "";
  for (const e of $("train-form").elements) e.disabled = false;
  setState("none", t("train.pick"));
  redraw();
}

async function start() {
  $("train-error").textContent = "";
  try {
    session = await postJSON("/api/train/sessions", settings());
    data.layers = session.layers;
    $("train-status").dataset.session = session.id;
    for (const e of $("train-form").elements) e.disabled = true;
    listen();
    const s = await postJSON(`/api/train/sessions/${session.id}/start`);
    setState(s.state);
  } catch (e) {
    $("train-error").textContent = serverMessage(e);
    if (!session) return;
  }
}

function listen() {
  source = new EventSource(`/api/train/sessions/${session.id}/events`);
  source.addEventListener("step", (ev) => {
    const d = JSON.parse(ev.data);
    if (Number.isFinite(d.loss)) data.loss.push([d.iteration, d.loss]);
    // a norm beyond float64 arrives as the string "inf": not drawn (the log axis has no place for it)
    for (const [layer, norm] of Object.entries(d.grad_norms)) {
      if (Number.isFinite(norm)) (data.grads[layer] ||= []).push([d.iteration, norm]);
    }
    status(d.epoch, d.iteration, d.loss);
    schedule();
  });
  source.addEventListener("epoch", (ev) => {
    const d = JSON.parse(ev.data);
    data.train.push([d.epoch, d.train_acc]);
    data.test.push([d.epoch, d.test_acc]);
    schedule();
  });
  source.addEventListener("state", (ev) => {
    const d = JSON.parse(ev.data);
    setState(d.state, why(d));
  });
  source.addEventListener("end", () => source.close());
}

let lastStatus = "";
// What the status line says of each state ("none", before a run, says nothing of itself).
function stateWord(state) {
  return state === "none" ? "" : STATE_WORDS.has(state) ? t(`state.${state}`) : state;
}
const STATE_WORDS = new Set(["running", "paused", "stopped", "finished", "diverged", "failed"]);

// Why the run is in its state: worded here from the server's details, its message otherwise.
function why(s) {
  const d = s.details || {};
  return d.why ? t(`why.${d.why}`, d) : s.message || "";
}

function status(epoch, iteration, loss) {
  lastStatus = t("train.progress", { epoch: fmt(epoch, 3), epochs: session.epochs, iteration, loss: fmt(loss, 4) });
  const line = $("train-status");
  line.textContent = [stateWord(line.dataset.state), lastStatus].filter((w) => w).join(" · ");
}

function setState(state, message = "") {
  const line = $("train-status");
  line.dataset.state = state;
  line.textContent = [stateWord(state), message || lastStatus].filter((w) => w).join(" · ");
  const live = state === "running" || state === "paused";
  $("train-start").disabled = state !== "none";
  $("train-pause").disabled = !live;
  $("train-pause").textContent = t(state === "paused" ? "train.resume" : "train.pause");
  $("train-stop").disabled = !live;
  $("train-save").disabled = state === "none";
  $("train-new").disabled = state === "none" || live;
}

async function pauseOrResume() {
  await act($("train-status").dataset.state === "paused" ? "resume" : "pause");
}

async function act(action) {
  try {
    const s = await postJSON(`/api/train/sessions/${session.id}/${action}`);
    setState(s.state, why(s));
  } catch (e) { $("train-error").textContent = serverMessage(e); }
}

async function save() {
  try {
    // the reply says what was written (the event stream may have ended with the run)
    const r = await postJSON(`/api/train/sessions/${session.id}/save`);
    const li = el("li", { "data-file": r.file }, t("train.saved", { file: r.file, epoch: r.epoch, iteration: r.iteration }));
    $("train-saved").appendChild(li);
  } catch (e) { $("train-error").textContent = serverMessage(e); }
}

function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; redraw(); });
}

function redraw() {
  if (!data) return;
  lineChart($("loss-chart"), [{ name: t("train.series.loss"), key: "loss", color: COLORS[0], points: data.loss }], { xLabel: "iteration", yMin: 0, integerX: true });
  lineChart($("acc-chart"), [
    { name: t("train.series.train"), key: "train", color: COLORS[0], points: data.train },
    { name: t("train.series.test"), key: "test", color: COLORS[1], points: data.test },
  ], { xLabel: "epoch", yMin: accuracyFloor(), yMax: 1, integerX: true });
  const layers = data.layers.length ? data.layers : Object.keys(data.grads);
  lineChart($("grad-chart"), layers.map((name, i) => ({ name, color: COLORS[i % COLORS.length], points: data.grads[name] || [] })),
    { xLabel: "iteration", logY: true, integerX: true });
}

// The accuracy axis starts a little below the lowest accuracy so far (0 before any epoch).
function accuracyFloor() {
  const all = [...data.train, ...data.test].map((p) => p[1]);
  return all.length ? Math.max(0, Math.floor(Math.min(...all) * 10) / 10 - 0.1) : 0;
}
