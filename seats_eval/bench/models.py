"""Random-init thinkers for the efficiency benchmarks (weights do not change cost).

Two presets per backbone, geometry from model_configs/<backbone>.yaml:
- `full`: the real LLM (Qwen2.5-Omni-7B dense; Qwen3-Omni-30B-A3B MoE with 128 experts,
  top-8 routing, q/k norms, DeepStack) and real-size encoders, built in bf16 straight on the
  device. The encoders' weights are resident (they count in peak memory) but they do not run:
  benchmarks feed synthetic embeddings after them.
- `cpu-proxy`: the real depth, token counts and MoE structure (experts, top-k, q/k norms,
  DeepStack indexes) at a narrow width, so that a WorldSense-sized prefill fits in seconds
  on a few CPU cores; tiny encoders.
MoE experts run through transformers' fused `grouped_mm` kernel where it is available (the
fastest stock implementation; `eager` loops over experts in Python).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..backbones.config import BackboneConfig, LLMGeometry
from ..backbones.families import get_family
from ..toys.tiny import QWEN3_SPECIAL_TOKENS, QWEN25_SPECIAL_TOKENS

PRESETS = ("full", "cpu-proxy")
# Narrow stand-ins for CPU runs: the real layer count and token counts, head_dim 128.
CPU_PROXY = {"hidden_size": 256, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128,
             "intermediate_size": 1352, "vocab_size": 152064}
CPU_PROXY_MOE = {"hidden_size": 256, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128,
                 "intermediate_size": 16, "vocab_size": 152064}  # intermediate_size: per expert
_TINY_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_heads": 2}
_TINY_AUDIO = {"encoder_layers": 1, "d_model": 32, "encoder_ffn_dim": 64, "encoder_attention_heads": 2}


def is_moe(cfg: BackboneConfig) -> bool:
    return bool(cfg.llm and cfg.llm.moe)


def _mrope(head_dim: int, llm: LLMGeometry) -> list[int]:
    """The YAML's M-RoPE sections when they fit head_dim, else a proportional split."""
    half = head_dim // 2
    sec = list(llm.extra.get("mrope_section") or [])
    if sum(sec) == half:
        return sec
    t = half // 4
    return [t, (half - t) // 2, half - t - (half - t) // 2]


def _text_dims(preset: str, cfg: BackboneConfig) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r}; allowed: {', '.join(PRESETS)}")
    llm = cfg.llm
    if llm is None:
        raise ValueError(f"backbone config {cfg.name} has no llm geometry")
    geo = vars(llm) if preset == "full" else dict(CPU_PROXY_MOE if is_moe(cfg) else CPU_PROXY)
    dims = {k: int(geo[k]) for k in ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                                      "vocab_size")}
    dims["num_hidden_layers"] = cfg.num_layers
    extra = llm.extra
    rope = {"rope_type": "default", "rope_theta": float(extra.get("rope_theta", 1e6)),
            "mrope_section": _mrope(dims["head_dim"], llm)}
    if is_moe(cfg):
        rope["interleaved"] = bool(extra.get("mrope_interleaved", True))
        dims.update(moe_intermediate_size=int(geo["intermediate_size"]), intermediate_size=int(geo["intermediate_size"]),
                    num_experts=llm.num_experts, num_experts_per_tok=llm.num_experts_per_tok,
                    decoder_sparse_step=int(extra.get("decoder_sparse_step", 1)),
                    mlp_only_layers=list(extra.get("mlp_only_layers") or []),
                    norm_topk_prob=bool(extra.get("norm_topk_prob", True)))
    else:
        dims["intermediate_size"] = int(geo["intermediate_size"])
    dims["rope_parameters"] = rope
    dims["max_position_embeddings"] = 65536
    return dims


