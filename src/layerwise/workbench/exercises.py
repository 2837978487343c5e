"""Chapter 5's exercises: starter files of class stubs, one per stage of the chapter.

``layerwise exercises init DIR`` writes them; each stub says what to implement and the shapes,
raises ``NotImplementedError`` until the learner writes it (``layerwise check`` says "not
started" for it, never "pass"), and ends with the command that checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Stage", "STAGES", "starter_files"]


@dataclass(frozen=True)
class Stage:
    file: str
    section: str
    source: dict[str, str]


def _localized(code: str, lines: list[str]) -> str:
    """``code`` with its marked lines (``@@0@@``, ``@@1@@`` ...) replaced by ``lines``, in order."""
    for k, line in enumerate(lines):
        code = code.replace(f"@@{k}@@", line)
    return code


# The stub's code is the same in both languages; its header and the lines listed differ.
_MUL_ADD_CODE = '''

class MulLayer:
    """out = x * y."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        raise NotImplementedError

    def backward(self, dout):
@@0@@
        raise NotImplementedError


class AddLayer:
    """out = x + y."""

    def __init__(self):
        pass

    def forward(self, x, y):
        raise NotImplementedError

    def backward(self, dout):
@@1@@
        raise NotImplementedError


if __name__ == "__main__":
@@2@@
@@3@@
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    dapple_price, dtax = mul_tax_layer.backward(1)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    print(price, dapple, dapple_num, dtax)
'''
_MUL_ADD_EN = '''"""Chapter 5.4: the multiplication and addition layers.

Implement forward and backward of both nodes, then check them:

    layerwise check {file}

Each class remembers in forward what backward needs. backward receives dout, the gradient
flowing from upstream, and returns one gradient per input of forward: (dx, dy).
x and y may be Python numbers or NumPy arrays of one shape.
"""
''' + _localized(_MUL_ADD_CODE, [
    '        """Return (dx, dy): the gradient of the loss with respect to x and to y."""',
    '        """Return (dx, dy)."""',
    '    # Buying apples (figure 5-16): 2 apples at 100 each, with 10% tax. Expect 220, then the',
    '    # gradients 2.2 (price), 110 (number of apples) and 200 (tax).',
])
_MUL_ADD_KO = '''"""5.4절: 곱셈 계층과 덧셈 계층.

두 노드의 forward와 backward를 구현한 다음 확인하세요:

    layerwise check {file}

각 클래스는 forward에서 backward에 필요한 값을 기억합니다. backward는 상류에서 흘러온 기울기
dout을 받아 forward의 입력마다 기울기를 하나씩 돌려줍니다: (dx, dy).
x와 y는 Python 숫자이거나 형상이 같은 NumPy 배열입니다.
"""
''' + _localized(_MUL_ADD_CODE, [
    '        """(dx, dy)를 돌려줍니다: x와 y에 대한 손실 함수의 기울기."""',
    '        """(dx, dy)를 돌려줍니다."""',
    '    # 사과 쇼핑(그림 5-16): 100원짜리 사과 2개, 소비세 10%. 220이 나오고, 기울기는',
    '    # 2.2(사과 가격), 110(사과 개수), 200(소비세)이어야 합니다.',
])

# The stub's code is the same in both languages; its header and the lines listed differ.
_ACTIVATION_CODE = '''
import numpy as np


class Relu:
@@0@@

    def __init__(self):
        self.mask = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class Sigmoid:
@@1@@

    def __init__(self):
        self.out = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError
'''
_ACTIVATION_EN = '''"""Chapter 5.5: the activation function layers, ReLU and Sigmoid.

Implement them, then check them:

    layerwise check {file}

x is a NumPy array of any shape (a batch); forward returns an array of x's shape, and
backward(dout) returns dx of the same shape. Keep the dtype you were given (float32 stays
float32), and do not write into x: the previous layer still uses it.
"""
''' + _localized(_ACTIVATION_CODE, [
    '    """out = x where x > 0, else 0 (§5.5.1)."""',
    '    """out = 1 / (1 + exp(-x)) (§5.5.2). Which value of forward does backward need?"""',
])
_ACTIVATION_KO = '''"""5.5절: 활성화 함수 계층, ReLU와 Sigmoid.

구현한 다음 확인하세요:

    layerwise check {file}

x는 형상이 자유로운 NumPy 배열(배치)입니다. forward는 x와 형상이 같은 배열을, backward(dout)는
형상이 같은 dx를 돌려줍니다. 받은 dtype을 유지하고(float32는 float32로), x에 값을 쓰지 마세요.
이전 계층이 아직 사용합니다.
"""
''' + _localized(_ACTIVATION_CODE, [
    '    """x > 0이면 out = x, 아니면 0 (5.5.1절)."""',
    '    """out = 1 / (1 + exp(-x)) (5.5.2절). backward에는 forward의 어떤 값이 필요할까요?"""',
])

# The stub's code is the same in both languages; its header and the lines listed differ.
_AFFINE_CODE = '''
import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
@@0@@
@@1@@

    def forward(self, x, t):
        raise NotImplementedError

    def backward(self, dout=1):
        raise NotImplementedError
