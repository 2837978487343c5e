// The page's words in English and Korean: every text the page shows comes from STRINGS.
// The language: ?lang=ko or ?lang=en in the URL; else the browser's first choice of the two
// (navigator.languages, what it sends as Accept-Language); else English. Korean terms follow
// the project's glossary (the book's Korean edition); code names (Affine, Relu, dout, dx) stay.

export const STRINGS = {
  en: {
    "title": "layerwise playground",
    "header.name": "playground",
    "tab.graphs": "1 · Computational graphs",
    "tab.digits": "2 · Draw a digit",
    "tab.train": "3 · Train",
    "footer": "Every number on these pages is computed by layerwise, on this machine.",
    "server.says": "{message}",

    "graphs.lead": "The figures of chapter 5, computed by <code>layerwise.figures.graph</code>: forward values above each " +
      "edge, gradients <span class=\"grad\">below it in red</span>. Change an input and the whole graph is computed again.",
    "graphs.figure": "Figure",
    "graphs.stale": "Out of date: this figure is of the last valid inputs; fix the input marked on the left.",
    "graphs.svg": "computational graph",
    "graphs.numbers": "{name} (comma-separated)",
    "graphs.numbers.optional": "{name} (comma-separated, optional)",
    "graphs.not.given": "(not given)",
    "graphs.argument": "argument {name}",
    "graphs.expect.numbers": "{label}: expected numbers separated by commas",
    "graphs.expect.number": "{label}: expected a number",
    "graphs.with.inputs": "{title}, with these inputs: {outputs}",

    "digits.loading": "Loading the model…",
    "digits.ready": "Model: {description}. Backward trace: {trace}.",
    "digits.trained": "{network} ({filters} filters {size}×{size}, {hidden} hidden) trained here on mnist-sample " +
      "for {epochs} epochs: test accuracy {accuracy}",
    "digits.failed": "The model could not be trained: {message}",
    "digits.training": "Training a small conv net on mnist-sample… {percent}%",
    "digits.wait": "{message}: wait for the model",
    "digits.draw": "Draw",
    "digits.clear": "Clear",
    "digits.pick": "…or pick a test image",
    "digits.sample": "test image {index} (a {label})",
    "digits.sees": "What the network sees",
    "digits.sees.note": "28×28, scaled into 20×20 and centred by its centre of mass, as MNIST.",
    "digits.probs": "Probabilities",
    "digits.backward": "Backward, step by step",
    "digits.label": "label",
    "digits.prediction": "the prediction",
    "digits.prev": "◀ Back",
    "digits.next": "Backward step ▶",
    "digits.all": "All steps",
    "digits.input.grad": "∂L/∂x: the gradient of the loss with respect to the input image",
    "digits.input.grad.note": "<span class=\"pos\">red</span>: raising this pixel raises the loss; " +
      "<span class=\"neg\">blue</span>: lowers it.",
    "digits.layers": "Every layer's output",
    "digits.more": "+ {count} more",
    "digits.norm": "({shape}), norm {norm}",
    "digits.norm.max": "({shape}), norm {norm}, max |·| {max}",
    "digits.status": "label {label} · loss {loss} · {reached} of {total} backward steps",
    "digits.first": "draw or pick a digit first",
    "digits.step": "step",
    "digits.dout": "received dout",
    "digits.dx": "returned dx",
    "digits.forward.done": "Forward pass done. Press “Backward step” to send the gradient back, one layer at a time.",

    "train.settings": "Settings",
    "train.network": "Network",
    "train.optimizer": "Optimizer",
    "train.lr": "Learning rate",
    "train.batch": "Batch size",
    "train.epochs": "Epochs",
    "train.start": "Start",
    "train.pause": "Pause",
    "train.resume": "Resume",
    "train.stop": "Stop",
    "train.save": "Save model",
    "train.new": "New run",
    "train.pick": "Pick the settings and press Start.",
    "train.data": "Data: the bundled mnist-sample (4,000 training, 1,000 test digits). Models are saved by the " +
      "server in <code id=\"save-dir\"></code>.",
    "train.loss.chart": "Loss of the training batches, by iteration",
    "train.acc.chart": "Accuracy (1,000 train and 1,000 test images), by epoch",
    "train.grad.chart": "Gradient norm of each layer's parameters, by iteration (log scale)",
    "train.series.loss": "loss",
    "train.series.train": "train",
    "train.series.test": "test",
    "train.progress": "epoch {epoch} of {epochs} · iteration {iteration} · loss {loss}",
    "train.saved": "saved {file} (epoch {epoch}, iteration {iteration})",
    "state.running": "Running",
    "state.paused": "Paused",
    "state.stopped": "Stopped",
    "state.finished": "Finished",
    "state.diverged": "Diverged",
    "state.failed": "Failed",
    // what the server's state messages say, worded here from its details
    "why.stopped": "stopped in epoch {epoch}, iteration {iteration}",
    "why.finished": "{epochs} epochs done",
    "why.diverged.nonfinite": "training diverged: the loss became {loss} at iteration {iteration}; the weights are " +
      "back at the last epoch's end: try a smaller learning rate, e.g. {lr}",
    "why.diverged.grew": "training diverged in epoch {epoch}: the loss went from {first} at the start to {max} " +
      "(mean {mean} over the epoch); the weights are back at the start of epoch {epoch}: try a smaller " +
      "learning rate, e.g. {lr}",
    "why.failed": "{error}",
  },

  ko: {
    "title": "layerwise 플레이그라운드",
    "header.name": "플레이그라운드",
    "tab.graphs": "1 · 계산 그래프",
    "tab.digits": "2 · 숫자 그리기",
    "tab.train": "3 · 학습",
    "footer": "이 페이지의 모든 숫자는 이 컴퓨터에서 layerwise가 계산한 것입니다.",
    "server.says": "서버의 답: {message}",

    "graphs.lead": "5장의 그림을 <code>layerwise.figures.graph</code>로 계산했습니다. 에지 위에는 순전파 값, " +
      "<span class=\"grad\">아래에는 빨간색으로 기울기</span>가 있습니다. 입력을 바꾸면 그래프 전체를 다시 계산합니다.",
    "graphs.figure": "그림",
    "graphs.stale": "지난 그림: 마지막으로 올바르던 입력값의 그림입니다. 왼쪽에 표시된 입력을 고치세요.",
    "graphs.svg": "계산 그래프",
    "graphs.numbers": "{name} (쉼표로 구분)",
    "graphs.numbers.optional": "{name} (쉼표로 구분, 생략 가능)",
    "graphs.not.given": "(비워 둠)",
    "graphs.argument": "인수 {name}",
    "graphs.expect.numbers": "{label}: 쉼표로 구분한 숫자를 입력하세요",
    "graphs.expect.number": "{label}: 숫자를 입력하세요",
    "graphs.with.inputs": "{title}, 이 입력값의 결과: {outputs}",

    "digits.loading": "모델을 불러오는 중…",
    "digits.ready": "모델: {description}. 역전파 추적: {trace}.",
    "digits.trained": "여기서 mnist-sample로 {epochs} 에폭 학습한 {network}(필터 {filters}개 {size}×{size}, " +
      "은닉 뉴런 {hidden}개): 시험 데이터 정확도 {accuracy}",
    "digits.failed": "모델을 학습하지 못했습니다: {message}",
    "digits.training": "mnist-sample로 작은 합성곱 신경망을 학습하는 중… {percent}%",
    "digits.wait": "{message}: 모델이 준비될 때까지 기다리세요",
    "digits.draw": "그리기",
    "digits.clear": "지우기",
    "digits.pick": "…또는 시험 이미지 고르기",
    "digits.sample": "시험 이미지 {index} (정답 레이블 {label})",
    "digits.sees": "신경망이 보는 입력",
    "digits.sees.note": "28×28, MNIST처럼 20×20으로 줄이고 무게중심을 가운데에 맞춤.",
    "digits.probs": "확률",
    "digits.backward": "역전파, 한 단계씩",
    "digits.label": "정답 레이블",
    "digits.prediction": "예측값",
    "digits.prev": "◀ 이전",
    "digits.next": "역전파 한 단계 ▶",
    "digits.all": "모든 단계",
    "digits.input.grad": "∂L/∂x: 입력 이미지에 대한 손실 함수의 기울기",
    "digits.input.grad.note": "<span class=\"pos\">빨간색</span>: 이 픽셀을 키우면 손실이 커짐; " +
      "<span class=\"neg\">파란색</span>: 작아짐.",
    "digits.layers": "각 계층의 출력",
    "digits.more": "+ {count}개 더",
    "digits.norm": "({shape}), 노름 {norm}",
    "digits.norm.max": "({shape}), 노름 {norm}, 최대 |·| {max}",
    "digits.status": "정답 레이블 {label} · 손실 {loss} · 역전파 {total}단계 중 {reached}단계",
    "digits.first": "먼저 숫자를 그리거나 고르세요",
    "digits.step": "단계",
    "digits.dout": "받은 dout",
    "digits.dx": "돌려준 dx",
    "digits.forward.done": "순전파를 마쳤습니다. “역전파 한 단계”를 누르면 기울기를 한 계층씩 거꾸로 보냅니다.",

    "train.settings": "설정",
    "train.network": "신경망",
    "train.optimizer": "옵티마이저",
    "train.lr": "학습률",
    "train.batch": "배치 크기",
    "train.epochs": "에폭 수",
    "train.start": "시작",
    "train.pause": "일시 정지",
    "train.resume": "계속",
    "train.stop": "멈춤",
    "train.save": "모델 저장",
    "train.new": "새로 학습",
    "train.pick": "설정을 고르고 시작을 누르세요.",
    "train.data": "데이터: 함께 들어 있는 mnist-sample (훈련 데이터 4,000개, 시험 데이터 1,000개). 모델은 서버가 " +
      "<code id=\"save-dir\"></code>에 저장합니다.",
    "train.loss.chart": "훈련 배치의 손실, 반복별",
    "train.acc.chart": "정확도 (훈련 이미지 1,000개와 시험 이미지 1,000개), 에폭별",
    "train.grad.chart": "각 계층 매개변수의 기울기 노름, 반복별 (로그 눈금)",
    "train.series.loss": "손실",
    "train.series.train": "훈련",
    "train.series.test": "시험",
    "train.progress": "에폭 {epoch}/{epochs} · 반복 {iteration} · 손실 {loss}",
    "train.saved": "{file} 저장함 (에폭 {epoch}, 반복 {iteration})",
    "state.running": "학습 중",
    "state.paused": "일시 정지됨",
    "state.stopped": "멈춤",
    "state.finished": "완료",
    "state.diverged": "발산함",
    "state.failed": "실패",
    "why.stopped": "에폭 {epoch}, 반복 {iteration}에서 멈춤",
    "why.finished": "{epochs} 에폭 완료",
    "why.diverged.nonfinite": "반복 {iteration}에서 손실이 {loss}가 됨. 가중치는 지난 에폭이 끝났을 " +
      "때로 되돌렸습니다. 학습률을 더 작게 해 보세요 (예: {lr})",
    "why.diverged.grew": "에폭 {epoch}에서 손실이 처음 {first}에서 {max}까지 커짐 (에폭 평균 {mean}). " +
      "가중치는 에폭 {epoch}의 시작으로 되돌렸습니다. 학습률을 더 작게 해 보세요 (예: {lr})",
    "why.failed": "{error}",
  },
};

