"""Analytic prefill FLOPs from per-layer token counts (the paper's TFLOPs column).

Convention (DESIGN 5b, the SEATS cost script): LLM prefill only, encoders and selection
excluded; one multiply-add counts as one FLOP; per layer with S tokens:
q and o projections S*D^2 each, k and v 2*S*D*D_kv, attention 2*S^2*D over the full square
(no causal halving), SwiGLU MLP 3*S*D*I; plus lm_head S_final*D*V.
MoE (Qwen3-Omni): only the active experts count, I = moe_intermediate_size * experts per
token, plus the router's S*D*num_experts; the paper does not state its MoE convention.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .config import BackboneConfig
from .errors import ConfigError


def layer_flops(S: int, D: int, D_kv: int, ffn: int, router: int = 0) -> int:
    return 2 * S * D * D + 2 * S * D * D_kv + 2 * S * S * D + 3 * S * D * ffn + S * D * router


def prefill_flops_from_lengths(lengths: Sequence[int], D: int, D_kv: int, ffn: int, V: int,
                               router: int = 0) -> int:
    return sum(layer_flops(int(s), D, D_kv, ffn, router) for s in lengths) + int(lengths[-1]) * D * V


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


def prefill_flops(text_config: Any, layer_counts: Sequence[Sequence[int]]) -> int:
    """FLOPs of one prefill; `layer_counts[l]` = (text, video, audio) tokens of layer l."""
    return prefill_flops_from_lengths([sum(c) for c in layer_counts], *geometry(text_config))


def geometry_from_cfg(cfg: BackboneConfig) -> tuple[int, int, int, int, int]:
    """(D, D_kv, active MLP width, V, router experts) from a backbone config's `llm`."""
    llm = cfg.llm
    if llm is None:
        raise ConfigError(f"backbone config {cfg.name} ({cfg.path}) has no llm geometry")
    ffn = llm.intermediate_size * (llm.num_experts_per_tok if llm.moe else 1)
    return llm.hidden_size, llm.num_key_value_heads * llm.head_dim, ffn, llm.vocab_size, llm.num_experts


def planned_lengths(method: Any, n_text: int, n_video: int, n_audio: int) -> list[int]:
    """Sequence length of every layer for a method, from its plan (no model run): full tokens
    and SEATS know it in advance (Method.plan); other methods raise, their FLOPs come from
    the recorded per-layer counts."""
    plan = method.plan((n_text, n_video, n_audio))
    if plan.layers is None:
        raise ValueError(f"{method.name}: no analytic token plan; use the per-sample records instead")
    return [sum(c) for c in plan.layers]
