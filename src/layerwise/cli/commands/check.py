"""``layerwise check FILE.py``: check *your own* chapter-5 layers and name the mistake.

The file is imported (it is your own code, run as ``python FILE.py`` runs it, except that code
under ``if __name__ == "__main__":`` does not run), each class of the book's names is probed in a
process of its own under a time limit, and every finding comes with what was fed, what came
back, what was expected and a hint naming the book's section. Exit codes: 0 when no class
fails, 1 when one does, 2 for a usage error (no such file, a syntax error, no class found).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from layerwise.errors import ConfigError
from layerwise.workbench.catalogue import LANGUAGES, language
from layerwise.workbench.probes import BOOK_NAMES
from layerwise.workbench.runner import DEFAULT_TIMEOUT

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check",
        help="check your own chapter-5 layers (MulLayer ... SoftmaxWithLoss) and name the mistake",
        description="Check your own layer classes, written as in chapter 5 of the book, against "
        "layerwise's reference layers and numerical gradients. FILE is imported: it is "
        "your own code and runs as `python FILE` would (code under "
        '`if __name__ == "__main__":` does not run).',
        epilog="Exit codes: 0 no class fails, 1 a class fails, 2 usage error (no such file, a syntax "
        "error, no class of the book's names). LAYERWISE_LANG=ko gives the report in Korean.",
    )
    p.add_argument("file", metavar="FILE.py", help="your Python file with the classes")
    p.add_argument(
        "--as",
        dest="aliases",
        action="append",
        default=[],
        metavar="BOOK=YOURS",
        help=f"your name for a book class, e.g. --as Affine=MyAffine (book names: "
        f"{', '.join(BOOK_NAMES)}); repeatable",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time allowed for each class's probes (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--train", action="store_true",
                   help="then train the book's TwoLayerNet built from your Affine, Relu and SoftmaxWithLoss "
                        "on the bundled sample and report its test accuracy beside the reference layers'")
    p.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=None,
        help="language of the report (default: $LAYERWISE_LANG, else en)",
    )
    p.set_defaults(func=run)


def _aliases(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        book, sep, theirs = value.partition("=")
        if not sep or not book.strip() or not theirs.strip():
            raise ConfigError(f"--as: expected BOOK=YOURS such as Affine=MyAffine, got {value!r}")
        if book.strip() not in BOOK_NAMES:
            raise ConfigError(
                f"--as {value}: {book.strip()!r} is not one of the book's names {list(BOOK_NAMES)}"
            )
        out[book.strip()] = theirs.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from layerwise.workbench.report import text_report
    from layerwise.workbench.runner import check_file

    if not (args.timeout > 0 and args.timeout < 1e6):
        raise ConfigError(f"--timeout: expected a number of seconds > 0, got {args.timeout}")
    lang = language(args.lang)
    result = check_file(args.file, aliases=_aliases(args.aliases), timeout=args.timeout, lang=lang,
                        train=args.train)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(text_report(result, colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ))
    return 1 if result.failed else 0
