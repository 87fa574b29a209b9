"""Helpers shared by the task `utils.py` files under `tasks/` (and by the model class).

What lives here:
- `system_prompt_for(task_name)`: the one place that decides the per-task system prompt.
- data sources: hub dataset id by default, or a local parquet copy / video root chosen by
  environment variables (`dataset_source`, `video_root`; see tasks/README.md). Repos that
  ship loose videos (OmniVideoBench, LVOmniBench's video repo) are also found in the local
  hub cache after a plain `hf download` (`cached_snapshot`), without any network call.
- safe path joining: record paths are joined under the configured root and never escape it.
- option / duration / string-list parsing of records in their various stored forms.
- result payloads (`make_payload`), accuracy aggregation and per-category breakdowns, also
  recomputable offline from `--log_samples` output:
      python -m seats_eval.taskutils breakdown <samples.jsonl> [--by FIELD ...] --out FILE.csv

This module only needs the standard library at import time (pandas for `breakdown`), so
task configs can be indexed and parsed without loading any model code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from seats_eval.answers import (
    LETTERS,
    extract_choice,
    option_letters,
    option_texts,
    parse_options,
    split_option,
)
from seats_eval.errors import ConfigError, MediaError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "ANALYZE_SUFFIX",
    "BENCHMARKS",
    "QWEN_OMNI_SYSTEM_PROMPT",
    "LooseRepo",
    "UnsafePathError",
    "accuracy",
    "answer_letter",
    "breakdown",
    "cached_snapshot",
    "dataset_source",
    "duration_bucket",
    "find_parquet_files",
    "fixture_clip_root",
    "fixture_video_path",
    "format_options",
    "make_payload",
    "option_letters",
    "option_texts",
    "parse_duration",
    "parse_options",
    "parse_str_list",
    "resolve_video",
    "safe_join",
    "system_prompt_for",
    "video_path",
    "video_root",
]

REPO_ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- system prompt

QWEN_OMNI_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech."
)
ANALYZE_SUFFIX = (
    "Please analyze the video carefully and select the most appropriate answer from the "
    "given options."
)
# Task-name substrings that get ANALYZE_SUFFIX (OmniZip's WorldSense/Daily-Omni setting,
# kept by the SEATS model classes for both backbones).
_SUFFIX_TASKS = ("worldsense", "dailyomni", "daily_omni")


def system_prompt_for(task_name: str, base: str | None = QWEN_OMNI_SYSTEM_PROMPT) -> str | None:
    """System prompt for a task: `base` (Qwen-Omni's default) plus, for WorldSense and
    Daily-Omni tasks (fixture twins included), the "Please analyze the video carefully..."
    sentence. Returns None when there is nothing to say (base empty, other task), meaning
    "no system message".

    This mirrors the authors' model classes, which always send the default system prompt
    and append the sentence when the task name contains "worldsense" or "daily(omni)".
    """
    parts = [base.strip()] if base and base.strip() else []
    name = (task_name or "").lower()
    if any(key in name for key in _SUFFIX_TASKS):
        parts.append(ANALYZE_SUFFIX)
    return " ".join(parts) if parts else None


# --------------------------------------------------------------------------- data sources


@dataclass(frozen=True)
class LooseRepo:
    """A hub dataset repo that stores its videos as loose files (`videos/video_N.mp4`), not in
    archives. lmms-eval 0.7.3 extracts only zip/tar archives into its cache folder, so after a
    plain `hf download REPO --repo-type dataset` the videos stay in the hub cache; the task
    then uses that snapshot folder directly (see `cached_snapshot`)."""

    repo_id: str
    marker: str  # a file at the repo's root; its cached copy locates the snapshot folder
    annotations: bool = False  # the marker is the task's annotation parquet (split "test")


@dataclass(frozen=True)
class Benchmark:
    """Where a benchmark's data comes from by default and how to override it."""

    key: str  # lowercase name, also the folder under $SEATS_DATA_ROOT
    hub_id: str  # annotations on the Hugging Face hub
    cache_dir: str  # video root under $HF_HOME when nothing is configured (as lmms-eval)
    video_layout: str  # where videos sit under the root, for error messages
    video_source: str  # where to get the videos (an exact command where one exists)
    hub_kwargs: Mapping[str, Any] = field(default_factory=dict)
    loose_repo: LooseRepo | None = None  # the repo holding loose videos, when there is one

    @property
    def root_env(self) -> str:
        return f"SEATS_{self.key.upper()}_ROOT"

    @property
    def data_env(self) -> str:
        return f"SEATS_{self.key.upper()}_DATA"


_OVB = LooseRepo("NJU-LINK/OmniVideoBench", "data.parquet", annotations=True)
_LVOB_VIDEOS = LooseRepo("KD-TAO/LVOmniBench", "data.json")

BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        Benchmark(
            "worldsense",
            "lmms-lab/WorldSense",
            "WorldSense",
            "videos/<video>.mp4 (the record's video_path)",
            "videos_chunk_*.zip of lmms-lab/WorldSense (lmms-eval extracts them on the first run)",
        ),
        Benchmark(
            "dailyomni",
            "xxayt/Daily-Omni",
            "DailyOmni",
            "Videos/<video_id>/<video_id>_video.mp4 (or videos/...)",
            "Videos.tar of liarliar/Daily-Omni: `hf download liarliar/Daily-Omni Videos.tar "
            "--repo-type dataset --local-dir DIR` then `tar -xf DIR/Videos.tar -C <video root>`",
        ),
        Benchmark(
            "omnivideobench",
            _OVB.repo_id,
            "OmniVideoBench",
            "videos/video_N.mp4 (records: videos/video_N.mp4, video_N.mp4 or video_N)",
            f"the gated {_OVB.repo_id} (accept its terms, `hf auth login`, then "
            f"`hf download {_OVB.repo_id} --repo-type dataset`, found in the hub cache, "
            "or add `--local-dir <video root>`)",
            # root data.parquet would load as split "train"; lmms-eval links the snapshot
            # (loose videos, no archives) to the video root only with create_link
            {"data_files": {"test": _OVB.marker}, "create_link": True},
            _OVB,
        ),
        Benchmark(
            "videomme",
            "lmms-eval/Video-MME",
            "videomme",
            "data/<videoID>.mp4 (.MP4/.mkv also accepted)",
            "videos_chunked_*.zip of lmms-eval/Video-MME (lmms-eval extracts them on the first run)",
        ),
        Benchmark(
            "lvomnibench",
            "xxayt/LVOmniBench",
            "lvomnibench",
            "videos/<video_id>.mp4",
            f"the gated {_LVOB_VIDEOS.repo_id} (accept its terms, `hf auth login`, then "
            f"`hf download {_LVOB_VIDEOS.repo_id} --repo-type dataset --local-dir <video root>`, "
            "or without --local-dir: found in the hub cache)",
            loose_repo=_LVOB_VIDEOS,
        ),
    )
}

