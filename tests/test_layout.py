"""TokenLayout on the tiny model's real processor output, checked against an independent
source: the stock model's own M-RoPE temporal positions (window = 2-s span of positions)."""

from __future__ import annotations

import pytest
import torch

from seats_eval.adapters import make_adapter
from seats_eval.errors import LayoutError
from seats_eval.layout import AUDIO, TEXT, VIDEO, build_layout


@pytest.mark.parametrize("clip, windows, has_audio", [
    ("av_moving.mp4", 3, True),  # AAC padding adds one audio token: a third, audio-only window
    ("av_long.mp4", 5, True),  # 9 s: last window holds one grid and 26 audio tokens
    ("video_only.mp4", 2, False),
    ("silent.mp4", 3, True),
    ("short.mp4", 1, True),  # shorter than one window
])
def test_layout_matches_mrope_positions(thinker, make_inputs, clip, windows, has_audio):
    inputs = make_inputs(clip)
    prep = make_adapter(thinker).prepare(inputs)
    lay = prep.layout
    ids = inputs["input_ids"][0]
    assert torch.equal(lay.modality == VIDEO, ids == thinker.config.video_token_index)
    assert torch.equal(lay.modality == AUDIO, ids == thinker.config.audio_token_index)
    assert (lay.count(AUDIO) > 0) == has_audio
    assert lay.num_windows == windows
    media = lay.modality != TEXT
    t_pos = prep.position_ids[0, 0]
    start = t_pos[media][0]
    expected = torch.div(t_pos[media] - start, 50, rounding_mode="floor")  # 25 positions/s x 2 s
    assert torch.equal(lay.window[media], expected)
    assert bool((lay.window[~media] == -1).all())
    # frame / spatial ids agree with the height/width position axes
    v = lay.modality == VIDEO
    t, h, w = (int(x) for x in inputs["video_grid_thw"][0])
    rows, cols = prep.position_ids[1, 0, v] - start, prep.position_ids[2, 0, v] - start
    assert torch.equal(lay.spatial[v], rows * (w // 2) + cols)
    assert torch.equal(lay.frame[v], torch.div(t_pos[v] - start, 25, rounding_mode="floor"))
    # per-window matrices cover each token exactly once
    for mod in (VIDEO, AUDIO):
        mat, valid = lay.window_matrix(mod)
        assert sorted(mat[valid].tolist()) == torch.nonzero(lay.modality == mod).flatten().tolist()
        assert torch.equal(valid.sum(1), lay.window_counts(mod))


def test_layout_rejects_inconsistent_grids():
    ids = torch.tensor([1, 9, 9, 9, 2])
    with pytest.raises(LayoutError, match="grid"):
        build_layout(ids, video_token_id=9, audio_token_id=8, video_grid_thw=torch.tensor([[2, 4, 4]]),
                     sample="s1")
