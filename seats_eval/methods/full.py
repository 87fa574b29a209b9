"""Full tokens: the unpruned reference (every method's R = 1 limit)."""

from __future__ import annotations

from typing import Any

from .base import Method
from .options import Options


class FullTokens(Method):
    name = "full"


def build(backbone_cfg: dict[str, Any], options: dict[str, Any]) -> Method:
    Options("full", options, ())
    return FullTokens()
