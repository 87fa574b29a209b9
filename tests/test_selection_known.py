"""SEATS end to end on a crafted input whose answer is known.

The tiny Qwen2.5-Omni thinker is rewired so that every decoder layer (i) adds nothing to the
residual stream (o_proj and down_proj zero: each layer's output is the LLM input) and (ii)
attends by one feature: q is a constant vector u and k = c * x[0] / rms(x) * u, with u on the
rotary pair of the lowest frequency (rotation ~ 1 at these positions). The last text token's
attention is then softmax over positions of (a multiple of) the normalised feature 0 of each
token. The encoders' output is left as it is, except that feature 0 of the video (or audio)
tokens of one window is set high and that of every other token low: that window must keep a
larger share of its tokens through Stage II than every other window, under both profiles and
every score source. The clip has windows of unequal size (5 temporal grids: 2, 2, 1) and
audio in the first two windows only (the last window has no audio).
"""

from __future__ import annotations

import pytest
import torch

from seats_eval.adapters import make_adapter
from seats_eval.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.layout import AUDIO, VIDEO
from seats_eval.methods import build_method
from seats_eval.runtime.signals import encode_with_signals

from .conftest import EOS, _load
from .omni_inputs import omni_inputs

TINY = load_backbone_config("tiny")


@pytest.fixture(scope="module")
def rewired(tiny_dir):
    model = _load(tiny_dir, "sdpa")
    with torch.no_grad():
        for layer in model.model.language_model.layers:
            attn = layer.self_attn
            d = attn.head_dim
            u = torch.zeros(d)
            u[d // 2 - 1] = u[d - 1] = 1.0  # the slowest rotary pair
            layer.mlp.down_proj.weight.zero_()
            attn.o_proj.weight.zero_()
            attn.q_proj.weight.zero_()
            attn.q_proj.bias.copy_((4.0 * u).repeat(attn.q_proj.out_features // d))
            attn.k_proj.weight.zero_()
            attn.k_proj.weight[:, 0] = (4.0 * u).repeat(attn.k_proj.out_features // d)
            attn.k_proj.bias.zero_()
    return model


def _features(model, inputs, method, modality: int, window: int):
    adapter = make_adapter(model)
    feats = encode_with_signals(adapter, inputs, method.signal_audio_window)
    layout = adapter.prepare(inputs, features=feats).layout
    for mod, name in ((VIDEO, "video"), (AUDIO, "audio")):
        rows = getattr(feats, name)
        win = layout.window[layout.modality == mod]
        rows[:, 0] = torch.where(win == window, 1.0, -1.0) if mod == modality else -1.0
        rows[:, 1:] *= 0.1 / rows[:, 1:].std()
    return feats, layout


CASES = [("same_layer", VIDEO, 0), ("same_layer", VIDEO, 1), ("same_layer", VIDEO, 2), ("same_layer", AUDIO, 0),
         ("same_layer", AUDIO, 1), ("next_layer", VIDEO, 1), ("attention", VIDEO, 2), ("attention", AUDIO, 1)]


@pytest.mark.parametrize("profile", ["paper", "official"])
@pytest.mark.parametrize("score_source, modality, window", CASES)
def test_the_attended_window_keeps_its_tokens(rewired, profile, score_source, modality, window):
    """tau = 0.01: window relevances (mean probabilities of ~1/n) are decisive."""
    inputs = omni_inputs(rewired.config, grid_thw=(5, 8, 16), mel_frames=250)
    method = build_method("seats", TINY, {"profile": profile, "R": 0.2, "tau": 0.01, "score_source": score_source})
    feats, layout = _features(rewired, inputs, method, modality, window)
    assert layout.window_counts(VIDEO).tolist() == [64, 64, 32]  # 2, 2 and 1 grids
    n_audio = layout.window_counts(AUDIO).tolist()
    assert n_audio[0] == 50 and 0 < n_audio[1] < 50 and n_audio[2] == 0  # no audio in the last window
    res = generate(rewired, inputs, method, max_new_tokens=1, eos_token_ids=EOS, features=feats)
    rec = res.record
    assert rec.step_layers == [*method.schedule.drop_after, method.schedule.late_after]

    def per_window(positions):
        mod = layout.modality[positions]
        return torch.bincount(layout.window[positions][mod == modality], minlength=3)

    stage1 = per_window(rec.kept_positions[0])
    assert bool((stage1[: 3 if modality == VIDEO else 2] > 0).all())
    for kept in rec.kept_positions[1:-1]:  # after each Stage II step
        now = per_window(kept)
        assert now[window] == stage1[window], (stage1.tolist(), now.tolist())  # nothing of it dropped
    final = per_window(rec.kept_positions[-2])
    if profile == "paper":  # exact totals: the modality lost tokens, all of them elsewhere
        assert final.sum() < stage1.sum()
    others = [w for w in range(3) if w != window and stage1[w] > 0]
    share, sizes = final.double(), layout.window_counts(modality).double().clamp_min(1)
    assert all(share[window] / sizes[window] >= share[w] / sizes[w] for w in others)
