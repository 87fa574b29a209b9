"""Turn one (video file, prompt) pair into Qwen-Omni processor inputs."""

from __future__ import annotations

from typing import Any

from ..media.decode import Media

DEFAULT_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech."
)


def build_messages(text: str, system_prompt: str | None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if system_prompt is not None:
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    messages.append(
        {"role": "user", "content": [{"type": "video", "video": "<video>"}, {"type": "text", "text": text}]}
    )
    return messages


def build_prompt(processor: Any, text: str, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> str:
    """The chat-templated prompt with one unexpanded video placeholder."""
    return processor.apply_chat_template(build_messages(text, system_prompt), add_generation_prompt=True,
                                         tokenize=False)


def build_inputs(
    processor: Any,
    media: Media,
    text: str,
    *,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    fps: float = 2.0,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> Any:
    """Processor output (BatchFeature, batch 1) with the audio track interleaved per window.

    `fps` is the nominal sampling rate told to the processor (it sets seconds per temporal
    grid); like the reference pipeline we pass the nominal 2 fps even when max_frames binds.
    """
    prompt = build_prompt(processor, text, system_prompt)
    videos_kwargs: dict[str, Any] = {"fps": fps, "cap_pixels_per_frame": True}
    if min_pixels is not None or max_pixels is not None:
        size = dict(processor.video_processor.size)
        if min_pixels is not None:
            size["shortest_edge"] = int(min_pixels)
        if max_pixels is not None:
            size["longest_edge"] = int(max_pixels)
        videos_kwargs["size"] = size
    kwargs: dict[str, Any] = {"videos_kwargs": videos_kwargs}
    if media.audio is not None:
        kwargs.update(audio=[media.audio], audio_from_video_indices=[0], load_audio_from_video=True)
    return processor(text=[prompt], videos=[media.frames], return_tensors="pt", **kwargs)
