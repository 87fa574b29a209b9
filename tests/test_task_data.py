"""The real releases' download layouts are found by the DEFAULT task configuration.

No SEATS_* variable is set here: HF_HOME points at a temporary folder laid out as a user's
machine is after the documented downloads (tasks/README.md): lmms-eval's extraction folder,
a `hf download --local-dir` copy, or the hub cache of a plain `hf download` (blobs,
snapshots/<sha>/ symlinks, refs/main). OmniVideoBench is also loaded through lmms-eval's own
TaskManager offline, both after a hub download and on a first run whose hub download is
stubbed (lmms-eval's real download branch: create_link, kwargs popping, split naming).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import huggingface_hub.constants
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seats_eval.errors import MediaError
from seats_eval.tasklib import sources
from tests.test_tasks import CLIPS, REPO, TASKS, fixture_docs, load_utils, touch

OVB_REPO = "NJU-LINK/OmniVideoBench"
LVOB_VIDEO_REPO = "KD-TAO/LVOmniBench"
# OmniVideoBench records as the real repo's forms: the official bare id, a bare file name,
# and the authors' fork's videos/ path; the files are loose videos/video_N.mp4
OVB_VIDEOS = ["video_1", "videos/video_2.mp4", "video_3.mp4", "videos/video_4.mp4"]


@pytest.fixture(autouse=True)
def hf_home(tmp_path, monkeypatch) -> Path:
    """A fresh HF_HOME with an empty hub cache; no SEATS_* variable."""
    for name in list(os.environ):
        if name.startswith("SEATS_"):
            monkeypatch.delenv(name)
    home = tmp_path / "hf"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    # huggingface_hub reads HF_HOME once, at import: point its cache constant here too
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    return home


def fake_hub_repo(hub_cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """A dataset repo as huggingface_hub caches it: content in blobs/, snapshots/<sha>/<path>
    as relative symlinks to the blobs, refs/main naming the sha. Returns the snapshot."""
    repo = hub_cache / f"datasets--{repo_id.replace('/', '--')}"
    sha = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / sha
    for rel, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(sha)
    return snapshot


def ovb_files(clips_dir: Path) -> dict[str, bytes]:
    """The OmniVideoBench repo's files: a root data.parquet (the fixture records with the
    real video forms) and loose videos/video_N.mp4 (generated clips)."""
    docs = [dict(d, video=v) for d, v in zip(fixture_docs("omnivideobench"), OVB_VIDEOS, strict=True)]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(docs), buf)
    files = {"data.parquet": buf.getvalue()}
    for i, clip in enumerate(CLIPS, 1):
        files[f"videos/video_{i}.mp4"] = (clips_dir / f"{clip}.mp4").read_bytes()
    return files


def write_plain(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


# --------------------------------------------------------------------------- OmniVideoBench


def test_omnivideobench_video_forms(tmp_path, monkeypatch):
    monkeypatch.setenv("SEATS_OMNIVIDEOBENCH_ROOT", str(tmp_path))
    module = load_utils("omnivideobench")
    for i, value in enumerate(OVB_VIDEOS, 1):
        expected = touch(tmp_path / "videos" / f"video_{i}.mp4")
        assert module.doc_to_visual({"video": value}) == [str(expected)]
    # a root set to the videos folder itself: bare ids are found there too
    flat = touch(tmp_path / "flat" / "video_7.mp4")
    monkeypatch.setenv("SEATS_OMNIVIDEOBENCH_ROOT", str(tmp_path / "flat"))
    assert module.doc_to_visual({"video": "video_7"}) == [str(flat)]


def test_omnivideobench_missing_bare_id_names_the_paths_and_what_to_set(hf_home):
    with pytest.raises(MediaError) as info:
        load_utils("omnivideobench").doc_to_visual({"video": "video_9"})
    message = str(info.value)
    assert info.value.path == str(hf_home / "OmniVideoBench" / "videos" / "video_9.mp4")
    assert str(hf_home / "OmniVideoBench" / "video_9.mp4") in message  # also tried
    assert "SEATS_OMNIVIDEOBENCH_ROOT" in message
    assert f"hf download {OVB_REPO} --repo-type dataset" in message


def test_omnivideobench_hub_cache_is_the_default(hf_home, clips_dir):
    # after `hf download NJU-LINK/OmniVideoBench --repo-type dataset`: nothing else set
    snapshot = fake_hub_repo(hf_home / "hub", OVB_REPO, ovb_files(clips_dir))
    path, kwargs = sources.dataset_source("omnivideobench")
    assert (path, kwargs) == ("parquet", {"data_files": {"test": [str(snapshot / "data.parquet")]}})
    assert sources.video_root("omnivideobench") == snapshot
    module = load_utils("omnivideobench")
    docs = pq.read_table(snapshot / "data.parquet").to_pylist()
    got = [module.doc_to_visual(d)[0] for d in docs]
    assert got == [str(snapshot / "videos" / f"video_{i}.mp4") for i in range(1, 5)]
    assert all(Path(p).is_file() for p in got)


@pytest.mark.parametrize("how", ["local_dir", "link"])
def test_omnivideobench_cache_dir_wins_over_the_hub_cache(hf_home, clips_dir, tmp_path, how):
    # `--local-dir $HF_HOME/OmniVideoBench`, or the link lmms-eval made on a first run
    files = ovb_files(clips_dir)
    cache_dir = hf_home / "OmniVideoBench"
    if how == "local_dir":
        write_plain(cache_dir, files)
        fake_hub_repo(hf_home / "hub", OVB_REPO, {"data.parquet": files["data.parquet"]})
    else:
        cache_dir.symlink_to(fake_hub_repo(hf_home / "hub", OVB_REPO, files))
    assert sources.dataset_source("omnivideobench") == (
        "parquet",
        {"data_files": {"test": [str(cache_dir / "data.parquet")]}},
    )
    assert sources.video_root("omnivideobench") == cache_dir
    doc = {"video": "video_1"}
    assert load_utils("omnivideobench").doc_to_visual(doc) == [
        str(cache_dir / "videos" / "video_1.mp4")
    ]


def test_omnivideobench_local_dir_as_the_root(tmp_path, monkeypatch, clips_dir):
    # `hf download ... --local-dir DIR` + SEATS_OMNIVIDEOBENCH_ROOT=DIR: annotations read too
    local = write_plain(tmp_path / "ovb", ovb_files(clips_dir))
    monkeypatch.setenv("SEATS_OMNIVIDEOBENCH_ROOT", str(local))
    assert sources.dataset_source("omnivideobench") == (
        "parquet",
        {"data_files": {"test": [str(local / "data.parquet")]}},
    )
    doc = {"video": "videos/video_4.mp4"}
    assert load_utils("omnivideobench").doc_to_visual(doc) == [str(local / "videos" / "video_4.mp4")]


# --------------------------------------------------------------------------- the other four


def _release_layout(bench: str, doc: dict) -> str:
    """Where the documented download puts a record's video under $HF_HOME/<cache_dir>."""
    if bench == "worldsense":  # lmms-eval extracts videos_chunk_*.zip
        return f"WorldSense/videos/{doc['video']}.mp4"
    if bench == "dailyomni":  # tar -xf Videos.tar -C $HF_HOME/DailyOmni
        return f"DailyOmni/Videos/{doc['video_id']}/{doc['video_id']}_video.mp4"
    if bench == "videomme":  # lmms-eval extracts videos_chunked_*.zip
        return f"videomme/data/{doc['videoID']}.mp4"
    if bench == "lvomnibench":  # hf download KD-TAO/LVOmniBench --local-dir $HF_HOME/lvomnibench
        return f"lvomnibench/videos/{doc['video_id']}.mp4"
    raise AssertionError(bench)


