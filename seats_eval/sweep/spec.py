"""A sweep spec (YAML, with `base` merging) plus CLI overrides -> a `Sweep` of expanded jobs.

Also where the results go (`out`, `table_out`: derived from the task set and `--limit`, so
that fixture or partial runs never land in the folders of real ones), which task set a
`--tasks` override means, and the benchmarks' labels.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import resources
from ..methods.options import SPEC_RULES
from .jobs import Job, _as_list, check_name, expand_jobs

# the project folder: where relative outputs of a spec go (a checkout, else the working
# directory); the specs themselves are a resource (seats_eval/io/resources.py)
REPO = resources.work_dir()

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
_SPEC_KEYS = {
    "name", "table", "description", "base", "backbone", "backbone_config", "out", "table_out",
    "tasks", "model_args", "lmms_eval_args", "lmms_eval_cmd", "limit", "launcher", "num_processes",
    "main_process_port", "env", "cache", "unregistered", "tiny", "select", "jobs", "slurm",
    "scores_from", "method_args", "profile",
}


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
    cache: bool = True  # encoder-feature cache for every job (see seats_eval/driver/feature_cache.py)
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
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sweep spec {path}: not valid YAML: {exc}") from exc
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
    """A spec path, or a bare name (or model_configs/sweeps/... path) looked up in the
    project's model_configs/sweeps/ (seats_eval/io/resources.py)."""
    p = Path(spec)
    if p.is_file():
        return p.resolve()
    spec_dir = resources.resource("sweeps")
    located = resources.locate(str(p)) if not p.is_absolute() else None
    for cand in (spec_dir / p, spec_dir / f"{p}.yaml", located):
        if cand is not None and cand.is_file():
            return cand.resolve()
    raise ConfigError(f"sweep spec {spec!r}: no such file (specs live in {spec_dir})")


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
    """seats_fixture_worldsense / seats_worldsense / seats_subset_worldsense /
    seats_fixture_subset_worldsense -> worldsense."""
    return task.removeprefix("seats_fixture_").removeprefix("seats_").removeprefix("subset_")


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
    """Spec-relative local paths (artifacts/..., ./...) become absolute under the project
    folder; a committed model's project-relative path, where it is installed."""
    if os.path.isabs(value) or "://" in value:
        return value
    located = resources.locate(value)
    if located is not None:
        return str(located)
    cand = REPO / value
    if value.startswith(("./", "../", "artifacts")) or cand.exists():
        return str(cand.resolve())
    return value


def load_spec(spec: str | os.PathLike[str], *, tasks: str | None = None, out: str | None = None,
              artifacts: str | None = None, limit: float | None = None, launcher: str | None = None,
              num_processes: int | None = None, lmms_eval_cmd: Sequence[str] | None = None) -> Sweep:
    """Load and expand a sweep spec; CLI overrides win over the spec."""
    path = resolve_spec_path(spec)
    raw = _load_raw(path)
    for key in ("name", "backbone", "tasks", "jobs"):
        if not raw.get(key):
            raise ConfigError(f"sweep spec {path}: `{key}` is required")
    where = f"sweep spec {path}"
    for key, rule in SPEC_RULES.items():  # the option table's rules (methods/options.py)
        if raw.get(key) is not None:
            raw[key] = rule.check(where, key, raw[key])
    check_name(where, "name", str(raw["name"]))
    art = Path(artifacts).resolve() if artifacts else Path(os.environ.get("SEATS_ARTIFACTS", REPO / "artifacts"))
    art = art if art.is_absolute() else (REPO / art).resolve()
    # {tiny_trained}: the committed trained tiny models, wherever they are installed
    mapping = {"artifacts": str(art), "repo": str(REPO), "tiny_trained": str(resources.resource("tiny_trained", check=False))}
    raw = _subst(raw, mapping)
    spec_tasks = _as_list(raw["tasks"])
    task_list, task_set = map_tasks(spec_tasks, tasks)
    if limit is None:
        limit = raw.get("limit")
    else:
        limit = SPEC_RULES["limit"].check("--limit", "limit", limit)
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
    tiny = raw.get("tiny", False)
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
    launcher = SPEC_RULES["launcher"].check(where, "launcher", launcher or raw.get("launcher") or "local")
    unregistered = raw.get("unregistered", "fail")
    lmms_args = [str(a) for a in (raw.get("lmms_eval_args") or ["--batch_size", "1", "--log_samples"])]
    jobs = expand_jobs(raw["jobs"], backbone=str(raw["backbone"]), model_args=model_args, tasks=task_list,
                       limit=limit, lmms_eval_args=lmms_args, backbone_config=raw.get("backbone_config"),
                       select=raw.get("select"), method_args=raw.get("method_args"),
                       profile=str(raw.get("profile", "official")))
    if not jobs:
        raise ConfigError(f"{where}: no job is left after `select` ({raw.get('select')}): "
                          "check its R values and method names against the jobs")
    cmd = list(lmms_eval_cmd) if lmms_eval_cmd else raw.get("lmms_eval_cmd")
    scores_from = raw.get("scores_from")
    return Sweep(
        name=name, table=raw.get("table"), spec_path=path, out=out_dir, table_out=table_out,
        backbone=str(raw["backbone"]), backbone_config=raw.get("backbone_config"), tasks=task_list,
        task_set=task_set, jobs=jobs,
        lmms_eval_cmd=[str(c) for c in cmd] if cmd else None, launcher=launcher,
        num_processes=SPEC_RULES["num_processes"].check("--num_processes", "num_processes",
                                                         num_processes or raw.get("num_processes") or 1),
        main_process_port=raw.get("main_process_port"),
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()}, cache=raw.get("cache", True),
        unregistered=unregistered, tiny=tiny, artifacts=art, limit=limit, slurm=dict(raw.get("slurm") or {}),
        scores_from=(path.parent / str(scores_from)).resolve() if scores_from else None,
    )


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
        if not jobs:
            names = ", ".join(j.name for j in (sweep.jobs if job_index is None else [sweep.jobs[job_index]]))
            raise ConfigError(f"--only {only!r} matches no job; jobs: {names}")
    return jobs
