"""`seats-eval demo`: the whole pipeline offline on the trained tiny model, ending in a summary.

Uses the trained tiny Qwen2.5-Omni of `seats-eval train-tiny` (committed under
seats_eval/data/tiny_trained/ and shipped in the wheel; found by seats_eval/io/resources.py; a
missing one is an error, never a silent swap for a random model), runs lmms-eval (through
`seats-eval eval`, whose exit status reports failures) on the "where" fixture questions with
full tokens, SEATS, Random and DivPrune-om at R = 0.25, and prints one table a person reads at
a glance (accuracy, kept tokens per stage, TFLOPs, prefill ms) plus the path of an
accuracy-vs-TFLOPs PNG. Exits non-zero when any run failed or left no accuracy or records.
A toy model: its ranking of methods is no evidence about real models.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError
from ..io.resources import resource, tasks_dir, work_dir

help = "offline demo: trained tiny model + generated clips + lmms-eval on the where questions, then a summary"

# 0-based decoder layer that sees what Stage II kept (tiny configs: boundaries [2, 4, 5, 7],
# Stage II drops after layers 1-3, Stage III after 5); the last layer sees Stage III's.
STAGE2_LAYER = 4
DEMO_MODELS = ("qwen25omni,seats_qwen25omni:R=0.25,random_qwen25omni:R=0.25,divprune_om_qwen25omni:R=0.25")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--artifacts", default=str(work_dir() / "artifacts"), help="where the clips go")
    p.add_argument("--out", default=str(work_dir() / "results" / "runs" / "demo"))
    p.add_argument("--task", default="seats_fixture_where_ci")
    p.add_argument("--models", default=DEMO_MODELS, help="comma list of id[:model_args] to run")
    p.add_argument("--model-dir", default=None,
                   help="a `seats-eval train-tiny --out` folder to run instead of the committed trained model")


def ensure_artifacts(artifacts: Path, model_dir: str | None = None) -> tuple[Path, Path, str | None]:
    """(model dir, clips dir, backbone config): `model_dir` (a train-tiny output) if given,
    else the committed trained tiny model; a missing one is a ConfigError naming it."""
    from ..toys.synth import make_clips
    from ..toys.train import BACKBONES

    if model_dir:
        d = Path(model_dir).resolve()
        marker = d / "seats_tiny.json"
        if not marker.is_file():
            raise ConfigError(f"--model-dir {d}: no seats_tiny.json (expected a `seats-eval train-tiny --out` folder)")
        backbone_config = json.loads(marker.read_text()).get("backbone_config")
    else:
        d = resource("tiny_trained", check=False) / "qwen2.5-omni"
        if not (d / "model.safetensors").is_file():
            raise ConfigError(f"demo: the trained tiny model is missing ({d / 'model.safetensors'}): train it with "
                              "`seats-eval train-tiny`, or pass --model-dir DIR (a train-tiny output)")
        backbone_config = BACKBONES["qwen2.5-omni"]
    clips = artifacts / "clips"
    if not (clips / "corrupt.mp4").exists():
        make_clips(clips)
    return d, clips, backbone_config


def run(args: argparse.Namespace) -> int:
    model_dir, clips, backbone_config = ensure_artifacts(Path(args.artifacts), args.model_dir)
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    status = 0
    runs = []
    for spec in args.models.split(","):
        model_id, _, extra = spec.partition(":")
        out = Path(args.out) / model_id
        model_args = f"pretrained={model_dir}" + (f",backbone_config={backbone_config}" if backbone_config else "")
        model_args += f",max_new_tokens=4{',' + extra if extra else ''}"
        env["SEATS_RECORD_DIR"] = str(out / "records")
        shutil.rmtree(out / "records", ignore_errors=True)  # the demo's own last rows: a rerun replaces them
        # `seats-eval eval`: lmms-eval's CLI with an exit status that reports a failed run
        cmd = [sys.executable, "-m", "seats_eval.cli", "eval", "--model", model_id, "--model_args", model_args,
               "--tasks", args.task, "--include_path", str(tasks_dir()), "--batch_size", "1",
               "--output_path", str(out), "--log_samples"]
        print("+", " ".join(cmd), flush=True)
        rc = subprocess.call(cmd, env=env)
        print(f"{model_id}: exit {rc}; results under {out}", flush=True)
        status = status or rc
        runs.append((model_id, extra, out))
    rows = [summarise(model_id, extra, out, args.task) for model_id, extra, out in runs]
    print_summary(rows, model_dir)
    incomplete = [r["model"] for r in rows if r["accuracy"] is None or not r["n"]]
    if incomplete:
        print(f"demo: FAILED: no accuracy or no per-sample records for {', '.join(incomplete)} (see the log above)",
              file=sys.stderr, flush=True)
        status = status or 1
    if any(r["accuracy"] is not None and r["tflops"] is not None for r in rows):
        png = tradeoff_png(rows, Path(args.out) / "tradeoff.png", model_dir.name)
        print(f"trade-off plot (accuracy vs prefill TFLOPs): {png}", flush=True)
    else:
        print("demo: no run gave accuracy and TFLOPs: no trade-off plot written", file=sys.stderr, flush=True)
    if status:
        print(f"demo: exit {status}: a run failed", file=sys.stderr, flush=True)
    return status


def summarise(model_id: str, extra: str, out: Path, task: str) -> dict:
    """One summary row from a run's results JSON and per-sample records."""
    from ..sweep.store import read_json, task_scores

    recs = []
    path = out / "records" / "records.jsonl"
    if path.is_file():
        recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    res_path = next(iter(sorted(out.rglob("*_results.json"))[-1:]), None) if out.exists() else None
    res = read_json(res_path) if res_path else None
    acc = task_scores(res).get(task) if res else None  # the task's named main metric

    def mean(values):
        values = [v for v in values if isinstance(v, (int, float))]
        return sum(values) / len(values) if values else None

    def kept(counts_key, idx=None):
        vals = []
        for r in recs:
            c = r.get(counts_key)
            if idx is not None and c:
                c = c[idx] if -len(c) <= idx < len(c) else None
            if c:
                vals.append(sum(c[1:]) if len(c) > 1 else c[0])  # media tokens (text excluded)
        return mean(vals)

    R = next((float(a.split("=")[1]) for a in extra.split(",") if a.startswith("R=")), 1.0)
    return {"model": model_id, "R": R, "accuracy": acc, "n": len(recs),
            "input": kept("input_counts"), "stage1": kept("llm_input_counts"),
            "stage2": kept("layer_counts", STAGE2_LAYER), "last_layer": kept("layer_counts", -1), "tflops": mean(r.get("tflops") for r in recs),
            "prefill_ms": None if not recs else 1000 * (mean((r.get("timings") or {}).get("prefill_s") for r in recs)
                                                       or 0.0)}


