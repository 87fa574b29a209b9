"""Efficiency measurement (paper Table 4): selection overhead, prefill, TTFT, peak memory.

Inputs are synthetic but sized like WorldSense: `windows` 2-s windows of 288 video + 50
audio tokens between a short system prefix and a question suffix. Weights are random
(cost does not depend on their values). Every ratio is taken against full tokens measured
in the same process, after warm-up, as the median over repeats (with min and max).
TTFT here = pre-LLM selection + prefill up to the first token; encoders are excluded
because synthetic embeddings skip them (stated in every output).
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from .budgets import load_backbone_config
from .flops import prefill_flops_from_lengths
from .layout import build_layout
from .methods import build_method
from .methods.base import DropStep, EncoderSignals, PreLLMContext

PREFIX_TOKENS, SUFFIX_TOKENS = 15, 40
VIDEO_ID, AUDIO_ID = 151656, 151646

# Narrow stand-in for CPU runs: the real layer count and token counts, head_dim 128.
CPU_PROXY = {"hidden_size": 256, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128,
             "intermediate_size": 1352, "vocab_size": 152064}


@dataclass
class Synthetic:
    input_ids: torch.Tensor  # (1, S)
    grid: torch.Tensor  # (1, 3)
    layout: Any


def synthetic_sample(windows: int, cfg: dict[str, Any], device: torch.device) -> Synthetic:
    n_v, n_a = int(cfg["video_tokens_per_window"]), int(cfg["audio_tokens_per_window"])
    per_grid = n_v // 2
    side = int(round((per_grid * 4) ** 0.5))
    block = [VIDEO_ID] * n_v + [AUDIO_ID] * n_a
    ids = [1] * PREFIX_TOKENS + block * windows + [2] * SUFFIX_TOKENS
    input_ids = torch.tensor([ids], device=device)
    grid = torch.tensor([[2 * windows, side, side]], device=device)
    layout = build_layout(input_ids, video_token_id=VIDEO_ID, audio_token_id=AUDIO_ID, video_grid_thw=grid,
                          audio_tokens_per_window=n_a, sample="synthetic")
    return Synthetic(input_ids, grid, layout)


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def parse_methods(spec: str) -> list[tuple[str, float | None]]:
    """'full,seats@0.35,fastv_om@0.35' -> [(id, R)]."""
    out = []
    for item in spec.split(","):
        name, _, r = item.strip().partition("@")
        out.append((name, float(r) if r else None))
    return out


def method_options(name: str, R: float | None) -> dict[str, Any]:
    """Options for a benchmark run: R, plus what a method needs to reach it (DyCoke keeps a
    whole frame in four, so its R_v cannot go below 25%)."""
    if R is None:
        return {}
    return {"R": R, "R_v": 0.25} if name == "dycoke" else {"R": R}


# --------------------------------------------------------------------------- bench select
def bench_select(methods: list[tuple[str, float | None]], windows: int = 32, hidden: int = 3584,
                 repeats: int = 20, warmup: int = 3, device: str = "cpu", backbone: str = "qwen2.5-omni-7b",
                 seed: int = 0) -> dict[str, Any]:
    """Stage I (pre_llm) and Stage II (score + in_llm per drop step) selection time."""
    dev = torch.device(device)
    cfg = load_backbone_config(backbone)
    llm = cfg["llm"]
    heads, kv, hd = int(llm["num_attention_heads"]), int(llm["num_key_value_heads"]), int(llm["head_dim"])
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(seed)
    syn = synthetic_sample(windows, cfg, dev)
    S = syn.layout.length
    embeds = torch.randn(S, hidden, generator=g).to(dev, dtype)
    sig = EncoderSignals(video_attn=torch.rand(S, generator=g).to(dev), audio_attn=torch.rand(S, generator=g).to(dev))
    wq = torch.randn(hidden, heads * hd, generator=g).to(dev, dtype) / hidden**0.5
    wk = torch.randn(hidden, kv * hd, generator=g).to(dev, dtype) / hidden**0.5
    from .runtime.attention import last_row_attention

    rows = []
    for name, R in methods:
        method = build_method(name, cfg, method_options(name, R))
        pre, inner = [], []
        for it in range(warmup + repeats):
            _sync(dev)
            t0 = time.perf_counter()
            keep = method.pre_llm(PreLLMContext(embeds, syn.layout, sig, "synthetic"))
            if isinstance(keep, tuple):
                keep = keep[0]
            _sync(dev)
            t1 = time.perf_counter()
            layout = syn.layout if keep is None else syn.layout.subset(torch.nonzero(keep).flatten())
            h = embeds if keep is None else embeds[keep]
            t_inner = 0.0
            for step in method.drop_steps(int(cfg["num_layers"])):
                _sync(dev)
                t2 = time.perf_counter()
                scores = None
                if step.score_source is not None:  # one query row: q_last and all keys
                    q = (h[-1:] @ wq).view(1, heads, 1, hd)
                    k = (h @ wk).view(1, -1, kv, hd).transpose(1, 2)
                    scores = last_row_attention(q, k)[0]
                m = method.in_llm(step, scores, layout)
                idx = torch.nonzero(m).flatten()
                layout, h = layout.subset(idx), h.index_select(0, idx)
                _sync(dev)
                t_inner += time.perf_counter() - t2
            if it >= warmup:
                pre.append((t1 - t0) * 1e3)
                inner.append(t_inner * 1e3)
        rows.append({"method": name, "R": R, "pre_llm_ms": _stats(pre), "inner_llm_ms": _stats(inner)})
    return {"bench": "select", "device": _device_name(dev), "windows": windows, "hidden": hidden,
            "tokens": S, "backbone": backbone, "repeats": repeats, "warmup": warmup, "results": rows}


# -------------------------------------------------------------------------- bench prefill
def build_bench_thinker(preset: str, cfg: dict[str, Any], device: torch.device, attn: str):
    """A random-init thinker with the backbone's LLM geometry ('full') or the narrow
    'cpu-proxy' geometry; encoders are tiny because synthetic embeddings bypass them."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from .tiny import build_qwen25_thinker_config

    geo = dict(cfg["llm"]) if preset == "full" else dict(CPU_PROXY)
    config = build_qwen25_thinker_config(num_layers=int(cfg["num_layers"]), hidden=geo["hidden_size"])
    tc = config.text_config
    for key in ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size",
                "vocab_size"):
        setattr(tc, key, int(geo[key]))
    half = geo["head_dim"] // 2
    tc.rope_parameters["mrope_section"] = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, attn_implementation=attn)
    finally:
        torch.set_default_dtype(prev)
    return model.eval()