// Page 1's figures come from the library with English docstrings, notes and group titles;
// the Korean page words them here (English is the server's own text). A figure's Korean
// doc keeps the numbers of its English one (a test compares them).
export const FIGURES_KO = {
  "apple": { title: "사과 쇼핑 (그림 5-16)",
    doc: "사과 쇼핑 (그림 5-16): price·num·tax = 220; dApple 2.2, dApple_num 110, dTax 200." },
  "apple-orange": { title: "사과와 귤 쇼핑 (그림 5-17)",
    doc: "사과와 귤 쇼핑 (그림 5-17): price 715; dApple 2.2, dApple_num 110, dOrange 3.3, dOrange_num 165, dTax 650." },
  "relu": { title: "ReLU (그림 5-18)",
    doc: "ReLU (그림 5-18): x > 0인 곳은 순전파 값이 그대로 흐르고 역전파 때 ∂L/∂y가 그대로 돌아갑니다. " +
      "x ≤ 0인 곳은 순전파로 0, 역전파로 0을 보냅니다. x는 값 하나 또는 여러 개(한 배열의 각 원소)이고, " +
      "역전파는 모든 원소에서 ∂L/∂y = 1로 시작합니다." },
  "sigmoid": { title: "Sigmoid를 두 가지로 (그림 5-20과 5-21), 한 그림에 나란히",
    doc: "Sigmoid를 두 가지로 (그림 5-20과 5-21), 한 그림에 나란히." },
  "affine": { title: "배치용 Affine 계층 (그림 5-27), 에지에 행렬의 형상 표시",
    doc: "배치용 Affine 계층 (그림 5-27), 에지에 행렬의 형상 표시." },
  "softmax-loss": { title: "Softmax-with-Loss (그림 5-29)",
    doc: "Softmax-with-Loss (그림 5-29): 점수 a, 정답 레이블 t; a에서의 역전파는 y − t." },
};

