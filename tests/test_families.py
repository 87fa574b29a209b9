"""The family record (backbones/families.py): every field a new backbone family adds once
resolves, and every registry built from it agrees with it."""

from __future__ import annotations

import pytest
import transformers

from seats_eval.adapters import family_of_model_type
from seats_eval.backbones.config import load_backbone_config
from seats_eval.backbones.families import FAMILIES, family_of_suffix, get_family
from seats_eval.errors import ConfigError
from seats_eval.models.registry import BACKBONE_SUFFIXES, model_ids


@pytest.mark.parametrize("name", FAMILIES)
def test_record_resolves(name: str) -> None:
    fam = FAMILIES[name]
    for config in (fam.backbone, fam.tiny_backbone, fam.trained_backbone):
        assert load_backbone_config(config).family == name, config
    assert fam.load("adapter").family == name
    for model_type, (cls, _) in fam.checkpoints.items():
        assert hasattr(transformers, cls)
        assert family_of_model_type(model_type) is fam
    config = fam.load("tiny_config")(num_layers=2)
    assert fam.thinker_class().config_class is type(config)
    assert callable(fam.load("tiny_processor")) and callable(fam.load("bench_config"))
    assert family_of_suffix(fam.suffix) is fam and get_family(fam.backbone) is fam
    assert BACKBONE_SUFFIXES[fam.suffix] == fam.backbone
    assert fam.suffix in model_ids() and f"seats_{fam.suffix}" in model_ids()


def test_unknown_family_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown backbone family 'qwen9'; allowed: qwen2.5-omni, qwen3-omni"):
        get_family("qwen9")
    with pytest.raises(ConfigError, match="unknown model-id suffix 'x'"):
        family_of_suffix("x")
