"""What the encoders produce for one video, apart from the prompt.

Everything here depends on the media and the model only, never on the question: so one
EncoderFeatures can serve every question on the same video and every method and R of a
sweep (the feature cache stores exactly this). The Stage I signals are kept raw (encoder
order and resolution) and mapped onto a sample's TokenLayout on use.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from ..errors import SeatsError
from ..layout import AUDIO, VIDEO, TokenLayout
from ..methods.base import EncoderSignals


@dataclass
class EncoderFeatures:
    audio: torch.Tensor | None = None  # (N_audio_tokens, D) LLM-ready audio embeddings
    video: torch.Tensor | None = None  # (N_video_tokens, D) merged vision tokens
    deepstack: list[torch.Tensor] | None = None  # Qwen3-Omni: per DeepStack layer (N_video_tokens, D)
    vision_recv: torch.Tensor | None = None  # Stage I: received attention per merged token, raster order
    audio_recv: torch.Tensor | None = None  # Stage I: received attention per encoder frame
    signals_captured: bool = False  # True when the encoders ran with the Stage I hooks
    audio_frames_per_token: int = 1  # encoder frames pooled into one audio token (adapter's)
    audio_window: int | None = None  # frames per audio statistics window (None: the encoder's chunks)

    def to(self, device: torch.device | str) -> EncoderFeatures:
        """A copy on `device` (dtypes kept)."""
        out = EncoderFeatures(signals_captured=self.signals_captured, audio_frames_per_token=self.audio_frames_per_token,
                              audio_window=self.audio_window)
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                setattr(out, f.name, v.to(device))
            elif isinstance(v, list):
                setattr(out, f.name, [t.to(device) for t in v])
        return out

    def signals(self, layout: TokenLayout) -> EncoderSignals:
        """The raw Stage I statistics scattered onto the LLM sequence of `layout`."""
        S = layout.length
        out = EncoderSignals()
        modality = layout.modality
        if self.vision_recv is not None and layout.count(VIDEO):
            v = torch.zeros(S, device=self.vision_recv.device)
            v[modality.to(v.device) == VIDEO] = self.vision_recv.float()
            out.video_attn = v
        if self.audio_recv is not None and layout.count(AUDIO):
            n_tok, p = layout.count(AUDIO), self.audio_frames_per_token
            recv = self.audio_recv.float()
            if recv.numel() < p * n_tok:
                raise SeatsError(f"{recv.numel()} audio-encoder frames cannot pool to {n_tok} tokens of {p} frames")
            a = recv[: p * n_tok].reshape(n_tok, p).mean(dim=1)  # a trailing odd frame is dropped, as by the pooler
            v = torch.zeros(S, device=a.device)
            v[modality.to(v.device) == AUDIO] = a
            out.audio_attn = v
        return out
