"""The adapter contract: everything that differs between Qwen-Omni backbones, in one object.

The runtime (runtime/), the Stage I signal capture and the model class call only these
members; none of them asks which backbone it holds. A new backbone is one module here
implementing `OmniAdapter`, one entry in adapters/__init__.py and one YAML in
model_configs/ (docs/adding-a-backbone.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ..backbones.config import WindowGeometry
from ..layout import TokenLayout
from ..runtime.features import EncoderFeatures


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


class OmniAdapter(Protocol):
    """Access to one thinker's pieces, and the backbone-specific computations on them."""

    family: str  # config.FAMILIES
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

    def prefill_attention_mask(self, length: int, dtype: torch.dtype, device: torch.device) -> Any: ...

    def decode_attention_mask(self) -> Any: ...

    # encoders (the prompt-independent part) and the LLM input
    def encode(self, inputs: dict[str, Any]) -> EncoderFeatures: ...

    def prepare(self, inputs: dict[str, Any], sample: str = "",
                features: EncoderFeatures | None = None) -> PreparedSample: ...

    # Stage I: the last encoder layers' attention, re-projected from their inputs
    def vision_signal_module(self) -> torch.nn.Module: ...

    def vision_qk(self, module: Any, hidden: torch.Tensor, kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def vision_to_raster(self, recv: torch.Tensor, grid: torch.Tensor) -> torch.Tensor: ...

    def audio_signal_module(self) -> torch.nn.Module: ...

    def audio_qk(self, module: Any, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...