DATA_ROOT_ENV = "SEATS_DATA_ROOT"
FIXTURE_CLIPS_ENV = "SEATS_FIXTURE_CLIPS"


def _benchmark(bench: str) -> Benchmark:
    try:
        return BENCHMARKS[bench]
    except KeyError:
        raise ConfigError(f"unknown benchmark {bench!r}; known: {sorted(BENCHMARKS)}") from None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def _hf_home() -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.getenv("HF_HOME", "~/.cache/huggingface/"))))


def _configured_root(spec: Benchmark) -> Path | None:
    """The video root set by $SEATS_<BENCH>_ROOT or $SEATS_DATA_ROOT/<bench>, else None."""
    explicit = _env_path(spec.root_env)
    if explicit is not None:
        return explicit
    data_root = _env_path(DATA_ROOT_ENV)
    return data_root / spec.key if data_root is not None else None


def cached_snapshot(repo: LooseRepo) -> Path | None:
    """Snapshot folder (revision main) of `repo` in the local hub cache, or None when its
    marker file is not cached. Reads the cache only (huggingface_hub's
    `try_to_load_from_cache`, in the hub cache that HF_HOME / HF_HUB_CACHE named when
    huggingface_hub was imported, as lmms-eval's own download uses): never a network call."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    found = try_to_load_from_cache(repo.repo_id, repo.marker, repo_type="dataset")
    if not isinstance(found, str):
        return None
    path = Path(found)
    return path.parents[len(PurePosixPath(repo.marker).parts) - 1]


def video_root(bench: str) -> Path:
    """Absolute video root of a benchmark: $SEATS_<BENCH>_ROOT, else $SEATS_DATA_ROOT/<bench>,
    else $HF_HOME/<cache_dir> (where lmms-eval extracts the hub archives, or links the
    snapshot of a repo with loose videos) when it exists, else the cached hub snapshot of
    the benchmark's loose-video repo when there is one, else $HF_HOME/<cache_dir>."""
    spec = _benchmark(bench)
    configured = _configured_root(spec)
    if configured is not None:
        return configured
    default = _hf_home() / spec.cache_dir
    if default.exists() or spec.loose_repo is None:
        return default
    return cached_snapshot(spec.loose_repo) or default


