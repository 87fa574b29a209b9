"""`seats-eval probe`: the layer-removal probe of Sec. 3.2 / Fig. 2.

For every modality m and 0-based layer p it runs lmms-eval with the `remove_at` method
(model id `remove_at_<backbone>`, model_args layer=p, modality=m), plus one full-token run
as the reference. The runs are the jobs of a sweep (seats_eval/sweep/runner.py: the same
locks, status files and result checks), in OUT/jobs/<key>/ (key `full` or `<m>_L<p>`): a
finished job is not rerun, so an interrupted probe resumes and a later call with more layers
or modalities extends it; OUT/settings.json pins what must not change between calls
(backbone, checkpoint, tasks, limit, extra model_args).

Outputs, rebuilt from every finished job on each call:
- OUT/probe.json: settings, the full-token score and one point per (modality, layer) with
  `layer` (p, 0-based: removed after this layer; -1 = before the LLM),
  `first_layer_without` (p + 2: the 1-based layer that first lacks the tokens, the x of the
  plot and of `seats_eval.backbones.calibrate`), per-task metrics and `score` (their mean);
- OUT/probe.csv: the same points as a table;
- OUT/probe.png: score versus layer per modality, the full-token score dashed (Fig. 2).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from ..backbones.config import BackboneConfig, load_backbone_config
from ..errors import ConfigError
from ..io.atomic import write_json_atomic
from ..io.resources import locate, tasks_dir
from ..sweep.jobs import Job
from ..sweep.spec import Sweep
from ..sweep.store import find_results_json, read_json, read_status

help = "layer-removal probe (Fig. 2): accuracy when all video/audio tokens are removed after layer l"

MODALITIES = ("video", "audio", "both")
# settings that change results: a probe directory holds runs of one combination only
PINNED = ("backbone", "pretrained", "tasks", "limit", "model_args", "model_suffix")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", default="qwen2.5-omni-7b", help="backbone config name or YAML path")
    p.add_argument("--pretrained", default=None, help="checkpoint (default: the config's `pretrained`)")
    p.add_argument("--tasks", required=True, help="comma-separated lmms-eval tasks")
    p.add_argument("--modalities", default="video,audio,both", help="comma list of video, audio, both")
    p.add_argument("--layers", default=None,
                   help="0-based layers after which the tokens go, e.g. '-1-26', '0,8,16-20' "
                        "(-1 = before the LLM; default: all, -1 .. L-2)")
    p.add_argument("--limit", type=int, default=None, help="samples per task (lmms-eval --limit)")
    p.add_argument("--out", required=True, help="probe directory (resumable)")
    p.add_argument("--model-args", default="", help="extra model_args appended to every run (k=v,k=v)")
    p.add_argument("--metric", default=None, help="metric name in the results JSON (default: the task's main_metric)")
    p.add_argument("--include-path", default=None,
                   help="lmms-eval --include_path (default: the packaged tasks, `seats-eval tasks-path`)")
    p.add_argument("--model-suffix", default=None, help="model id suffix (default: from the backbone)")
    p.add_argument("--no-full", action="store_true", help="skip the full-token reference run")
    p.add_argument("--no-plot", action="store_true", help="do not write probe.png")
    p.add_argument("--dry-run", action="store_true", help="print the lmms-eval commands only")


# ----------------------------------------------------------------------------- helpers


def parse_layers(spec: str | None, num_layers: int) -> list[int]:
    """'0-27', '-1-26', '0,4,8-10' -> sorted distinct ints; each must be in [-1, L-2]."""
    top = num_layers - 2
    if spec is None or not str(spec).strip():
        return list(range(-1, top + 1))
    out: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        m = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", part)
        if not m:
            raise ConfigError(f"--layers: cannot read {part!r}; use e.g. 0-26 or -1,4,8")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise ConfigError(f"--layers: empty range {part!r}")
        out.update(range(a, b + 1))
    bad = sorted(x for x in out if not -1 <= x <= top)
    if bad:
        raise ConfigError(
            f"--layers: {bad} outside [-1, {top}] for a {num_layers}-layer model (0-based layer after which the "
            f"tokens are removed; -1 = before the LLM; after the last layer nothing in the prefill changes)"
        )
    return sorted(out)


def parse_modalities(spec: str) -> list[str]:
    mods = [m for m in (x.strip() for x in spec.split(",")) if m]
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        raise ConfigError(f"--modalities: {bad or spec!r}; allowed: {', '.join(MODALITIES)}")
    return list(dict.fromkeys(mods))


def model_suffix(cfg: BackboneConfig, override: str | None = None) -> str:
    from ..backbones.families import get_family
    from ..models.registry import BACKBONE_SUFFIXES

    suffix = override or get_family(cfg.family).suffix
    if suffix not in BACKBONE_SUFFIXES:
        raise ConfigError(f"no lmms-eval model ids for suffix {suffix!r}; registered: {', '.join(BACKBONE_SUFFIXES)}")
    return suffix


def job_key(modality: str | None, layer: int | None) -> str:
    return "full" if modality is None else f"{modality}_L{layer}"


def extract_metrics(results: dict[str, Any], tasks: list[str], metric: str | None = None) -> dict[str, float]:
    """{task: value} from an lmms-eval results JSON: `metric`, else the task's main metric
    (sweep/store.py `main_metric`: the one its YAML names, never the first listed)."""
    from ..sweep.store import main_metric

    out: dict[str, float] = {}
    for task in tasks:
        res = results.get("results", {}).get(task)
        if res is None:
            raise ConfigError(f"results JSON has no task {task!r} (has: {sorted(results.get('results', {}))})")
        name = metric or main_metric(results, task)
        keys = sorted((k for k in res if k.split(",")[0] == name), key=lambda k: k != f"{name},none")
        value = res[keys[0]] if keys else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"task {task}: no numeric metric {name} in {sorted(res)}")
        out[task] = float(value)
    return out


def _atomic_json(path: Path, data: Any) -> None:
    write_json_atomic(path, data, indent=1)


def _extra_args(text: str) -> dict[str, str]:
    pairs = [kv.split("=", 1) for kv in text.split(",") if kv.strip()]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError(f"--model-args {text!r}: expected k=v,k=v")
    return {k.strip(): v.strip() for k, v in pairs}


def probe_sweep(settings: dict[str, Any], points: list[tuple[str | None, int | None]], out_dir: Path,
                include_path: str, lmms_eval_cmd: list[str] | None = None) -> Sweep:
    """The probe's runs as a sweep: one job per (modality, layer), (None, None) the full-token
    reference; `lmms_eval_cmd` replaces `seats-eval eval` (tests)."""
    suffix = settings["model_suffix"]
    base = {"pretrained": settings["pretrained"], "backbone_config": settings["backbone"]}
    extra = _extra_args(settings["model_args"])
    jobs = []
    for i, (mod, layer) in enumerate(points):
        own = {} if mod is None else {"layer": layer, "modality": mod}
        clash = sorted(set(extra) & {*base, *own})
        if clash:
            raise ConfigError(f"--model-args sets {', '.join(clash)}, which the probe sets itself")
        jobs.append(Job(index=i, name=job_key(mod, layer), model=suffix if mod is None else f"remove_at_{suffix}",
                        method="full" if mod is None else "remove_at", model_args={**base, **own, **extra},
                        tasks=tuple(settings["tasks"]), limit=settings["limit"], meta={"modality": mod, "layer": layer},
                        lmms_eval_args=("--batch_size", "1", "--log_samples", "--include_path", include_path)))
    clips = os.environ.get("SEATS_FIXTURE_CLIPS")
    return Sweep(name="probe", table=None, spec_path=out_dir / "settings.json", out=out_dir, table_out=out_dir,
                 backbone=suffix, backbone_config=settings["backbone"], tasks=tuple(settings["tasks"]),
                 task_set="custom", jobs=jobs, lmms_eval_cmd=lmms_eval_cmd, cache=False,
                 env={"SEATS_FIXTURE_CLIPS": clips} if clips else {})


def collect(out_dir: Path, settings: dict[str, Any], metric: str | None = None) -> dict[str, Any]:
    """probe.json content from every finished job under OUT/jobs (this call's and earlier ones')."""
    full, points = None, []
    for jdir in sorted(p for p in (out_dir / "jobs").glob("*") if p.is_dir()):
        st = read_status(jdir) or {}
        desc = read_json(jdir / "result" / "job.json")
        found = find_results_json(jdir / "result")
        if st.get("state") != "done" or not isinstance(desc, dict) or found is None:
            continue
        metrics = extract_metrics(read_json(found) or {}, settings["tasks"], metric)
        score = sum(metrics.values()) / len(metrics)
        mod, layer = desc["meta"]["modality"], desc["meta"]["layer"]
        if mod is None:
            full = {"metrics": metrics, "score": score}
        else:
            points.append({"modality": mod, "layer": layer, "first_layer_without": layer + 2, "metrics": metrics,
                           "score": score})
    order = {m: i for i, m in enumerate(MODALITIES)}
    points.sort(key=lambda p: (order.get(p["modality"], 9), p["layer"]))
    return {**{k: settings[k] for k in ("backbone", "num_layers", "pretrained", "tasks", "limit", "model_args")},
            "layer_convention": "layer = p: tokens removed after 0-based decoder layer p (-1: before the LLM); "
                                "first_layer_without = p + 2 (1-based)",
            "full": full, "points": points}


def write_outputs(out_dir: Path, probe: dict[str, Any], plot: bool = True) -> None:
    _atomic_json(out_dir / "probe.json", probe)
    tasks = probe["tasks"]
    with open(out_dir / "probe.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["modality", "layer", "first_layer_without", "score", *tasks])
        if probe["full"]:
            w.writerow(["full", "", "", probe["full"]["score"], *(probe["full"]["metrics"].get(t) for t in tasks)])
        for p in probe["points"]:
            w.writerow([p["modality"], p["layer"], p["first_layer_without"], p["score"],
                        *(p["metrics"].get(t) for t in tasks)])
    if plot and probe["points"]:
        plot_probe(probe, out_dir / "probe.png")


def plot_probe(probe: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    styles = {"video": ("tab:blue", "o"), "audio": ("tab:orange", "s"), "both": ("tab:green", "^")}
    for mod in MODALITIES:
        pts = [p for p in probe["points"] if p["modality"] == mod]
        if pts:
            color, marker = styles[mod]
            ax.plot([p["first_layer_without"] for p in pts], [p["score"] for p in pts], color=color,
                    marker=marker, ms=4, label=f"remove {mod}")
    if probe["full"]:
        ax.axhline(probe["full"]["score"], color="grey", ls="--", lw=1, label="full tokens")
    ax.set_xlabel("removal at layer l (1-based: layers >= l no longer see the tokens)")
    ax.set_ylabel("score" if len(probe["tasks"]) == 1 else "mean score")
    ax.set_xlim(0.5, probe["num_layers"] + 0.5)
    ax.set_title(f"{probe['backbone']}: {', '.join(probe['tasks'])}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _settings(args: argparse.Namespace, cfg: dict[str, Any]) -> dict[str, Any]:
    pretrained = args.pretrained or cfg.pretrained
    if not pretrained:
        raise ConfigError("--pretrained is required: the backbone config names no checkpoint")
    located = None if Path(pretrained).is_absolute() else locate(pretrained)
    if located is not None:  # a committed model named project-relative (seats_eval/data/...)
        pretrained = str(located)
    elif Path(pretrained).exists():
        pretrained = str(Path(pretrained).resolve())
    backbone = args.backbone
    if Path(backbone).suffix in (".yaml", ".yml"):
        backbone = str(Path(backbone).resolve())
    tasks = [t for t in (x.strip() for x in args.tasks.split(",")) if t]
    if not tasks:
        raise ConfigError("--tasks: give at least one task")
    return {"backbone": backbone, "num_layers": cfg.num_layers, "pretrained": pretrained,
            "tasks": tasks, "limit": args.limit, "model_args": args.model_args.strip().strip(","),
            "model_suffix": model_suffix(cfg, args.model_suffix)}


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_backbone_config(args.backbone)
        settings = _settings(args, cfg)
        layers = parse_layers(args.layers, settings["num_layers"])
        mods = parse_modalities(args.modalities)
        out_dir = Path(args.out)
        pinned = out_dir / "settings.json"
        if pinned.exists() and not args.dry_run:
            old = json.loads(pinned.read_text())
            diff = [k for k in PINNED if old.get(k) != settings.get(k)]
            if diff:
                raise ConfigError(f"{out_dir} holds a probe with other settings ({', '.join(diff)}: "
                                  f"{[old.get(k) for k in diff]} vs {[settings.get(k) for k in diff]}); use another --out")
        points: list[tuple[str | None, int | None]] = [] if args.no_full else [(None, None)]
        points += [(m, p) for m in mods for p in layers]
        sweep = probe_sweep(settings, points, out_dir, args.include_path or str(tasks_dir()))
    except ConfigError as exc:
        print(f"seats-eval probe: {exc}", file=sys.stderr)
        return 2
    from ..sweep.launchers import lmms_eval_argv
    from ..sweep.runner import run_sweep

    if not args.dry_run:
        _atomic_json(pinned, settings)
    if args.dry_run:
        for job in sweep.jobs:
            print(f"[probe] {job.name}: " + shlex.join(lmms_eval_argv(sweep, job, sweep.job_dir(job) / "output")))
        return 0
    report = run_sweep(sweep, progress=False, echo=lambda line: print(f"[probe] {line}", flush=True))
    failed = sum(o.state not in ("done", "skipped") for o in report.outcomes)
    probe = collect(out_dir, settings, args.metric)
    write_outputs(out_dir, probe, plot=not args.no_plot)
    print(f"[probe] {len(probe['points'])} points -> {out_dir / 'probe.json'}, probe.csv"
          + ("" if args.no_plot else ", probe.png") + (f"; {failed} job(s) failed" if failed else ""), flush=True)
    return 1 if failed else 0
