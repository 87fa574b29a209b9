"""Stage I signals: attention each token receives in the last encoder layer.

Captured with forward pre-hooks on the stock last vision block / last audio layer (no
copied encoders): the hook sees the layer's input, re-projects q and k with the layer's own
weights (one layer only; how is the adapter's: `vision_qk`, `audio_qk`), and computes,
within fixed windows (two temporal grids; the audio encoder's own attention chunks), the
per-head softmax over keys summed over queries and averaged over heads (DESIGN 5b). Vision
statistics are pooled over each spatial-merge group and put in the raster order of the
LLM's video tokens (`adapter.vision_to_raster`); audio statistics are pooled to LLM tokens
when mapped onto a sample (EncoderFeatures.signals, `adapter.audio_frames_per_token`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from ..adapters.base import OmniAdapter, required
from ..adapters.features import EncoderFeatures


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
    """Installs the encoder hooks for one encoder pass and keeps what they saw (raw, in
    the encoders' order and resolution; EncoderFeatures.signals maps it onto a sample)."""

    def __init__(self, adapter: OmniAdapter, grids_per_window: int = 2, audio_window: int | None = None) -> None:
        self.adapter = adapter
        self.grids_per_window = grids_per_window
        self.audio_window = audio_window  # frames per audio statistics window; None: the encoder's chunks
        self.vision_recv: torch.Tensor | None = None  # (N_merged,) raster order
        self.audio_recv: torch.Tensor | None = None  # (N_frames,) after the CNN
        self._grid: torch.Tensor | None = None

    @contextlib.contextmanager
    def installed(self, inputs: dict[str, Any]) -> Iterator[EncoderSignalCapture]:
        self._grid = inputs.get("video_grid_thw")
        handles = [
            self.adapter.vision_signal_module().register_forward_pre_hook(self._vision_hook, with_kwargs=True),
            self.adapter.audio_signal_module().register_forward_pre_hook(self._audio_hook, with_kwargs=True),
        ]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def _vision_hook(self, module, args, kwargs):
        hidden = args[0] if args else required(kwargs, "hidden_states", "last vision block")
        q, k = self.adapter.vision_qk(module, hidden, kwargs)
        merge = self.adapter.model.visual.spatial_merge_size
        t, h, w = (int(x) for x in self._grid.reshape(-1, 3)[0])
        lengths = [h * w * min(self.grids_per_window, t - s) for s in range(0, t, self.grids_per_window)]
        recv = received_attention_chunks(q, k, lengths, module.scaling)
        recv = recv.reshape(-1, merge**2).mean(dim=1)  # per merged token
        self.vision_recv = self.adapter.vision_to_raster(recv, self._grid)

    def _audio_hook(self, module, args, kwargs):
        hidden = args[0] if args else required(kwargs, "hidden_states", "last audio block")
        q, k = self.adapter.audio_qk(module, hidden)
        if self.audio_window is not None:  # fixed windows over all frames (the authors' Qwen3: 52)
            n = hidden.shape[0]
            lengths = [min(self.audio_window, n - s) for s in range(0, n, self.audio_window)]
        else:
            cu = required(kwargs, "cu_seqlens", "last audio block")
            lengths = (cu[1:] - cu[:-1]).tolist()
        self.audio_recv = received_attention_chunks(q, k, [x for x in lengths if x > 0], module.scaling)


def encode_with_signals(adapter: OmniAdapter, inputs: dict[str, Any], audio_window: int | None = None) -> EncoderFeatures:
    """Run the encoders once with the Stage I hooks installed (`audio_window`: frames per
    audio statistics window, None for the encoder's own attention chunks)."""
    capture = EncoderSignalCapture(adapter, audio_window=audio_window)
    with capture.installed(inputs):
        feats = adapter.encode(inputs)
    feats.vision_recv, feats.audio_recv, feats.signals_captured = capture.vision_recv, capture.audio_recv, True
    feats.audio_window = audio_window
    return feats
