"""Qwen2.5-Omni adapter: the stock thinker's encoders, placeholders and M-RoPE, called in
the order its own forward uses, so the LLM input we prune is exactly the stock one.

Backbone facts kept here: audio tokens come from a 2x average pooler (two encoder frames
per token) and are interleaved per `seconds_per_chunk` chunk (config) with the video; the
vision encoder permutes merge groups into attention windows; q/k are plain projections;
rotary cos/sin are (B, S, head_dim).
"""

from __future__ import annotations

from typing import Any

import torch

from ..backbones.config import WindowGeometry
from ..errors import ConfigError
from ..layout import build_layout
from .base import LayerInputs, PreparedSample, required
from .features import EncoderFeatures


def _eager_attention() -> Any:
    from transformers.models.qwen2_5_omni import modeling_qwen2_5_omni as m

    return m.eager_attention_forward


class Qwen25OmniAdapter:
    """Access to the pieces of a `Qwen2_5OmniThinkerForConditionalGeneration`."""

    family = "qwen2.5-omni"
    rope_seq_dim = 1  # cos/sin are (B, S, head_dim)
    audio_frames_per_token = 2  # the audio tower's 2x average pool

    def __init__(self, thinker: Any, window: WindowGeometry | None = None) -> None:
        self.thinker = thinker
        self.config = thinker.config
        self.model = thinker.model
        self.lm = thinker.model.language_model
        self.layers = self.lm.layers
        self.lm_head = thinker.lm_head
        self.eager_attention = _eager_attention()
        own = self.checkpoint_window()
        if window is not None and window != own:
            raise ConfigError(f"the backbone config says {window.audio_tokens} audio tokens per "
                              f"{window.seconds:g}-s window; this checkpoint interleaves {own.audio_tokens} "
                              f"per {own.seconds:g} s")
        self.window = own

    def checkpoint_window(self) -> WindowGeometry:
        """The interleaving this checkpoint's processor and M-RoPE use: per chunk of
        `seconds_per_chunk` s, `position_id_per_seconds` positions per second, one per audio token."""
        seconds = float(getattr(self.config, "seconds_per_chunk", 2))
        return WindowGeometry(seconds, int(round(self.config.position_id_per_seconds * seconds)))

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def video_token_id(self) -> int:
        return int(self.config.video_token_index)

    @property
    def audio_token_id(self) -> int:
        return int(self.config.audio_token_index)

    # -- LLM side ----------------------------------------------------------------------------
    def apply_rotary(self, q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import apply_rotary_pos_emb

        return apply_rotary_pos_emb(q, k, cos, sin)

    def project_qk(self, attn: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q of the last position and k of all positions, before RoPE: (B,H,1,d), (B,Hkv,S,d)."""
        b, s, _ = x.shape
        q = attn.q_proj(x[:, -1:]).view(b, 1, -1, attn.head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(b, s, -1, attn.head_dim).transpose(1, 2)
        return q, k

    def prefill_attention_mask(self, length: int, dtype: torch.dtype, device: torch.device, eager: bool) -> Any:
        """sdpa/flash: no mask (causal via is_causal). eager (the attention function the
        runtime's wrapper calls): an explicit additive causal mask, which the runtime slices
        on both axes at every drop."""
        if not eager:
            return {"full_attention": None}
        mask = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype, device=device)
        return {"full_attention": torch.triu(mask, diagonal=1)[None, None]}

    def decode_attention_mask(self) -> Any:
        """One new query attends to its layer's whole cache: no mask (the text model would
        size one to layer 0's cache, wrong for a pruned cache)."""
        return {"full_attention": None}

    # -- encoders and the LLM input ---------------------------------------------------------
    @torch.no_grad()
    def encode(self, inputs: dict[str, Any]) -> EncoderFeatures:
        """The encoders alone (the expensive, prompt-independent part; what the feature cache keeps)."""
        m = self.model
        feats = EncoderFeatures(audio_frames_per_token=self.audio_frames_per_token)
        if inputs.get("input_features") is not None:
            feats.audio = m.get_audio_features(
                inputs["input_features"], inputs.get("feature_attention_mask"), None, return_dict=True
            ).last_hidden_state
        if inputs.get("pixel_values_videos") is not None:
            video = m.get_video_features(inputs["pixel_values_videos"], inputs.get("video_grid_thw"), return_dict=True)
            feats.video = torch.cat(video.pooler_output, dim=0)
            self._extra_video_features(video, feats)
        return feats

    def _extra_video_features(self, video: Any, feats: EncoderFeatures) -> None:
        """Backbone-specific outputs of the vision encoder besides the merged tokens."""

    def _rope_index(self, input_ids: torch.Tensor, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        fam = inputs.get("feature_attention_mask")
        return self.model.get_rope_index(
            input_ids,
            image_grid_thw=None,
            video_grid_thw=inputs.get("video_grid_thw"),
            attention_mask=inputs.get("attention_mask"),
            use_audio_in_video=fam is not None,
            audio_seqlens=fam.sum(dim=1) if fam is not None else None,
            second_per_grids=inputs.get("video_second_per_grid"),
        )

    @torch.no_grad()
    def prepare(self, inputs: dict[str, Any], sample: str = "",
                features: EncoderFeatures | None = None) -> PreparedSample:
        """Encoders (or cached `features`) + placeholder scatter + M-RoPE on the full,
        unpruned sequence."""
        m = self.model
        input_ids = inputs["input_ids"]
        embeds = m.get_input_embeddings()(input_ids)
        if features is None:
            features = self.encode(inputs)
        outputs: dict[str, Any] = {}
        if features.audio is not None:
            audio = features.audio.to(embeds.device, embeds.dtype)
            _, _, audio_mask = m.get_placeholder_mask(input_ids, inputs_embeds=embeds)
            embeds = embeds.masked_scatter(audio_mask, audio)
            outputs["audio"] = audio
        if features.video is not None:
            video = features.video.to(embeds.device, embeds.dtype)
            _, video_mask, _ = m.get_placeholder_mask(input_ids, inputs_embeds=embeds, video_features=video)
            embeds = embeds.masked_scatter(video_mask, video)
            outputs["video"] = video
        if features.deepstack is not None:
            outputs["deepstack"] = [f.to(embeds.device, embeds.dtype) for f in features.deepstack]
        position_ids, rope_deltas = self._rope_index(input_ids, inputs)
        spg = inputs.get("video_second_per_grid")
        layout = build_layout(
            input_ids,
            video_token_id=self.video_token_id,
            audio_token_id=self.audio_token_id,
            video_grid_thw=inputs.get("video_grid_thw"),
            spatial_merge_size=int(self.config.vision_config.spatial_merge_size),
            second_per_grid=float(spg.reshape(-1)[0]) if spg is not None else 1.0,
            window_seconds=self.window.seconds,
            audio_tokens_per_window=self.window.audio_tokens,
            sample=sample,
        )
        return PreparedSample(input_ids, embeds, position_ids, rope_deltas, layout, outputs)

    def layer_inputs(self, prep: PreparedSample) -> LayerInputs | None:
        return None  # nothing is added between Qwen2.5-Omni's decoder layers

    # -- Stage I signals ----------------------------------------------------------------------
    def vision_signal_module(self) -> torch.nn.Module:
        return self.model.visual.blocks[-1].attn

    def vision_qk(self, module: Any, hidden: torch.Tensor, kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """q, k (N, H, d) of the last vision block, with its 2-D rotary embedding."""
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import apply_rotary_pos_emb_vision

        n = hidden.shape[0]
        q = module.q(hidden).reshape(n, module.num_heads, -1)
        k = module.k(hidden).reshape(n, module.num_heads, -1)
        cos, sin = required(kwargs, "position_embeddings", "last vision block")
        return apply_rotary_pos_emb_vision(q, k, cos, sin)

    def vision_to_raster(self, recv: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """Per-merged-token statistics from the encoder's window order to the raster order of
        the LLM's video tokens (the encoder permutes merge groups into attention windows)."""
        from transformers.vision_utils import get_vision_window_index

        visual = self.model.visual
        window_index, _ = get_vision_window_index(grid, spatial_merge_size=visual.spatial_merge_size,
                                                  window_size=visual.window_size, patch_size=visual.patch_size)
        return recv[torch.argsort(window_index.to(recv.device))]

    def audio_signal_module(self) -> torch.nn.Module:
        return self.model.audio_tower.layers[-1].self_attn

    def audio_qk(self, module: Any, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = hidden.shape[0]
        return (module.q_proj(hidden).reshape(n, module.num_heads, -1),
                module.k_proj(hidden).reshape(n, module.num_heads, -1))
