"""Stage I signals against an independent reference built from the stock encoders.

The reference runs the stock vision and audio encoders with the stock eager attention
function, registered under a test name that also keeps the probabilities of the last
layer's attention module; a pre-hook on that module hands it the statistics windows (two
temporal grids; the audio encoder's own chunks, or fixed windows of 52 frames). Attention
received per token = probabilities summed over queries, averaged over heads, per window;
vision rows are pooled over the merger's groups of spatial_merge_size**2 consecutive rows and
put in raster order by matching the merger's rows with the encoder's `pooler_output` (the
order the LLM sees); audio frames are pooled in pairs (Qwen2.5-Omni's 2x pooler, odd trailing
frame dropped). Nothing here calls runtime/signals.py or the adapters' Stage I helpers.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from seats_eval.adapters import make_adapter
from seats_eval.layout import AUDIO, VIDEO
from seats_eval.runtime.signals import encode_with_signals

from .omni_inputs import omni_inputs

_REF_NAME = "seats_test_reference_eager"
_STATE: dict = {"targets": {}}


def _register(eager) -> str:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    name = f"{_REF_NAME}_{eager.__module__.rsplit('.', 1)[-1]}"

    def recording(module, query, key, value, attention_mask, **kwargs):
        out, weights = eager(module, query, key, value, attention_mask, **kwargs)
        store = _STATE["targets"].get(id(module))
        if store is not None:
            store.append(weights.detach())
        return out, weights

    AttentionInterface.register(name, recording)
    AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS["eager"])
    return name


@contextlib.contextmanager
def _recording(encoder_config, module, eager, cu_seqlens: torch.Tensor | None):
    """Run `module` (the last encoder attention) under the recording eager function, with
    `cu_seqlens` replaced by the statistics windows when given; yields the list of
    per-window probabilities (1, H, L, L)."""
    old = encoder_config._attn_implementation
    encoder_config._attn_implementation = _register(eager)
    store: list[torch.Tensor] = []
    _STATE["targets"][id(module)] = store

    def windows(mod, args, kwargs):
        if cu_seqlens is None:
            return None
        kwargs = dict(kwargs)
        if "cu_seqlens" in kwargs:
            kwargs["cu_seqlens"] = cu_seqlens
            return args, kwargs
        return (args[0], cu_seqlens, *args[2:]), kwargs

    handle = module.register_forward_pre_hook(windows, with_kwargs=True)
    try:
        yield store
    finally:
        handle.remove()
        _STATE["targets"].pop(id(module), None)
        encoder_config._attn_implementation = old


def _received(store: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([w[0].float().sum(dim=1).mean(dim=0) for w in store])


def _eager_fn(thinker):
    if "qwen3" in str(thinker.config.model_type):
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import eager_attention_forward
    else:
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import eager_attention_forward
    return eager_attention_forward


@torch.no_grad()
def reference_vision(thinker, inputs, grids_per_window: int = 2) -> torch.Tensor:
    """(N_video_tokens,) received attention per merged token, in the LLM's raster order."""
    visual = thinker.model.visual
    t, h, w = (int(x) for x in inputs["video_grid_thw"][0])
    cu = torch.tensor([min(s, t) * h * w for s in range(0, t + grids_per_window, grids_per_window)],
                      dtype=torch.int32).unique_consecutive()
    merged = []
    hook = visual.merger.register_forward_hook(lambda m, a, out: merged.append(out))
    try:
        with _recording(visual.config, visual.blocks[-1].attn, _eager_fn(thinker), cu) as store:
            out = thinker.model.get_video_features(inputs["pixel_values_videos"], inputs["video_grid_thw"],
                                                   return_dict=True)
    finally:
        hook.remove()
    recv = _received(store)
    assert recv.numel() == t * h * w
    unit = visual.spatial_merge_size ** 2
    pooled = recv.reshape(-1, unit).mean(dim=1)  # the merger's groups, encoder order
    pooler = out.pooler_output
    pooler = torch.cat(list(pooler), 0) if isinstance(pooler, (list, tuple)) else pooler
    rows = merged[0]
    order = torch.cdist(pooler.float(), rows.float()).argmin(dim=1)  # raster row j = merger row order[j]
    assert torch.equal(order.sort().values, torch.arange(rows.shape[0]))  # a permutation
    return pooled[order]


