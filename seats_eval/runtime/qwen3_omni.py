"""Qwen3-Omni-MoE adapter: what differs from Qwen2.5-Omni, in one place.

- 13 audio tokens per second (26 per 2-s window), interleaved by timestamp with the video
  grids (one grid per second at 2 fps): TokenLayout's time-based windows cover this.
- q_norm / k_norm inside attention: the Stage II score projection applies them too.
- DeepStack: features of intermediate vision layers are added to the hidden states of
  video positions after the first decoder layers. The runtime adds them itself, at the
  positions still alive, so token dropping and DeepStack compose.
- The text model always builds its own causal mask (no precomputed mapping).
"""

from __future__ import annotations

from typing import Any

import torch

from ..layout import build_layout
from .qwen2_5_omni import PreparedSample, Qwen25OmniAdapter


class Qwen3OmniAdapter(Qwen25OmniAdapter):
    backbone = "qwen3-omni"
    audio_tokens_per_window = 26

    @property
    def video_token_id(self) -> int:
        return int(self.config.video_token_id)

    @property
    def audio_token_id(self) -> int:
        return int(self.config.audio_token_id)

    def apply_rotary(self, q, k, cos, sin):
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import apply_rotary_pos_emb

        return apply_rotary_pos_emb(q, k, cos, sin)

    def vision_rotary(self, q, k, cos, sin):
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import apply_rotary_pos_emb_vision

        return apply_rotary_pos_emb_vision(q, k, cos, sin)

    def project_qk(self, attn: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, s, _ = x.shape
        q = attn.q_norm(attn.q_proj(x[:, -1:]).view(b, 1, -1, attn.head_dim)).transpose(1, 2)
        k = attn.k_norm(attn.k_proj(x).view(b, s, -1, attn.head_dim)).transpose(1, 2)
        return q, k

    def prefill_attention_mask(self, length: int, dtype, device) -> Any:
        return None  # the stock text model builds it; the runtime slices it at every drop

    @torch.no_grad()
    def prepare(self, inputs: dict[str, Any], sample: str = "") -> PreparedSample:
        m = self.model
        input_ids = inputs["input_ids"]
        embeds = m.get_input_embeddings()(input_ids)
        outputs: dict[str, Any] = {}
        fam = inputs.get("feature_attention_mask")
        if inputs.get("input_features") is not None:
            audio = m.get_audio_features(inputs["input_features"], fam, None, return_dict=True).last_hidden_state
            audio = audio.to(embeds.device, embeds.dtype)
            _, _, audio_mask = m.get_placeholder_mask(input_ids, inputs_embeds=embeds)
            embeds = embeds.masked_scatter(audio_mask, audio)
        grid = inputs.get("video_grid_thw")
        if inputs.get("pixel_values_videos") is not None:
            video = m.get_video_features(inputs["pixel_values_videos"], grid, return_dict=True)
            feats = torch.cat(video.pooler_output, dim=0).to(embeds.device, embeds.dtype)
            _, video_mask, _ = m.get_placeholder_mask(input_ids, inputs_embeds=embeds, video_features=feats)
            embeds = embeds.masked_scatter(video_mask, feats)
            outputs["deepstack"] = [torch.cat(f, dim=0) if isinstance(f, (list, tuple)) else f
                                    for f in video.deepstack_features]
        spg = inputs.get("video_second_per_grid")
        position_ids, rope_deltas = m.get_rope_index(
            input_ids, None, grid, inputs.get("attention_mask"), fam is not None,
            fam.sum(dim=1) if fam is not None else None, spg,
        )
        layout = build_layout(
            input_ids, video_token_id=self.video_token_id, audio_token_id=self.audio_token_id,
            video_grid_thw=grid, spatial_merge_size=int(self.config.vision_config.spatial_merge_size),
            second_per_grid=float(spg.reshape(-1)[0]) if spg is not None else 1.0,
            window_seconds=self.window_seconds, audio_tokens_per_window=self.audio_tokens_per_window,
            sample=sample,
        )
        return PreparedSample(input_ids, embeds, position_ids, rope_deltas, layout, outputs)
