"""Where each benchmark's data comes from: the hub dataset id by default, or a local parquet
copy / video root chosen by environment variables (see tasks/README.md). Repos that ship
loose videos (OmniVideoBench, LVOmniBench's video repo) are also found in the local hub
cache after a plain `hf download` (`cached_snapshot`), without any network call. Read when
lmms-eval loads a task config (`dataset_source`) and when a record's video is resolved.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from seats_eval.errors import ConfigError
from seats_eval.tasklib.paths import resolve_video


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


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def preflight(bench: str) -> str | None:
    """Why a run of the real benchmark would fail or download the whole release into the wrong
    place, before lmms-eval starts (None when nothing is wrong that can be seen here): a
    configured root that does not exist (lmms-eval would download the release into it), or an
    offline run with no local copy. The message names the variables, the folder looked in,
    what was expected there and the repair."""
    spec = _benchmark(bench)
    layout = f"the videos as {spec.video_layout}"
    if _env_path(spec.data_env) is not None:
        return None  # local annotations: checked (with their own message) when the task loads
    configured = _configured_root(spec)
    if configured is not None:
        if configured.is_dir():
            return None
        var = spec.root_env if _env_path(spec.root_env) is not None else f"{DATA_ROOT_ENV} (read as <it>/{spec.key})"
        near = [p for p in (configured.parent / spec.key, configured.parent, configured.parent.parent / spec.key)
                if p != configured and p.is_dir() and p.name == spec.key]
        hint = f"; found {near[0]}: is the variable one level off?" if near else ""
        return (f"{spec.key}: {var} points at {configured}, which does not exist (expected a folder holding "
                f"{layout}{hint}); fix the variable, or unset it to use the hub copy. Not downloading the "
                f"release (videos come from {spec.video_source}).")
    if _offline() and not video_root(bench).is_dir():
        return (f"{spec.key}: offline (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE) and no local copy: looked in "
                f"{video_root(bench)}; set {spec.root_env} (or {DATA_ROOT_ENV}) to the folder holding {layout}, and "
                f"{spec.data_env} to a local copy of the annotations (a parquet file or a folder of them, e.g. a "
                f"snapshot of another hub copy of {spec.hub_id}) if the hub dataset is not cached")
    return None


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
      links a snapshot of loose files there). A configured root that does not exist is an
      error (logged, and named by every sample), never a whole-release download into it.
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
    configured = _configured_root(spec)
    kwargs: dict[str, Any] = {"cache_dir": str(configured or _hf_home() / spec.cache_dir), "video": True}
    if _hub_token_available():
        kwargs["token"] = True
    kwargs.update(
        {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in spec.hub_kwargs.items()}
    )
    if configured is not None and not configured.is_dir():
        # lmms-eval would download the whole release into the missing folder: annotations
        # only, and every sample names the missing root (`video_path`).
        from loguru import logger

        logger.error(f"seats-eval: {preflight(bench)}")
        for key in ("cache_dir", "video", "create_link"):
            kwargs.pop(key, None)
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
    """Folder of the generated test clips: $SEATS_FIXTURE_CLIPS, else artifacts/clips under the
    project folder (a checkout; else the working directory: seats_eval/io/resources.py)."""
    from ..io.resources import work_dir

    return _env_path(FIXTURE_CLIPS_ENV) or work_dir() / "artifacts" / "clips"


def video_path(bench: str, relpaths: Sequence[str]) -> str:
    """Absolute video path for a record of a real benchmark (see `video_root`)."""
    spec = _benchmark(bench)
    root = video_root(bench)
    hint = (
        f"set {spec.root_env} (or {DATA_ROOT_ENV}, read as $SEATS_DATA_ROOT/{spec.key}) to the "
        f"folder holding {spec.video_layout}; current video root: {root}; "
        f"videos come from {spec.video_source}; if the other videos are there, an extraction was "
        f"cut short: lmms-eval extracts only when {root} is missing, so delete that folder and rerun, "
        f"or extract the archive holding this video into it by hand (`unzip -l` lists each chunk's files)"
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
