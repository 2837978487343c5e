"""Write ``src/layerwise/fast/reference.py``: the SHA-256 of each reference function a kernel of
the engine replaces, as its source reads today.

Run it after changing one of those functions *and* the kernel that must give the same numbers
(``tests/test_fast_equivalence.py`` proves they do); a test fails while the table is stale.

    PYTHONPATH=src python scripts/engine_digests.py          # rewrite the table
    PYTHONPATH=src python scripts/engine_digests.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from layerwise import functions, optimizers
from layerwise.fast.optimizers import KERNELS
from layerwise.fast.switch import source_digest
from layerwise.layers import affine, convolution, loss, pooling

TABLE = Path(__file__).resolve().parents[1] / "src" / "layerwise" / "fast" / "reference.py"

REPLACED = [
    convolution.Convolution.forward, convolution.Convolution._backward,
    pooling.Pooling.forward, pooling.Pooling.backward,
    affine.Affine._backward,
    loss.SoftmaxWithLoss.forward, functions.softmax_cross_entropy_of,
    *(getattr(optimizers, rule.split(".")[0]).update_one for rule in KERNELS),
]


def table() -> str:
    lines = ['"""The reference code each kernel of the engine replaces, by the SHA-256 of its source.',
             "",
             "Written by ``scripts/engine_digests.py``. A layer or optimizer hands off to a kernel only",
             "while its method's source has the digest recorded here (:func:`layerwise.fast.switch.kernel`):",
             "an edited method runs as edited, with the engine on or off.",
             '"""',
             "",
             "DIGESTS: dict[str, str] = {"]
    for func in REPLACED:
        lines.append(f'    "{func.__module__}.{func.__qualname__}":')
        lines.append(f'        "{source_digest(func)}",')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = table()
    if args.check:
        return 0 if TABLE.is_file() and TABLE.read_text() == text else 1
    TABLE.write_text(text)
    print(TABLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
