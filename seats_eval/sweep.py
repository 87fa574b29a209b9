"""Sweeps: method x R (x mode, x lambda, x switches) x tasks as lmms-eval jobs, resumable.

A sweep spec (YAML, `model_configs/sweeps/*.yaml`) lists the backbone, the tasks, common
model args and the jobs; each job is ONE lmms-eval run (all the spec's tasks) with its own
directory:

    <out>/jobs/<job name>/
        status.json     state: running | done | failed | skipped, the error, timings (atomic)
        job.json        the job's settings and their hash (`key`)
        attempt/        the run in progress: output/ (lmms-eval --output_path), records/
                        (SEATS_RECORD_DIR: records.jsonl, failures.jsonl), log.txt
        result/         the same, moved here (one rename) once the run has finished and its
                        results JSON holds every task
        .lock           flock held while a process works on the job

Resuming: a job whose status is `done` with the same settings hash is skipped; a job killed
mid-way (its status still says `running` but nobody holds its lock) is restarted from a clean
`attempt/` (the orphaned lmms-eval processes of that attempt are killed first); a finished
result is never replaced unless `--force`; a finished result with different settings is
reported as a conflict. Failed jobs are retried on the next run. A job that fails is recorded
with its error and the sweep goes on; the exit code says whether every job is done.

Scale-out uses existing engines only: `launcher: accelerate` runs each job through
`accelerate launch --num_processes N -m lmms_eval` (lmms-eval's own data-parallel path);
`--slurm` writes an sbatch array script, one array task per job, each calling
`seats-eval sweep --spec ... --job-index $SLURM_ARRAY_TASK_ID`.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO / "model_configs" / "sweeps"

# The paper's five benchmarks, in its column order; task names are seats_<bench> and the
# offline twins seats_fixture_<bench>.
BENCHMARKS: tuple[str, ...] = ("worldsense", "dailyomni", "omnivideobench", "videomme", "lvomnibench")
BENCHMARK_LABELS: dict[str, str] = {
    "worldsense": "WorldSense",
    "dailyomni": "Daily-Omni",
    "omnivideobench": "OmniVideoBench",
    "videomme": "Video-MME",
    "lvomnibench": "LVOmniBench",
}
# method id (lmms-eval id prefix) -> the paper's row label
METHOD_LABELS: dict[str, str] = {
    "full": "Full tokens",
    "seats": "SEATS",
    "random": "Random",
    "fastv": "FastV",
    "fastv_om": "FastV-om",
    "visionzip": "VisionZip",
    "visionzip_om": "VisionZip-om",
    "divprune": "DivPrune",
    "divprune_om": "DivPrune-om",
    "dycoke": "DyCoke",
    "fastvid": "FastVID",
    "omnizip": "OmniZip",
}
STATES = ("pending", "running", "done", "failed", "skipped")
LAUNCHERS = ("local", "accelerate")
_SPEC_KEYS = {
    "name", "table", "description", "base", "backbone", "backbone_config", "out", "table_out",
    "tasks", "model_args", "lmms_eval_args", "lmms_eval_cmd", "limit", "launcher", "num_processes",
    "main_process_port", "env", "cache", "unregistered", "tiny", "select", "jobs", "slurm",
    "scores_from", "method_args",
}
_JOB_KEYS = {"method", "R", "mode", "lam", "args", "name", "row", "label"}


# ---------------------------------------------------------------------------------------
# Spec -> jobs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One lmms-eval run: a model id + model args over the sweep's tasks."""

    index: int
    name: str
    model: str
    method: str
    model_args: dict[str, Any]
    tasks: tuple[str, ...]
    limit: float | None
    meta: dict[str, Any]
    lmms_eval_args: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Hash of everything that decides the job's results (not how it is launched)."""
        payload = {"model": self.model, "model_args": self.model_args, "tasks": list(self.tasks),
                   "limit": self.limit, "lmms_eval_args": list(self.lmms_eval_args)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "model": self.model, "method": self.method,
                "model_args": self.model_args, "tasks": list(self.tasks), "limit": self.limit,
                "lmms_eval_args": list(self.lmms_eval_args), "meta": self.meta, "key": self.key}


