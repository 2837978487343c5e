"""What ``layerwise check`` can say about a learner's layer: one entry per mistake, in English
and Korean.

Each finding names the misconception the way a learner would put it, points to the book's
section, and stops there: a hint never shows the code that fixes it. The ids are stable (they
are in ``--json`` output and in the documentation's catalogue page); the two languages are kept
in step by a test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from layerwise.errors import ConfigError

__all__ = ["Entry", "CATALOGUE", "LANGUAGES", "UI", "PHRASES", "entry", "ui", "language", "translate"]

LANGUAGES = ("en", "ko")


@dataclass(frozen=True)
class Entry:
    """One kind of finding: ``severity`` is ``"fail"`` or ``"note"``; ``section`` the book's."""

    id: str
    severity: str
    section: str
    title: dict[str, str]
    hint: dict[str, str]
    #: A few lines of code that make this mistake (for the documentation's catalogue page).
    example: str = ""


def _e(
    id_: str, severity: str, section: str, title_en: str, title_ko: str, hint_en: str, hint_ko: str
) -> Entry:
    return Entry(id_, severity, section, {"en": title_en, "ko": title_ko}, {"en": hint_en, "ko": hint_ko})


_ENTRIES = [
    _e(
        "not-started",
        "fail",
        "5.4",
        "not started: the methods still raise NotImplementedError",
        "아직 시작하지 않음: 메서드가 여전히 NotImplementedError를 일으킵니다",
        "Replace the NotImplementedError in forward and backward with your own code, then check again.",
        "forward와 backward의 NotImplementedError를 직접 작성한 코드로 바꾼 다음 다시 확인하세요.",
    ),
    _e(
        "raised",
        "fail",
        "5.4",
        "your code raised an exception",
        "작성한 코드에서 예외가 발생했습니다",
        "Read the line named below in your file: the exception happened there, on the input shown.",
        "아래에 적힌 파일의 줄을 읽어 보세요. 보여 준 입력에서 그 줄이 예외를 일으켰습니다.",
    ),
    _e(
        "timeout",
        "fail",
        "5.4",
        "did not finish in time (an endless loop?)",
        "제한 시간 안에 끝나지 않았습니다(무한 루프인가요?)",
        "A forward or backward pass is a fixed number of array operations: look for a loop whose "
        "condition never becomes false.",
        "순전파와 역전파는 정해진 수의 배열 연산입니다. "
        "조건이 결코 거짓이 되지 않는 반복문이 있는지 찾아보세요.",
    ),
    _e(
        "wrong-forward",
        "fail",
        "5.4",
        "forward returns a wrong value",
        "forward가 틀린 값을 돌려줍니다",
        "Compute the forward pass by hand for the small input shown and compare with the worst entry.",
        "보여 준 작은 입력으로 순전파를 손으로 계산해 가장 많이 틀린 원소와 비교해 보세요.",
    ),
    _e(
        "backward-arity",
        "fail",
        "5.4",
        "backward must return two gradients, one for each input of forward",
        "backward는 forward의 입력마다 하나씩, 기울기 두 개를 돌려주어야 합니다",
        "A node with two inputs sends a gradient back along each of its two input edges (figure 5-12).",
        "입력이 둘인 노드는 두 입력 에지 각각으로 기울기를 돌려보냅니다(그림 5-12).",
    ),
    _e(
        "mul-inputs-not-swapped",
        "fail",
        "5.4.1",
        "the multiplication node's gradients are not swapped",
        "곱셈 노드의 기울기에서 입력을 서로 바꾸지 않았습니다",
        "For z = x·y the gradient with respect to x is the upstream gradient times the *other* "
        "input, and the same for y: the inputs trade places on the way back (§5.3.2).",
        "z = x·y에서 x에 대한 기울기는 상류에서 온 기울기에 *다른* 입력을 곱한 값이고, y도 마찬가지입니다. "
        "역전파에서는 두 입력이 서로 자리를 바꿉니다(5.3.2절).",
    ),
    _e(
        "relu-mask-inverted",
        "fail",
        "5.5.1",
        "the ReLU mask is inverted",
        "ReLU의 마스크가 반대로 되어 있습니다",
        "ReLU passes the gradient where the input was positive and stops it where the input was "
        "zero or negative; your layer does the opposite.",
        "ReLU는 입력이 양수였던 곳에서 기울기를 그대로 흘려보내고, 0 이하였던 곳에서 막습니다. "
        "작성한 계층은 그 반대로 하고 있습니다.",
    ),
    _e(
        "sigmoid-grad-from-input",
        "fail",
        "5.5.2",
        "the sigmoid's gradient is computed from the input x instead of the output y",
        "시그모이드의 기울기를 출력 y가 아닌 입력 x로 계산했습니다",
        "The derivative of the sigmoid is written with its output: dy/dx = y(1 − y). Keep the output of "
        "forward for backward (§5.5.2, figure 5-21).",
        "시그모이드의 미분은 출력으로 나타냅니다: dy/dx = y(1 − y). forward의 출력을 backward를 위해 "
        "보관하세요(5.5.2절, 그림 5-21).",
    ),
    _e(
        "input-not-flattened",
        "fail",
        "5.6.2",
        "Affine does not accept a 4-D input (N, C, H, W)",
        "Affine이 4차원 입력 (N, C, H, W)를 받지 못합니다",
        "Before the product, an Affine layer in a convolutional network sees images: reshape the input "
        "to (N, -1) and remember its original shape (§5.6.2, and the book's Affine in common/layers.py).",
        "합성곱 신경망의 Affine 계층은 곱셈 전에 이미지를 받습니다. 입력을 (N, -1)로 바꾸고 원래 형상을 "
        "기억해 두세요(5.6.2절과 책의 common/layers.py의 Affine).",
    ),
    _e(
        "dx-shape",
        "fail",
        "5.6.2",
        "dx does not have the shape of the input",
        "dx의 형상이 입력의 형상과 다릅니다",
        "The gradient with respect to x must have x's shape: reshape it back to the shape forward "
        "received (§5.6.1: X and ∂L/∂X have the same shape).",
        "x에 대한 기울기는 x와 형상이 같아야 합니다. forward가 받은 형상으로 되돌리세요"
        "(5.6.1절: X와 ∂L/∂X는 형상이 같습니다).",
    ),
    _e(
        "weight-grad-transposed",
        "fail",
        "5.6.1",
        "dW is transposed",
        "dW가 전치되어 있습니다",
        "dW must have W's shape. Check which side of the product Xᵀ goes on (equation 5.13, figure 5-25).",
        "dW는 W와 형상이 같아야 합니다. 곱셈에서 Xᵀ가 어느 쪽에 오는지 확인하세요(식 5.13, 그림 5-25).",
    ),
    _e(
        "bias-grad-not-summed",
        "fail",
        "5.6.2",
        "db is not the sum of dout over the batch",
        "db가 배치에 대한 dout의 합이 아닙니다",
        "The bias is added to every row of the batch, so its gradient is the sum of the rows' "
        "gradients: over axis 0, not averaged, and shaped like b (§5.6.2).",
        "편향은 배치의 모든 행에 더해지므로 그 기울기는 각 행 기울기의 합입니다. 0번 축으로 더하고, "
        "평균 내지 않으며, 형상은 b와 같습니다(5.6.2절).",
    ),
    _e(
        "grad-not-stored",
        "fail",
        "5.6.2",
        "backward does not store the parameter gradients (dW, db)",
        "backward가 매개변수의 기울기(dW, db)를 저장하지 않습니다",
        "After backward, the optimizer reads self.dW and self.db: set both in backward (§5.6.2, §5.7.2).",
        "backward가 끝나면 옵티마이저가 self.dW와 self.db를 읽습니다. backward에서 둘 다 설정하세요"
        "(5.6.2절, 5.7.2절).",
    ),
    _e(
        "missing-batch-mean",
        "fail",
        "5.6.3",
        "the gradient is not divided by the batch size",
        "기울기를 배치 크기로 나누지 않았습니다",
        "The loss is the mean over the batch, so each row's gradient is (y − t) divided by the batch "
        "size N (§5.6.3, the book's SoftmaxWithLoss.backward).",
        "손실 함수 값은 배치에 대한 평균이므로 각 행의 기울기는 (y − t)를 배치 크기 N으로 나눈 값입니다"
        "(5.6.3절, 책의 SoftmaxWithLoss.backward).",
    ),
    _e(
        "loss-not-mean",
        "fail",
        "4.2.3",
        "the loss is summed over the batch, not averaged",
        "손실 함수 값을 배치에 대해 평균 내지 않고 더했습니다",
        "The cross entropy error of a mini-batch is the mean over its rows, so that its size does not "
        "depend on the batch size (§4.2.3, equation 4.3).",
        "미니배치의 교차 엔트로피 오차는 행들의 평균입니다. 그래야 값의 크기가 배치 크기에 따라 달라지지 "
        "않습니다(4.2.3절, 식 4.3).",
    ),
    _e(
        "softmax-overflow",
        "fail",
        "3.5.2",
        "softmax overflows for large scores",
        "점수가 크면 소프트맥스에서 오버플로가 일어납니다",
        "exp(1000) is infinite in floating point. Softmax does not change when the same constant is "
        "subtracted from every score of a row (§3.5.2, equation 3.11).",
        "부동소수점에서 exp(1000)은 무한대입니다. 한 행의 모든 점수에서 같은 상수를 빼도 소프트맥스의 "
        "값은 바뀌지 않습니다(3.5.2절, 식 3.11).",
    ),
    _e(
        "log-of-zero",
        "fail",
        "4.2.2",
        "the loss is infinite when a probability is exactly 0",
        "확률이 정확히 0이면 손실 함수 값이 무한대가 됩니다",
        "log(0) is −∞. The book adds a tiny delta inside the log (§4.2.2); computing log-softmax from "
        "the scores avoids the problem entirely.",
        "log(0)은 −∞입니다. 책은 log 안에 아주 작은 delta를 더합니다(4.2.2절). 점수에서 곧바로 "
        "로그 소프트맥스를 계산하면 이 문제가 아예 생기지 않습니다.",
    ),
    _e(
        "label-form",
        "fail",
        "4.2.4",
        "only one of the two label forms works",
        "두 가지 정답 레이블 형식 중 하나만 동작합니다",
        "Labels come as integer class numbers (N,) or as one-hot rows (N, C); the book's "
        "cross_entropy_error handles both (§4.2.4).",
        "정답 레이블은 정수 분류 번호 (N,) 또는 원-핫 인코딩 행 (N, C)으로 옵니다. 책의 "
        "cross_entropy_error는 둘 다 처리합니다(4.2.4절).",
    ),
    _e(
        "input-mutated",
        "fail",
        "5.4",
        "your layer wrote into an array it was given",
        "계층이 전달받은 배열에 값을 썼습니다",
        "x (and t, y) belong to the caller: the previous layer still uses them. Make a new array "
        "instead of writing into the one you received.",
        "x(그리고 t, y)는 호출한 쪽의 배열입니다. 이전 계층이 아직 사용합니다. 전달받은 배열에 쓰지 말고 "
        "새 배열을 만드세요.",
    ),
    _e(
        "dout-mutated",
        "note",
        "5.5.1",
        "backward wrote into the dout it received",
        "backward가 전달받은 dout에 값을 썼습니다",
        "The book's Relu does this too (dout[self.mask] = 0), and it is harmless while nothing else "
        "reads dout afterwards. It bites when two gradients share one array, or when a branch "
        "(an AddLayer's two outputs) hands the same dout to two layers.",
        "책의 Relu도 이렇게 합니다(dout[self.mask] = 0). 나중에 dout을 읽는 곳이 없으면 문제가 없지만, "
        "두 기울기가 한 배열을 함께 쓰거나 분기(AddLayer의 두 출력)가 같은 dout을 두 계층에 넘길 때 "
        "문제가 됩니다.",
    ),
    _e(
        "dout-ignored",
        "note",
        "5.6.3",
        "backward ignores dout",
        "backward가 dout을 쓰지 않습니다",
        "The book's SoftmaxWithLoss does the same, since it is always the last layer (dout = 1). "
        "Multiplying by dout makes the layer correct anywhere in a graph.",
        "책의 SoftmaxWithLoss도 마지막 계층이라 dout = 1이므로 같은 방식입니다. dout을 곱하면 "
        "그래프의 어느 자리에서도 올바른 계층이 됩니다.",
    ),
    _e(
        "log-delta",
        "note",
        "4.2.2",
        "the loss adds a small delta inside the log",
        "손실 함수가 log 안에 작은 delta를 더합니다",
        "As in the book: the loss stays finite, but it is capped at −log(delta) when the right "
        "class gets probability 0. Log-softmax from the scores gives the exact value.",
        "책과 같은 방식입니다. 손실 함수 값이 유한하게 유지되지만, 정답 분류의 확률이 0이면 −log(delta)에서 "
        "멈춥니다. 점수에서 로그 소프트맥스를 계산하면 정확한 값이 나옵니다.",
    ),
    _e(
        "stale-cache",
        "fail",
        "5.4",
        "after two forward calls, backward uses the first call's values",
        "forward를 두 번 부른 뒤, backward가 첫 번째 호출의 값을 사용합니다",
        "forward must store what backward needs on every call, replacing what the previous call "
        "stored: backward belongs to the latest forward.",
        "forward는 호출될 때마다 backward에 필요한 값을 저장해 이전 값을 바꾸어야 합니다. backward는 가장 "
        "최근의 forward에 대응합니다.",
    ),
    _e(
        "backward-not-repeatable",
        "fail",
        "5.4",
        "calling backward twice gives two different results",
        "backward를 두 번 부르면 결과가 달라집니다",
        "backward should only read what forward stored: if it changes a cached array, the next call "
        "starts from the changed values.",
        "backward는 forward가 저장한 값을 읽기만 해야 합니다. 보관한 배열을 바꾸면 다음 호출은 바뀐 값에서 "
        "시작합니다.",
    ),
    _e(
        "float64-promotion",
        "note",
        "1.5",
        "float32 in, float64 out",
        "float32를 넣었는데 float64가 나옵니다",
        "A Python float or a float64 array in the computation promotes float32 arrays; networks train "
        "in float32 for speed and memory. Keep the input's dtype (x.dtype) in what you create.",
        "계산 중의 Python float나 float64 배열은 float32 배열을 float64로 바꿉니다. 신경망은 속도와 "
        "메모리 때문에 float32로 학습합니다. 새로 만드는 배열에 입력의 dtype(x.dtype)을 유지하세요.",
    ),
    _e(
        "wrong-gradient",
        "fail",
        "5.3",
        "a gradient is wrong",
        "기울기가 틀렸습니다",
        "Compare with the numerical gradient at the entry shown (§4.4 and §5.7.3, gradient check): "
        "follow the computational graph of forward backwards, one node at a time.",
        "보여 준 원소에서 수치 미분으로 구한 기울기와 비교해 보세요(4.4절, 5.7.3절의 기울기 확인). "
        "forward의 계산 그래프를 노드 하나씩 거꾸로 따라가 보세요.",
    ),
]

