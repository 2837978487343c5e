"""Write ``docs/workbench/catalogue.md``: every finding ``layerwise check`` can report, with a
short example of the mistake and its hint in English and Korean, from the catalogue itself.

    PYTHONPATH=src python scripts/workbench_catalogue.py          # rewrites the page
    PYTHONPATH=src python scripts/workbench_catalogue.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from layerwise.workbench.catalogue import CATALOGUE

PAGE = Path(__file__).resolve().parents[1] / "docs" / "workbench" / "catalogue.md"


def page() -> str:
    lines = [
        "# The catalogue of findings",
        "",
        "<!-- written by scripts/workbench_catalogue.py from layerwise/workbench/catalogue.py: edit that -->",
        "",
        "Every finding of `layerwise check` has one of these ids (stable: they are in `--json`). A",
        "**fail** makes the class fail; a **note** is worth knowing and fails nothing. Each entry shows",
        "a few lines of code that make the mistake, and the hint the check prints, which names the",
        "misconception and the book's section and never shows the fix. The checker finds them by",
        "behaviour (what the class returns for inputs it chooses), not by reading the code.",
        "",
        "| id | severity | book |",
        "| --- | --- | --- |",
    ]
    lines += [f"| [`{e.id}`](#{e.id}) | {e.severity} | §{e.section} |" for e in CATALOGUE.values()]
    for e in CATALOGUE.values():
        lines += ["", f"## {e.id}", "", f"**{e.severity}**, §{e.section}: {e.title['en']}.", "",
                  "```text", e.example, "```", "", f"*Hint:* {e.hint['en']}", "",
                  f"*힌트:* {e.title['ko']}. {e.hint['ko']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args()
    text = page()
    if args.check:
        return 0 if PAGE.is_file() and PAGE.read_text() == text else 1
    PAGE.write_text(text)
    print(PAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