def find_parquet_files(path: str | os.PathLike[str]) -> list[str]:
    """Parquet files of a local annotation copy: the file itself, or in a folder the
    `*.parquet` files at the top, else under `data/`, else anywhere below (hidden folders
    skipped). Files named `test*` are preferred when present. Sorted absolute paths."""
    p = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if p.is_file():
        return [str(p)]
    if not p.is_dir():
        return []
    found: list[Path] = sorted(p.glob("*.parquet"))
    if not found:
        found = sorted((p / "data").glob("*.parquet"))
    if not found:
        found = sorted(
            f for f in p.rglob("*.parquet") if not any(part.startswith(".") for part in f.parts)
        )
    tests = [f for f in found if f.name.lower().startswith("test")]
    return [str(f) for f in (tests or found)]


def _hub_token_available() -> bool:
    try:
        from huggingface_hub import get_token
    except ImportError:  # pragma: no cover
        return False
    try:
        return get_token() is not None
    except Exception:  # pragma: no cover - a broken token file must not break task loading
        return False


def dataset_source(bench: str) -> tuple[str, dict[str, Any]]:
    """(`dataset_path`, `dataset_kwargs`) for a benchmark's lmms-eval task config.

    - $SEATS_<BENCH>_DATA (a parquet file or folder): local parquet, split "test", no network.
    - else $SEATS_DATA_ROOT/<bench> when it holds parquet files: the same.
    - else, for a repo that ships its annotations beside loose videos (OmniVideoBench), its
      root parquet in the video root (a `--local-dir` copy, or lmms-eval's link) or in the
      cached hub snapshot: the same, no network.
    - else the hub dataset id; lmms-eval downloads and extracts the archives into the video
      root (`video_root`) unless that folder already exists (and, with `create_link`,
      links a snapshot of loose files there).
    """
    spec = _benchmark(bench)
    explicit = _env_path(spec.data_env)
    if explicit is not None:
        files = find_parquet_files(explicit)
        if not files:
            raise ConfigError(
                f"{spec.data_env}={explicit} has no parquet files (expected a .parquet file or a "
                f"folder with test-*.parquet / data/*.parquet)"
            )
        return "parquet", {"data_files": {"test": files}}
    data_root = _env_path(DATA_ROOT_ENV)
    if data_root is not None:
        files = find_parquet_files(data_root / spec.key)
        if files:
            return "parquet", {"data_files": {"test": files}}
    local = _loose_annotations(spec)
    if local is not None:
        return "parquet", {"data_files": {"test": [str(local)]}}
    cache_dir = _configured_root(spec) or _hf_home() / spec.cache_dir
    kwargs: dict[str, Any] = {"cache_dir": str(cache_dir), "video": True}
    if _hub_token_available():
        kwargs["token"] = True
    kwargs.update(
        {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in spec.hub_kwargs.items()}
    )
    return spec.hub_id, kwargs


def _loose_annotations(spec: Benchmark) -> Path | None:
    """The annotation file of a repo that ships it beside loose videos, at the root of the
    video root or of the cached hub snapshot (only that exact file: nothing is searched)."""
    repo = spec.loose_repo
    if repo is None or not repo.annotations:
        return None
    for folder in (video_root(spec.key), cached_snapshot(repo)):
        if folder is not None and (folder / repo.marker).is_file():
            return folder / repo.marker
    return None


def fixture_clip_root() -> Path:
    """Folder of the generated test clips: $SEATS_FIXTURE_CLIPS, else <repo>/artifacts/clips."""
    return _env_path(FIXTURE_CLIPS_ENV) or REPO_ROOT / "artifacts" / "clips"


