"""lmms-eval model ids exported through the `lmms_eval.models` entry-point group.

One class underneath (`seats_eval.models.omni.QwenOmniModel`, a chat model: it reads the
task's `doc_to_messages`, system turn included); each id is a thin subclass
that fixes the method, so `lmms-eval --model seats_qwen25omni` needs no fork or env var.
"""

from __future__ import annotations

from ..backbones.families import FAMILIES
from ..methods import METHOD_IDS

# model-id suffix -> the backbone config its ids load (backbones/families.py)
BACKBONE_SUFFIXES = {f.suffix: f.backbone for f in FAMILIES.values()}


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
