"""Efficiency measurement (paper Table 4): selection overhead, prefill, TTFT, peak memory.

Inputs are synthetic but sized like WorldSense: `windows` 2-s windows of 288 video + 50
audio tokens between a short system prefix and a question suffix. Weights are random
(cost does not depend on their values). Every ratio is taken against full tokens measured
in the same process, after warm-up, as the median over repeats (with min and max).
TTFT here = pre-LLM selection + prefill up to the first token; encoders are excluded
because synthetic embeddings skip them (stated in every output). Full tokens are always
timed in the same run (added when the method list lacks them): every ratio needs them.
The benchmark thinkers (real geometry or a CPU proxy) are built by bench_models.py. A
method that fails is recorded as a row with its error (the traceback goes to stderr) and the
others still run, so one short GPU run yields every figure it can.
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..backbones.config import BackboneConfig, load_backbone_config
from ..layout import VIDEO, build_layout
from ..methods import build_method
from ..methods.base import DropStep, EncoderSignals, PreLLMContext
from .flops import prefill_flops_from_lengths
from .models import build_bench_thinker

PREFIX_TOKENS, SUFFIX_TOKENS = 15, 40
VIDEO_ID, AUDIO_ID = 151656, 151646


@dataclass
class Synthetic:
    input_ids: torch.Tensor  # (1, S)
    grid: torch.Tensor  # (1, 3)
    layout: Any


def synthetic_sample(windows: int, cfg: BackboneConfig, device: torch.device) -> Synthetic:
    n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
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


def _guarded(name: str, R: float | None, measure) -> dict[str, Any]:
    """measure() as a result row, or a row with the error when it raises (traceback to stderr)."""
    try:
        return {"method": name, "R": R, **measure()}
    except Exception as exc:  # a benchmark row, not a result: recorded, shown, non-zero exit
        traceback.print_exc(file=sys.stderr)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return {"method": name, "R": R, "error": f"{type(exc).__name__}: {exc}"[:500]}


def parse_methods(spec: str) -> list[tuple[str, float | None]]:
    """'full,seats@0.35,fastv_om@0.35' -> [(id, R)]."""
    out = []
    for item in spec.split(","):
        name, _, r = item.strip().partition("@")
        out.append((name, float(r) if r else None))
    return out


def with_full(methods: list[tuple[str, float | None]]) -> tuple[list[tuple[str, float | None]], bool]:
    """The method list with full tokens first when it lacks them (the reference of every
    ratio, timed in the same run), and whether they were added."""
    if any(name == "full" for name, _ in methods):
        return methods, False
    return [("full", None), *methods], True


def method_options(name: str, R: float | None) -> dict[str, Any]:
    """Options for a benchmark run: R, plus what a method needs to reach it (DyCoke keeps a
    whole frame in four, so its R_v cannot go below 25%)."""
    if R is None:
        return {}
    return {"R": R, "R_v": 0.25} if name == "dycoke" else {"R": R}


# --------------------------------------------------------------------------- bench select
def selection_inputs(windows: int, cfg: BackboneConfig, hidden: int, dev: torch.device,
                     seed: int = 0) -> tuple[Synthetic, torch.Tensor, EncoderSignals, torch.Generator]:
    """A synthetic WorldSense-sized sample, random embeddings (S, hidden) in the model's
    dtype (bf16 on a GPU, fp32 on a CPU), random Stage I signals, and the seeded generator
    that drew them (callers draw their other tensors from it)."""
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(seed)
    syn = synthetic_sample(windows, cfg, dev)
    S = syn.layout.length
    embeds = torch.randn(S, hidden, generator=g).to(dev, dtype)
    sig = EncoderSignals(video_attn=torch.rand(S, generator=g).to(dev), audio_attn=torch.rand(S, generator=g).to(dev))
    return syn, embeds, sig, g


def projection_scores(wq: torch.Tensor, wk: torch.Tensor, heads: int, kv: int, hd: int):
    """A drop step's last-text-token scores from the carried rows, standing in for the layer
    the runtime re-projects (random q/k weights of the backbone's width; no norm, no rotary):
    one query row against every key, in the model's dtype when the step asks for it."""
    from ..runtime.attention import last_row_attention

    def scores(step: DropStep, layout: Any, h: torch.Tensor | None) -> torch.Tensor | None:
        if step.score_source is None or h is None:
            return None
        q = (h[-1:] @ wq).view(1, heads, 1, hd)
        k = (h @ wk).view(1, -1, kv, hd).transpose(1, 2)
        return last_row_attention(q, k, model_dtype=step.model_dtype)[0]

    return scores


def adapter_scores(adapter: Any):
    """A drop step's scores as the runtime takes them, from the carried rows and the real
    layer's norm and q/k projections (the layer after the step for `next_layer`, else the
    step's own); rotary omitted (a few elementwise ops on q and k)."""
    from ..runtime.attention import last_row_attention

    def scores(step: DropStep, layout: Any, h: torch.Tensor | None) -> torch.Tensor | None:
        if step.score_source is None or h is None:
            return None
        layer = adapter.layers[step.after_layer + (step.score_source == "next_layer")]
        q, k = adapter.project_qk(layer.self_attn, layer.input_layernorm(h[None]))
        return last_row_attention(q, k, layer.self_attn.scaling, model_dtype=step.model_dtype)[0]

    return scores


class StepClock:
    """`clock` for runtime.selection.run_selection: ms per label, device-synced wall time on
    an accelerator, process CPU time on a CPU (a shared machine's other load does not count;
    what every torch thread spent does)."""

    def __init__(self, dev: torch.device) -> None:
        self.dev = dev
        self.now = time.perf_counter if dev.type == "cuda" else time.process_time
        self.ms: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, label: str) -> Iterator[None]:
        _sync(self.dev)
        t0 = self.now()
        yield
        _sync(self.dev)
        self.ms[label] = self.ms.get(label, 0.0) + (self.now() - t0) * 1e3