@pytest.mark.parametrize("bench", ["worldsense", "dailyomni", "videomme", "lvomnibench"])
def test_release_layout_is_found_by_default(bench, hf_home):
    module = load_utils(bench)
    docs = fixture_docs(bench)
    with pytest.raises(MediaError):
        module.doc_to_visual(docs[0])
    for doc in docs:
        expected = touch(hf_home / _release_layout(bench, doc))
        assert module.doc_to_visual(doc) == [str(expected)]
    path, kwargs = sources.dataset_source(bench)  # annotations still from the hub
    assert path == sources.BENCHMARKS[bench].hub_id and kwargs["video"] is True


def test_lvomnibench_videos_in_the_hub_cache(hf_home, clips_dir):
    # after `hf download KD-TAO/LVOmniBench --repo-type dataset` (no --local-dir)
    files = {"data.json": b"[]"}
    files |= {f"videos/{c}.mp4": (clips_dir / f"{c}.mp4").read_bytes() for c in CLIPS}
    snapshot = fake_hub_repo(hf_home / "hub", LVOB_VIDEO_REPO, files)
    assert sources.video_root("lvomnibench") == snapshot
    module = load_utils("lvomnibench")
    for doc in fixture_docs("lvomnibench"):
        assert module.doc_to_visual(doc) == [str(snapshot / "videos" / f"{doc['video_id']}.mp4")]
    # the annotations are another repo: still the hub, with lmms-eval's cache folder
    path, kwargs = sources.dataset_source("lvomnibench")
    assert path == "xxayt/LVOmniBench"
    assert kwargs["cache_dir"] == str(hf_home / "lvomnibench")
    # a --local-dir copy in the default folder wins
    local = touch(hf_home / "lvomnibench" / "videos" / "av_moving.mp4")
    assert module.doc_to_visual(fixture_docs("lvomnibench")[0]) == [str(local)]


