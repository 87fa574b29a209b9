"""Full tokens: the unpruned reference (every method's R = 1 limit)."""

from __future__ import annotations

from typing import Any

from ..config import BackboneConfig
from .base import Counts, Method, Plan
from .options import DEFAULT_PROFILE, Options


class FullTokens(Method):
    name = "full"

    def __init__(self, num_layers: int, profile: str = DEFAULT_PROFILE) -> None:
        super().__init__(profile)  # accepted so every job of a sweep can name it; no rule differs
        self.num_layers = int(num_layers)

    def plan(self, counts: Counts) -> Plan:
        counts = tuple(int(c) for c in counts)  # type: ignore[assignment]
        return Plan(counts, (counts,) * self.num_layers)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("full", options, ("profile",))
    return FullTokens(cfg.num_layers, profile=opts.profile())