# --------------------------------------------------------------------------- paths


class UnsafePathError(MediaError, ValueError):
    """A path taken from a data record would leave the configured root."""


def safe_join(root: str | os.PathLike[str], relpath: str) -> Path:
    """`root / relpath` for a path taken from a data record, refusing anything that could
    leave `root`: absolute paths, drive letters, `..` components, NUL bytes, empty paths.
    A leading "./" is fine. Symlinks inside the root are followed as the user set them up."""
    root_path = Path(os.path.abspath(os.fspath(root)))
    rel = str(relpath) if relpath is not None else ""
    shown = f"{root_path}/{rel}"
    if not rel.strip() or "\x00" in rel:
        raise UnsafePathError(shown, "empty or invalid path in the data record")
    if (
        rel.startswith(("/", "\\", "~"))
        or PurePosixPath(rel).is_absolute()
        or PureWindowsPath(rel).is_absolute()
        or PureWindowsPath(rel).drive
    ):
        raise UnsafePathError(
            rel, f"absolute path in the data record; must be relative to {root_path}"
        )
    parts = re.split(r"[\\/]+", rel)
    if any(part == ".." for part in parts):
        raise UnsafePathError(rel, f"'..' in a data-record path; it must stay under {root_path}")
    joined = Path(os.path.normpath(root_path.joinpath(*[p for p in parts if p not in ("", ".")])))
    if joined != root_path and root_path not in joined.parents:
        raise UnsafePathError(rel, f"path escapes {root_path}")
    if joined == root_path:
        raise UnsafePathError(shown, "data-record path names the root folder itself")
    return joined


def resolve_video(root: str | os.PathLike[str], relpaths: Sequence[str], hint: str) -> str:
    """Absolute path of the first existing candidate `root/relpath`; MediaError naming the
    (first) expected path and `hint` (what to set) when none exists."""
    if not relpaths:
        raise ValueError("no candidate video paths given")
    candidates = [safe_join(root, rel) for rel in relpaths]
    for path in candidates:
        if path.is_file():
            return str(path)
    also = ""
    if len(candidates) > 1:
        also = " (also tried " + ", ".join(str(p) for p in candidates[1:]) + ")"
    raise MediaError(str(candidates[0]), f"video file not found{also}; {hint}")


def video_path(bench: str, relpaths: Sequence[str]) -> str:
    """Absolute video path for a record of a real benchmark (see `video_root`)."""
    spec = _benchmark(bench)
    root = video_root(bench)
    hint = (
        f"set {spec.root_env} (or {DATA_ROOT_ENV}, read as $SEATS_DATA_ROOT/{spec.key}) to the "
        f"folder holding {spec.video_layout}; current video root: {root}; "
        f"videos come from {spec.video_source}"
    )
    return resolve_video(root, relpaths, hint)


def fixture_video_path(clip: str) -> str:
    """Absolute path of a generated test clip `<clip>.mp4` (see `fixture_clip_root`)."""
    root = fixture_clip_root()
    hint = (
        f"set {FIXTURE_CLIPS_ENV} to the folder made by `seats-eval make-clips --out DIR` "
        f"(current: {root})"
    )
    name = clip if clip.endswith(".mp4") else f"{clip}.mp4"
    return resolve_video(root, [name], hint)


# --------------------------------------------------------------------------- record parsing


def format_options(raw: Any) -> list[str]:
    """Options as displayed in prompts: each stored string as is when it already carries its
    "A."-style label, else "A. text" with the positional letter."""
    shown = []
    for i, item in enumerate(parse_options(raw)):
        letter, text = split_option(item, i)
        shown.append(item if text != item.strip() else f"{LETTERS[i]}. {text}")
    return shown


_ANSWER_ONLY = re.compile(r"[\(\[]?([A-Za-z])[\)\]]?[.:]?")
_ANSWER_LABEL = re.compile(r"[\(\[]?([A-Z])(?:[\)\]]|[.:])")


