"""The benchmark thinkers have the real structure: Qwen3-Omni-30B-A3B's MoE (128 experts,
top-8, q/k norms, DeepStack at vision layers 8/16/24) even at proxy width, and the real
parameter counts at full size; bench prefill always times full tokens; bench select uses
the backbone's width."""

from __future__ import annotations

import pytest
import torch

from seats_eval.backbones.config import load_backbone_config
from seats_eval.bench.models import CPU_PROXY_MOE, bench_thinker_config, build_bench_thinker
from seats_eval.bench.profiling import bench_prefill, bench_select, synthetic_prepared, with_full

QWEN3 = load_backbone_config("qwen3-omni-30b-a3b")
QWEN25 = load_backbone_config("qwen2.5-omni-7b")


@pytest.fixture(scope="module")
def qwen3_proxy():
    return build_bench_thinker("cpu-proxy", QWEN3, torch.device("cpu"))


def test_qwen3_bench_thinker_is_the_real_moe_at_proxy_width(qwen3_proxy):
    from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import (
        Qwen3OmniMoeThinkerTextSparseMoeBlock,
    )

    model, facts = qwen3_proxy
    tc = model.config.text_config
    assert type(model).__name__ == "Qwen3OmniMoeThinkerForConditionalGeneration"
    assert tc.hidden_size == CPU_PROXY_MOE["hidden_size"] == 256  # proxy width ...
    layers = model.model.language_model.layers
    assert len(layers) == 48 == QWEN3.num_layers  # ... real depth and structure
    assert (tc.num_experts, tc.num_experts_per_tok, tc.decoder_sparse_step, tc.mlp_only_layers) == (128, 8, 1, [])
    for layer in layers:
        assert isinstance(layer.mlp, Qwen3OmniMoeThinkerTextSparseMoeBlock)
        assert layer.mlp.experts.num_experts == 128 and layer.mlp.gate.top_k == 8
        assert layer.mlp.experts.gate_up_proj.shape == (128, 2 * CPU_PROXY_MOE["intermediate_size"], 256)
        assert hasattr(layer.self_attn, "q_norm") and hasattr(layer.self_attn, "k_norm")
    assert list(model.config.vision_config.deepstack_visual_indexes) == [8, 16, 24]
    assert len(model.model.visual.deepstack_merger_list) == 3
    assert tc.rope_parameters["mrope_section"] == [24, 20, 20] and tc.rope_parameters["interleaved"]
    assert tc.vocab_size == 152064
    if hasattr(torch.nn.functional, "grouped_mm") or hasattr(torch, "_grouped_mm"):
        assert facts["experts_implementation"] == "grouped_mm"  # the fused stock kernel, not a Python loop


def test_model_configs_agree_with_transformers_qwen3_defaults():
    """The YAML's MoE values are the real checkpoint's; transformers' Qwen3OmniMoe defaults
    carry the same ones (its other defaults, e.g. 28 layers, are not the 30B-A3B's)."""
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import (
        Qwen3OmniMoeTextConfig,
        Qwen3OmniMoeVisionEncoderConfig,
    )

    text, vision, llm = Qwen3OmniMoeTextConfig(), Qwen3OmniMoeVisionEncoderConfig(), QWEN3.llm
    assert (llm.num_experts, llm.num_experts_per_tok, llm.intermediate_size, llm.hidden_size) == (
        text.num_experts, text.num_experts_per_tok, text.moe_intermediate_size, text.hidden_size)
    assert list(QWEN3.vision["deepstack_visual_indexes"]) == list(vision.deepstack_visual_indexes)
    assert (QWEN3.vision["depth"], QWEN3.vision["hidden_size"]) == (vision.depth, vision.hidden_size)


@pytest.mark.parametrize("cfg, llm_b, total_b", [(QWEN25, 7.62, 8.93), (QWEN3, 30.53, 31.72)])
def test_full_preset_has_the_real_size(cfg, llm_b, total_b):
    """Built on the meta device (no memory): the real LLM and encoder parameter counts."""
    from transformers import (
        Qwen2_5OmniThinkerForConditionalGeneration,
        Qwen3OmniMoeThinkerForConditionalGeneration,
    )

    cls = Qwen3OmniMoeThinkerForConditionalGeneration if cfg.llm.moe else \
        Qwen2_5OmniThinkerForConditionalGeneration
    with torch.device("meta"):
        model = cls._from_config(bench_thinker_config("full", cfg), dtype=torch.bfloat16)
    llm = sum(p.numel() for p in model.model.language_model.parameters()) + model.lm_head.weight.numel()
    assert llm / 1e9 == pytest.approx(llm_b, abs=0.01)
    assert sum(p.numel() for p in model.parameters()) / 1e9 == pytest.approx(total_b, abs=0.01)
    assert model.config.text_config.hidden_size == cfg.llm.hidden_size


def test_qwen3_synthetic_sample_carries_deepstack_features(qwen3_proxy):
    model, _ = qwen3_proxy
    prep, _ = synthetic_prepared(model, QWEN3, 2, torch.device("cpu"))
    feats = prep.encoder_outputs["deepstack"]
    assert len(feats) == 3 and all(f.shape == (2 * 288, 256) for f in feats)


def test_bench_prefill_always_times_full_tokens():
    assert with_full([("seats", 0.1)]) == ([("full", None), ("seats", 0.1)], True)
    assert with_full([("seats", 0.1), ("full", None)])[1] is False
    rep = bench_prefill([("seats", 0.1), ("seats", 0.35)], windows=1, repeats=1, warmup=0, backbone="tiny")
    assert rep["full_added"] and [r["method"] for r in rep["results"]] == ["full", "seats", "seats"]
    full, low, high = rep["results"]
    assert full["prefill_speedup"] == 1.0 and low["flops_reduction"] > high["flops_reduction"] > 1.0
    assert "full tokens added" in rep["note"]


def test_bench_select_width_follows_the_backbone():
    rep = bench_select([("seats", 0.35)], windows=1, repeats=1, warmup=0, backbone="qwen3-omni-30b-a3b")
    assert rep["hidden"] == 2048
    assert bench_select([("seats", 0.35)], windows=1, repeats=1, warmup=0, hidden=64)["hidden"] == 64


def test_a_failing_method_is_a_row_not_a_lost_report(monkeypatch):
    from seats_eval.bench.profiling import failed
    from seats_eval.methods.seats import Seats

    def broken(self, ctx, plan):
        raise RuntimeError("planted")

    monkeypatch.setattr(Seats, "pre_llm", broken)
    rep = bench_prefill([("full", None), ("seats", 0.1)], windows=1, repeats=1, warmup=0, backbone="tiny")
    assert failed(rep) == ["seats"] and "planted" in rep["results"][1]["error"]
    assert rep["results"][0]["prefill_ms"]["n"] == 1


def test_bench_file_names_follow_the_backbone_and_device():
    # the name `seats-eval bench ... --out DIR` writes when no --tag is given
    from seats_eval.commands.bench import default_stem

    assert default_stem("select", "qwen2.5-omni-7b", "cpu") == "bench_select_cpu"
    assert default_stem("prefill", "qwen3-omni-30b-a3b", "cuda:0") == "bench_prefill_qwen3omni_cuda"
