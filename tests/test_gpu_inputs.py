"""The synthetic inputs of the GPU tests (tests/omni_inputs.py) are what the real processors
give: the same ids for the same grid and audio length, the same tensor shapes."""

from __future__ import annotations

import pytest

from .omni_inputs import omni_inputs


@pytest.mark.parametrize("qwen3", [False, True], ids=["qwen2.5", "qwen3"])
@pytest.mark.parametrize("clip", ["av_moving.mp4", "av_long.mp4", "video_only.mp4"])
def test_synthetic_inputs_equal_the_processor(request, qwen3, clip):
    thinker = request.getfixturevalue("thinker3" if qwen3 else "thinker")
    make = request.getfixturevalue("make_inputs3" if qwen3 else "make_inputs")
    question = ("What moves? A. a square B. a circle C. a line D. nothing" if qwen3 else
                "What moves in the video? A. a square B. a circle C. a line D. nothing")
    real = make(clip, question)
    fam = real.get("feature_attention_mask")
    syn = omni_inputs(thinker.config, grid_thw=tuple(real["video_grid_thw"][0].tolist()),
                      mel_frames=None if fam is None else int(fam.sum()), question=question)
    assert syn["input_ids"].tolist() == real["input_ids"].tolist()
    assert syn["pixel_values_videos"].shape == real["pixel_values_videos"].shape
    assert syn["video_second_per_grid"].tolist() == real["video_second_per_grid"].tolist()
    assert set(syn) == set(real)
    if fam is not None:
        assert syn["input_features"].shape[1] == real["input_features"].shape[1]
