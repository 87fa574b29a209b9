"""lmms-eval model ids exported through the `lmms_eval.models` entry-point group.

One class underneath (`seats_eval.models.omni.QwenOmniModel`, a chat model: it reads the
task's `doc_to_messages`, system turn included); each id is a thin subclass
that fixes the method, so `lmms-eval --model seats_qwen25omni` needs no fork or env var.
"""

from __future__ import annotations

from ..methods import METHOD_IDS

BACKBONE_SUFFIXES = {"qwen25omni": "qwen2.5-omni-7b", "qwen3omni": "qwen3-omni-30b-a3b"}
_FAMILY_SUFFIX = {"qwen2.5-omni": "qwen25omni", "qwen3-omni": "qwen3omni"}


def family_suffix(family: str) -> str:
    """The model-id suffix of a backbone family (config.FAMILIES): qwen2.5-omni -> qwen25omni."""
    return _FAMILY_SUFFIX[family]


def suffix_family(suffix: str) -> str:
    """The backbone family of a model-id suffix: qwen3omni -> qwen3-omni."""
    return {s: f for f, s in _FAMILY_SUFFIX.items()}[suffix]


def model_ids() -> list[str]:
    ids = []
    for suffix in BACKBONE_SUFFIXES:
        ids.append(suffix)
        ids += [f"{m}_{suffix}" for m in METHOD_IDS if m != "full"]
    return ids


def class_name(model_id: str) -> str:
    return "Model_" + model_id


def manifests() -> list:
    # Imported here: lmms_eval.models loads this entry point while it is itself importing.
    from lmms_eval.models.registry_v2 import ModelManifest

    return [
        ModelManifest(model_id=mid, chat_class_path=f"seats_eval.models.ids.{class_name(mid)}")
        for mid in model_ids()
    ]
