"""`remove_at`: the layer-removal probe of the paper's Sec. 3.2 / Fig. 2.

Removes ALL tokens of one modality (or of both) at one depth and nothing else, to measure
how much each layer still relies on them.

Options (lmms-eval `--model_args`, model id `remove_at_qwen25omni`):
- `layer` (required, 0-based): the tokens are removed after this decoder layer, so layers
  0..layer (0-based) see them and layers layer+1..L-1 do not; -1 removes them before the
  LLM (no layer sees them). As everywhere in the runtime, the KV caches of the layers that
  saw them are pruned too (DESIGN 5b), so generated tokens never attend to them.
  Allowed: -1 <= layer <= L-2. layer = L-1 ("after the last layer") would change no prefill
  computation; the runtime only drops between layers, so it is refused.
- `modality`: `video`, `audio` or `both` (default `both`).

In the paper's 1-based numbering, `layer` = p removes the tokens "at layer p + 2": 1-based
layer p + 2 is the first that no longer sees them (p = -1 -> layer 1, p = L-2 -> layer L).
`seats-eval probe` records both numbers; `seats_eval.backbones.calibrate` works on the 1-based one,
which lines up with the SEATS boundaries (the late block [L_l, L] sees no non-text token).
"""

from __future__ import annotations

from typing import Any

import torch

from ..backbones.config import BackboneConfig
from ..errors import ConfigError
from ..layout import AUDIO, TEXT, VIDEO, TokenLayout
from .base import Counts, DropStep, Method, Plan, PreLLMContext, PreLLMResult
from .options import Options

OPTIONS = {"layer", "modality"}
MODALITIES = {"video": (VIDEO,), "audio": (AUDIO,), "both": (VIDEO, AUDIO)}


def first_layer_without(layer: int) -> int:
    """1-based index of the first decoder layer that no longer sees the removed tokens."""
    return int(layer) + 2


class RemoveAt(Method):
    name = "remove_at"

    def __init__(self, layer: int, modality: str, num_layers: int) -> None:
        if modality not in MODALITIES:
            raise ConfigError(f"remove_at: modality {modality!r}; allowed: {', '.join(MODALITIES)}")
        if not -1 <= layer <= num_layers - 2:
            hint = (" (after the last layer nothing in the prefill changes; the runtime drops only "
                    "between layers)") if layer == num_layers - 1 else ""
            raise ConfigError(
                f"remove_at: layer must be in [-1, {num_layers - 2}] for a {num_layers}-layer model "
                f"(0-based layer after which the tokens are removed; -1 = before the LLM), got {layer}{hint}"
            )
        self.layer = int(layer)
        self.modality = modality
        self.num_layers = int(num_layers)
        self._removed = MODALITIES[modality]

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "layer": self.layer, "modality": self.modality,
                "first_layer_without": first_layer_without(self.layer)}

    def _keep(self, layout: TokenLayout) -> torch.Tensor:
        keep = torch.ones(layout.length, dtype=torch.bool, device=layout.modality.device)
        for mod in self._removed:
            keep &= layout.modality != mod
        return keep | (layout.modality == TEXT)

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        return PreLLMResult(self._keep(ctx.layout) if self.layer == -1 else None)

    def drop_steps(self, num_layers: int) -> list[DropStep]:
        if num_layers != self.num_layers:
            raise ConfigError(f"remove_at: configured for {self.num_layers} layers but the model has "
                              f"{num_layers}; pass backbone_config matching the checkpoint")
        return [] if self.layer == -1 else [DropStep(self.layer, None, f"remove_{self.modality}")]

    def kept_counts(self, step: DropStep, counts: Counts, plan: Plan) -> Counts | None:
        return tuple(0 if m in self._removed else c for m, c in enumerate(counts))  # type: ignore[return-value]

    def in_llm(self, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout, plan: Plan) -> torch.Tensor:
        return self._keep(layout)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("remove_at", options, OPTIONS)
    if "layer" not in opts:
        raise ConfigError("remove_at: layer is required (0-based layer after which the tokens are removed; "
                          "-1 = before the LLM)")
    L = cfg.num_layers
    return RemoveAt(opts.integer("layer"), opts.choice("modality", "both", tuple(MODALITIES)), L)
