"""Stage II scores against direct computations, for every score source and both backbones.

A recording method drops half of the video and audio by score at three steps; the scores
the runtime hands it are compared with references built from the stock layers only:
- `attention`: the eager attention probabilities that layer l itself returns in the same
  (pruned) run, last row, head mean (a forward hook on the stock attention module);
- `same_layer` / `next_layer`: hand-written RMSNorm, q/k projections with layer l's / l+1's
  weights, Qwen3's q_norm / k_norm, rotary of the survivors' M-RoPE positions (cos/sin of
  the stock rotary module at the positions the stock forward uses), GQA by repeating each
  kv head for its query heads, softmax of q k / sqrt(d), head mean,
  applied to layer l's output captured by a forward hook on the stock layer.
At the first step the hand-written `next_layer` reference is itself checked against the
stock eager attention of layer l+1 on the unpruned sequence.
"""

from __future__ import annotations

import pytest
import torch

from seats_eval.driver import generate
from seats_eval.layout import TEXT
from seats_eval.methods.base import DropStep, Method

from .conftest import EOS
from .omni_inputs import omni_inputs

ORDERS = [("same_layer", "next_layer", "attention"), ("next_layer", "attention", "same_layer"),
          ("attention", "same_layer", "next_layer")]
AFTER = (2, 3, 5)  # after the DeepStack layers of Qwen3 (their features enter layers 1-2)


class Recorder(Method):
    """Keeps the top half of the non-text tokens by score at three steps; records the scores."""

    name = "score_recorder"

    def __init__(self, sources: tuple[str, ...], model_dtype: bool = False) -> None:
        self.sources, self.model_dtype = sources, model_dtype
        self.seen: list[torch.Tensor] = []

    def drop_steps(self, num_layers):
        return [DropStep(a, s, f"s{i}", model_dtype=self.model_dtype)
                for i, (a, s) in enumerate(zip(AFTER, self.sources, strict=True))]

    def in_llm(self, step, scores, layout, plan):
        self.seen.append(scores.detach().clone())
        text = layout.modality == TEXT
        s = scores.masked_fill(text, float("-inf"))
        keep = torch.zeros_like(text)
        keep[s.topk(int((~text).sum()) // 2).indices] = True
        return keep | text


def _rms(x, norm):
    x = x.float()
    return norm.weight.float() * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon))


def _rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _bias(linear):
    return None if linear.bias is None else linear.bias.float()


def hand_scores(lm, layer, hidden, positions, qk_norm: bool) -> torch.Tensor:
    """Last-row head-mean attention of `layer`'s q/k on `hidden` (S, D) at M-RoPE `positions` (3, 1, S)."""
    attn = layer.self_attn
    h = _rms(hidden, layer.input_layernorm)
    d = attn.head_dim
    q = torch.nn.functional.linear(h[-1:], attn.q_proj.weight.float(), _bias(attn.q_proj)).view(1, -1, d)
    k = torch.nn.functional.linear(h, attn.k_proj.weight.float(), _bias(attn.k_proj)).view(h.shape[0], -1, d)
    if qk_norm:
        q, k = _rms(q, attn.q_norm), _rms(k, attn.k_norm)
    cos, sin = lm.rotary_emb(hidden[None], positions)  # (1, S, d)
    q = _rotate(q, cos[0, -1:, None].float(), sin[0, -1:, None].float())
    k = _rotate(k, cos[0, :, None].float(), sin[0, :, None].float())
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # query head j reads kv head j // groups
    logits = torch.einsum("qhd,shd->hs", q, k) / d**0.5
    return logits.softmax(dim=-1).mean(dim=0)


