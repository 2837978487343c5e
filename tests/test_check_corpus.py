"""Issue 31: ``layerwise check`` on a corpus of learners' files (``tests/check_corpus``).

The corpus was written apart from the checker, as learners write: for every id of the catalogue
at least two different buggy implementations, and correct ones in several styles. Each file's
expected verdicts are in ``manifest.json``: a class's status, the ids that must be reported and
the ids that may be. Any other failure reported is a false alarm, and fails the test."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from layerwise.workbench import check
from layerwise.workbench.catalogue import CATALOGUE
from layerwise.workbench.probes import BOOK_NAMES

CORPUS = Path(__file__).resolve().parent / "check_corpus"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())


def _expects(entry: dict[str, Any]) -> set[str]:
    return {i for c in entry["classes"].values() for i in c.get("ids", [])}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_the_checker_names_the_mistake_in_each_corpus_file(entry: dict[str, Any]) -> None:
    timeout = 2.0 if "timeout" in _expects(entry) else 10.0
    result = check(CORPUS / entry["file"], aliases=entry.get("as"), timeout=timeout, lang="en")
    for name, want in entry["classes"].items():
        got = result[name]
        reported = {f.id for f in got.findings}
        failures = {f.id for f in got.findings if f.severity == "fail"}
        allowed = set(want.get("ids", [])) | set(want.get("may", []))
        context = f"{entry['file']} {name}:\n{result}"
        assert set(want.get("ids", [])) <= reported, context
        assert failures <= allowed, f"false alarm: {sorted(failures - allowed)}\n{context}"
        if want["status"] == "pass":
            assert got.status in ("pass", "note") and reported <= allowed, context
        else:
            assert got.status == want["status"], context


def test_the_corpus_has_two_files_for_every_id_and_three_correct_styles() -> None:
    files_per_id: Counter[str] = Counter()
    for entry in MANIFEST:
        for found in _expects(entry):
            files_per_id[found] += 1
    wanted = set(CATALOGUE) - {"wrong-forward", "grad-not-stored", "log-delta"}
    thin = {i: files_per_id[i] for i in wanted if files_per_id[i] < 2}
    assert not thin, f"ids with fewer than two corpus files: {thin}"
    correct = [e for e in MANIFEST if e["file"].startswith("correct/")
               and set(e["classes"]) == set(BOOK_NAMES)
               and all(c["status"] in ("pass", "note") for c in e["classes"].values())]
    assert len(correct) >= 3


def test_every_file_in_the_corpus_is_in_the_manifest() -> None:
    listed = {e["file"] for e in MANIFEST}
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.py")}
    assert on_disk == listed
