"""Analytic prefill FLOPs from per-layer token counts (the paper's TFLOPs column).

Convention (DESIGN 5b, the SEATS cost script): LLM prefill only, encoders and selection
excluded; one multiply-add counts as one FLOP; per layer with S tokens:
q and o projections S*D^2 each, k and v 2*S*D*D_kv, attention 2*S^2*D over the full square
(no causal halving), SwiGLU MLP 3*S*D*I; plus lm_head S_final*D*V.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def layer_flops(S: int, D: int, D_kv: int, ffn: int) -> int:
    return 2 * S * D * D + 2 * S * D * D_kv + 2 * S * S * D + 3 * S * D * ffn


def prefill_flops_from_lengths(lengths: Sequence[int], D: int, D_kv: int, ffn: int, V: int) -> int:
    return sum(layer_flops(int(s), D, D_kv, ffn) for s in lengths) + int(lengths[-1]) * D * V


def geometry(text_config: Any) -> tuple[int, int, int, int]:
    D = int(text_config.hidden_size)
    H = int(text_config.num_attention_heads)
    head_dim = int(getattr(text_config, "head_dim", None) or D // H)
    D_kv = int(text_config.num_key_value_heads) * head_dim
    return D, D_kv, int(text_config.intermediate_size), int(text_config.vocab_size)


def prefill_flops(text_config: Any, layer_counts: Sequence[Sequence[int]]) -> int:
    """FLOPs of one prefill; `layer_counts[l]` = (text, video, audio) tokens of layer l."""
    D, D_kv, ffn, V = geometry(text_config)
    return prefill_flops_from_lengths([sum(c) for c in layer_counts], D, D_kv, ffn, V)