// The figures' notes, group titles and edge texts, and the texts of page 2's trace figure
// (layerwise.figures.trace_figure): [English pattern, Korean or a function making it]; $1... are the
// pattern's numbers, formulas and code names, kept as they are.
export const PHRASES_KO = [
  [/^Sigmoid as a computational graph$/, "계산 그래프로 그린 Sigmoid"],
  [/^Sigmoid layer: backward is (.+)$/, "Sigmoid 계층: 역전파는 $1"],
  [/^x > 0: (.+) \(the layer's mask is x <= 0\)$/, "x > 0: $1 (계층의 mask는 x <= 0)"],
  [/^forward (.+);  backward (.+)  \((.+)\)$/, "순전파 $1;  역전파 $2  ($3)"],
  [/^step by step (.+);  one node (.+)  \((.+)\)$/, "단계별로 $1;  노드 하나로 $2  ($3)"],
  [/^exp\(−x\) = (.+) is more than float64 can hold, drawn as inf, so the steps give (.+)$/,
    "exp(−x) = $1은 float64가 담을 수 있는 값보다 커서 inf로 그렸고, 그래서 단계별 계산은 $2"],
  [/^(.+) is below what float64 holds exactly, so the steps give (.+) where (.+)$/,
    "$1은 float64가 정확히 담을 수 있는 값보다 작아서, 단계별 계산은 $2이고 $3"],
  [/^N = (\d+); X, W, B and ∂L\/∂Y drawn from (.+)$/, "N = $1; X, W, B와 ∂L/∂Y는 $2에서 뽑음"],
  [/^(y\[\d+\] = .+) underflows to 0 in float64, so −t\/y shows -inf; L = (.+) and y − t come from a, as in SoftmaxWithLoss$/,
    "$1은 float64에서 0으로 언더플로되어 −t/y가 -inf로 나옵니다. SoftmaxWithLoss처럼 L = $2과 y − t는 a로 계산합니다"],
  [/^(y\[\d+\] = .+) is so small that 1\/y overflows in float64, so −t\/y shows -inf; L = (.+) and y − t come from a, as in SoftmaxWithLoss$/,
    "$1은 너무 작아서 float64에서 1/y가 오버플로되어 −t/y가 -inf로 나옵니다. SoftmaxWithLoss처럼 L = $2과 y − t는 a로 계산합니다"],
  [/^the layer sends back y − t = (.+) to the scores a \(a large error when y is far from t, a small one when close\)$/,
    "계층은 점수 a로 y − t = $1을 돌려보냅니다 (y가 t에서 멀면 큰 오차, 가까우면 작은 오차)"],
  [/^to the scores a: (.+)$/, "점수 a로: $1"],
  [/^(∂L\/∂y) where x > 0, else 0(.*)$/, "$1 (x > 0인 곳), 그 외는 0$2"],
  [/^B per row(.*)$/, "행마다 B$1"],
  [/^Cross Entropy Error$/, "교차 엔트로피 오차"],
  // page 2's trace figure
  [/^(.+): forward \(black\) and backward \(red\), sample (\d+) of (\d+)(?:, label (\d+))?$/,
    (all, net, i, n, label) => `${net}: 순전파(검정)와 역전파(빨강), 샘플 ${i}/${n}` + (label ? `, 정답 레이블 ${label}` : "")],
  [/^frame k: the backward pass has run through the last k layers$/, "프레임 k: 역전파가 마지막 k개 계층까지 진행됨"],
  [/^dx of (.+) = dout of (.+)$/, "$1의 dx = $2의 dout"],
  [/^channels (\S+) of (\d+)$/, "채널 $1 (전체 $2개)"],
  [/^filters (\S+) of (\d+), channel (\d+)$/, "필터 $1 (전체 $2개), 채널 $3"],
  [/min (\S+)  mean (\S+)  max (\S+)(?:  \((\d+%) zero\))?(?:  (\d+) not finite)?$/,
    (all, lo, mean, hi, zeros, bad) => `최솟값 ${lo}  평균 ${mean}  최댓값 ${hi}` + (zeros ? `  (0인 값 ${zeros})` : "") +
      (bad ? `  유한하지 않은 값 ${bad}개` : "")],
  [/no finite values$/, "유한한 값 없음"],
  [/^gradient check ok (.+)$/, "기울기 확인 통과 $1"],
  [/^gradient check FAILED (.+)$/, "기울기 확인 실패 $1"],
  // page 3's networks (their about, a tooltip)
  [/^(\d+) filters (\S+), pool, (\d+) hidden$/, "필터 $1개 $2, 풀링, 은닉 뉴런 $3개"],
];

export function chooseLang(search, languages) {
  const asked = (new URLSearchParams(search).get("lang") || "").toLowerCase().split("-")[0];
  if (asked in STRINGS) return asked;
  for (const tag of languages || []) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary in STRINGS) return primary;
  }
  return "en";
}