_EXAMPLES = {
    'not-started': 'def forward(self, x):\n    raise NotImplementedError',
    'raised': 'return dout * ~self.maks          # a typo: AttributeError',
    'timeout': 'while err > tol:                  # err never changes\n    pass',
    'wrong-forward': 'out = np.dot(x, self.W) - self.b',
    'backward-arity': 'def backward(self, dout):\n    return dout * self.y              # and dy?',
    'mul-inputs-not-swapped': "dx = dout * self.x                 # Mul: each input's own value",
    'relu-mask-inverted': 'self.mask = (x > 0)\nout[self.mask] = 0',
    'sigmoid-grad-from-input': 'dx = dout * (1.0 - self.x) * self.x',
    'input-not-flattened': 'out = np.dot(x, self.W) + self.b   # x of shape (N, C, H, W)',
    'dx-shape': 'dx = np.dot(dout, self.W.T)\nreturn dx                          # still (N, C*H*W)',
    'weight-grad-transposed': 'self.dW = np.dot(dout.T, self.x)',
    'bias-grad-not-summed': 'self.db = dout                     # or np.mean(dout, axis=0)',
    'grad-not-stored': 'dW = np.dot(self.x.T, dout)        # a local name: self.dW never set',
    'missing-batch-mean': 'dx = self.y - self.t',
    'loss-not-mean': 'return -np.sum(t * np.log(y + 1e-7))',
    'softmax-overflow': 'y = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)',
    'log-of-zero': 'return -np.sum(t * np.log(y)) / batch_size',
    'label-form': 'dx = (self.y - self.t) / batch_size  # t must be one-hot here',
    'input-mutated': 'x[x <= 0] = 0\nreturn x',
    'dout-mutated': 'dout[self.mask] = 0\nreturn dout',
    'dout-ignored': 'def backward(self, dout=1):\n    return (self.y - self.t) / batch_size',
    'log-delta': 'return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n',
    'stale-cache': 'if self.x is None:\n    self.x = x',
    'backward-not-repeatable': 'self.out *= (1.0 - self.out)\nreturn dout * self.out',
    'float64-promotion': 'out = np.zeros(x.shape)            # float64 whatever x is',
    'wrong-gradient': 'dx = -np.dot(dout, self.W.T)',
}

