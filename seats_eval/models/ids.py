"""One importable class per lmms-eval id (the entry-point manifests point here)."""

from __future__ import annotations

from .omni import QwenOmniModel
from .registry import BACKBONE_SUFFIXES, class_name, model_ids


def _make(model_id: str) -> type[QwenOmniModel]:
    suffix = model_id.rsplit("_", 1)[-1] if "_" in model_id else model_id
    method = model_id[: -len(suffix) - 1] if model_id != suffix else "full"
    return type(class_name(model_id), (QwenOmniModel,),
                {"method_id": method, "backbone": BACKBONE_SUFFIXES[suffix], "__module__": __name__})


for _mid in model_ids():
    globals()[class_name(_mid)] = _make(_mid)

__all__ = [class_name(m) for m in model_ids()] + ["BACKBONE_SUFFIXES"]
