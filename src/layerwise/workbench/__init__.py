"""The learner's workbench: ``layerwise check`` and :func:`check` look at *your own* chapter-5
layers, probe them, and name the mistake with a hint (in English or Korean)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from layerwise.workbench.catalogue import language
from layerwise.workbench.report import CheckResult, ClassResult
from layerwise.workbench.runner import DEFAULT_TIMEOUT, check_file, check_objects

__all__ = ["check", "CheckResult", "ClassResult"]


def check(
    target: Any,
    *,
    aliases: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    lang: str | None = None,
    train: bool = False,
) -> CheckResult:
    """Check a learner's layers: ``target`` is a file path, a module, a dict such as
    ``globals()``, a class or a list of classes. In Jupyter the result shows itself as an HTML
    report; ``print(result)`` gives the text one, ``result.to_dict()`` the JSON's content.
    ``train=True`` then trains a TwoLayerNet of the learner's ``Affine``, ``Relu`` and
    ``SoftmaxWithLoss`` on the bundled sample (``result.train``)."""
    chosen = language(lang)
    if isinstance(target, (str, os.PathLike)):
        return check_file(target, aliases=aliases, timeout=timeout, lang=chosen, train=train)
    return check_objects(target, aliases=aliases, timeout=timeout, lang=chosen, train=train)