@torch.no_grad()
def reference_audio(thinker, inputs, window: int | None, frames_per_token: int, n_tokens: int) -> torch.Tensor:
    """(N_audio_tokens,) received attention per audio token."""
    tower = thinker.model.audio_tower
    module = tower.layers[-1].self_attn

    def run():
        thinker.model.get_audio_features(inputs["input_features"], inputs["feature_attention_mask"], None,
                                         return_dict=True)

    cu = None
    if window is not None:  # fixed windows over all frames: learnt from a first plain pass
        seen = []
        h = module.register_forward_pre_hook(lambda m, a, k: seen.append((a[0] if a else k["hidden_states"]).shape[0]),
                                             with_kwargs=True)
        try:
            run()
        finally:
            h.remove()
        n = seen[0]
        cu = torch.tensor(sorted({*range(0, n, window), n}), dtype=torch.int32)
    with _recording(tower.config, module, _eager_fn(thinker), cu) as store:
        run()
    recv = _received(store)
    p = frames_per_token
    assert recv.numel() >= p * n_tokens
    return recv[: p * n_tokens].reshape(n_tokens, p).mean(dim=1)


def project_signals(thinker, inputs, audio_window=None):
    adapter = make_adapter(thinker)
    feats = encode_with_signals(adapter, inputs, audio_window)
    prep = adapter.prepare(inputs, features=feats)
    sig = feats.signals(prep.layout)
    lay = prep.layout
    video = sig.video_attn[lay.modality == VIDEO] if sig.video_attn is not None else None
    audio = sig.audio_attn[lay.modality == AUDIO] if sig.audio_attn is not None else None
    return video, audio, lay


QWEN25_GRIDS = [(2, 8, 8), (4, 16, 16), (4, 12, 20), (3, 20, 12), (1, 8, 24)]
QWEN3_GRIDS = [(2, 8, 8), (4, 12, 20), (3, 16, 10)]


@pytest.mark.parametrize("grid", QWEN25_GRIDS)
def test_qwen25_vision_signals_match_stock_eager_attention(thinker, grid):
    inputs = omni_inputs(thinker.config, grid_thw=grid, mel_frames=None)
    ref = reference_vision(thinker, inputs)
    video, _, _ = project_signals(thinker, inputs)
    torch.testing.assert_close(video, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("grid", QWEN3_GRIDS)
def test_qwen3_vision_signals_match_stock_eager_attention(thinker3, grid):
    inputs = omni_inputs(thinker3.config, grid_thw=grid, mel_frames=None)
    ref = reference_vision(thinker3, inputs)
    video, _, _ = project_signals(thinker3, inputs)
    torch.testing.assert_close(video, ref, rtol=1e-4, atol=1e-5)


# mel frames: 401 -> 201 encoder frames (odd: the trailing one is dropped by the pooler),
# 403 -> 202, 799 -> 400 over 4 encoder chunks of 100 frames, 255 -> a short last chunk.
@pytest.mark.parametrize("mel", [401, 403, 799, 255])
def test_qwen25_audio_signals_match_stock_eager_attention(thinker, mel):
    inputs = omni_inputs(thinker.config, grid_thw=(4, 8, 8), mel_frames=mel)
    video, audio, lay = project_signals(thinker, inputs)
    ref = reference_audio(thinker, inputs, None, 2, lay.count(AUDIO))
    torch.testing.assert_close(audio, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(video, reference_vision(thinker, inputs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mel, window", [(403, None), (799, None), (403, 52), (1001, 52)])
def test_qwen3_audio_signals_match_stock_eager_attention(thinker3, mel, window):
    inputs = omni_inputs(thinker3.config, grid_thw=(4, 8, 8), mel_frames=mel)
    _, audio, lay = project_signals(thinker3, inputs, audio_window=window)
    ref = reference_audio(thinker3, inputs, window, 1, lay.count(AUDIO))
    torch.testing.assert_close(audio, ref, rtol=1e-4, atol=1e-5)


def test_reference_sees_a_window_permutation(thinker):
    """The reference is worth something only if raster and encoder order differ here."""
    inputs = omni_inputs(thinker.config, grid_thw=(2, 12, 20), mel_frames=None)
    ref = reference_vision(thinker, inputs)
    feats = make_adapter(thinker).encode(inputs)
    assert feats.video.shape[0] == ref.numel()
    video, _, _ = project_signals(thinker, inputs)
    from transformers.vision_utils import get_vision_window_index

    visual = thinker.model.visual
    index, _ = get_vision_window_index(inputs["video_grid_thw"], spatial_merge_size=2,
                                       window_size=visual.window_size, patch_size=visual.patch_size)
    assert not torch.equal(index, torch.arange(index.numel()))
    assert not torch.allclose(video[index], ref, rtol=1e-3, atol=1e-5)