export const LANG = chooseLang(location.search, navigator.languages || [navigator.language]);
const table = STRINGS[LANG];

// The text of `key` with its {placeholders} filled from `vars`; a missing key is a bug (logged).
export function t(key, vars = {}) {
  let text = table[key];
  if (text === undefined) {
    console.error(`i18n: no ${LANG} text for ${key}`);
    text = STRINGS.en[key] ?? key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// A text the library wrote in English (a figure's note, group title, edge text), in the page's language.
export function libraryText(text) {
  if (LANG !== "ko" || typeof text !== "string") return text;
  for (const [pattern, korean] of PHRASES_KO) {
    if (pattern.test(text)) return text.replace(pattern, korean);
  }
  return text;
}

export function figureText(spec, field) {
  return LANG === "ko" && FIGURES_KO[spec.name] ? FIGURES_KO[spec.name][field] : spec[field];
}

// A refusal's message: the server's English, introduced in the page's language.
export function serverMessage(error) {
  return t("server.says", { message: error.message });
}

// The static page: [data-i18n] gets the text, [data-i18n-html] the (trusted, ours) markup,
// [data-i18n-aria] the aria-label; <html lang> and the title follow.
export function translatePage(root = document) {
  document.documentElement.lang = LANG;
  document.title = t("title");
  for (const e of root.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll("[data-i18n-html]")) e.innerHTML = t(e.dataset.i18nHtml);
  for (const e of root.querySelectorAll("[data-i18n-aria]")) e.setAttribute("aria-label", t(e.dataset.i18nAria));
}