def _encoders(preset: str, cfg: BackboneConfig, hidden: int) -> tuple[dict[str, Any], dict[str, Any]]:
    vision, audio = dict(cfg.vision), dict(cfg.audio)
    if preset != "full":  # narrow encoders with the real structural indexes (DeepStack layers)
        vision.update(_TINY_VISION)
        audio.update(_TINY_AUDIO)
        vision.pop("fullatt_block_indexes", None)
        vision["depth"] = max(2, int(vision.get("depth", 2)))
        if "downsample_hidden_size" in audio:
            audio["downsample_hidden_size"] = 16
    vision["out_hidden_size"] = hidden
    audio["output_dim"] = hidden
    return vision, audio


def bench_thinker_config(preset: str, cfg: BackboneConfig):
    """The transformers thinker config of the benchmark model (see the module docstring),
    built by the backbone family's `bench_config` (backbones/families.py)."""
    text = _text_dims(preset, cfg)
    vision, audio = _encoders(preset, cfg, text["hidden_size"])
    return get_family(cfg.family).load("bench_config")(text, vision, audio)


def qwen3_bench_config(text: dict[str, Any], vision: dict[str, Any], audio: dict[str, Any]):
    """Qwen3-Omni-MoE thinker config of the given widths with the real token ids."""
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeThinkerConfig

    t = QWEN3_SPECIAL_TOKENS
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=audio, vision_config=vision, text_config=text, audio_token_id=t["<|audio_pad|>"],
        image_token_id=t["<|image_pad|>"], video_token_id=t["<|video_pad|>"],
        audio_start_token_id=t["<|audio_start|>"], position_id_per_seconds=13)
    config.vision_start_token_id, config.vision_end_token_id = t["<|vision_start|>"], t["<|vision_end|>"]
    config.audio_end_token_id = t["<|audio_end|>"]
    return config


def qwen25_bench_config(text: dict[str, Any], vision: dict[str, Any], audio: dict[str, Any]):
    """Qwen2.5-Omni thinker config of the given widths with the real token ids."""
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniThinkerConfig

    t = QWEN25_SPECIAL_TOKENS
    vision.setdefault("fullatt_block_indexes", [vision["depth"] - 1])
    config = Qwen2_5OmniThinkerConfig(
        audio_config=audio, vision_config=vision, text_config={**text, "tie_word_embeddings": False},
        audio_token_index=t["<|AUDIO|>"], image_token_index=t["<|IMAGE|>"], video_token_index=t["<|VIDEO|>"],
        audio_start_token_id=t["<|audio_bos|>"], audio_end_token_id=t["<|audio_eos|>"],
        position_id_per_seconds=25, seconds_per_chunk=2)
    config.vision_start_token_id, config.vision_end_token_id = t["<|vision_bos|>"], t["<|vision_eos|>"]
    return config


def build_bench_thinker(preset: str, cfg: BackboneConfig, device: torch.device, attn: str = "sdpa",
                        experts: str | None = None) -> tuple[Any, dict[str, Any]]:
    """(thinker in eval mode, build facts) on `device`: bf16 on CUDA, fp32 on CPU, created
    on the device (no host copy) with transformers' own random init. `experts`: the MoE
    experts implementation (default: grouped_mm where torch has it, else eager)."""
    config = bench_thinker_config(preset, cfg)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn}
    cls = get_family(cfg.family).thinker_class()
    if is_moe(cfg):
        has_grouped = hasattr(torch.nn.functional, "grouped_mm") or hasattr(torch, "_grouped_mm")
        kwargs["experts_implementation"] = experts or ("grouped_mm" if has_grouped else "eager")
    t0 = time.perf_counter()
    with device:
        model = cls._from_config(config, **kwargs)
    model.eval()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    facts = {"build_s": time.perf_counter() - t0, "dtype": str(dtype).replace("torch.", ""),
             "params_b": sum(p.numel() for p in model.parameters()) / 1e9,
             "llm_params_b": sum(p.numel() for p in model.model.language_model.parameters()) / 1e9
             + model.lm_head.weight.numel() / 1e9,
             "encoders": "real sizes, weights resident, not run" if preset == "full" else "tiny, not run"}
    if is_moe(cfg):
        facts["experts_implementation"] = str(model.config.text_config._experts_implementation)
    return model, facts