'''
_AFFINE_EN = '''"""Chapter 5.6: the Affine and Softmax-with-Loss layers.

Implement them, then check them, and train a network built from them:

    layerwise check {file}
    layerwise check {file} --train

Affine(W, b): W has shape (D, M), b shape (M,). forward(x) takes x of shape (N, D), or images
(N, C, H, W) with C*H*W == D, and returns (N, M). backward(dout) takes (N, M), returns dx of
x's original shape, and stores self.dW (D, M) and self.db (M,).

SoftmaxWithLoss: forward(x, t) takes scores x (N, C) and labels t, either class numbers (N,)
or one-hot rows (N, C), and returns the mean cross entropy error over the batch (a float).
backward(dout=1) returns dx (N, C). Large scores (1000) must not overflow.
"""
''' + _localized(_AFFINE_CODE, [
    '        self.y = None  # the softmax output',
    '        self.t = None  # the labels',
])
_AFFINE_KO = '''"""5.6절: Affine 계층과 Softmax-with-Loss 계층.

구현한 다음 확인하고, 이 계층들로 만든 신경망을 학습시켜 보세요:

    layerwise check {file}
    layerwise check {file} --train

Affine(W, b): W의 형상은 (D, M), b는 (M,). forward(x)는 형상 (N, D)의 x 또는 C*H*W == D인
이미지 (N, C, H, W)를 받아 (N, M)을 돌려줍니다. backward(dout)는 (N, M)을 받아 x의 원래
형상인 dx를 돌려주고, self.dW (D, M)와 self.db (M,)를 저장합니다.

SoftmaxWithLoss: forward(x, t)는 점수 x (N, C)와 정답 레이블 t(분류 번호 (N,) 또는 원-핫 인코딩
행 (N, C))를 받아 배치에 대한 교차 엔트로피 오차의 평균(실수 하나)을 돌려줍니다.
backward(dout=1)는 dx (N, C)를 돌려줍니다. 점수가 커도(1000) 오버플로가 나면 안 됩니다.
"""
''' + _localized(_AFFINE_CODE, [
    '        self.y = None  # 소프트맥스의 출력',
    '        self.t = None  # 정답 레이블',
])

# The network's code is the same in both languages; its docstrings are not.
_NETWORK_CODE = '''
from collections import OrderedDict

import numpy as np

from {affine_module} import Affine, SoftmaxWithLoss
from {activation_module} import Relu


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {{
            "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }}
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
{gradient_doc}
        raise NotImplementedError


if __name__ == "__main__":
    import layerwise as lw
    from layerwise.datasets import load_mnist

    (x_train, t_train), _ = load_mnist("mnist-sample")
    net = TwoLayerNet(784, 10, 10)
    report = lw.check_gradients(net, x_train[:3], t_train[:3])
    print(report)
'''

_NETWORK_EN = '''"""Chapter 5.7: a two-layer network from your own layers, and its gradient check.

Fill in gradient() with backpropagation through self.layers (in reverse), then run

    python {file}

which compares your gradient with the numerical one (§5.7.3), and train it with

    layerwise check {affine_file} --train
"""
''' + _NETWORK_CODE.replace(
    "{gradient_doc}",
    '        """Return a dict of the gradients of W1, b1, W2, b2, computed by backpropagation."""')

_NETWORK_KO = '''"""5.7절: 직접 만든 계층으로 이루어진 2층 신경망과 기울기 확인.

gradient()를 self.layers를 거꾸로 거치는 오차역전파법으로 채운 다음

    python {file}

를 실행하면 내 기울기를 수치 미분으로 구한 기울기와 비교합니다(5.7.3절). 학습은

    layerwise check {affine_file} --train
"""
''' + _NETWORK_CODE.replace(
    "{gradient_doc}", '        """오차역전파법으로 구한 W1, b1, W2, b2의 기울기를 딕셔너리로 돌려줍니다."""')

STAGES: tuple[Stage, ...] = (
    Stage("ch05_4_mul_add.py", "5.4", {"en": _MUL_ADD_EN, "ko": _MUL_ADD_KO}),
    Stage("ch05_5_activation.py", "5.5", {"en": _ACTIVATION_EN, "ko": _ACTIVATION_KO}),
    Stage("ch05_6_affine_softmax.py", "5.6", {"en": _AFFINE_EN, "ko": _AFFINE_KO}),
    Stage("ch05_7_network.py", "5.7", {"en": _NETWORK_EN, "ko": _NETWORK_KO}),
)


def starter_files(lang: str = "en") -> dict[str, str]:
    """File name -> text of each starter file, in ``lang``."""
    names = {"affine_file": STAGES[2].file, "affine_module": STAGES[2].file[:-3],
             "activation_module": STAGES[1].file[:-3]}
    return {s.file: s.source[lang].format(file=s.file, **names) for s in STAGES}