def bench_prefill(methods: list[tuple[str, float | None]], preset: str = "cpu-proxy", windows: int = 32,
                  repeats: int = 3, warmup: int = 1, device: str = "cpu", backbone: str = "qwen2.5-omni-7b",
                  attn: str = "sdpa", seed: int = 0) -> dict[str, Any]:
    from .runtime.generate import make_adapter, run_prepared
    from .runtime.qwen2_5_omni import PreparedSample

    dev = torch.device(device)
    cfg = load_backbone_config(backbone)
    torch.manual_seed(seed)
    thinker = build_bench_thinker(preset, cfg, dev, attn)
    adapter = make_adapter(thinker)
    syn = synthetic_sample(windows, cfg, dev)
    S = syn.layout.length
    tc = thinker.config.text_config
    embeds = (torch.randn(1, S, tc.hidden_size, device=dev) * 0.02).to(thinker.dtype)
    positions = torch.arange(S, device=dev).view(1, 1, S).expand(3, 1, S)
    prep = PreparedSample(syn.input_ids, embeds, positions, torch.zeros(1, 1, dtype=torch.long, device=dev),
                          syn.layout, {})
    sig = EncoderSignals(video_attn=torch.rand(S, device=dev), audio_attn=torch.rand(S, device=dev))
    from .flops import geometry

    geo = geometry(tc)
    rows = []
    for name, R in methods:
        method = build_method(name, cfg, method_options(name, R))
        runs: dict[str, list[float]] = {"pre_llm_ms": [], "inner_llm_ms": [], "prefill_ms": [], "ttft_ms": []}
        peak = None
        lengths: list[int] = []
        for it in range(warmup + repeats):
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(dev)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
            t0 = time.perf_counter()
            res = run_prepared(adapter, prep, method, sig, max_new_tokens=1)
            if dev.type == "cuda":
                end.record()
                torch.cuda.synchronize(dev)
                total_ms = start.elapsed_time(end)
                peak = torch.cuda.max_memory_allocated(dev) / 2**30
            else:
                total_ms = (time.perf_counter() - t0) * 1e3
            t = res.record.timings
            if it >= warmup:
                runs["pre_llm_ms"].append(t["pre_llm_s"] * 1e3)
                runs["inner_llm_ms"].append(t["inner_select_s"] * 1e3)
                runs["prefill_ms"].append(t["prefill_s"] * 1e3)
                runs["ttft_ms"].append(total_ms)
            lengths = [sum(c) for c in res.record.layer_counts]
        rows.append({"method": name, "R": R, "tflops": prefill_flops_from_lengths(lengths, *geo) / 1e12,
                     "peak_mem_gb": peak, **{k: _stats(v) for k, v in runs.items()}})
    full = next((r for r in rows if r["method"] == "full"), None)
    if full is not None:
        for r in rows:
            r["prefill_speedup"] = full["prefill_ms"]["median"] / r["prefill_ms"]["median"]
            r["ttft_speedup"] = full["ttft_ms"]["median"] / r["ttft_ms"]["median"]
            r["flops_reduction"] = full["tflops"] / r["tflops"]
    return {"bench": "prefill", "preset": preset, "device": _device_name(dev), "windows": windows, "tokens": S,
            "backbone": backbone, "attn_implementation": attn, "repeats": repeats, "warmup": warmup,
            "geometry": {"hidden": geo[0], "kv_dim": geo[1], "intermediate": geo[2], "vocab": geo[3],
                         "layers": len(adapter.layers)},
            "note": "synthetic embeddings: encoders excluded from TTFT; random weights"
                    + ("; Inner-LLM ms is host time of the drop steps, which do not sync the GPU "
                       "(device time of the same selection: bench select)" if dev.type == "cuda" else ""),
            "results": rows}


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def markdown(report: dict[str, Any]) -> str:
    """Table-4-like markdown of a bench report."""
    def fmt(x, nd=1):
        return "–" if x is None else f"{x:.{nd}f}"

    if report["bench"] == "select":
        lines = [f"Selection time on {report['device']}, {report['windows']} windows "
                 f"({report['tokens']} tokens, hidden {report['hidden']}); median ms (min-max) over "
                 f"{report['repeats']} runs", "", "| Method | R | Pre-LLM ms | Inner-LLM ms |", "|---|---|---|---|"]
        for r in report["results"]:
            p, i = r["pre_llm_ms"], r["inner_llm_ms"]
            lines.append(f"| {r['method']} | {fmt(r['R'], 2)} | {fmt(p['median'], 2)} ({fmt(p['min'], 2)}-"
                         f"{fmt(p['max'], 2)}) | {fmt(i['median'], 2)} ({fmt(i['min'], 2)}-{fmt(i['max'], 2)}) |")
        return "\n".join(lines) + "\n"
    lines = [f"Prefill on {report['device']} ({report['preset']}, {report['geometry']['layers']} layers, hidden "
             f"{report['geometry']['hidden']}), {report['windows']} windows = {report['tokens']} tokens; "
             f"median of {report['repeats']} runs after {report['warmup']} warm-up. {report['note']}.", "",
             "| Method | R | TFLOPs | Peak GB | Pre-LLM ms | Inner-LLM ms | Prefill ms | TTFT ms |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(
            f"| {r['method']} | {fmt(r['R'], 2)} | {r['tflops']:.3f} ({r.get('flops_reduction', 1):.1f}x) | "
            f"{fmt(r['peak_mem_gb'], 2)} | {fmt(r['pre_llm_ms']['median'])} | {fmt(r['inner_llm_ms']['median'])} | "
            f"{fmt(r['prefill_ms']['median'])} ({r.get('prefill_speedup', 1):.2f}x) | "
            f"{fmt(r['ttft_ms']['median'])} ({r.get('ttft_speedup', 1):.2f}x) |")
    return "\n".join(lines) + "\n"


__all__ = ["bench_prefill", "bench_select", "markdown", "parse_methods", "DropStep"]
