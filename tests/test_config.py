"""Backbone configs: typed, validated once, and refused when they disagree with the checkpoint."""

from __future__ import annotations

from dataclasses import replace

import pytest

from seats_eval.adapters import make_adapter
from seats_eval.backbones.config import WindowGeometry, load_backbone_config
from seats_eval.errors import ConfigError

BASE = ("backbone: mine\nnum_layers: 8\nvideo_tokens_per_window: 288\naudio_tokens_per_window: 50\n"
        "audio_tokens_per_second: 25\nwindow_seconds: 2\nboundaries: [2, 4, 5, 7]\nlam: 1.4\ntau: 0.1\n")


@pytest.mark.parametrize("change, message", [
    (("audio_tokens_per_second: 25", "audio_tokens_per_second: 13"), "audio_tokens_per_window 50 != "),
    (("tau: 0.1", "tau: 0.1\ncolour: red"), "unknown keys \\['colour'\\]"),
    (("backbone: mine", "backbone: mine\nfamily: qwen4"), "family 'qwen4'"),
    (("boundaries: [2, 4, 5, 7]", "boundaries: [2, 3, 5, 7]"), "boundaries"),
    (("num_layers: 8", "num_layers: 8.5"), "num_layers must be an integer"),
    (("lam: 1.4", "lam: yes"), "lam must be a number"),
    (("tau: 0.1", "tau: 0.1\nboth_selected: {0.35: [0.3]}"), "both_selected must map R to \\[R_v, R_a\\]"),
    (("tau: 0.1", "tau: 0.1\nboth_selected: {0.35: [0.3, 1.5]}"), "each in \\(0, 1\\]"),
])
def test_inconsistent_yaml_is_refused_naming_the_file(tmp_path, change, message):
    path = tmp_path / "mine.yaml"
    path.write_text(BASE.replace(*change))
    with pytest.raises(ConfigError, match=message) as err:
        load_backbone_config(path)
    assert str(path) in str(err.value)
    path.write_text(BASE)
    assert load_backbone_config(path).window == WindowGeometry(2.0, 50)


@pytest.mark.parametrize("fixture, name", [("thinker", "tiny"), ("thinker3", "tiny-qwen3")])
def test_the_yaml_window_is_the_checkpoints(request, fixture, name):
    thinker, cfg = request.getfixturevalue(fixture), load_backbone_config(name)
    adapter = make_adapter(thinker, cfg.window)
    assert adapter.window == cfg.window and adapter.family == cfg.family
    cfg.check_depth(adapter.num_layers)
    with pytest.raises(ConfigError, match="this checkpoint interleaves"):
        make_adapter(thinker, replace(cfg.window, audio_tokens=cfg.window.audio_tokens + 1))
    with pytest.raises(ConfigError, match="is for 9 layers but the checkpoint has 8"):
        replace(cfg, num_layers=9).check_depth(adapter.num_layers)


def test_model_class_refuses_a_config_of_another_depth(tiny_dir, tmp_path):
    from seats_eval.models.ids import Model_qwen25omni

    path = tmp_path / "deep.yaml"
    path.write_text(BASE.replace("num_layers: 8", "num_layers: 10").replace("[2, 4, 5, 7]", "[2, 4, 5, 9]"))
    with pytest.raises(ConfigError, match="is for 10 layers but the checkpoint has 8"):
        Model_qwen25omni(pretrained=str(tiny_dir), backbone_config=str(path))
