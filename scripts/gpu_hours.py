"""GPU-hours of Tables 3 and 8 before and after prefix sharing: the arithmetic of
docs/gpu-hours.md, printed as its tables (`python scripts/gpu_hours.py`; the docs test
checks the page against it).

Inputs: the paper's Table 4 (Qwen2.5-Omni-7B on WorldSense, one A800: seconds per sample),
Table 6 (videos, questions and mean duration per benchmark) and the frame caps of Sec. 5.1;
the per-benchmark scaling of docs/regression.md; each method's share of its prefill that
precedes its first question-dependent layer, from its own selection loop (bench.flops).
"""

from __future__ import annotations

import sys
from pathlib import Path

from seats_eval.backbones.config import load_backbone_config
from seats_eval.bench.flops import (
    attention_width_from_cfg,
    geometry_from_cfg,
    layer_flops,
    prefill_flops_from_lengths,
    simulated_lengths,
)
from seats_eval.bench.profiling import method_options
from seats_eval.methods import build_method

BENCH = [  # name, videos, questions, mean duration s (paper Table 6), Qwen2.5 / Qwen3 frame caps
    ("WorldSense", 1662, 3172, 140.7, 128, 128), ("Daily-Omni", 684, 1197, 43.2, 128, 128),
    ("OmniVideoBench", 628, 1000, 409.0, 256, 196), ("Video-MME", 900, 2700, 1021.3, 768, 196),
    ("LVOmniBench", 275, 1014, 2069.7, 768, 196)]
IDS = {"Full tokens": "full", "FastV-om": "fastv_om", "FastV": "fastv", "Random": "random", "DyCoke": "dycoke",
       "VisionZip": "visionzip", "FastVID": "fastvid", "DivPrune": "divprune", "OmniZip": "omnizip",
       "VisionZip-om": "visionzip_om", "DivPrune-om": "divprune_om", "SEATS": "seats"}
T4 = {("SEATS", 35): 0.436, ("SEATS", 25): 0.342, ("SEATS", 10): 0.196, ("FastV-om", 35): 0.363,
      ("OmniZip", 35): 0.360, ("VisionZip-om", 35): 0.349, ("DivPrune-om", 35): 0.349}
FULL_PREFILL, FULL_TTFT, WS_TOKENS = 0.937, 1.471, 12_900
DECODE_Q = 0.05  # s per question: the answer's few tokens (assumption)
Q25 = load_backbone_config("qwen2.5-omni-7b")
D, Dkv, ffn, V, router = geometry_from_cfg(Q25)


def tokens(frames: int, dur: float, audio_per_s: int) -> int:
    """Tokens per sample, as docs/regression.md counts them."""
    return frames // 2 * 144 + int(min(dur, 300) * audio_per_s) + 150


def paper_flops(S: int) -> int:
    return prefill_flops_from_lengths([S] * 28, D, Dkv, ffn, V)


def p_of(name: str, R: int) -> float:
    """prefill of the method at R / full tokens' (Table 4; else stated interpolations)."""
    if name == "Full tokens":
        return 1.0
    if (name, R) in T4:
        return T4[(name, R)] / FULL_PREFILL
    if name == "SEATS" and R == 15:
        return (0.196 + (0.342 - 0.196) * 5 / 15) / FULL_PREFILL
    base = 0.363 if name in ("FastV", "FastV-om") else 0.349  # Table 4 at R = 35, scaled by R
    return base / FULL_PREFILL * R / 35


