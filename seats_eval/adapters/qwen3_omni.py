"""Qwen3-Omni-MoE adapter: what differs from Qwen2.5-Omni, in one place.

- 13 audio tokens per second (26 per 2-s window), one encoder frame per token (no pooler),
  interleaved by timestamp with the video grids: TokenLayout's time-based windows cover this.
- q_norm / k_norm inside attention: the Stage II score projection applies them too.
- DeepStack: features of intermediate vision layers are added to the hidden states of
  video positions after the first decoder layers. `DeepStack` (handed to the runtime by
  `layer_inputs`) adds them at the positions still alive, so token dropping and DeepStack
  compose.
- The vision encoder keeps raster order (no window permutation) and projects q/k/v fused.
- The text model always builds its own causal mask (no precomputed mapping).
"""

from __future__ import annotations

from typing import Any

import torch

from ..layout import VIDEO, TokenLayout
from .base import PreparedSample, required
from .features import EncoderFeatures
from .qwen2_5_omni import Qwen25OmniAdapter


def _eager_attention() -> Any:
    from transformers.models.qwen3_omni_moe import modeling_qwen3_omni_moe as m

    return m.eager_attention_forward


class Qwen3OmniAdapter(Qwen25OmniAdapter):
    family = "qwen3-omni"
    audio_frames_per_token = 1

    def __init__(self, thinker: Any, window=None) -> None:
        super().__init__(thinker, window)
        self.eager_attention = _eager_attention()

    @property
    def video_token_id(self) -> int:
        return int(self.config.video_token_id)

    @property
    def audio_token_id(self) -> int:
        return int(self.config.audio_token_id)

    def apply_rotary(self, q, k, cos, sin):
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import apply_rotary_pos_emb

        return apply_rotary_pos_emb(q, k, cos, sin)

    def project_qk(self, attn: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, s, _ = x.shape
        q = attn.q_norm(attn.q_proj(x[:, -1:]).view(b, 1, -1, attn.head_dim)).transpose(1, 2)
        k = attn.k_norm(attn.k_proj(x).view(b, s, -1, attn.head_dim)).transpose(1, 2)
        return q, k

    def prefill_attention_mask(self, length: int, dtype, device, eager: bool) -> Any:
        return None  # the stock text model builds it; the runtime slices it at every drop

    def decode_attention_mask(self) -> Any:
        return None  # the runtime's decode hook drops the mask the text model builds

    def _extra_video_features(self, video: Any, feats: EncoderFeatures) -> None:
        feats.deepstack = [torch.cat(f, dim=0) if isinstance(f, (list, tuple)) else f
                           for f in video.deepstack_features]

    def layer_inputs(self, prep: PreparedSample) -> DeepStack | None:
        feats = prep.encoder_outputs.get("deepstack")
        return DeepStack(feats, prep.layout.modality) if feats else None

    def _rope_index(self, input_ids: torch.Tensor, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        fam = inputs.get("feature_attention_mask")  # positional: the Qwen3 signature names differ
        return self.model.get_rope_index(
            input_ids, None, inputs.get("video_grid_thw"), inputs.get("attention_mask"), fam is not None,
            fam.sum(dim=1) if fam is not None else None, inputs.get("video_second_per_grid"),
        )

    def vision_qk(self, module: Any, hidden: torch.Tensor, kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import apply_rotary_pos_emb_vision

        n = hidden.shape[0]
        q, k, _ = module.qkv(hidden).reshape(n, 3, module.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        cos, sin = required(kwargs, "position_embeddings", "last vision block")
        return apply_rotary_pos_emb_vision(q, k, cos, sin)

    def vision_to_raster(self, recv: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return recv  # merged tokens are already in raster order


class DeepStack:
    """One sample's DeepStack: after decoder layer j (j < number of DeepStack layers) the
    j-th vision layer's features are added at the video positions still alive, as the stock
    text model does on the unpruned sequence."""

    def __init__(self, features: list[torch.Tensor], modality: torch.Tensor) -> None:
        self.features = features
        is_video = (modality == VIDEO).long()
        self._video_rank = torch.cumsum(is_video, 0) - 1  # row of each original video position

    def after_layer(self, layer: int, hidden: torch.Tensor, kept: TokenLayout) -> torch.Tensor | None:
        """Masked over all positions (no nonzero: no device sync)."""
        if not 0 <= layer < len(self.features):
            return None
        feats = self.features[layer]
        if feats.shape[0] == 0:  # no video rows to add (shape is host metadata: no sync)
            return hidden
        dev = hidden.device
        is_video = (kept.modality == VIDEO).to(dev)[None, :, None]
        rows = self._video_rank[kept.position].clamp_min(0)
        add = feats[rows.to(feats.device)].to(dev, hidden.dtype)
        return torch.where(is_video, hidden + add[None], hidden)