class Capture:
    """Forward hooks on the stock modules: each layer's output and the attention
    probabilities of each attention module, first call (the prefill) only; and the
    position ids the text model is called with."""

    def __init__(self, lm, layers: list[int]) -> None:
        self.out: dict[int, torch.Tensor] = {}
        self.probs: dict[int, torch.Tensor] = {}
        self.positions: list[torch.Tensor] = []
        self.handles = [lm.register_forward_pre_hook(self._pos, with_kwargs=True)]
        for i in layers:
            self.handles.append(lm.layers[i].register_forward_hook(self._layer(i)))
            self.handles.append(lm.layers[i].self_attn.register_forward_hook(self._attn(i)))

    def _pos(self, module, args, kwargs):
        self.positions.append(kwargs["position_ids"])

    def _layer(self, i):
        def hook(module, args, out):
            self.out.setdefault(i, (out[0] if isinstance(out, tuple) else out)[0].detach())
        return hook

    def _attn(self, i):
        def hook(module, args, out):
            if out[1] is not None:
                self.probs.setdefault(i, out[1][0, :, -1].float().mean(dim=0).detach())
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


@pytest.fixture(scope="module")
def thinker3_eager(tiny3_dir):
    from transformers import Qwen3OmniMoeThinkerForConditionalGeneration

    return Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(
        tiny3_dir, dtype=torch.float32, attn_implementation="eager").eval()


def _check(model, sources, model_dtype=False):
    qwen3 = "qwen3" in str(model.config.model_type)
    lm = model.model.language_model
    inputs = omni_inputs(model.config, grid_thw=(3, 8, 12), mel_frames=403)
    wanted = sorted({a for a in AFTER} | {a + 1 for a in AFTER})
    with torch.no_grad():  # the stock, unpruned forward: its positions and layer l+1's attention
        stock = Capture(lm, wanted)
        try:
            model(**inputs, use_audio_in_video=True)
        finally:
            stock.remove()
    positions = stock.positions[0]
    method = Recorder(sources, model_dtype)
    cap = Capture(lm, wanted)
    try:
        res = generate(model, inputs, method, max_new_tokens=1, eos_token_ids=EOS)
    finally:
        cap.remove()
    assert len(method.seen) == 3
    kept = [p.cpu() for p in res.record.kept_positions]  # Stage I's (all here), then each step's
    for j, (after, src) in enumerate(zip(AFTER, sources, strict=True)):
        pos = positions[..., kept[j]]
        got = method.seen[j].float().cpu()
        if src == "attention":
            ref = cap.probs[after]
        else:
            ref = hand_scores(lm, lm.layers[after + (src == "next_layer")], cap.out[after], pos, qwen3)
        assert got.shape == ref.shape, (src, j)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-6, msg=lambda m, s=src, j=j: f"{s} at step {j}: {m}")
        if j == 0:  # the hand-written math is the stock attention on the unpruned sequence
            nxt = hand_scores(lm, lm.layers[after + 1], stock.out[after], positions, qwen3)
            torch.testing.assert_close(nxt, stock.probs[after + 1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("sources", ORDERS, ids="-".join)
def test_qwen25_scores_match_direct_computation(thinker_eager, sources):
    _check(thinker_eager, sources)


@pytest.mark.parametrize("sources", ORDERS, ids="-".join)
def test_qwen3_scores_match_direct_computation(thinker3_eager, sources):
    _check(thinker3_eager, sources)


@pytest.mark.parametrize("backbone", ["qwen25", "qwen3"])
def test_model_dtype_scores_match_direct_computation(request, backbone):
    """profile=official's score path (keys repeated per head, / sqrt(d)): fp32 here, so equal."""
    model = request.getfixturevalue("thinker_eager" if backbone == "qwen25" else "thinker3_eager")
    _check(model, ("same_layer", "next_layer", "official"), model_dtype=True)  # "official": the old name, still read


def test_an_unknown_score_source_is_refused_not_taken_for_another() -> None:
    """The runtime picks the scoring layer by the step's source name: a misspelt one must fail
    loudly, never fall through to `next_layer`."""
    assert DropStep(3, "official").score_source == "same_layer"  # the old name of same_layer
    with pytest.raises(ValueError, match="score_source 'same-layer'"):
        DropStep(3, "same-layer")