def answer_letter(answer: Any, options: Any | None = None) -> str:
    """The ground-truth letter of a record: "B", "b", "B.", "(B)", "B. text" -> "B"; when
    `options` is given, an answer stored as an option's text maps to that option's letter,
    and a letter beyond the options is refused. ValueError if no letter can be determined."""
    text = "" if answer is None else str(_plain(answer)).strip()
    match = _ANSWER_ONLY.fullmatch(text) or _ANSWER_LABEL.match(text)
    letter = match.group(1).upper() if match else None
    if letter is None and options is not None and text:
        hits = [lt for lt, body in option_texts(options) if body.strip().lower() == text.lower()]
        letter = hits[0] if len(hits) == 1 else None
    if letter is None:
        raise ValueError(f"cannot read an answer letter from {answer!r}")
    if options is not None:
        valid = option_letters(options)
        if letter not in valid:
            raise ValueError(f"answer {answer!r} is not one of the options {valid}")
    return letter


_CLOCK = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$|^(\d+):(\d{1,2}\.\d+)$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)?$", re.IGNORECASE)
_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:m|min|mins|minute|minutes)$", re.IGNORECASE)


def parse_duration(value: Any) -> float:
    """Seconds from "MM:SS", "H:MM:SS" / "HH:MM:SS", "95", "95.5", "30s", "2min" or a number.
    ValueError for anything else (e.g. Video-MME's "short")."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        clock = _CLOCK.match(text)
        if clock:
            if clock.group(4) is not None:  # "MM:SS.s"
                seconds = int(clock.group(4)) * 60 + float(clock.group(5))
            elif clock.group(3) is None:  # "MM:SS"
                seconds = int(clock.group(1)) * 60 + int(clock.group(2))
            else:  # "H:MM:SS"
                seconds = (
                    int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + float(clock.group(3))
                )
        elif _SECONDS.match(text):
            seconds = float(_SECONDS.match(text).group(1))
        elif _MINUTES.match(text):
            seconds = float(_MINUTES.match(text).group(1)) * 60
        else:
            raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r}")
    return seconds


DURATION_BUCKETS = ((60, "0-1min"), (300, "1-5min"), (600, "5-10min"), (1800, "10-30min"))


def duration_bucket(value: Any) -> str:
    """Duration bucket of the SEATS breakdowns: 0-1min, 1-5min, 5-10min, 10-30min, >30min
    (upper bounds inclusive). A value that is not a duration ("short", "30s"-style labels
    are durations) is returned as its own category string."""
    try:
        seconds = parse_duration(value)
    except ValueError:
        return str(value)
    for upper, label in DURATION_BUCKETS:
        if seconds <= upper:
            return label
    return ">30min"


def parse_str_list(value: Any) -> list[str]:
    """A list of labels stored as a list, a numpy array, "['Speech' 'Music']",
    "['Speech', 'Music']", "Speech, Music" or "Speech"."""
    if value is None:
        return []
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return parse_options(text)
        except ValueError:
            inner = text.strip("[]").strip()
            return [t for t in re.split(r"[,\s]+", inner) if t]
    return [t.strip() for t in text.split(",") if t.strip()]


# --------------------------------------------------------------------------- results


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a record value (numpy scalars/arrays to Python)."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return value.tolist()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def make_payload(
    response: Any,
    options: Any,
    answer: Any,
    video_id: Any,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The per-sample dict every seats task returns from `process_results`:
    `score` (1.0 correct / 0.0 wrong or no answer), `pred` (extracted letter or ""),
    `answer` (ground-truth letter), `video_id` (the cluster key), plus category `fields`."""
    if isinstance(response, list | tuple):
        response = response[0] if response else ""
    text = "" if response is None else str(response)
    pred = extract_choice(text, options)
    gold = answer_letter(answer, options)
    payload: dict[str, Any] = {
        "score": 1.0 if pred and pred == gold else 0.0,
        "pred": pred,
        "answer": gold,
        "video_id": str(_plain(video_id)),
    }
    for key, value in (fields or {}).items():
        payload[key] = _plain(value)
    return payload


def accuracy(results: Iterable[Mapping[str, Any] | float]) -> float:
    """Mean `score` of the payloads, in percent (0-100). 0.0 for no results."""
    scores = [float(r["score"]) if isinstance(r, Mapping) else float(r) for r in results]
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def _group_scores(results: Sequence[Mapping[str, Any]], field_name: str) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    for r in results:
        if field_name not in r:
            continue
        value = r[field_name]
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            groups.setdefault(str(v), []).append(float(r["score"]))
    return groups