CATALOGUE: dict[str, Entry] = {e.id: Entry(e.id, e.severity, e.section, e.title, e.hint, _EXAMPLES[e.id])
                               for e in _ENTRIES}

#: Headings and labels of the report.
UI: dict[str, dict[str, str]] = {
    "en": {
        "pass": "pass",
        "fail": "fail",
        "note": "note",
        "missing": "missing",
        "not-started": "not started",
        "fed": "fed",
        "got": "got",
        "expected": "expected",
        "hint": "hint",
        "where": "where",
        "section": "§",
        "checked": "checked",
        "classes": "classes",
        "missing-detail": "no class of this name in the file",
        "summary": "{passed} of {total} classes pass",
        "train": "your layers, learning",
        "train-result": "TwoLayerNet from your Affine, Relu and SoftmaxWithLoss: test accuracy {acc:.1%} "
        "after {epochs} epochs (the reference layers: {ref:.1%})",
        "train-skipped": "not trained: {why}",
    },
    "ko": {
        "pass": "통과",
        "fail": "실패",
        "note": "참고",
        "missing": "없음",
        "not-started": "아직 시작하지 않음",
        "fed": "입력",
        "got": "실제 값",
        "expected": "기댓값",
        "hint": "힌트",
        "where": "위치",
        "section": "§",
        "checked": "확인한 파일",
        "classes": "클래스",
        "missing-detail": "파일에 이 이름의 클래스가 없습니다",
        "summary": "클래스 {total}개 중 {passed}개 통과",
        "train": "내 계층으로 학습하기",
        "train-result": "내 Affine, Relu, SoftmaxWithLoss로 만든 TwoLayerNet: 에폭 {epochs}번 학습 후 시험 "
        "데이터 정확도 {acc:.1%} (기준 계층: {ref:.1%})",
        "train-skipped": "학습하지 않음: {why}",
    },
}