# --------------------------------------------------------------------------- through lmms-eval

LOAD_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from lmms_eval.tasks import TaskManager, get_task_dict
    include, name, remote = sys.argv[1], sys.argv[2], sys.argv[3]
    calls = []
    if remote:  # a first run: stand in for the hub (same files, in a local folder)
        import datasets
        import lmms_eval.api.task as lmms_task
        def fake_snapshot_download(repo_id, **kwargs):
            calls.append(repo_id)
            return remote
        real_load = datasets.load_dataset
        def fake_load_dataset(path, *args, **kwargs):
            if path == "NJU-LINK/OmniVideoBench":
                calls.append(sorted(kwargs))
                path = remote  # data_files resolve against the repo root, as on the hub
            return real_load(path, *args, **kwargs)
        lmms_task.snapshot_download = fake_snapshot_download
        datasets.load_dataset = fake_load_dataset
    task = get_task_dict([name], TaskManager(include_path=include))[name]
    docs = task.test_docs()
    from seats_eval.tasklib import sources
    out = {
        "splits": sorted(task.dataset.keys()),
        "dataset_path": task.config.dataset_path,
        "records": [d["video"] for d in docs],
        "visual": [task.doc_to_visual(d)[0] for d in docs],
        "calls": calls,
        "next_run": sources.dataset_source("omnivideobench"),
    }
    print("@@" + json.dumps(out))
    """
)


def run_lmms_eval(tmp_path: Path, hf_home: Path, remote: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEATS_", "HF_"))}
    env.update(
        HF_HOME=str(hf_home),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    args = [str(TASKS), "seats_omnivideobench", str(remote or "")]
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))
    return json.loads(line[2:])


def test_lmms_eval_loads_omnivideobench_from_the_hub_cache(tmp_path, hf_home, clips_dir):
    snapshot = fake_hub_repo(hf_home / "hub", OVB_REPO, ovb_files(clips_dir))
    out = run_lmms_eval(tmp_path, hf_home)
    assert out["splits"] == ["test"] and out["dataset_path"] == "parquet"
    assert out["records"] == OVB_VIDEOS
    assert out["visual"] == [str(snapshot / "videos" / f"video_{i}.mp4") for i in range(1, 5)]
    assert all(Path(p).is_file() for p in out["visual"])
    assert out["calls"] == []
    assert not (hf_home / "OmniVideoBench").exists()  # nothing extracted, linked or copied


def test_lmms_eval_first_run_links_the_omnivideobench_snapshot(tmp_path, hf_home, clips_dir):
    # nothing on disk yet: the hub id and lmms-eval's download branch (download stubbed)
    remote = write_plain(tmp_path / "remote", ovb_files(clips_dir))
    out = run_lmms_eval(tmp_path, hf_home, remote)
    cache_dir = hf_home / "OmniVideoBench"
    assert out["dataset_path"] == OVB_REPO
    assert out["calls"][0] == OVB_REPO  # lmms-eval's snapshot_download
    assert "data_files" in out["calls"][1] and "create_link" not in out["calls"][1]
    assert cache_dir.is_symlink() and cache_dir.resolve() == remote.resolve()
    assert out["splits"] == ["test"] and out["records"] == OVB_VIDEOS
    assert out["visual"] == [str(cache_dir / "videos" / f"video_{i}.mp4") for i in range(1, 5)]
    assert all(Path(p).is_file() for p in out["visual"])
    # the next run reads the linked snapshot locally: no download branch, no network
    assert out["next_run"] == [
        "parquet",
        {"data_files": {"test": [str(cache_dir / "data.parquet")]}},
    ]
