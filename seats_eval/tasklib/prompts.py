"""The system prompt: the one definition of Qwen-Omni's default system prompt and the rule
that picks a task's system prompt (used by the model class; tasks only build user text)."""

from __future__ import annotations

QWEN_OMNI_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech."
)
ANALYZE_SUFFIX = (
    "Please analyze the video carefully and select the most appropriate answer from the "
    "given options."
)
# Task-name substrings that get ANALYZE_SUFFIX (OmniZip's WorldSense/Daily-Omni setting,
# kept by the SEATS model classes for both backbones).
_SUFFIX_TASKS = ("worldsense", "dailyomni", "daily_omni")


def system_prompt_for(task_name: str, base: str | None = QWEN_OMNI_SYSTEM_PROMPT) -> str | None:
    """System prompt for a task: `base` (Qwen-Omni's default) plus, for WorldSense and
    Daily-Omni tasks (fixture twins included), the "Please analyze the video carefully..."
    sentence. Returns None when there is nothing to say (base empty, other task), meaning
    "no system message".

    This mirrors the authors' model classes, which always send the default system prompt
    and append the sentence when the task name contains "worldsense" or "daily(omni)".
    """
    parts = [base.strip()] if base and base.strip() else []
    name = (task_name or "").lower()
    if any(key in name for key in _SUFFIX_TASKS):
        parts.append(ANALYZE_SUFFIX)
    return " ".join(parts) if parts else None