def entry(finding_id: str) -> Entry:
    return CATALOGUE[finding_id]


def ui(lang: str, key: str) -> str:
    return UI[lang][key]


def language(chosen: str | None = None) -> str:
    """``chosen``, else ``$LAYERWISE_LANG`` (``ko``, ``ko_KR.UTF-8`` ...), else English."""
    if chosen:
        if chosen not in LANGUAGES:
            raise ConfigError(f"lang: expected one of {', '.join(LANGUAGES)}, got {chosen!r}")
        return chosen
    given = os.environ.get("LAYERWISE_LANG", "")
    env = given.strip().lower()
    if not env:
        return "en"
    for lang in LANGUAGES:
        if env == lang or env.startswith(lang + "_") or env.startswith(lang + "-"):
            return lang
    raise ConfigError(f"LAYERWISE_LANG: expected one of {', '.join(LANGUAGES)} (or ko_KR and the like), "
                      f"got {given!r}")


#: How the probes' short descriptions (what was fed, what came back) read in Korean; applied in
#: order. Array descriptions (``x (3, 4) float64``), values and code stay as they are.
PHRASES: dict[str, list[tuple[str, str]]] = {
    "ko": [
        (r"the right class's probability 0 in float64", "정답 분류의 확률이 float64에서 0"),
        (r"two forward calls, then backward", "forward를 두 번 호출한 뒤 backward"),
        (r"two forward calls", "forward를 두 번 호출"),
        (r"backward called twice", "backward를 두 번 호출"),
        (r"\) twice\b", ") 두 번"),
        (r"scores ±1000", "점수 ±1000"),
        (r"a write into (\w+) or (\w+)", r"\1 또는 \2에 씀"),
        (r"a write into (\w+)", r"\1에 씀"),
        (r"(\w+) read-only", r"\1 읽기 전용"),
        (r"(\w+) unchanged", r"\1 바뀌지 않음"),
        (r"(\w+) changed", r"\1 바뀜"),
        (r"self\.(\w+) missing", r"self.\1 없음"),
        (r"\bshape\b", "형상"),
        (r"^an exception$", "예외"),
        (r"^wrong$", "틀린 값"),
        (r"the same as with labels", "정수 레이블일 때와 같은 값"),
        (r"the same as with one-hot", "원-핫 인코딩일 때와 같은 값"),
        (r"more than (\S+) s\b", r"\1초 초과"),
        (r"the check of (\w+) ended without a result \(exit code (-?\d+)\)",
         r"\1의 확인이 결과 없이 끝남(종료 코드 \2)"),
        (r"a batch of one", "배치 크기 1"),
        (r"\(sign\)", "(부호)"),
    ],
}


def translate(text: str, lang: str) -> str:
    """A probe's short description in ``lang`` (English is the probes' own)."""
    for pattern, replacement in PHRASES.get(lang, []):
        text = re.sub(pattern, replacement, text)
    return text