def bench_select(methods: list[tuple[str, float | None]], windows: int = 32, hidden: int | None = None,
                 repeats: int = 20, warmup: int = 3, device: str = "cpu", backbone: str = "qwen2.5-omni-7b",
                 seed: int = 0) -> dict[str, Any]:
    """Stage I (plan + pre_llm + its cut) and Stage II (scores + the drop step's selection)
    time, on embeddings of the backbone's width (`hidden` overrides it), through the
    runtime's own selection loop (runtime/selection.py: kept_counts, in_llm, the index rule),
    each part between device syncs: selection alone, apart from any layer compute."""
    from ..runtime.selection import run_selection

    dev = torch.device(device)
    cfg = load_backbone_config(backbone)
    llm = cfg.llm
    hidden = int(hidden or llm.hidden_size)
    heads, kv, hd = llm.num_attention_heads, llm.num_key_value_heads, llm.head_dim
    syn, embeds, sig, g = selection_inputs(windows, cfg, hidden, dev, seed)
    S, dtype = syn.layout.length, embeds.dtype
    wq = torch.randn(hidden, heads * hd, generator=g).to(dev, dtype) / hidden**0.5
    wk = torch.randn(hidden, kv * hd, generator=g).to(dev, dtype) / hidden**0.5
    scores = projection_scores(wq, wk, heads, kv, hd)
    ctx = PreLLMContext(embeds, syn.layout, sig, "synthetic")

    def measure(name: str, R: float | None) -> dict[str, Any]:
        method = build_method(name, cfg, method_options(name, R))
        pre, inner = [], []
        for it in range(warmup + repeats):
            clock = StepClock(dev)
            run_selection(method, ctx, cfg.num_layers, scores, embeds, clock)
            if it >= warmup:
                pre.append(clock.ms.pop("pre_llm"))
                inner.append(sum(clock.ms.values()))
        return {"pre_llm_ms": _stats(pre), "inner_llm_ms": _stats(inner),
                "profile": method.describe().get("profile")}

    rows = [_guarded(name, R, lambda name=name, R=R: measure(name, R)) for name, R in methods]
    return {"bench": "select", "device": _device_name(dev), "windows": windows, "hidden": hidden,
            "tokens": S, "backbone": backbone, "repeats": repeats, "warmup": warmup,
            "timed_by": "wall ms between device syncs" if dev.type == "cuda" else "process CPU ms",
            "loop": "runtime.selection.run_selection (the runtime's drop rule)", "results": rows}


