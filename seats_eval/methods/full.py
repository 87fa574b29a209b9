"""Full tokens: the unpruned reference (every method's R = 1 limit)."""

from __future__ import annotations

from typing import Any

from . import reject_unknown
from .base import Method


class FullTokens(Method):
    name = "full"


def build(backbone_cfg: dict[str, Any], options: dict[str, Any]) -> Method:
    reject_unknown("full", options, set())
    return FullTokens()
