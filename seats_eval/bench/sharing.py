"""`seats-eval bench sharing`: what prefix sharing (runtime/prefix.py) saves per question, at
1, 2, 3 questions per video (issue 28).

The bench thinker (`--preset`: cpu-proxy on a CPU) and a synthetic WorldSense-shaped sample
(bench/profiling.synthetic_prepared); each "question" is the same media with its own random
question embeddings after the media (bench/profiling.SUFFIX_TOKENS tokens). For k questions:
k prefills run alone, then k through one SharedPrefix (the first fills it, the others run
their suffix only); the figure is milliseconds per question, the median over the repeats:
on a CPU the process CPU time of one thread for Stage I + prefill + first token (wall time on
a shared machine drifts with its load), on a GPU the prefill's wall time. Methods with in-LLM
drop steps share the layers up to their first drop (SEATS: its shallow block; FastV(-om): the
first K layers). Table 4 timings (`bench prefill`) never share.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import torch

from ..backbones.config import load_backbone_config
from ..methods import build_method
from .profiling import _device_name, method_options, synthetic_prepared


def bench_sharing(methods: list[tuple[str, float | None]], questions: tuple[int, ...] = (1, 2, 3),
                  preset: str = "cpu-proxy", windows: int = 8, repeats: int = 3, warmup: int = 1,
                  device: str = "cpu", backbone: str = "qwen2.5-omni-7b", attn: str = "sdpa",
                  seed: int = 0) -> dict[str, Any]:
    """Per-question prefill ms alone and with sharing, per method and questions per video."""
    from ..driver import SamplePipeline
    from ..runtime.generate import run_prepared
    from ..runtime.prefix import SharedPrefix, media_end
    from .models import build_bench_thinker

    dev = torch.device(device)
    if dev.type == "cpu":
        torch.set_num_threads(1)  # process CPU time of one thread: steady on a loaded machine
    cfg = load_backbone_config(backbone)
    torch.manual_seed(seed)
    thinker, facts = build_bench_thinker(preset, cfg, dev, attn)
    adapter = SamplePipeline(thinker).adapter
    prep, sig = synthetic_prepared(thinker, cfg, windows, dev)
    end = media_end(prep.layout)
    asked = []
    for _ in range(max(questions)):  # the same media, another question
        embeds = prep.inputs_embeds.clone()
        embeds[:, end:] = (torch.randn_like(embeds[:, end:].float()) * 0.02).to(embeds.dtype)
        asked.append(replace(prep, inputs_embeds=embeds))

    def prefill_ms(method: Any, k: int, shared: SharedPrefix | None) -> tuple[float, int]:
        total, spared = 0.0, 0
        for q in asked[:k]:
            t0 = time.process_time()
            res = run_prepared(adapter, q, method, sig, max_new_tokens=1, shared=shared)
            total += time.process_time() - t0 if dev.type == "cpu" else res.record.timings["prefill_s"]
            spared += res.extras["shared_tokens"]
        return total * 1e3 / k, spared

    rows = []
    for name, R in methods:
        method = build_method(name, cfg, method_options(name, R))
        for k in questions:
            alone, shared, spared = [], [], 0
            for it in range(warmup + repeats):
                a, _ = prefill_ms(method, k, None)
                prefix = SharedPrefix()
                s, spared = prefill_ms(method, k, prefix)
                if it >= warmup:
                    alone.append(a)
                    shared.append(s)
            a, s = statistics.median(alone), statistics.median(shared)
            rows.append({"method": name, "R": R, "questions": k, "alone_ms": a, "shared_ms": s, "ratio": s / a,
                         "shared_tokens_per_question": spared / k, "prefix_mb": prefix.nbytes() / 2**20})
    return {"bench": "sharing", "device": _device_name(dev), "preset": preset, "backbone": backbone,
            "windows": windows, "tokens": prep.layout.length, "media_prefix": end, "repeats": repeats,
            "warmup": warmup, "facts": facts,
            "measure": ("CPU ms (1 thread, process time: Stage I + prefill + first token)" if dev.type == "cpu"
                        else "prefill ms"), "when": time.strftime("%Y-%m-%d"), "results": rows}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Prefix sharing on {report['backbone']} ({report['preset']}, {report['device']}): "
             f"{report['windows']} windows = {report['tokens']} tokens, media prefix {report['media_prefix']}; "
             f"{report['measure']} per question, median of {report['repeats']} runs after {report['warmup']} "
             "warm-up; "
             "random weights, synthetic embeddings.", "",
             "| Method | R | questions per video | alone ms | shared ms | shared / alone | tokens shared per question "
             "| prefix held MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        R = "–" if r["R"] is None else f"{r['R']:.2f}"
        lines.append(f"| {r['method']} | {R} | {r['questions']} | {r['alone_ms']:.1f} | {r['shared_ms']:.1f} | "
                     f"{r['ratio']:.2f} | {r['shared_tokens_per_question']:.0f} | {r['prefix_mb']:.1f} |")
    return "\n".join(lines) + "\n"
