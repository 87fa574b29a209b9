"""Analytic prefill FLOPs from per-layer token counts (the paper's TFLOPs column).

Two conventions, both LLM prefill only (encoders and selection excluded), one multiply-add
= one FLOP, per layer with S tokens:
- `paper` (DESIGN 5b, the authors' cost script; what the tables print): q and o projections
  S*D^2 each, k and v 2*S*D*D_kv, attention 2*S^2*D over the full square (no causal
  halving), SwiGLU MLP 3*S*D*I; plus lm_head S_final*D*V.
- `true` (the work the runtime runs): the attention's real width A = heads * head_dim in
  place of D in the q/o projections (S*D*A each), attention over the layer's kept keys with
  the causal mask, S(S+1)/2 query-key pairs (2*S(S+1)/2*A: what causal SDPA / flash kernels
  compute), and lm_head on the last position only (D*V: the runtime's prefill projects no
  other row). A = D for Qwen2.5-Omni-7B; Qwen3-Omni-30B-A3B's attention is 4096 wide on a
  2048 residual. The paper's square and its lm_head over every kept row overstate what
  pruning can save: `bench prefill` prints both ratios.
MoE (Qwen3-Omni): only the active experts count, I = moe_intermediate_size * experts per
token, plus the router's S*D*num_experts; the paper does not state its MoE convention.
`planned_lengths` gives a method's per-layer lengths without a model run: from its plan, or
(methods whose counts depend on the data) from its selection run on a synthetic sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backbones.config import BackboneConfig
from ..errors import ConfigError

CONVENTIONS = ("paper", "true")


def layer_flops(S: int, D: int, D_kv: int, ffn: int, router: int = 0, attn: int | None = None,
                causal: bool = False) -> int:
    """One layer's FLOPs; `attn` is the attention width (None: D, the paper convention),
    `causal` counts the S(S+1)/2 query-key pairs a causal kernel computes (else S^2)."""
    A = D if attn is None else attn
    pairs = S * (S + 1) // 2 if causal else S * S
    return 2 * S * D * A + 2 * S * D * D_kv + 2 * pairs * A + 3 * S * D * ffn + S * D * router


def prefill_flops_from_lengths(lengths: Sequence[int], D: int, D_kv: int, ffn: int, V: int,
                               router: int = 0, attn: int | None = None, convention: str = "paper") -> int:
    """Prefill FLOPs from per-layer lengths; `convention="true"` (with `attn`, the real
    attention width) counts causal attention and the lm_head of the last position only."""
    if convention not in CONVENTIONS:
        raise ConfigError(f"FLOPs convention {convention!r}; allowed: {', '.join(CONVENTIONS)}")
    true = convention == "true"
    head = D * V if true else int(lengths[-1]) * D * V
    return sum(layer_flops(int(s), D, D_kv, ffn, router, attn, causal=true) for s in lengths) + head


def geometry(text_config: Any) -> tuple[int, int, int, int, int]:
    """(D, D_kv, active MLP width, V, router experts) of a transformers text config."""
    D = int(text_config.hidden_size)
    H = int(text_config.num_attention_heads)
    head_dim = int(getattr(text_config, "head_dim", None) or D // H)
    D_kv = int(text_config.num_key_value_heads) * head_dim
    experts = int(getattr(text_config, "num_experts", 0) or 0)
    if experts:
        ffn = int(text_config.moe_intermediate_size) * int(text_config.num_experts_per_tok)
        return D, D_kv, ffn, int(text_config.vocab_size), experts
    return D, D_kv, int(text_config.intermediate_size), int(text_config.vocab_size), 0


def attention_width(text_config: Any) -> int:
    """heads * head_dim of a transformers text config (the `true` convention's width)."""
    H = int(text_config.num_attention_heads)
    return H * int(getattr(text_config, "head_dim", None) or int(text_config.hidden_size) // H)


def prefill_flops(text_config: Any, layer_counts: Sequence[Sequence[int]], convention: str = "paper") -> int:
    """FLOPs of one prefill; `layer_counts[l]` = (text, video, audio) tokens of layer l."""
    attn = attention_width(text_config) if convention == "true" else None
    return prefill_flops_from_lengths([sum(c) for c in layer_counts], *geometry(text_config), attn=attn,
                                      convention=convention)


def geometry_from_cfg(cfg: BackboneConfig) -> tuple[int, int, int, int, int]:
    """(D, D_kv, active MLP width, V, router experts) from a backbone config's `llm`."""
    llm = cfg.llm
    if llm is None:
        raise ConfigError(f"backbone config {cfg.name} ({cfg.path}) has no llm geometry")
    ffn = llm.intermediate_size * (llm.num_experts_per_tok if llm.moe else 1)
    return llm.hidden_size, llm.num_key_value_heads * llm.head_dim, ffn, llm.vocab_size, llm.num_experts


def attention_width_from_cfg(cfg: BackboneConfig) -> int:
    llm = cfg.llm
    if llm is None:
        raise ConfigError(f"backbone config {cfg.name} ({cfg.path}) has no llm geometry")
    return llm.num_attention_heads * llm.head_dim


def planned_lengths(method: Any, n_text: int, n_video: int, n_audio: int) -> list[int]:
    """Sequence length of every layer for a method, from its plan (no model run): full tokens
    and SEATS (paper profile) know it in advance (Method.plan); for the others use
    `simulated_lengths` (or the per-sample records of a run)."""
    plan = method.plan((n_text, n_video, n_audio))
    if plan.layers is None:
        raise ValueError(f"{method.name}: no analytic token plan; use simulated_lengths or the per-sample records")
    return [sum(c) for c in plan.layers]


def simulated_lengths(method: Any, cfg: BackboneConfig, n_text: int, windows: int, seed: int = 0) -> list[int]:
    """Per-layer lengths of `method` on a synthetic sample of `windows` full windows (the
    backbone's tokens per window, the processor's interleaving) and n_text text tokens:
    the runtime's selection loop (runtime/selection.py) on seeded random features, encoder
    signals and last-text scores, without the LLM. The counts of methods that do not fix
    their totals (SEATS under profile=official, the clustering baselines) depend on the
    content: these are one sample's, a run's records give the real ones."""
    import torch

    from ..layout import build_layout
    from ..methods.base import EncoderSignals, PreLLMContext
    from ..runtime.selection import run_selection

    n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
    vid, aud = 1, 2
    half = n_text // 2
    ids = [0] * half + ([vid] * n_v + [aud] * n_a) * windows + [0] * (n_text - half)
    side = int(round((n_v // 2 * 4) ** 0.5))
    layout = build_layout(torch.tensor(ids), video_token_id=vid, audio_token_id=aud,
                          video_grid_thw=torch.tensor([[2 * windows, side, side]]) if windows else None,
                          audio_tokens_per_window=n_a, sample="synthetic")
    g = torch.Generator().manual_seed(seed)
    embeds = torch.randn(layout.length, 64, generator=g)
    signals = EncoderSignals(torch.rand(layout.length, generator=g), torch.rand(layout.length, generator=g))

    def scores(step: Any, lay: Any, hidden: Any) -> Any:
        return torch.softmax(torch.randn(lay.length, generator=g), 0) if step.score_source else None

    ctx = PreLLMContext(embeds, layout, signals, "synthetic")
    return run_selection(method, ctx, cfg.num_layers, scores).lengths