def log_breakdown(task: str, results: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> None:
    """Log accuracy per category value of each field (list-valued fields count once per item)."""
    try:
        from loguru import logger
    except ImportError:  # pragma: no cover
        import logging

        logger = logging.getLogger("seats_eval.tasks")
    for name in fields:
        for value, scores in sorted(_group_scores(results, name).items()):
            acc = 100.0 * sum(scores) / len(scores)
            logger.info(f"[{task}] {name}={value}: {acc:.2f} (n={len(scores)})")
    logger.info(f"[{task}] overall: {accuracy(results):.2f} (n={len(results)})")


def aggregate(task: str, results: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> float:
    """Aggregation used by the task YAMLs: logs the breakdown, returns accuracy in %."""
    results = list(results)
    log_breakdown(task, results, fields)
    return accuracy(results)


# --------------------------------------------------------------------------- breakdown

_NON_CATEGORY = {"score", "pred", "answer", "video_id", "question_id", "index", "response"}


def _sample_payload(sample: Mapping[str, Any], metric: str | None) -> Mapping[str, Any] | None:
    if metric is not None:
        value = sample.get(metric)
        return value if isinstance(value, Mapping) else None
    for key, value in sample.items():
        if key in ("doc", "arguments", "input_media"):
            continue
        if isinstance(value, Mapping) and "score" in value:
            return value
    return None


def breakdown(
    samples_jsonl: str | os.PathLike[str],
    by: Sequence[str] | None = None,
    metric: str | None = None,
) -> pd.DataFrame:
    """Per-category accuracy recomputed from an lmms-eval `--log_samples` jsonl.

    Each line's payload is the dict with a `score` field (or the one named `metric`); a `by`
    field is looked up in the payload first, then in the logged `doc`. By default every
    category field of the payloads is used. List-valued fields (e.g. WorldSense audio
    classes) count the sample once per item. Returns columns field, value, n, correct,
    accuracy (%), starting with the overall row (field "overall", value "all").
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    payload_fields: dict[str, None] = {}
    with open(samples_jsonl, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            sample = json.loads(line)
            payload = _sample_payload(sample, metric)
            if payload is None:
                raise ValueError(
                    f"{samples_jsonl}:{lineno}: no result payload with a 'score' field"
                )
            for key in payload:
                if key not in _NON_CATEGORY:
                    payload_fields.setdefault(key, None)
            row = dict(sample.get("doc") or {})
            row.update(payload)
            rows.append(row)
    if not rows:
        raise ValueError(f"{samples_jsonl}: no samples")
    if not by:
        by = list(payload_fields)
    out = [
        {
            "field": "overall",
            "value": "all",
            "n": len(rows),
            "correct": int(sum(float(r["score"]) for r in rows)),
            "accuracy": accuracy(rows),
        }
    ]
    for name in by:
        groups = _group_scores(rows, name)
        if not groups:
            raise ValueError(f"field {name!r} is in neither the payloads nor the docs")
        for value, scores in sorted(groups.items()):
            out.append(
                {
                    "field": name,
                    "value": value,
                    "n": len(scores),
                    "correct": int(sum(scores)),
                    "accuracy": 100.0 * sum(scores) / len(scores),
                }
            )
    return pd.DataFrame(out, columns=["field", "value", "n", "correct", "accuracy"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seats_eval.taskutils")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("breakdown", help="per-category accuracy from a --log_samples jsonl")
    p.add_argument("samples", help="<date>_samples_<task>.jsonl written by lmms-eval --log_samples")
    p.add_argument("--by", nargs="+", default=None, help="fields (default: all category fields)")
    p.add_argument("--metric", default=None, help="payload key (default: the dict with 'score')")
    p.add_argument("--out", default=None, help="CSV file to write (default: print the table)")
    args = parser.parse_args(argv)
    try:
        table = breakdown(args.samples, args.by, args.metric)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{args.out}.tmp")
        table.to_csv(tmp, index=False, float_format="%.2f")
        os.replace(tmp, args.out)
        print(f"wrote {args.out} ({len(table)} rows)")
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
