"""From (video file, question) to what the LLM side needs: processor inputs, encoder features
and the raw Stage I signals, with the feature cache as the memo.

`SampleEncoder.encode` is the one call: it owns the cache key (the video's identity and
every setting that changes the media or the features) and the decision whether a cached
entry suffices for the method (`sufficient`). The method settings preprocessing depends on
are read once, at construction, through the method contract: `method.profile` (under
`official` a backbone whose authors' wrapper never tells the processor the fps does not
tell it either: docs/profiles.md rule 12), `method.signal_audio_window` (frames per audio
statistics window: part of the cache key) and `method.needs_encoder_signals`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from loguru import logger

from ..adapters.base import OmniAdapter
from ..adapters.features import EncoderFeatures
from ..backbones.config import BackboneConfig
from ..errors import SeatsError
from ..media.decode import PixelBudget, load_media
from ..methods.base import Method
from ..runtime.signals import encode_with_signals
from .feature_cache import CacheEntry, FeatureCache
from .inputs import audio_seconds_used, build_inputs, build_prompt


def sufficient(features: EncoderFeatures | None, method: Method) -> bool:
    """Whether `features` (computed earlier for the same media) can serve `method`: a method
    that uses Stage I signals needs them captured, with its own audio window."""
    if features is None:
        return False
    if not method.needs_encoder_signals:
        return True
    return features.signals_captured and features.audio_window == method.signal_audio_window


def encoder_features(adapter: OmniAdapter, inputs: dict[str, Any], method: Method,
                     features: EncoderFeatures | None = None, capture_signals: bool = False,
                     sample: str = "") -> EncoderFeatures:
    """`features` when they suffice for `method`, else the encoders run on `inputs` (with the
    Stage I hooks when the method uses the signals or `capture_signals` asks for them, so
    that one entry serves every method); inputs without media cannot recompute them."""
    if sufficient(features, method):
        return features
    if features is not None and inputs.get("pixel_values_videos") is None and inputs.get("input_features") is None:
        raise SeatsError(f"{sample}: cached encoder features lack the Stage I signals {method.name} needs, "
                         "and the inputs carry no media to recompute them")
    if method.needs_encoder_signals or capture_signals:
        return encode_with_signals(adapter, inputs, method.signal_audio_window)
    return adapter.encode(inputs)


@dataclass
class EncodedSample:
    """One (video, question) ready for the pipeline (driver/pipeline.py)."""

    inputs: dict[str, Any]  # processor inputs on the model's device (no pixels / audio on a cache hit)
    features: EncoderFeatures
    media_info: dict[str, Any]  # what the record says about the decoded media
    cache_hit: bool | None  # None: no cache
    encode_s: float  # seconds spent in the encoders (0 on a hit)


class SampleEncoder:
    """Media decoding, the processor and the encoders for one model and method."""

    def __init__(self, adapter: OmniAdapter, processor: Any, cfg: BackboneConfig, method: Method, *,
                 fps: float, pixels: PixelBudget, cache: FeatureCache | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.adapter, self.processor, self.method = adapter, processor, method
        self.fps = fps
        # The fps told to the processor (None: its default): frames are sampled at self.fps.
        official = method.profile == "official"
        self.processor_fps = None if official and not cfg.authors_code.tell_fps else fps
        self.audio_window = method.signal_audio_window
        self.pixels = pixels  # the reference frame sizing (media/decode.py)
        self.audio_max_seconds = audio_seconds_used(processor)  # the audio the processor keeps
        self.cache = cache
        self.device, self.dtype = torch.device(device), dtype

    def settings(self, max_frames: int) -> dict[str, Any]:
        """Everything besides the video and the model that changes the cached entry."""
        return {"fps": self.fps, "processor_fps": self.processor_fps, "max_frames": max_frames,
                "pixels": self.pixels.as_dict(), "audio_max_seconds": self.audio_max_seconds,
                "signal_audio_window": self.audio_window}

    def encode(self, path: str, context: str, system_prompt: str, max_frames: int, sample: str) -> EncodedSample:
        """The sample's inputs and features: from the cache when it holds a sufficient entry
        for this video, else decoded, processed and encoded (and stored when the cache is on)."""
        cache = self.cache if Path(path).is_file() else None  # a missing file: load_media says so
        key = prompt_ids = None
        if cache is not None:
            key = cache.key(path, self.settings(max_frames))
            prompt_ids = self.processor.tokenizer(build_prompt(self.processor, context, system_prompt))["input_ids"]
            entry = cache.load(key)
            if entry is not None and sufficient(entry.features, self.method):
                inputs = entry.inputs_for(prompt_ids, self.adapter.video_token_id, self.device, sample)
                return EncodedSample(inputs, entry.features.to(self.device), entry.media_info, True, 0.0)
        media = load_media(path, fps=self.fps, max_frames=max_frames, pixels=self.pixels,
                           audio_max_seconds=self.audio_max_seconds)
        inputs = build_inputs(self.processor, media, context, system_prompt=system_prompt, fps=self.processor_fps)
        inputs = inputs.to(self.device)
        for k in ("pixel_values_videos", "input_features"):
            if k in inputs:
                inputs[k] = inputs[k].to(self.dtype)
        media_info = {"has_audio": media.audio is not None, **media.describe()}
        if media.audio_cut:
            logger.info(f"seats-eval: {sample}: audio cut to {self.audio_max_seconds:g} s of "
                        f"{media.audio_seconds:.1f} s (what the processor keeps)")
        t0 = time.perf_counter()
        features = encoder_features(self.adapter, inputs, self.method, capture_signals=cache is not None,
                                    sample=sample)
        encode_s = time.perf_counter() - t0
        if cache is not None:
            cache.store(key, CacheEntry.build(prompt_ids, inputs, features, media_info),
                        cache.key_payload(path, self.settings(max_frames)))
        return EncodedSample(inputs, features, media_info, None if self.cache is None else False, encode_s)
