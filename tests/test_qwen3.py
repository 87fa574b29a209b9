"""Qwen3-Omni-MoE backbone on a tiny random thinker, what is specific to it: layout (26 audio
tokens per window), the processor fps of profile=official, every id through the model class.
Identity, the mask oracle (with DeepStack) and SEATS counts: tests/test_runtime.py."""

from __future__ import annotations

import pytest
import torch

from seats_eval.adapters import make_adapter
from seats_eval.layout import AUDIO, TEXT, VIDEO
from seats_eval.methods import METHOD_IDS
from seats_eval.models.omni import FAILURE_MARKER

from .chat import chat_request


@pytest.mark.parametrize("clip, windows", [("av_moving.mp4", 3), ("av_long.mp4", 5), ("video_only.mp4", 2)])
def test_layout_on_qwen3_processor_output(thinker3, make_inputs3, clip, windows):
    inputs = make_inputs3(clip)
    prep = make_adapter(thinker3).prepare(inputs)
    lay = prep.layout
    assert lay.num_windows == windows
    audio = lay.window_counts(AUDIO)
    if lay.count(AUDIO):
        assert audio[:-1].tolist() == [26] * (windows - 1)  # 13 tokens/s, 2-s windows
    assert lay.window_counts(VIDEO)[:2].tolist() == [288, 288]
    media = lay.modality != TEXT
    t_pos = prep.position_ids[0, 0, media]
    expected = torch.div(t_pos - t_pos[0], 26, rounding_mode="floor")  # 13 positions/s x 2 s
    assert torch.equal(lay.window[media], expected)


# identity with stock generate, the mask oracle and SEATS' exact counts run on every family:
# tests/test_runtime.py (the `spine` fixture)


def test_official_qwen3_never_tells_the_processor_the_fps(tiny3_dir, clips_dir):
    # rule 12 (docs/profiles.md): the authors' Qwen3 wrapper passes no fps, so the processor's default (1.0 in
    # transformers 5.23) makes each temporal grid 2 s; frames are still sampled at 2 fps
    from seats_eval.driver.inputs import build_inputs
    from seats_eval.media.decode import load_media
    from seats_eval.models.ids import Model_seats_qwen3omni

    official = Model_seats_qwen3omni(pretrained=str(tiny3_dir), R=0.3)
    paper = Model_seats_qwen3omni(pretrained=str(tiny3_dir), R=0.3, profile="paper")
    assert (official.encoder.processor_fps, official.encoder.fps, paper.encoder.processor_fps) == (None, 2.0, 2.0)
    media = load_media(str(clips_dir / "av_moving.mp4"), fps=2, max_frames=8, pixels=official.encoder.pixels,
                       audio_max_seconds=official.encoder.audio_max_seconds)
    told = {fps: build_inputs(official.processor, media, "q", fps=fps) for fps in (None, 2.0)}
    assert float(told[None]["video_second_per_grid"][0]) == 2.0
    assert float(told[2.0]["video_second_per_grid"][0]) == 1.0


def test_every_qwen3_id_runs_through_the_model_class(tiny3_dir, clips_dir):
    import seats_eval.models.ids as ids

    path = str(clips_dir / "av_moving.mp4")
    req = chat_request(path, max_new_tokens=2)
    for method in METHOD_IDS:
        model_id = "qwen3omni" if method == "full" else f"{method}_qwen3omni"
        cls = getattr(ids, f"Model_{model_id}")
        args = {} if method == "full" else _lowest_r_args(method)
        model = cls(pretrained=str(tiny3_dir), **args)
        model.task_dict = {"seats_fixture_mcq": {"test": {0: {}}}}
        [answer] = [r.text for r in model.generate_until([req])]
        assert not answer.startswith(FAILURE_MARKER), (model_id, answer)
        assert model.records[-1]["layer_counts"], model_id


def _lowest_r_args(method: str) -> dict:
    """Arguments each method accepts on the 8-layer tiny backbone: FastV's one-shot drop needs
    an earlier K to fit the budget, DyCoke and OmniZip need R_v >= 25%."""
    special = {
        "fastv": {"R": 0.35, "K": 1}, "fastv_om": {"R": 0.35, "K": 1},
        "dycoke": {"R": 0.35, "R_v": 0.25}, "omnizip": {"R": 0.35},
        "remove_at": {"layer": 2, "modality": "both"},
    }
    return special.get(method, {"R": 0.25})
