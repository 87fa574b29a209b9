"""Method registry: lmms-eval id prefix -> factory. One small module per method."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:  # not imported at run time: the option table (options.py) must load without torch
    from ..backbones.config import BackboneConfig
    from .base import Method

# id -> "module:factory"; the "-om" variants are the same module with both modalities.
_REGISTRY: dict[str, str] = {
    "full": "seats_eval.methods.full:build",
    "seats": "seats_eval.methods.seats:build",
    "remove_at": "seats_eval.methods.remove_at:build",
    "random": "seats_eval.methods.random:build",
    "fastv": "seats_eval.methods.fastv:build",
    "fastv_om": "seats_eval.methods.fastv:build_om",
    "visionzip": "seats_eval.methods.visionzip:build",
    "visionzip_om": "seats_eval.methods.visionzip:build_om",
    "divprune": "seats_eval.methods.divprune:build",
    "divprune_om": "seats_eval.methods.divprune:build_om",
    "dycoke": "seats_eval.methods.dycoke:build",
    "fastvid": "seats_eval.methods.fastvid:build",
    "omnizip": "seats_eval.methods.omnizip:build",
}
METHOD_IDS: tuple[str, ...] = tuple(_REGISTRY)


def build_method(method_id: str, backbone_cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    """Build a method from lmms-eval `--model_args` options; unknown options fail here."""
    if method_id not in _REGISTRY:
        raise ConfigError(f"unknown method {method_id!r}; allowed: {', '.join(METHOD_IDS)}")
    module_name, factory = _REGISTRY[method_id].split(":")
    return getattr(importlib.import_module(module_name), factory)(backbone_cfg, dict(options))