def shared_fraction(backbone: str, name: str, R: int, n_q: int = 100) -> tuple[float, int, int]:
    """Share of the method's prefill FLOPs (true convention) in the layers up to its first
    drop step (what prefix sharing shares: runtime/prefix.py), less its n_q question rows
    there, on a WorldSense-sized sample; (share, shared layers, layers)."""
    cfg = load_backbone_config(backbone)
    d, dkv, f, _, r = geometry_from_cfg(cfg)
    A = attention_width_from_cfg(cfg)
    opts = {} if name == "Full tokens" else method_options(IDS[name], R / 100)
    if name == "OmniZip" and R == 25:
        opts = {"R": 0.25, "R_v": 0.25, "R_a": 0.25}
    m = build_method(IDS[name], cfg, opts)
    n_text, windows = 150, 32
    plan = m.plan((n_text, windows * cfg.video_tokens_per_window, windows * cfg.audio_tokens_per_window))
    L = cfg.num_layers
    lengths = [sum(c) for c in plan.layers] if plan.layers is not None else simulated_lengths(m, cfg, n_text, windows)
    steps = m.drop_steps(L)
    last = min(s.after_layer for s in steps) if steps else L - 1
    fl = [layer_flops(S, d, dkv, f, r, A, causal=True) for S in lengths]
    # the question's own n_q rows are computed per question in the shared layers too
    shared = sum(x * (S - n_q) / S for x, S in zip(fl[: last + 1], lengths[: last + 1], strict=True))
    return shared / sum(fl), last + 1, L

def hours(per_bench: list[dict], p: float, share: float) -> float:
    """GPU-hours of one job: per video the shared part of the prefill once, per question the
    rest and the answer's decoding (media and encoders are counted once per sweep apart)."""
    return sum(b["videos"] * b["P"] * p * share + b["questions"] * (b["P"] * p * (1 - share) + DECODE_Q)
               for b in per_bench) / 3600


TABLES = (("qwen2.5-omni-7b", "Table 3", "table3_qwen25omni", 25, 4),
          ("qwen3-omni-30b-a3b", "Table 8", "table8_qwen3omni", 13, 5))


def compute(paper_dir: Path) -> dict:
    out = {}
    for backbone, label, csv_name, audio_per_s, cap_i in TABLES:
        rows = [line.split(",") for line in (paper_dir / f"{csv_name}.csv").read_text().splitlines()[1:]]
        per_bench = []
        for b in BENCH:
            frames = min(b[cap_i], int(2 * b[3]))
            tok = tokens(frames, b[3], audio_per_s)
            per_bench.append({"bench": b[0], "videos": b[1], "questions": b[2], "frames": frames, "tokens": tok,
                              "P": FULL_PREFILL * paper_flops(tok) / paper_flops(WS_TOKENS),
                              "M": (FULL_TTFT - FULL_PREFILL) * tok / WS_TOKENS + frames / 128})
        jobs = []
        for r in rows:
            name, R = r[1], int(r[2])
            s, shared_layers, L = shared_fraction(backbone, name, R)
            p = p_of(name, R)
            jobs.append({"method": name, "R": R, "p": p, "s": s, "layers": f"{shared_layers}/{L}",
                         "before": hours(per_bench, p, 0.0), "after": hours(per_bench, p, s)})
        media = sum(b["videos"] * b["M"] for b in per_bench) / 3600
        out[label] = {"backbone": backbone, "bench": per_bench, "jobs": jobs, "media": media,
                      **{k: media + sum(j[k] for j in jobs) for k in ("before", "after")}}
    return out


def markdown(out: dict) -> str:
    lines = []
    for label, o in out.items():
        lines += [f"### {label} ({o['backbone']}, {len(o['jobs'])} jobs)", "",
                  "| Benchmark | videos | questions | q / video | frames | tokens | P: full prefill s | "
                  "M: media + encoders s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {b['bench']} | {b['videos']:,} | {b['questions']:,} | {b['questions'] / b['videos']:.2f} | "
                  f"{b['frames']} | {b['tokens']:,} | {b['P']:.2f} | {b['M']:.2f} |" for b in o["bench"]]
        lines += ["", "| Method | R | p: prefill / full | shared layers | s: shared share of prefill | "
                      "GPU-h before | after |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {j['method']} | {j['R']} | {j['p']:.3f} | {j['layers']} | {j['s']:.3f} | {j['before']:.2f} | "
                  f"{j['after']:.2f} |" for j in o["jobs"]]
        m = f"{o['media']:.2f}"
        lines += [f"| media + encoders, once per video per sweep | | | | | {m} | {m} |",
                  f"| **{label} total** | | | | | **{o['before']:.1f}** | **{o['after']:.1f}** "
                  f"({o['after'] / o['before']:.2f}x) |", ""]
    return "\n".join(lines)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    paper = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "paper" / "tables"
    print(markdown(compute(paper)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
