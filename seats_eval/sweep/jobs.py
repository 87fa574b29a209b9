"""One job (one lmms-eval run) and how a spec's job entries expand into jobs.

Resuming trusts a job's name (its folder) and its `key` (the hash of what decides its
results): both follow from the spec and its overrides only, so rerunning the same command
finds the same jobs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..methods.options import check_known

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
_JOB_KEYS = {"method", "R", "mode", "lam", "args", "name", "row", "label"}


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return [None]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _pct(x: float | None) -> int | None:
    return None if x is None else int(round(float(x) * 100))


def _numbers(where: str, key: str, value: Any) -> list[Any]:
    """A spec's R / lam: a number or a list of numbers (or absent); ConfigError naming the
    key and the bad value otherwise, so no raw traceback reaches the user (nor --status)."""
    values = _as_list(value)
    for v in values:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ConfigError(f"{where}: {key}={v!r} is not a number (write e.g. {key}: 0.35 or {key}: [0.35, 0.25])")
    return values


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


def check_name(where: str, key: str, name: str) -> str:
    """A name that becomes a folder: letters, digits, `_.=-`, not starting with a dot (`..`)."""
    if not name or name.startswith(".") or _slug(name) != name:
        raise ConfigError(f"{where}: {key} {name!r} is not allowed: it names a folder, so it must be "
                          "letters, digits and _ . = - (not starting with a dot)")
    return name


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
            from ..backbones.budgets import resolve_budget
            from ..backbones.config import load_backbone_config

            cfg = load_backbone_config(backbone_config)
            b = resolve_budget(float(R), mode or "both", cfg.video_tokens_per_window,
                               cfg.audio_tokens_per_window, args.get("R_v"), args.get("R_a"),
                               backbone=cfg)
            meta.update(R_v=_pct(b.R_v), R_a=_pct(b.R_a))
        except (ConfigError, KeyError, ValueError):
            pass
    return meta


def expand_jobs(raw_jobs: Iterable[dict[str, Any]], *, backbone: str, model_args: dict[str, Any],
                tasks: Sequence[str], limit: float | None, lmms_eval_args: Sequence[str],
                backbone_config: str | None, select: dict[str, Any] | None = None,
                method_args: dict[str, dict[str, Any]] | None = None, profile: str = "official") -> list[Job]:
    """Spec job entries -> jobs. R, mode and lam may be lists (their product is taken);
    `args` are extra model args (method switches); `row` / `label` place the job in a table.
    `method_args` (method -> args) adds args to every job of a method, under the job's own
    `args` and without changing job names (e.g. FastV's K on the 8-layer tiny model).
    `profile` (official | paper, docs/profiles.md) goes into every job's model args, so it is
    part of the job key: a result of one profile never resumes as the other's."""
    if profile not in ("official", "paper"):
        raise ConfigError(f"sweep: profile must be official or paper, got {profile!r}")
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    sel_R = None if not select or select.get("R") is None else {
        _pct(r) for r in _numbers("sweep select", "R", select["R"])}
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
        where = f"sweep job {entry!r}"
        for R, mode, lam in itertools.product(_numbers(where, "R", entry.get("R")), _as_list(entry.get("mode")),
                                              _numbers(where, "lam", entry.get("lam"))):
            if method != "full" and sel_R is not None and _pct(R) not in sel_R:
                continue
            if sel_methods is not None and method not in sel_methods:
                continue
            margs = dict(model_args)
            margs["profile"] = profile
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
            name = check_name(where, "job name", _slug(name))
            check_known(where, margs)  # the option table's rules (methods/options.py): R, mode, max_frames...
            if name in seen:
                raise ConfigError(f"sweep: two jobs named {name!r}; give one a `name`")
            seen[name] = len(jobs)
            meta = {"method": method, "method_label": METHOD_LABELS.get(method, method), "mode": mode,
                    "profile": margs["profile"],
                    "lam": lam, "args": extra, "label": entry.get("label"), "row": entry.get("row"),
                    **_budget_meta(method, R, mode, extra, backbone_config)}
            model = backbone if method == "full" else f"{method}_{backbone}"
            jobs.append(Job(index=len(jobs), name=name, model=model, method=method, model_args=margs,
                            tasks=tuple(tasks), limit=limit, meta=meta, lmms_eval_args=tuple(lmms_eval_args)))
    return jobs
