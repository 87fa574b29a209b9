"""Turn one (video file, prompt) pair into Qwen-Omni processor inputs."""

from __future__ import annotations

from typing import Any

from ..backbones.config import BackboneConfig
from ..media.decode import Media, PixelBudget
from ..tasklib.prompts import QWEN_OMNI_SYSTEM_PROMPT


def build_messages(text: str, system_prompt: str | None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if system_prompt is not None:
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    messages.append(
        {"role": "user", "content": [{"type": "video", "video": "<video>"}, {"type": "text", "text": text}]}
    )
    return messages


def build_prompt(processor: Any, text: str, system_prompt: str | None = QWEN_OMNI_SYSTEM_PROMPT) -> str:
    """The chat-templated prompt with one unexpanded video placeholder."""
    return processor.apply_chat_template(build_messages(text, system_prompt), add_generation_prompt=True,
                                         tokenize=False)


def build_inputs(
    processor: Any,
    media: Media,
    text: str,
    *,
    system_prompt: str | None = QWEN_OMNI_SYSTEM_PROMPT,
    fps: float | None = 2.0,
) -> Any:
    """Processor output (BatchFeature, batch 1) with the audio track interleaved per window.

    The frames arrive at their final size (media/decode.py applies the reference pixel
    rule), so the processor is told not to resize them again. `fps` is the nominal sampling
    rate told to the processor (it sets seconds per temporal grid); like the reference
    pipeline we pass the nominal 2 fps even when max_frames binds; None tells it nothing
    (the processor's default, as the authors' Qwen3 wrapper does).
    """
    prompt = build_prompt(processor, text, system_prompt)
    videos_kwargs: dict[str, Any] = {"do_resize": False, "cap_pixels_per_frame": True}
    if fps is not None:
        videos_kwargs["fps"] = fps
    kwargs: dict[str, Any] = {"videos_kwargs": videos_kwargs}
    if media.audio is not None:
        kwargs.update(audio=[media.audio], audio_from_video_indices=[0], load_audio_from_video=True)
    return processor(text=[prompt], videos=[media.frames], return_tensors="pt", **kwargs)


def pixel_budget(processor: Any, cfg: BackboneConfig, **overrides: float | None) -> PixelBudget:
    """The per-frame pixel rule of a backbone: `min_pixels` / `max_pixels` / `total_pixels`
    from its config unless overridden; the pixel factor (patch x merge: 28 for Qwen2.5-Omni,
    32 for Qwen3-Omni) from the processor."""
    vp = processor.video_processor
    limits = {}
    for key in ("min_pixels", "max_pixels", "total_pixels"):
        value = overrides.get(key)
        value = getattr(cfg, key) if value is None else value
        limits[key] = None if value is None else (float(value) if key == "total_pixels" else int(value))
    return PixelBudget(**limits, factor=int(vp.patch_size) * int(getattr(vp, "merge_size", 2)))


def audio_seconds_used(processor: Any) -> float:
    """Seconds of audio the processor's feature extractor keeps (it truncates the rest)."""
    fe = processor.feature_extractor
    return float(fe.n_samples) / float(fe.sampling_rate)