# -------------------------------------------------------------------------- bench prefill
def synthetic_prepared(thinker: Any, cfg: BackboneConfig, windows: int, dev: torch.device):
    """A PreparedSample of WorldSense size with random embeddings (and, for a DeepStack
    backbone, one random feature row per video token and DeepStack layer, so the runtime's
    DeepStack additions are timed too) plus random Stage I signals."""
    from ..adapters.base import PreparedSample

    syn = synthetic_sample(windows, cfg, dev)
    S = syn.layout.length
    D = thinker.config.text_config.hidden_size
    embeds = (torch.randn(1, S, D, device=dev) * 0.02).to(thinker.dtype)
    positions = torch.arange(S, device=dev).view(1, 1, S).expand(3, 1, S)
    extra: dict[str, Any] = {}
    n_deep = len(getattr(thinker.config.vision_config, "deepstack_visual_indexes", None) or [])
    if n_deep:
        n_video = syn.layout.count(VIDEO)
        extra["deepstack"] = [(torch.randn(n_video, D, device=dev) * 0.02).to(thinker.dtype) for _ in range(n_deep)]
    prep = PreparedSample(syn.input_ids, embeds, positions, torch.zeros(1, 1, dtype=torch.long, device=dev),
                          syn.layout, extra)
    sig = EncoderSignals(video_attn=torch.rand(S, device=dev), audio_attn=torch.rand(S, device=dev))
    return prep, sig


def _profile(adapter: Any, prep: Any, method: Any, sig: Any, dev: torch.device, rows: int = 12) -> list[dict]:
    """Where one TTFT run's time goes: the top ops by self device time (CPU time on a CPU)."""
    from torch.profiler import ProfilerActivity, profile

    from ..runtime.generate import run_prepared

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        run_prepared(adapter, prep, method, sig, max_new_tokens=1)
        _sync(dev)

    def self_us(e) -> float:  # `self_cuda_time_total` before torch 2.4
        if dev.type != "cuda":
            return float(e.self_cpu_time_total)
        return float(getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0.0))

    events = sorted((e for e in prof.key_averages() if self_us(e) > 0), key=self_us, reverse=True)
    total = sum(self_us(e) for e in events) or 1.0
    return [{"op": e.key[:90], "ms": self_us(e) / 1e3, "share": self_us(e) / total, "calls": e.count}
            for e in events[:rows]]


