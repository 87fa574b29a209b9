"""Backbone adapters: one module per Qwen-Omni family, chosen by the checkpoint's model_type.

`make_adapter(thinker)` is the only place that looks at what a thinker is; everything else
talks to the `OmniAdapter` it returns (adapters/base.py). `load_thinker` loads a
checkpoint's thinker (without the talker) by the same table.
"""

from __future__ import annotations

from typing import Any

from ..backbones.config import WindowGeometry
from ..backbones.families import FAMILIES, Family
from ..errors import ConfigError
from .base import OmniAdapter, PreparedSample


def family_of_model_type(model_type: str, what: str = "checkpoint") -> Family:
    for fam in FAMILIES.values():
        if model_type in fam.checkpoints:
            return fam
    known = sorted(t for f in FAMILIES.values() for t in f.checkpoints)
    raise ConfigError(f"{what}: model_type {model_type!r} is not a supported Qwen-Omni checkpoint; "
                      f"supported: {', '.join(known)}")


def make_adapter(thinker: Any, window: WindowGeometry | None = None) -> OmniAdapter:
    """The adapter of a loaded thinker; `window` (the backbone config's) must agree with the
    checkpoint's interleaving. Changes nothing on the thinker (the sample driver installs the
    runtime's attention wrapper, once: driver/pipeline.py)."""
    import importlib

    fam = family_of_model_type(str(getattr(thinker.config, "model_type", "")), type(thinker).__name__)
    module, cls = fam.adapter.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(thinker, window)


def load_thinker(pretrained: str, dtype: Any, device_map: Any, attn: str) -> Any:
    """A thinker from a full Qwen-Omni checkpoint (talker not loaded) or a thinker-only dir."""
    import transformers
    from transformers import AutoConfig

    model_type = AutoConfig.from_pretrained(pretrained).model_type
    name, full = family_of_model_type(model_type, pretrained).checkpoints[model_type]
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn}
    if device_map is not None:
        kwargs["device_map"] = device_map
    if full:
        kwargs["enable_audio_output"] = False
        return getattr(transformers, name).from_pretrained(pretrained, **kwargs).thinker.eval()
    return getattr(transformers, name).from_pretrained(pretrained, **kwargs).eval()


__all__ = ["FAMILIES", "OmniAdapter", "PreparedSample", "family_of_model_type", "load_thinker", "make_adapter"]