def print_summary(rows: list[dict], model_dir: Path) -> None:
    def f(v, spec):
        return "-" if v is None else format(v, spec)

    print(f"\n=== seats-eval demo summary: {model_dir.name} tiny model, {rows[0]['n'] if rows else 0} questions "
          "(a toy: no evidence about real models) ===")
    print("| method                  |    R | accuracy % | media tokens: in | Stage I | Stage II | Stage III | "
          "TFLOPs    | prefill ms |")
    print("|-------------------------|------|------------|------------------|---------|----------|-----------|"
          "-----------|------------|")
    for r in rows:
        print(f"| {r['model']:<23} | {r['R']:4.2f} | {f(r['accuracy'], '10.1f')} | {f(r['input'], '16.0f')} | "
              f"{f(r['stage1'], '7.0f')} | {f(r['stage2'], '8.0f')} | {f(r['last_layer'], '9.0f')} | "
              f"{f(r['tflops'], '9.2e')} | {f(r['prefill_ms'], '10.1f')} |")
    print(f"(video + audio tokens per sample, means: in = the clip's, Stage I = entering the LLM, Stage II = at "
          f"layer {STAGE2_LAYER + 1}, Stage III = at the last layer; TFLOPs: prefill, paper convention)", flush=True)


def tradeoff_png(rows: list[dict], path: Path, model: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in rows:
        if r["tflops"] is None or r["accuracy"] is None:
            continue
        ax.scatter(r["tflops"], r["accuracy"], s=40)
        ax.annotate(f"{r['model'].replace('_qwen25omni', '').replace('qwen25omni', 'full')} R={r['R']:g}",
                    (r["tflops"], r["accuracy"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(25, ls=":", color="grey", lw=0.8)
    ax.set_xlabel("prefill TFLOPs per sample")
    ax.set_ylabel("accuracy % (chance 25)")
    ax.set_title(f"demo trade-off: tiny model {model} (a toy)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
