"""System prompts and the chat messages every seats task hands the model.

The task, not the model class, decides the system turn: each task YAML names it under
`lmms_eval_specific_kwargs: {default: {system_prompt: ...}}` and its `doc_to_messages`
(built by `chat_messages`) puts it in front of the user turn. The authors' runs used Qwen's
default prompt plus the analysis sentence for WorldSense and Daily-Omni, and an EMPTY
system text for OmniVideoBench, Video-MME and LVOmniBench (reference section 7).

The task also decides its frame cap (Sec. 5.1: 128 frames for WorldSense and Daily-Omni, 256
for OmniVideoBench): `max_frames` in the same kwargs, carried to the model as the
`max_frames` key of each video item (the key qwen-omni-utils reads there). The model takes
it within its backbone's own limit (BackboneConfig.frame_cap); a task without one gets the
backbone's. So a new benchmark edits no backbone YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

QWEN_OMNI_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech."
)
ANALYZE_SUFFIX = (
    "Please analyze the video carefully and select the most appropriate answer from the "
    "given options."
)
# Named system prompts a task YAML (or the `system_prompt` model arg) may use; any other
# string is taken literally, and "" is an empty system turn (not a missing one).
PRESETS = {
    "qwen": QWEN_OMNI_SYSTEM_PROMPT,
    "qwen_analyze": f"{QWEN_OMNI_SYSTEM_PROMPT} {ANALYZE_SUFFIX}",
    "empty": "",
}
# What a chat request without a system turn gets (a task outside this plugin).
DEFAULT_SYSTEM = "qwen"


def resolve_system_prompt(value: str | None) -> str | None:
    """A preset name or literal text -> the system text; None stays None (no system turn)."""
    if value is None:
        return None
    return PRESETS.get(str(value), str(value))


def chat_messages(doc_to_visual: Callable[[dict], list[str]], doc_to_text: Callable[..., str]):
    """A task's `doc_to_messages`: [system turn from the YAML kwargs (when it names one),
    user turn (video, text)] in lmms-eval's chat-message format."""

    def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict[str, Any]]:
        kwargs = lmms_eval_specific_kwargs or {}
        messages: list[dict[str, Any]] = []
        if "system_prompt" in kwargs:
            text = resolve_system_prompt(kwargs["system_prompt"])
            messages.append({"role": "system", "content": [{"type": "text", "text": text}]})
        cap = {"max_frames": _frame_cap(kwargs["max_frames"])} if "max_frames" in kwargs else {}
        content: list[dict[str, Any]] = [{"type": "video", "url": str(v), **cap} for v in doc_to_visual(doc)]
        content.append({"type": "text", "text": doc_to_text(doc, lmms_eval_specific_kwargs)})
        messages.append({"role": "user", "content": content})
        return messages

    return doc_to_messages


def read_messages(messages: list[dict[str, Any]]) -> tuple[str | None, list[str], str]:
    """(system text or None when there is no system turn, video urls, user text) of one
    chat request; accepts lmms-eval's dicts or its pydantic ChatMessage objects."""
    system: str | None = None
    videos: list[str] = []
    texts: list[str] = []
    for message in messages:
        role = _get(message, "role")
        parts = _get(message, "content")
        if isinstance(parts, str):
            parts = [{"type": "text", "text": parts}]
        if role == "system":
            system = "".join(str(_get(p, "text") or "") for p in parts if _get(p, "type") == "text")
            continue
        for part in parts:
            kind = _get(part, "type")
            if kind == "video":
                url = _get(part, "url")
                videos.append(str(url.get("url") or url.get("path")) if isinstance(url, dict) else str(url))
            elif kind == "text":
                texts.append(str(_get(part, "text")))
    return system, videos, "\n".join(texts)


def frame_cap(messages: list[dict[str, Any]]) -> int | None:
    """The task's frame cap carried on the video items of one chat request (the smallest when
    several name one); None when the task names none."""
    caps = [_frame_cap(_get(part, "max_frames"))
            for message in messages if not isinstance(_get(message, "content"), str)
            for part in _get(message, "content")
            if _get(part, "type") == "video" and _get(part, "max_frames") is not None]
    return min(caps) if caps else None


def _frame_cap(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"task max_frames (lmms_eval_specific_kwargs) must be an integer >= 1, got {value!r}")
    return value


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