@dataclass
class Sweep:
    """A loaded spec: where results go, how to launch, and the expanded jobs."""

    name: str
    table: str | None
    spec_path: Path
    out: Path
    table_out: Path
    backbone: str
    backbone_config: str | None
    tasks: tuple[str, ...]
    task_set: str
    jobs: list[Job]
    lmms_eval_cmd: list[str] | None = None
    launcher: str = "local"
    num_processes: int = 1
    main_process_port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    cache: bool = True  # encoder-feature cache for every job (see seats_eval/feature_cache.py)
    unregistered: str = "fail"
    tiny: bool = False
    artifacts: Path = REPO / "artifacts"
    limit: float | None = None
    slurm: dict[str, Any] = field(default_factory=dict)
    scores_from: Path | None = None
    overrides: list[str] = field(default_factory=list)  # CLI flags to repeat in a Slurm script

    def job_dir(self, job: Job) -> Path:
        return self.out / "jobs" / job.name


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"sweep spec {path}: no such file") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"sweep spec {path}: expected a mapping at the top level")
    return data


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in child.items():
        if k in ("model_args", "env", "slurm", "method_args") and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = copy.deepcopy(v)
    out.pop("base", None)
    return out


def _load_raw(path: Path, depth: int = 0) -> dict[str, Any]:
    data = _read_yaml(path)
    if "base" in data:  # one spec, or a list merged in order (a spec, then shared settings)
        if depth > 4:
            raise ConfigError(f"sweep spec {path}: `base` nests too deep")
        merged: dict[str, Any] = {}
        for b in _as_list(data["base"]):
            merged = _merge(merged, _load_raw((path.parent / str(b)).resolve(), depth + 1))
        data = _merge(merged, data)
    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        raise ConfigError(f"sweep spec {path}: unknown key(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(sorted(_SPEC_KEYS))}")
    return data


