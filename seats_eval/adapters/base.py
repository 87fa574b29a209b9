"""The adapter contract: everything that differs between Qwen-Omni backbones, in one object.

The runtime (runtime/), the Stage I signal capture and the sample driver (driver/) call only
these members; none of them asks which backbone it holds. The adapters import nothing from
runtime/ (the runtime uses the adapters, never the other way round). A new backbone is one module here
implementing `OmniAdapter`, one entry in adapters/__init__.py and one YAML in
model_configs/ (docs/adding-a-backbone.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ..backbones.config import WindowGeometry
from ..errors import SeamError
from ..layout import TokenLayout
from .features import EncoderFeatures


@dataclass
class PreparedSample:
    """One sample at the LLM's door: the stock thinker's input embeddings and M-RoPE
    positions for the full, unpruned sequence, and what every position is."""

    input_ids: torch.Tensor  # (1, S)
    inputs_embeds: torch.Tensor  # (1, S, D)
    position_ids: torch.Tensor  # (3, 1, S) unpruned M-RoPE positions
    rope_deltas: torch.Tensor  # (1, 1)
    layout: TokenLayout
    encoder_outputs: dict[str, Any]  # "video", "audio", and "deepstack" (per DeepStack layer) when present


class LayerInputs(Protocol):
    """What a backbone adds to the hidden states between decoder layers, besides the layers
    themselves (Qwen3-Omni: DeepStack), for one sample; only at the tokens still alive."""

    def after_layer(self, layer: int, hidden: torch.Tensor, kept: TokenLayout) -> torch.Tensor | None:
        """The hidden states leaving decoder layer `layer` with the addition applied (`kept`:
        the tokens they hold); None when nothing is added after that layer."""
        ...


class OmniAdapter(Protocol):
    """Access to one thinker's pieces, and the backbone-specific computations on them."""

    family: str  # a key of backbones.families.FAMILIES
    thinker: Any
    lm: Any  # the text model (decoder layers, embeddings)
    layers: Any  # its decoder layers
    lm_head: Any
    window: WindowGeometry  # how the processor interleaves video and audio (checked against the YAML)
    rope_seq_dim: int  # dimension of the sequence in the rotary cos/sin tensors
    audio_frames_per_token: int  # audio-encoder frames pooled into one LLM audio token
    eager_attention: Callable[..., Any]  # the family's stock eager attention function

    @property
    def num_layers(self) -> int: ...

    @property
    def video_token_id(self) -> int: ...

    @property
    def audio_token_id(self) -> int: ...

    # LLM side (Stage II scores, masks)
    def apply_rotary(self, q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> Any: ...

    def project_qk(self, attn: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def prefill_attention_mask(self, length: int, dtype: torch.dtype, device: torch.device, eager: bool) -> Any: ...

    def decode_attention_mask(self) -> Any: ...

    # encoders (the prompt-independent part) and the LLM input
    def encode(self, inputs: dict[str, Any]) -> EncoderFeatures: ...

    def prepare(self, inputs: dict[str, Any], sample: str = "",
                features: EncoderFeatures | None = None) -> PreparedSample: ...

    def layer_inputs(self, prep: PreparedSample) -> LayerInputs | None:
        """The per-sample additions between decoder layers (None: the backbone has none)."""
        ...

    # Stage I: the last encoder layers' attention, re-projected from their inputs
    def vision_signal_module(self) -> torch.nn.Module: ...

    def vision_qk(self, module: Any, hidden: torch.Tensor, kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def vision_to_raster(self, recv: torch.Tensor, grid: torch.Tensor) -> torch.Tensor: ...

    def audio_signal_module(self) -> torch.nn.Module: ...

    def audio_qk(self, module: Any, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


def required(kwargs: dict[str, Any], name: str, where: str) -> Any:
    """`kwargs[name]` of a stock module's call that a hook reads by name (the encoders' calls,
    whose values have no shape to be found by); missing: a `SeamError`, not a KeyError."""
    if name not in kwargs:
        raise SeamError(f"the {where} call has no `{name}` keyword (keywords: {sorted(kwargs)})")
    return kwargs[name]
