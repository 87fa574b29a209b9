"""The family record: everything the code keys by backbone family, written once per family.

A backbone YAML names its `family:`; everything that differs between Qwen2.5-Omni and
Qwen3-Omni beyond the YAML's numbers is reached through the `Family` here: the lmms-eval
model-id suffix and the released backbone those ids load, the adapter and checkpoint types
(adapters/), the transformers thinker class, the tiny model's config and processor builders
(toys/tiny.py, toys/train.py), and the benchmark thinker's config builder (bench/models.py).
A new backbone family adds one entry to `FAMILIES` (plus its adapter module and YAML) and
every registry, builder and parametrized spine test picks it up.

Code is named as "module:attribute" strings resolved on use (`Family.load`): this module is
imported by the config loader, so it must not import adapters, toys or bench itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Family:
    name: str  # a backbone YAML's `family:` ("qwen2.5-omni")
    suffix: str  # lmms-eval model-id suffix: `seats_<suffix>` ("qwen25omni")
    backbone: str  # the released backbone's config (model_configs/) that the model ids load
    adapter: str  # "module:Class" under seats_eval.adapters
    # model_type -> (transformers class, whether it is the full model holding `.thinker`)
    checkpoints: Mapping[str, tuple[str, bool]]
    thinker: str  # transformers class of the thinker built from a config (tiny, trained, bench)
    tiny_config: str  # "module:function" (num_layers=...) -> the tiny thinker config
    tiny_processor: str  # "module:function" () -> the offline processor of the tiny model
    tiny_backbone: str  # backbone config of the random tiny model (model_configs/tiny*.yaml)
    trained_backbone: str  # backbone config of the committed trained tiny model
    train_steps: int  # default optimiser steps of `seats-eval train-tiny`
    bench_config: str  # "module:function" (text, vision, audio) -> the bench thinker config

    def load(self, field: str) -> Any:
        """The object a "module:attribute" field names (adapter modules are relative to
        seats_eval.adapters, the rest absolute)."""
        ref = getattr(self, field)
        module, attr = ref.split(":")
        if field == "adapter":
            module = f"seats_eval.adapters.{module}"
        return getattr(importlib.import_module(module), attr)

    def thinker_class(self) -> type:
        import transformers

        return getattr(transformers, self.thinker)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family(
        name="qwen2.5-omni", suffix="qwen25omni", backbone="qwen2.5-omni-7b",
        adapter="qwen2_5_omni:Qwen25OmniAdapter",
        checkpoints={"qwen2_5_omni": ("Qwen2_5OmniForConditionalGeneration", True),
                     "qwen2_5_omni_thinker": ("Qwen2_5OmniThinkerForConditionalGeneration", False)},
        thinker="Qwen2_5OmniThinkerForConditionalGeneration",
        tiny_config="seats_eval.toys.tiny:build_qwen25_thinker_config",
        tiny_processor="seats_eval.toys.tiny:build_qwen25_processor",
        tiny_backbone="tiny", trained_backbone="tiny-trained", train_steps=400,
        bench_config="seats_eval.bench.models:qwen25_bench_config",
    ),
    Family(
        name="qwen3-omni", suffix="qwen3omni", backbone="qwen3-omni-30b-a3b",
        adapter="qwen3_omni:Qwen3OmniAdapter",
        checkpoints={"qwen3_omni_moe": ("Qwen3OmniMoeForConditionalGeneration", True),
                     "qwen3_omni_moe_thinker": ("Qwen3OmniMoeThinkerForConditionalGeneration", False)},
        thinker="Qwen3OmniMoeThinkerForConditionalGeneration",
        tiny_config="seats_eval.toys.tiny:build_qwen3_thinker_config",
        tiny_processor="seats_eval.toys.tiny:build_qwen3_processor",
        tiny_backbone="tiny-qwen3", trained_backbone="tiny-trained-qwen3", train_steps=250,
        bench_config="seats_eval.bench.models:qwen3_bench_config",
    ),
)}


def get_family(name: str) -> Family:
    """A family by its name or by its released backbone's name ("qwen3-omni-30b-a3b")."""
    for fam in FAMILIES.values():
        if name in (fam.name, fam.backbone):
            return fam
    raise ConfigError(f"unknown backbone family {name!r}; allowed: {', '.join(FAMILIES)}")


def family_of_suffix(suffix: str) -> Family:
    """The family of a model-id suffix: qwen3omni -> qwen3-omni."""
    for fam in FAMILIES.values():
        if fam.suffix == suffix:
            return fam
    raise ConfigError(f"unknown model-id suffix {suffix!r}; allowed: {', '.join(f.suffix for f in FAMILIES.values())}")