def bench_prefill(methods: list[tuple[str, float | None]], preset: str = "cpu-proxy", windows: int = 32,
                  repeats: int = 3, warmup: int = 1, device: str = "cpu", backbone: str = "qwen2.5-omni-7b",
                  attn: str = "sdpa", seed: int = 0, profile: bool = False) -> dict[str, Any]:
    """Prefill, TTFT, peak memory and selection time per method, full tokens included.
    `profile`: also record the top ops of one run of full tokens and of the lowest-R SEATS."""
    from ..driver import SamplePipeline
    from ..runtime.generate import run_prepared
    from ..runtime.selection import run_selection
    from .flops import attention_width, geometry

    methods, full_added = with_full(methods)
    dev = torch.device(device)
    cfg = load_backbone_config(backbone)
    torch.manual_seed(seed)
    thinker, facts = build_bench_thinker(preset, cfg, dev, attn)
    adapter = SamplePipeline(thinker).adapter  # with the attention wrapper the score probes need
    prep, sig = synthetic_prepared(thinker, cfg, windows, dev)
    S = prep.layout.length
    tc = thinker.config.text_config
    geo, attn_width = geometry(tc), attention_width(tc)
    scores = adapter_scores(adapter)
    ctx = PreLLMContext(prep.inputs_embeds[0], prep.layout, sig, "synthetic")

    def measure(name: str, R: float | None) -> dict[str, Any]:
        method = build_method(name, cfg, method_options(name, R))
        runs: dict[str, list[float]] = {"pre_llm_ms": [], "inner_llm_ms": [], "prefill_ms": [], "ttft_ms": []}
        alone: dict[str, list[float]] = {"stage1_ms": [], "drop_steps_ms": []}
        peak = None
        lengths: list[int] = []
        if dev.type == "cuda":  # once, outside the timed runs: a fresh cudaMalloc is no part of a prefill
            torch.cuda.empty_cache()
        for it in range(warmup + repeats):
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)  # statistics only: the cached blocks stay
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
            # the same selection alone (no layer runs): Stage I and each drop step between
            # device syncs, so no queued layer is counted as selection
            with torch.no_grad():
                clock = StepClock(dev)
                run_selection(method, ctx, len(adapter.layers), scores, prep.inputs_embeds[0], clock)
            t = res.record.timings
            if it >= warmup:
                runs["pre_llm_ms"].append(t["pre_llm_s"] * 1e3)
                runs["inner_llm_ms"].append(t["inner_select_s"] * 1e3)
                runs["prefill_ms"].append(t["prefill_s"] * 1e3)
                runs["ttft_ms"].append(total_ms)
                alone["stage1_ms"].append(clock.ms.pop("pre_llm"))
                alone["drop_steps_ms"].append(sum(clock.ms.values()))
            lengths = [sum(c) for c in res.record.layer_counts]
        return {"tflops": prefill_flops_from_lengths(lengths, *geo) / 1e12,
                "tflops_true": prefill_flops_from_lengths(lengths, *geo, attn=attn_width, convention="true") / 1e12,
                "peak_mem_gb": peak, "selection_alone": {k: _stats(v) for k, v in alone.items()},
                **{k: _stats(v) for k, v in runs.items()}}

    rows = [_guarded(name, R, lambda name=name, R=R: measure(name, R)) for name, R in methods]
    full = next(r for r in rows if r["method"] == "full")
    for r in rows:
        if "error" in r or "error" in full:
            continue
        r["prefill_speedup"] = full["prefill_ms"]["median"] / r["prefill_ms"]["median"]
        r["ttft_speedup"] = full["ttft_ms"]["median"] / r["ttft_ms"]["median"]
        r["flops_reduction"] = full["tflops"] / r["tflops"]
        r["flops_reduction_true"] = full["tflops_true"] / r["tflops_true"]
    report: dict[str, Any] = {
        "bench": "prefill", "preset": preset, "device": _device_name(dev), "windows": windows, "tokens": S,
        "backbone": backbone, "attn_implementation": attn, "repeats": repeats, "warmup": warmup,
        "geometry": {"hidden": geo[0], "kv_dim": geo[1], "intermediate": geo[2], "vocab": geo[3],
                     "layers": len(adapter.layers), "experts": geo[4]},
        "model": facts, "full_added": full_added,
        "versions": {"torch": torch.__version__, "transformers": _version("transformers")},
        "note": "synthetic embeddings: encoders excluded from TTFT; random weights"
                + ("; full tokens added as the reference of the ratios" if full_added else "")
                + "; FLOPs ratios in the paper's convention (full square, lm_head on every kept row) and the "
                  "true one (the work run: causal attention over kept keys, lm_head on the last position); "
                  "Selection alone = the same selection through the runtime's loop with no layer run, each "
                  "part between device syncs (drop-step scores from the real layers' q/k, no rotary)"
                + ("; peak memory = thinker weights (LLM + encoders) + LLM prefill activations; in-prefill "
                   "drop-step ms is host time inside the prefill: a drop step that reads the device (the "
                   "official profile) waits there for every queued layer, so it is no selection figure"
                   if dev.type == "cuda" else ""),
        "results": rows}
    if profile:
        seats = sorted((r for r in methods if r[0] == "seats" and r[1] is not None), key=lambda r: r[1])
        report["profile"], report["profile_time"] = {}, "self CUDA time" if dev.type == "cuda" else "self CPU time"
        for name, R in [("full", None), *seats[:1]]:
            label = name if R is None else f"{name}@{R:g}"
            row = _guarded(name, R, lambda name=name, R=R: {
                "ops": _profile(adapter, prep, build_method(name, cfg, method_options(name, R)), sig, dev)})
            report["profile"][label] = row.get("ops") or [{"op": row["error"], "ms": 0.0, "share": 0.0, "calls": 0}]
    return report


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def failed(report: dict[str, Any]) -> list[str]:
    """Methods whose measurement raised."""
    return [r["method"] for r in report["results"] if "error" in r]


__all__ = ["bench_prefill", "bench_select", "failed", "parse_methods", "with_full", "DropStep"]
