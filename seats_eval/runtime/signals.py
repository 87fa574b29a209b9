"""Stage I signals: attention each token receives in the last encoder layer.

Captured with forward pre-hooks on the stock last vision block / last audio layer (no
copied encoders): the hook sees the layer's input, re-projects q and k with the layer's own
weights (one layer only), and computes, within fixed 2-s windows, the per-head softmax over
keys summed over queries and averaged over heads (DESIGN 5b). Vision statistics are pooled
over each 2x2 spatial-merge group and un-permuted from the encoder's window order to the
raster order of the LLM's video tokens; audio statistics are averaged over frame pairs to
match the 2x average pooler (25 tokens/s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from ..layout import TokenLayout
from ..methods.base import EncoderSignals
from .features import EncoderFeatures


def received_attention_chunks(q: torch.Tensor, k: torch.Tensor, lengths: list[int], scaling: float) -> torch.Tensor:
    """Attention received per token inside consecutive chunks of the given lengths.

    q, k: (N, H, d). Chunks are padded into one (C, Lmax) batch: one batched matmul.
    """
    n, h, d = q.shape
    lmax = max(lengths)
    lens = torch.tensor(lengths, device=q.device)
    starts = torch.cumsum(lens, 0) - lens
    pos = torch.arange(lmax, device=q.device)
    valid = pos[None, :] < lens[:, None]  # (C, Lmax)
    src = (starts[:, None] + pos[None, :]).clamp(max=n - 1)
    qc = q.float()[src].permute(0, 2, 1, 3)  # (C, H, Lmax, d)
    kc = k.float()[src].permute(0, 2, 1, 3)
    logits = torch.einsum("chqd,chkd->chqk", qc, kc) * scaling
    logits = logits.masked_fill(~valid[:, None, None, :], float("-inf"))
    probs = logits.softmax(-1) * valid[:, None, :, None]
    recv = probs.sum(dim=2).mean(dim=1)  # (C, Lmax)
    return recv[valid]


class EncoderSignalCapture:
    """Installs the encoder hooks for one `prepare` call and turns what they saw into
    EncoderSignals aligned with the LLM input sequence."""

    def __init__(self, adapter: Any, grids_per_window: int = 2) -> None:
        self.adapter = adapter
        self.grids_per_window = grids_per_window
        self.vision_recv: torch.Tensor | None = None  # (N_merged,) raster order
        self.audio_recv: torch.Tensor | None = None  # (N_frames,) after the CNN
        self._grid: torch.Tensor | None = None

    @contextlib.contextmanager
    def installed(self, inputs: dict[str, Any]) -> Iterator[EncoderSignalCapture]:
        model = self.adapter.model
        self._grid = inputs.get("video_grid_thw")
        handles = [
            model.visual.blocks[-1].attn.register_forward_pre_hook(self._vision_hook, with_kwargs=True),
            model.audio_tower.layers[-1].self_attn.register_forward_pre_hook(self._audio_hook, with_kwargs=True),
        ]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def _vision_hook(self, module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        n = hidden.shape[0]
        if hasattr(module, "qkv"):  # Qwen3-Omni: fused projection
            q, k, _ = module.qkv(hidden).reshape(n, 3, module.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        else:
            q = module.q(hidden).reshape(n, module.num_heads, -1)
            k = module.k(hidden).reshape(n, module.num_heads, -1)
        cos, sin = kwargs["position_embeddings"]
        q, k = self.adapter.vision_rotary(q, k, cos, sin)
        visual = self.adapter.model.visual
        t, h, w = (int(x) for x in self._grid.reshape(-1, 3)[0])
        lengths = [h * w * min(self.grids_per_window, t - s) for s in range(0, t, self.grids_per_window)]
        recv = received_attention_chunks(q, k, lengths, module.scaling)
        recv = recv.reshape(-1, visual.spatial_merge_size**2).mean(dim=1)  # per merged token
        if hasattr(visual, "window_size"):  # Qwen2.5-Omni permutes merge groups into windows
            from transformers.vision_utils import get_vision_window_index

            window_index, _ = get_vision_window_index(
                self._grid, spatial_merge_size=visual.spatial_merge_size, window_size=visual.window_size,
                patch_size=visual.patch_size,
            )
            recv = recv[torch.argsort(window_index.to(recv.device))]
        self.vision_recv = recv

    def _audio_hook(self, module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        cu = kwargs["cu_seqlens"]
        n = hidden.shape[0]
        q = module.q_proj(hidden).reshape(n, module.num_heads, -1)
        k = module.k_proj(hidden).reshape(n, module.num_heads, -1)
        lengths = (cu[1:] - cu[:-1]).tolist()
        self.audio_recv = received_attention_chunks(q, k, [x for x in lengths if x > 0], module.scaling)

    def signals(self, layout: TokenLayout) -> EncoderSignals:
        return EncoderFeatures(vision_recv=self.vision_recv, audio_recv=self.audio_recv).signals(layout)


def encode_with_signals(adapter: Any, inputs: dict[str, Any]) -> EncoderFeatures:
    """Run the encoders once with the Stage I hooks installed."""
    capture = EncoderSignalCapture(adapter)
    with capture.installed(inputs):
        feats = adapter.encode(inputs)
    feats.vision_recv, feats.audio_recv, feats.signals_captured = capture.vision_recv, capture.audio_recv, True
    return feats