def resolve_spec_path(spec: str | os.PathLike[str]) -> Path:
    """A spec path, or a bare name looked up in model_configs/sweeps/."""
    p = Path(spec)
    if p.is_file():
        return p.resolve()
    for cand in (SPEC_DIR / p, SPEC_DIR / f"{p}.yaml"):
        if cand.is_file():
            return cand.resolve()
    raise ConfigError(f"sweep spec {spec!r}: no such file (specs live in {SPEC_DIR})")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return [None]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _pct(x: float | None) -> int | None:
    return None if x is None else int(round(float(x) * 100))


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):  # lmms-eval splits model args on commas: 16-19-21-24
        return "-".join(_fmt_value(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-")


def map_tasks(tasks: Sequence[str], task_set: str | None) -> tuple[tuple[str, ...], str]:
    """Apply a `--tasks` override: 'fixtures' (offline twins), 'benchmarks' (real tasks) or a
    comma list. Returns (tasks, the set's name for the output directory)."""
    tasks = tuple(tasks)
    if not task_set:
        return tasks, ("fixtures" if all(t.startswith("seats_fixture_") for t in tasks) else "benchmarks")
    if task_set == "fixtures":
        return tuple(t if t.startswith("seats_fixture_") else t.replace("seats_", "seats_fixture_", 1)
                     for t in tasks), "fixtures"
    if task_set == "benchmarks":
        return tuple(t.replace("seats_fixture_", "seats_", 1) for t in tasks), "benchmarks"
    custom = tuple(t.strip() for t in task_set.split(",") if t.strip())
    if not custom:
        raise ConfigError("--tasks: empty task list")
    return custom, "custom"


def benchmark_of(task: str) -> str:
    """seats_fixture_worldsense / seats_worldsense -> worldsense."""
    return task.removeprefix("seats_fixture_").removeprefix("seats_")


def _subst(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in mapping.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _subst(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_subst(v, mapping) for v in value]
    return value


def _local_path(value: str) -> str:
    """Spec-relative local paths (artifacts/..., ./...) become absolute under the repo."""
    if os.path.isabs(value) or "://" in value:
        return value
    cand = REPO / value
    if value.startswith(("./", "../", "artifacts")) or cand.exists():
        return str(cand.resolve())
    return value


def _budget_meta(method: str, R: float | None, mode: str | None, args: dict[str, Any],
                 backbone_config: str | None) -> dict[str, Any]:
    """R, R_v, R_a in % as the model will use them (None where they cannot be resolved)."""
    if method == "full":
        return {"R": 100, "R_v": 100, "R_a": 100}
    if R is None:
        return {"R": None, "R_v": None, "R_a": None}
    meta = {"R": _pct(R), "R_v": _pct(args.get("R_v")), "R_a": _pct(args.get("R_a"))}
    if backbone_config:
        try:
            from .budgets import load_backbone_config, resolve_budget

            cfg = load_backbone_config(backbone_config)
            b = resolve_budget(float(R), mode or "both", int(cfg["video_tokens_per_window"]),
                               int(cfg["audio_tokens_per_window"]), args.get("R_v"), args.get("R_a"),
                               backbone=cfg)
            meta.update(R_v=_pct(b.R_v), R_a=_pct(b.R_a))
        except (ConfigError, KeyError, ValueError):
            pass
    return meta


def expand_jobs(raw_jobs: Iterable[dict[str, Any]], *, backbone: str, model_args: dict[str, Any],
                tasks: Sequence[str], limit: float | None, lmms_eval_args: Sequence[str],
                backbone_config: str | None, select: dict[str, Any] | None = None,
                method_args: dict[str, dict[str, Any]] | None = None) -> list[Job]:
    """Spec job entries -> jobs. R, mode and lam may be lists (their product is taken);
    `args` are extra model args (method switches); `row` / `label` place the job in a table.
    `method_args` (method -> args) adds args to every job of a method, under the job's own
    `args` and without changing job names (e.g. FastV's K on the 8-layer tiny model)."""
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    sel_R = None if not select or select.get("R") is None else {_pct(r) for r in _as_list(select["R"])}
    sel_methods = None if not select or select.get("methods") is None else set(_as_list(select["methods"]))
    for entry in raw_jobs:
        if not isinstance(entry, dict) or "method" not in entry:
            raise ConfigError(f"sweep job {entry!r}: needs at least `method`")
        unknown = sorted(set(entry) - _JOB_KEYS)
        if unknown:
            raise ConfigError(f"sweep job {entry!r}: unknown key(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(_JOB_KEYS))}")
        method = str(entry["method"])
        extra = dict(entry.get("args") or {})
        for R, mode, lam in itertools.product(_as_list(entry.get("R")), _as_list(entry.get("mode")),
                                              _as_list(entry.get("lam"))):
            if method != "full" and sel_R is not None and _pct(R) not in sel_R:
                continue
            if sel_methods is not None and method not in sel_methods:
                continue
            margs = dict(model_args)
            margs.update((method_args or {}).get(method) or {})
            if R is not None:
                margs["R"] = R
            if mode is not None:
                margs["mode"] = mode
            if lam is not None:
                margs["lam"] = lam
            margs.update(extra)
            bad = [k for k, v in margs.items() if "," in _fmt_value(v) or "=" in str(k)]
            if bad:
                raise ConfigError(f"sweep job {entry!r}: model arg(s) {', '.join(bad)} contain ',' "
                                  "(lmms-eval splits --model_args on commas)")
            if entry.get("name"):
                name = str(entry["name"])
                if len(_as_list(entry.get("R"))) * len(_as_list(entry.get("mode"))) * len(
                        _as_list(entry.get("lam"))) > 1:
                    name += f"_R{_pct(R)}" + (f"_{mode}" if mode else "") + (f"_lam{lam:g}" if lam else "")
            else:
                name = method
                if R is not None:
                    name += f"_R{_pct(R)}"
                if mode is not None:
                    name += f"_{mode}"
                if lam is not None:
                    name += f"_lam{float(lam):g}"
                for k in sorted(extra):
                    name += f"_{k}-{_fmt_value(extra[k])}"
            name = _slug(name)
            if name in seen:
                raise ConfigError(f"sweep: two jobs named {name!r}; give one a `name`")
            seen[name] = len(jobs)
            meta = {"method": method, "method_label": METHOD_LABELS.get(method, method), "mode": mode,
                    "lam": lam, "args": extra, "label": entry.get("label"), "row": entry.get("row"),
                    **_budget_meta(method, R, mode, extra, backbone_config)}
            model = backbone if method == "full" else f"{method}_{backbone}"
            jobs.append(Job(index=len(jobs), name=name, model=model, method=method, model_args=margs,
                            tasks=tuple(tasks), limit=limit, meta=meta, lmms_eval_args=tuple(lmms_eval_args)))
    return jobs


def load_spec(spec: str | os.PathLike[str], *, tasks: str | None = None, out: str | None = None,
              artifacts: str | None = None, limit: float | None = None, launcher: str | None = None,
              num_processes: int | None = None, lmms_eval_cmd: Sequence[str] | None = None) -> Sweep:
    """Load and expand a sweep spec; CLI overrides win over the spec."""
    path = resolve_spec_path(spec)
    raw = _load_raw(path)
    for key in ("name", "backbone", "tasks", "jobs"):
        if not raw.get(key):
            raise ConfigError(f"sweep spec {path}: `{key}` is required")
    art = Path(artifacts).resolve() if artifacts else Path(os.environ.get("SEATS_ARTIFACTS", REPO / "artifacts"))
    art = art if art.is_absolute() else (REPO / art).resolve()
    mapping = {"artifacts": str(art), "repo": str(REPO)}
    raw = _subst(raw, mapping)
    spec_tasks = _as_list(raw["tasks"])
    task_list, task_set = map_tasks(spec_tasks, tasks)
    if limit is None:
        limit = raw.get("limit")
    model_args = {k: (_local_path(v) if k == "pretrained" and isinstance(v, str) else v)
                  for k, v in dict(raw.get("model_args") or {}).items()}
    name = str(raw["name"])
    # --out is relative to the working directory, the spec's `out` to the repo
    out_dir = Path(out).absolute() if out else Path(raw.get("out") or f"results/sweeps/{name}")
    if not out and tuple(task_list) != tuple(spec_tasks):
        suffix = task_set if task_set != "custom" else "custom-" + hashlib.sha256(
            ",".join(task_list).encode()).hexdigest()[:8]
        out_dir = out_dir.with_name(out_dir.name + "-" + suffix)
    if limit is not None and not out and limit != raw.get("limit"):
        out_dir = out_dir.with_name(out_dir.name + f"-limit{limit:g}")
    out_dir = out_dir if out_dir.is_absolute() else REPO / out_dir
    tiny = bool(raw.get("tiny", False))
    if raw.get("table_out"):
        table_out = Path(raw["table_out"])
    elif tiny:
        table_out = Path("results/tiny")
    elif task_set == "fixtures":
        table_out = Path("results/fixtures")
    elif limit is not None:
        table_out = Path("results/partial")
    else:
        table_out = Path("results")
    table_out = table_out if table_out.is_absolute() else REPO / table_out
    launcher = launcher or raw.get("launcher") or "local"
    if launcher not in LAUNCHERS:
        raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")
    unregistered = str(raw.get("unregistered", "fail"))
    if unregistered not in ("fail", "skip"):
        raise ConfigError(f"unregistered must be 'fail' or 'skip', got {unregistered!r}")
    lmms_args = [str(a) for a in (raw.get("lmms_eval_args") or ["--batch_size", "1", "--log_samples"])]
    jobs = expand_jobs(raw["jobs"], backbone=str(raw["backbone"]), model_args=model_args, tasks=task_list,
                       limit=limit, lmms_eval_args=lmms_args, backbone_config=raw.get("backbone_config"),
                       select=raw.get("select"), method_args=raw.get("method_args"))
    cmd = list(lmms_eval_cmd) if lmms_eval_cmd else raw.get("lmms_eval_cmd")
    scores_from = raw.get("scores_from")
    return Sweep(
        name=name, table=raw.get("table"), spec_path=path, out=out_dir, table_out=table_out,
        backbone=str(raw["backbone"]), backbone_config=raw.get("backbone_config"), tasks=task_list,
        task_set=task_set, jobs=jobs,
        lmms_eval_cmd=[str(c) for c in cmd] if cmd else None, launcher=launcher,
        num_processes=int(num_processes or raw.get("num_processes") or 1),
        main_process_port=raw.get("main_process_port"),
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()}, cache=bool(raw.get("cache", True)),
        unregistered=unregistered, tiny=tiny, artifacts=art, limit=limit, slurm=dict(raw.get("slurm") or {}),
        scores_from=(path.parent / str(scores_from)).resolve() if scores_from else None,
    )


# ---------------------------------------------------------------------------------------
# Files: atomic JSON, status, results
# ---------------------------------------------------------------------------------------


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON via a temp file in the same folder + rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_status(job_dir: Path) -> dict[str, Any] | None:
    return read_json(job_dir / "status.json")


def find_results_json(run_dir: Path) -> Path | None:
    """lmms-eval writes <output_path>/<model name>/<date>_results.json; take the newest."""
    found = sorted((run_dir / "output").rglob("*_results.json"), key=lambda p: (p.stat().st_mtime, p.name))
    return found[-1] if found else None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line:
                with contextlib.suppress(json.JSONDecodeError):
                    rows.append(json.loads(line))
    return rows


def task_scores(results: dict[str, Any]) -> dict[str, float]:
    """task -> its main metric (`<metric>,none`, not a stderr) from an lmms-eval results JSON."""
    out: dict[str, float] = {}
    for task, metrics in (results.get("results") or {}).items():
        if not isinstance(metrics, dict):
            continue
        for key, value in metrics.items():
            if not key.endswith(",none") or "_stderr" in key or isinstance(value, (str, bool)):
                continue
            if isinstance(value, (int, float)):
                out[task] = float(value)
                break
    return out


def job_summary(run_dir: Path) -> dict[str, Any]:
    """Scores per task, mean prefill TFLOPs and timings over the run's records."""
    res_path = find_results_json(run_dir)
    results = read_json(res_path) if res_path else None
    records = _jsonl(run_dir / "records" / "records.jsonl")
    failures = _jsonl(run_dir / "records" / "failures.jsonl")
    summary: dict[str, Any] = {
        "results_json": str(res_path.relative_to(run_dir)) if res_path else None,
        "scores": task_scores(results) if results else {},
        "n_samples": (results or {}).get("n-samples"),
        "n_records": len(records),
        "sample_failures": len(failures),
    }
    tfl = [float(r["tflops"]) for r in records if isinstance(r.get("tflops"), (int, float))]
    summary["tflops"] = sum(tfl) / len(tfl) if tfl else None
    timings: dict[str, list[float]] = {}
    for r in records:
        for k, v in {**(r.get("timings") or {}), **{k: r[k] for k in ("peak_mem_gb", "ttft_s") if k in r}}.items():
            if isinstance(v, (int, float)):
                timings.setdefault(k, []).append(float(v))
    summary["timings"] = {k: sum(v) / len(v) for k, v in timings.items()}
    return summary


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


class Interrupted(Exception):
    """SIGTERM/SIGINT reached the sweep while a job was running."""


@dataclass
class JobOutcome:
    job: Job
    state: str  # done | failed | skipped | running (elsewhere)
    message: str = ""
    ran: bool = False
    seconds: float = 0.0


def _registered_ids() -> set[str] | None:
    try:
        from .models.registry import model_ids

        return set(model_ids())
    except Exception:  # noqa: BLE001 - the registry is optional for the fake-runner tests
        return None


def lmms_eval_argv(sweep: Sweep, job: Job, output: Path) -> list[str]:
    """The lmms-eval command line of one job (what `--dry-run` prints)."""
    margs = ",".join(f"{k}={_fmt_value(v)}" for k, v in job.model_args.items())
    args = ["--model", job.model, "--model_args", margs, "--tasks", ",".join(job.tasks),
            "--include_path", str(REPO / "tasks"), "--output_path", str(output), *job.lmms_eval_args]
    if job.limit is not None:
        args += ["--limit", f"{job.limit:g}"]
    bindir = Path(sys.executable).parent
    if sweep.launcher == "accelerate":
        accel = bindir / "accelerate"
        launch = [str(accel), "launch"] if accel.exists() else [sys.executable, "-m", "accelerate.commands.launch"]
        launch += ["--num_processes", str(sweep.num_processes)]
        if sweep.main_process_port:
            launch += ["--main_process_port", str(sweep.main_process_port)]
        if sweep.lmms_eval_cmd:  # a script instead of `-m lmms_eval` (tests)
            return launch + sweep.lmms_eval_cmd[1:] + args
        return launch + ["-m", "lmms_eval"] + args
    if sweep.lmms_eval_cmd:
        return list(sweep.lmms_eval_cmd) + args
    exe = bindir / "lmms-eval"
    return ([str(exe)] if exe.exists() else [sys.executable, "-m", "lmms_eval"]) + args


def _die_with(parent: int) -> Callable[[], None]:
    """preexec_fn: the job's process gets SIGKILL when the sweep dies (Linux prctl
    PR_SET_PDEATHSIG), so a killed sweep leaves no orphan writing into its attempt."""

    def _set() -> None:  # pragma: no cover - runs in the child
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
        if os.getppid() != parent:  # the sweep died before prctl took effect
            os._exit(1)

    return _set


def _proc_pgid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def kill_orphans(status: dict[str, Any]) -> int:
    """Kill what is left of a killed attempt: processes of its process group on this host
    whose command line names the attempt folder. Returns how many were signalled."""
    pgid, attempt = status.get("pgid"), status.get("attempt")
    if not pgid or not attempt or status.get("host") != socket.gethostname() or not Path("/proc").is_dir():
        return 0
    n = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if _proc_pgid(pid) != pgid:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if attempt in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                n += 1
    return n


_ERROR_RE = re.compile(r"(Error during evaluation: .*|\b\w*(Error|Exception)\b: .*)")


def extract_error(log: Path, limit: int = 40) -> str:
    """The most telling error line of a job's log (lmms-eval exits 0 on some failures)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    clean = [re.sub(r"\x1b\[[0-9;]*m", "", ln).rstrip() for ln in lines]
    for ln in reversed(clean):
        m = _ERROR_RE.search(ln)
        if m:
            return m.group(1)[:2000]
    tail = [ln for ln in clean if ln.strip()][-3:]
    return " | ".join(tail)[:2000] if tail else "empty log"


def _log_tail(log: Path, n: int = 20) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [re.sub(r"\x1b\[[0-9;]*m", "", ln)[:500] for ln in lines[-n:]]


def _valid_result(job: Job, run_dir: Path) -> tuple[bool, str]:
    desc = read_json(run_dir / "job.json")
    if desc is None or desc.get("key") != job.key:
        return False, "settings differ"
    res = find_results_json(run_dir)
    if res is None:
        return False, "no results JSON"
    scores = task_scores(read_json(res) or {})
    missing = [t for t in job.tasks if t not in scores]
    if missing:
        return False, f"results JSON lacks task(s) {', '.join(missing)}"
    return True, ""


class _Lock:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "a+")  # noqa: SIM115 - held for the job's lifetime

    def acquire(self) -> bool:
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run_job(sweep: Sweep, job: Job, *, force: bool = False, registered: set[str] | None = None,
            echo: Callable[[str], None] = print) -> JobOutcome:
    """Run one job (or skip it); never raises for a job's own failure."""
    jdir = sweep.job_dir(job)
    lock = _Lock(jdir / ".lock")
    try:
        if not lock.acquire():
            st = read_status(jdir) or {}
            return JobOutcome(job, "running", f"running elsewhere (host {st.get('host')}, pid {st.get('pid')})")
        return _run_locked(sweep, job, jdir, force=force, registered=registered, echo=echo)
    finally:
        lock.close()


def _status(job: Job, state: str, **extra: Any) -> dict[str, Any]:
    return {"state": state, "job": job.name, "key": job.key, "model": job.model, "updated": _now(), **extra}


def _run_locked(sweep: Sweep, job: Job, jdir: Path, *, force: bool, registered: set[str] | None,
                echo: Callable[[str], None]) -> JobOutcome:
    st = read_status(jdir)
    result, attempt = jdir / "result", jdir / "attempt"
    if st and st.get("state") == "done" and not force:
        ok, why = _valid_result(job, result)
        if ok:
            return JobOutcome(job, "done", "already done")
        if why == "settings differ" and result.is_dir():
            return JobOutcome(job, "failed", f"a finished result with other settings is in {result}; "
                                             "not overwritten: rerun with --force to replace it")
        echo(f"{job.name}: marked done but its result is gone or incomplete ({why}): running it again")
    if st and st.get("state") == "running":
        # We hold the lock, so whoever wrote this is gone: a killed sweep. Clean up after it.
        n = kill_orphans(st)
        if n:
            echo(f"{job.name}: killed {n} orphaned process(es) of the interrupted attempt")
        ok, _ = _valid_result(job, result)
        if ok and not force:  # killed between the final rename and the status write
            summary = job_summary(result)
            write_json_atomic(jdir / "status.json", _status(job, "done", recovered=True, **summary))
            return JobOutcome(job, "done", "recovered a finished result")
    shutil.rmtree(attempt, ignore_errors=True)
    if registered is not None and job.model not in registered:
        same = sorted(m for m in registered if m == sweep.backbone or m.endswith("_" + sweep.backbone))
        msg = (f"unknown model id {job.model!r}: not registered with lmms-eval "
               f"(seats_eval.models.registry); registered for {sweep.backbone}: {', '.join(same) or 'none'}")
        state = "skipped" if sweep.unregistered == "skip" else "failed"
        write_json_atomic(jdir / "status.json", _status(job, state, error=msg, finished=_now()))
        return JobOutcome(job, state, msg)
    attempt.mkdir(parents=True)
    write_json_atomic(attempt / "job.json", job.describe())
    write_json_atomic(jdir / "job.json", job.describe())
    argv = lmms_eval_argv(sweep, job, attempt / "output")
    (attempt / "command.txt").write_text(shlex.join(argv) + "\n")
    env = dict(os.environ, **sweep.env, SEATS_RECORD_DIR=str(attempt / "records"))
    if any(t.startswith("seats_fixture_") for t in job.tasks):
        env.setdefault("SEATS_FIXTURE_CLIPS", str(sweep.artifacts / "clips"))
    if sweep.cache:
        # Results-neutral (tests/test_feature_cache.py): not part of the job key. An outer
        # $SEATS_ENCODER_CACHE (one cache shared by several sweeps) wins.
        env.setdefault("SEATS_ENCODER_CACHE", str(sweep.out / "encoder_cache"))
    t0 = time.time()
    started = _now()
    with open(attempt / "log.txt", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO),
                                start_new_session=True, preexec_fn=_die_with(os.getpid()))
        write_json_atomic(jdir / "status.json", _status(
            job, "running", host=socket.gethostname(), pid=os.getpid(), child_pid=proc.pid, pgid=proc.pid,
            attempt=str(attempt), started=started, command=argv))
        try:
            rc = proc.wait()
        except (KeyboardInterrupt, Interrupted):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            write_json_atomic(jdir / "status.json", _status(
                job, "failed", error="interrupted (signal to the sweep)", started=started, finished=_now(),
                log_tail=_log_tail(attempt / "log.txt")))
            raise
    seconds = time.time() - t0
    ok, why = _valid_result(job, attempt)
    if rc != 0 or not ok:
        err = extract_error(attempt / "log.txt")
        msg = f"exit {rc}; {why}; {err}" if rc == 0 else f"exit {rc}; {err}"
        write_json_atomic(jdir / "status.json", _status(
            job, "failed", error=msg, returncode=rc, started=started, finished=_now(), seconds=seconds,
            log=str(attempt / "log.txt"), log_tail=_log_tail(attempt / "log.txt")))
        return JobOutcome(job, "failed", msg, ran=True, seconds=seconds)
    summary = job_summary(attempt)
    if summary["sample_failures"] and not summary["n_records"]:  # lmms-eval "finished", nothing worked
        fails = _jsonl(attempt / "records" / "failures.jsonl")
        msg = f"every sample failed ({len(fails)}); first: {fails[0].get('error', '?')}"
        write_json_atomic(jdir / "status.json", _status(
            job, "failed", error=msg, returncode=rc, started=started, finished=_now(), seconds=seconds,
            log=str(attempt / "log.txt")))
        return JobOutcome(job, "failed", msg, ran=True, seconds=seconds)
    if result.exists():  # only with --force, or a leftover that never became `done`
        old = jdir / f".result.old.{os.getpid()}"
        os.replace(result, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(attempt, result)
    summary = job_summary(result)
    write_json_atomic(jdir / "status.json", _status(
        job, "done", started=started, finished=_now(), seconds=seconds, returncode=rc, **summary))
    note = f", {summary['sample_failures']} sample failure(s)" if summary["sample_failures"] else ""
    return JobOutcome(job, "done", f"done in {seconds:.0f}s{note}", ran=True, seconds=seconds)


def ensure_artifacts(sweep: Sweep) -> None:
    """The tiny model of the spec's backbone (spec `tiny: true`) and the fixture clips,
    created when missing."""
    needs_clips = any(t.startswith("seats_fixture_") for t in sweep.tasks) and "SEATS_FIXTURE_CLIPS" not in sweep.env
    if sweep.tiny:
        from .tiny import make_tiny

        pretrained = {j.model_args.get("pretrained") for j in sweep.jobs}
        for p in filter(None, pretrained):
            d = Path(str(p))
            if not (d / "config.json").exists():
                tmp = d.with_name(d.name + f".tmp{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                make_tiny(tmp, backbone="qwen3-omni" if sweep.backbone == "qwen3omni" else "qwen2.5-omni")
                shutil.rmtree(d, ignore_errors=True)
                os.replace(tmp, d)
    if needs_clips:
        clips = Path(os.environ.get("SEATS_FIXTURE_CLIPS") or sweep.artifacts / "clips")
        if not (clips / "corrupt.mp4").exists():
            from .media.synth import make_clips

            make_clips(clips)


@dataclass
class SweepReport:
    outcomes: list[JobOutcome]

    @property
    def ok(self) -> bool:
        return all(o.state in ("done", "skipped") for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for o in self.outcomes:
            c[o.state] = c.get(o.state, 0) + 1
        return c


def select_jobs(sweep: Sweep, job_index: int | None = None, only: str | None = None) -> list[Job]:
    jobs = sweep.jobs
    if job_index is not None:
        if not 0 <= job_index < len(jobs):
            raise ConfigError(f"--job-index {job_index}: the sweep has jobs 0..{len(jobs) - 1}")
        jobs = [jobs[job_index]]
    if only:
        import fnmatch

        pats = [p.strip() for p in only.split(",") if p.strip()]
        jobs = [j for j in jobs if any(fnmatch.fnmatch(j.name, p) for p in pats)]
    return jobs


def run_sweep(sweep: Sweep, *, force: bool = False, job_index: int | None = None, only: str | None = None,
              progress: bool = True, echo: Callable[[str], None] | None = None) -> SweepReport:
    """Run (or skip) the selected jobs in order, one at a time, with a progress bar."""
    from tqdm import tqdm

    jobs = select_jobs(sweep, job_index, only)
    ensure_artifacts(sweep)
    registered = _registered_ids()
    bar = tqdm(total=len(jobs), unit="job", desc=sweep.name, disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    say = echo or (lambda s: bar.write(s, file=sys.stderr))
    outcomes: list[JobOutcome] = []

    def _on_term(signum, frame):  # noqa: ARG001
        raise Interrupted(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, _on_term) if _main_thread() else None
    try:
        for job in jobs:
            bar.set_postfix_str(job.name)
            o = run_job(sweep, job, force=force, registered=registered, echo=say)
            outcomes.append(o)
            log = sweep.job_dir(job) / ("result" if o.state == "done" else "attempt") / "log.txt"
            where = f" (log: {log})" if o.ran and o.state == "failed" else ""
            say(f"[{job.index}] {job.name}: {o.state}: {o.message}{where}")
            bar.update(1)
    finally:
        bar.close()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    return SweepReport(outcomes)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def sweep_status(sweep: Sweep) -> list[dict[str, Any]]:
    """One row per job: index, name, state (pending when never started), error."""
    rows = []
    for job in sweep.jobs:
        st = read_status(sweep.job_dir(job)) or {}
        state = st.get("state", "pending")
        if state == "done" and st.get("key") != job.key:
            state = "done (other settings)"
        rows.append({"index": job.index, "name": job.name, "model": job.model, "state": state,
                     "error": st.get("error", ""), "seconds": st.get("seconds")})
    return rows


# ---------------------------------------------------------------------------------------
# Slurm
# ---------------------------------------------------------------------------------------


def slurm_script(sweep: Sweep, *, extra_args: Sequence[str] = (), partition: str | None = None,
                 time_limit: str | None = None, gpus: int | None = None, cpus: int | None = None,
                 mem: str | None = None, max_parallel: int | None = None,
                 directives: Sequence[str] = (), path: Path | None = None) -> str:
    """An sbatch array script: array task i runs `seats-eval sweep --spec ... --job-index i`."""
    cfg = dict(sweep.slurm)
    partition = partition or cfg.get("partition")
    time_limit = time_limit or cfg.get("time", "24:00:00")
    if gpus is None:  # one GPU per process with the accelerate launcher
        gpus = int(cfg.get("gpus", 1))
        if sweep.launcher == "accelerate":
            gpus = max(gpus, sweep.num_processes)
    cpus = cpus or cfg.get("cpus_per_task", 8 * max(1, int(gpus or 1)))
    mem = mem or cfg.get("mem")
    max_parallel = max_parallel or cfg.get("max_parallel")
    n = len(sweep.jobs)
    if n == 0:
        raise ConfigError(f"sweep {sweep.name}: no jobs to submit")
    array = f"0-{n - 1}" + (f"%{int(max_parallel)}" if max_parallel else "")
    logs = sweep.out / "slurm"
    exe = Path(sys.executable).parent / "seats-eval"
    seats = [str(exe)] if exe.exists() else [sys.executable, "-m", "seats_eval.cli"]
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={_slug('seats-' + sweep.name)}",
        f"#SBATCH --array={array}",
        f"#SBATCH --output={logs}/%A_%a.out",
        f"#SBATCH --error={logs}/%A_%a.out",
        f"#SBATCH --time={time_limit}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={int(cpus)}",
    ]
    if gpus:
        lines.append(f"#SBATCH --gres=gpu:{int(gpus)}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if mem:
        lines.append(f"#SBATCH --mem={mem}")
    lines += [f"#SBATCH {d}" for d in list(cfg.get("directives") or []) + list(directives)]
    job_list = "\n".join(f"#   {j.index:>3}  {j.name}" for j in sweep.jobs)
    cmd = shlex.join([*seats, "sweep", "--spec", str(sweep.spec_path), *extra_args,
                      "--no-progress", "--job-index"])
    lines += [
        "#",
        f"# seats-eval sweep {sweep.name}: {n} job(s), one per array task. Submit with:",
        f"#   sbatch {shlex.quote(str(path or sweep.out / 'sweep.sbatch'))}",
        "# Each array task runs one job; finished jobs are skipped, so resubmitting is safe.",
        "# Jobs (array index, name):",
        job_list,
        "set -euo pipefail",
        f"cd {shlex.quote(str(REPO))}",
        f"mkdir -p {shlex.quote(str(logs))}",
        'echo "array task ${SLURM_ARRAY_TASK_ID} on $(hostname)"',
        f'exec {cmd} "${{SLURM_ARRAY_TASK_ID}}"',
        "",
    ]
    return "\n".join(lines)


def write_slurm(sweep: Sweep, path: Path | None = None, **kwargs: Any) -> Path:
    path = path or sweep.out / "sweep.sbatch"
    (sweep.out / "slurm").mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, slurm_script(sweep, path=path.absolute(), **kwargs))
    path.chmod(0o755)
    return path
