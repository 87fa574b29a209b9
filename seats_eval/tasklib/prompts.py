"""System prompts and the chat messages every seats task hands the model.

The task, not the model class, decides the system turn: each task YAML names it under
`lmms_eval_specific_kwargs: {default: {system_prompt: ...}}` and its `doc_to_messages`
(built by `chat_messages`) puts it in front of the user turn. The authors' runs used Qwen's
default prompt plus the analysis sentence for WorldSense and Daily-Omni, and an EMPTY
system text for OmniVideoBench, Video-MME and LVOmniBench (reference section 7).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
        content: list[dict[str, Any]] = [{"type": "video", "url": str(v)} for v in doc_to_visual(doc)]
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


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
