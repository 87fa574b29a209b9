"""Fault injection: what a damaged cache, a damaged state file, a full or read-only disk,
two runs at once and bad values do. Each case is a row of docs/reliability.md."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from seats_eval.adapters.features import EncoderFeatures
from seats_eval.driver.feature_cache import CacheEntry, CorruptEntry, FeatureCache, read_entry
from seats_eval.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


# --- cache entries: one flipped bit anywhere --------------------------------------------------

def _entry() -> CacheEntry:
    g = torch.Generator().manual_seed(0)
    feats = EncoderFeatures(audio=torch.randn(3, 4, generator=g), video=torch.randn(5, 4, generator=g),
                            deepstack=None, vision_recv=None, audio_recv=None, signals_captured=False,
                            audio_frames_per_token=1, audio_window=None)
    return CacheEntry([1, 151656, 3], [1, 7, 7, 3], {"video_grid_thw": torch.tensor([[2, 2, 2]])}, feats,
                      {"frames": 18, "has_audio": True})


def test_a_flipped_bit_anywhere_in_an_entry_is_caught(tmp_path):
    """Every byte of the file: header, checksum, zip headers, the pickled token ids and media
    facts, tensor data, the zip directory. Not one flip is served."""
    cache = FeatureCache(tmp_path, {"model": "m"})
    path = cache.store("ab" * 20, _entry())
    good = path.read_bytes()
    assert read_entry(path, "ab" * 20).media_info["frames"] == 18
    pkl = good.index(b"data.pkl")  # the pickled (non-tensor) part follows its zip name
    for offset in range(len(good)):
        data = bytearray(good)
        data[offset] ^= 1 << (offset % 8)
        path.write_bytes(bytes(data))
        with pytest.raises(CorruptEntry):
            read_entry(path, "ab" * 20)
    assert pkl > 0


def test_a_bad_entry_is_deleted_recomputed_and_cache_info_names_it(tmp_path, capsys):
    from seats_eval.cli import main

    cache = FeatureCache(tmp_path, {"model": "m"})
    path = cache.store("cd" * 20, _entry())
    data = bytearray(path.read_bytes())
    at = data.index(b"frames")  # the media facts: a JSON string inside the pickle
    data[at + len(b'frames": ')] ^= 0x01  # 18 -> 19 frames
    path.write_bytes(bytes(data))
    assert main(["cache", "info", str(tmp_path)]) == 1
    assert f"BAD {path}: does not match its checksum" in capsys.readouterr().out
    assert cache.load("cd" * 20) is None and not path.exists() and cache.bad == 1
    cache.store("cd" * 20, _entry())
    assert cache.load("cd" * 20).media_info["frames"] == 18
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    assert main(["cache", "info", str(tmp_path)]) == 1


# --- job state files -------------------------------------------------------------------------

def _done_sweep(tmp_path):
    from seats_eval import sweep as sw
    from tests.test_sweep import FAKE_LMMS_EVAL, write_spec

    fake = tmp_path / "fake.py"
    fake.write_text(FAKE_LMMS_EVAL)
    spec = write_spec(tmp_path, fake, [{"method": "full"}])
    s = sw.load_spec(spec)
    report = sw.run_sweep(s, progress=False, echo=lambda _: None)
    assert report.ok
    return sw, s, s.job_dir(s.jobs[0])


@pytest.mark.parametrize("damage", [lambda t: t[: len(t) // 2], lambda t: '["done"]', lambda t: "", lambda t: "\xff"])
def test_an_unreadable_status_keeps_the_result_and_asks_for_force(tmp_path, damage):
    sw, s, jdir = _done_sweep(tmp_path)
    status = jdir / "status.json"
    status.write_text(damage(status.read_text()))
    result = sorted(p.name for p in (jdir / "result").rglob("*"))
    [row] = sw.sweep_status(s)
    assert row["state"] == "unknown" and "status.json" in row["error"] and "--force" in row["error"]
    report = sw.run_sweep(s, progress=False, echo=lambda _: None)
    [o] = report.outcomes
    assert o.state == "unknown" and "--force" in o.message and not report.ok and not o.ran
    assert sorted(p.name for p in (jdir / "result").rglob("*")) == result  # nothing deleted
    forced = sw.run_sweep(s, force=True, progress=False, echo=lambda _: None)
    assert forced.ok and forced.outcomes[0].ran and sw.read_status(jdir)["state"] == "done"


def test_status_cli_shows_unknown_and_the_sweep_exits_non_zero(tmp_path):
    _, s, jdir = _done_sweep(tmp_path)
    (jdir / "status.json").write_text('{"state": "do')
    spec = tmp_path / "t.yaml"
    status = subprocess.run([sys.executable, "-m", "seats_eval.cli", "sweep", "--spec", str(spec), "--status"],
                            capture_output=True, text=True, cwd=REPO)
    assert status.returncode == 0 and " unknown " in status.stdout, status.stderr
    run = subprocess.run([sys.executable, "-m", "seats_eval.cli", "sweep", "--spec", str(spec), "--no-progress"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1 and "--force" in run.stderr


# --- full and read-only disks ----------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path):
    """mount(tmpfs, size, ro) -> a small filesystem of its own; skipped where mounting is not allowed."""
    mounted = []

    def make(size: str = "64k", ro: bool = False) -> Path:
        d = tmp_path / f"fs{len(mounted)}"
        d.mkdir()
        opts = f"size={size}" + (",ro" if ro else "")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (not root)")
        mounted.append(d)
        return d

    yield make
    for d in mounted:
        subprocess.run(["umount", str(d)], check=False)


def test_a_full_disk_fails_the_write_and_keeps_the_old_file(tmpfs):
    from seats_eval.io.atomic import write_bytes_atomic, write_json_atomic

    d = tmpfs("64k")
    write_json_atomic(d / "status.json", {"state": "done"})
    with pytest.raises(OSError) as err:
        write_bytes_atomic(d / "status.json", b"x" * 200_000)
    assert err.value.errno == errno.ENOSPC and str(d / "status.json") in str(err.value)
    assert json.loads((d / "status.json").read_text()) == {"state": "done"}
    assert [p.name for p in d.iterdir()] == ["status.json"]  # no temp file left


def test_a_failing_write_on_any_filesystem_keeps_the_old_file(tmp_path, monkeypatch):
    """The same without a tmpfs: a fake disk that fills up on write."""
    from seats_eval.io import atomic

    atomic.write_json_atomic(tmp_path / "s.json", {"state": "done"})
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd, mode):
            self.f = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", Full)
    with pytest.raises(OSError, match="cannot write .*s.json"):
        atomic.write_json_atomic(tmp_path / "s.json", {"state": "running"})
    assert json.loads((tmp_path / "s.json").read_text()) == {"state": "done"}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_read_only_folders_are_named_with_a_non_zero_exit(tmpfs):
    ro = tmpfs("64k", ro=True)
    for cmd in (["make-clips", "--out", str(ro / "clips")], ["schedule", "--R", "0.3", "--plot", str(ro / "f.png")]):
        proc = subprocess.run([sys.executable, "-m", "seats_eval.cli", *cmd], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 1 and str(ro) in proc.stderr and "Read-only" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_read_only_feature_cache_stops_the_setup(tmpfs, tiny_dir):
    from seats_eval.models.ids import Model_seats_qwen25omni

    ro = tmpfs("64k", ro=True)
    with pytest.raises(ConfigError, match=f"encoder feature cache folder {ro}.* not writable"):
        Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, feature_cache=str(ro / "cache"))


def test_an_empty_or_cut_output_file_fails_eval(tmp_path):
    from seats_eval.commands.eval import _check_written

    run = tmp_path / "run" / "model"
    run.mkdir(parents=True)
    (run / "20260101_results.json").write_text("")  # lmms-eval with no byte left
    _, _, problem = _check_written(tmp_path / "run", 0.0, log_samples=False)
    assert "unreadable (0 bytes" in problem and "20260101_results.json" in problem
    (run / "20260101_results.json").write_text('{"results": {}}')
    (run / "20260101_samples_t.jsonl").write_text("")  # the samples file written empty
    _, _, problem = _check_written(tmp_path / "run", 0.0, log_samples=True)
    assert "samples_t.jsonl are empty or cut" in problem
    (run / "20260101_samples_t.jsonl").write_text('{"doc_id": 0}\n')
    assert _check_written(tmp_path / "run", 0.0, log_samples=True)[2] is None


# --- two runs at once ------------------------------------------------------------------------

def test_two_runs_started_together_get_their_own_ids():
    code = "from seats_eval.io.runs import run_id; print(run_id())"
    env = {k: v for k, v in os.environ.items() if k not in ("SEATS_RUN_ID", "WORLD_SIZE")}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(4)]
    ids = [p.communicate()[0].strip() for p in procs]
    assert len(set(ids)) == 4 and all(ids)


def test_ranks_of_one_launch_share_the_run_id():
    code = ("import os, subprocess, sys; os.environ['WORLD_SIZE'] = '2'; os.environ.pop('SEATS_RUN_ID', None); "
            "c = 'from seats_eval.io.runs import run_id; print(run_id())'; "
            "print(*[subprocess.run([sys.executable, '-c', c], capture_output=True, text=True).stdout.strip() "
            "for _ in range(2)])")
    a, b = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert a == b


def test_a_reused_record_dir_is_refused_and_rows_name_their_run(tmp_path, tiny_dir):
    from seats_eval.models.ids import Model_seats_qwen25omni

    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "records.jsonl").write_text('{"run_id": "earlier"}\n')
    with pytest.raises(ConfigError, match="already holds records.jsonl of an earlier run"):
        Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, record_dir=str(rec))
    m = Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, record_dir=str(tmp_path / "new"))
    m._write("records", {"doc_id": 0})
    row = json.loads((tmp_path / "new" / "records.jsonl").read_text())
    assert row["run_id"] == m.run_id and row["model"] == "seats_qwen25omni" and row["method"] == "seats"
    assert row["R"] == 0.3 and row["profile"] == "official" and row["doc_id"] == 0


# --- bad values, named before any weights load -----------------------------------------------

@pytest.mark.parametrize("opts,named", [
    ({"max_frames": 0}, "max_frames=0"), ({"max_frames": "abc"}, "max_frames='abc'"),
    ({"fps": -2}, "fps=-2"), ({"fps": "nan"}, "fps='nan'"), ({"fps": 0}, "fps=0"),
    ({"max_new_tokens": -1}, "max_new_tokens=-1"), ({"dtype": "foo"}, "dtype='foo'"),
    ({"max_frames": 8, "max_num_frames": 8}, "give max_frames or max_num_frames"),
    ({"batch_size": 2}, "batch_size=2"),
])
def test_a_bad_common_option_is_named_before_the_weights_load(opts, named, monkeypatch):
    from seats_eval.models import omni
    from seats_eval.models.ids import Model_seats_qwen25omni

    monkeypatch.setattr(omni, "load_thinker", lambda *a: pytest.fail("weights loaded"))
    with pytest.raises(ConfigError, match=named.replace("(", r"\(")):
        Model_seats_qwen25omni(pretrained="x", R=0.3, **opts)


def test_max_num_frames_is_max_frames(tiny_dir):
    from seats_eval.models.ids import Model_seats_qwen25omni

    assert Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, max_num_frames="12").max_frames == 12


def test_the_unknown_option_error_lists_the_common_options():
    from seats_eval.backbones.config import load_backbone_config
    from seats_eval.methods import build_method

    with pytest.raises(ConfigError) as err:
        build_method("seats", load_backbone_config("tiny"), {"R": 0.3, "max_framez": 3})
    assert "max_framez" in str(err.value) and "max_frames" in str(err.value) and "max_num_frames" in str(err.value)


def test_eval_refuses_a_duplicate_model_arg_at_once(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "seats_eval.cli", "eval", "--model", "seats_qwen25omni",
                           "--model_args", "pretrained=x,R=0.1,R=0.35", "--tasks", "t",
                           "--output_path", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "option R is given twice" in proc.stderr


def _spec(tmp_path, **over):
    spec = {"name": "t", "backbone": "qwen25omni", "tasks": ["seats_fixture_mcq"], "out": str(tmp_path / "o"),
            "model_args": {"pretrained": "x"}, "jobs": [{"method": "seats", "R": 0.3}], **over}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize("over,named", [
    ({"jobs": [{"method": "seats", "R": 1.5}]}, "option R=1.5 is not allowed"),
    ({"jobs": [{"method": "seats", "R": 0.3, "mode": "bogus"}]}, "option mode='bogus'"),
    ({"limit": -1}, "option limit=-1"), ({"limit": "abc"}, "option limit='abc'"),
    ({"num_processes": "abc"}, "option num_processes='abc'"),
    ({"tiny": "maybe"}, "option tiny='maybe'"),
    ({"jobs": [{"method": "seats", "R": 0.3, "name": ".."}]}, "job name '..' is not allowed"),
    ({"name": ".."}, "name '..' is not allowed"),
    ({"select": {"R": [0.99]}}, "no job is left after `select`"),
    ({"model_args": {"pretrained": "x", "max_frames": 0}}, "option max_frames=0"),
])
def test_bad_spec_values_are_named_at_load(tmp_path, over, named):
    from seats_eval.sweep import load_spec

    with pytest.raises(ConfigError, match=named.replace("(", r"\(")):
        load_spec(_spec(tmp_path, **over))


def test_spec_booleans_are_strict(tmp_path):
    from seats_eval.sweep import load_spec

    s = load_spec(_spec(tmp_path, tiny="false", cache="false"))
    assert s.tiny is False and s.cache is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_spec(bad)


# --- data roots ------------------------------------------------------------------------------

@pytest.fixture
def no_data_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith("SEATS_") and k.endswith(("_ROOT", "_DATA")):
            monkeypatch.delenv(k)
    return monkeypatch


def test_a_data_root_one_level_off_is_named_and_nothing_downloads(tmp_path, no_data_env):
    from seats_eval.tasklib.sources import preflight

    (tmp_path / "worldsense").mkdir()
    no_data_env.setenv("SEATS_DATA_ROOT", str(tmp_path / "worldsense"))
    msg = preflight("worldsense")
    assert "SEATS_DATA_ROOT" in msg and f"{tmp_path}/worldsense/worldsense, which does not exist" in msg
    assert "one level off" in msg and "Not downloading" in msg and "videos/<video>.mp4" in msg
    no_data_env.setenv("SEATS_DATA_ROOT", str(tmp_path))
    assert preflight("worldsense") is None
    proc = subprocess.run([sys.executable, "-m", "seats_eval.cli", "eval", "--model", "seats_qwen25omni",
                           "--model_args", "pretrained=x", "--tasks", "seats_worldsense", "--output_path",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, SEATS_DATA_ROOT=str(tmp_path / "nowhere")))
    assert proc.returncode == 2 and "SEATS_DATA_ROOT" in proc.stderr and "does not exist" in proc.stderr


@pytest.mark.parametrize("bench", ["videomme", "omnivideobench"])
def test_offline_without_a_local_copy_names_the_variables(tmp_path, no_data_env, bench):
    from seats_eval.tasklib.sources import preflight

    no_data_env.setenv("HF_HUB_OFFLINE", "1")
    no_data_env.setenv("HF_HOME", str(tmp_path))
    msg = preflight(bench)
    assert f"SEATS_{bench.upper()}_ROOT" in msg and f"SEATS_{bench.upper()}_DATA" in msg and "looked in" in msg


def test_a_video_missing_after_a_cut_extraction_gives_the_repair(tmp_path, no_data_env):
    from seats_eval.errors import MediaError
    from seats_eval.tasklib.sources import video_path

    no_data_env.setenv("SEATS_WORLDSENSE_ROOT", str(tmp_path))
    with pytest.raises(MediaError, match="delete that folder and rerun.*unzip -l"):
        video_path("worldsense", ["videos/abc.mp4"])


def test_a_missing_configured_root_never_starts_a_release_download(tmp_path, no_data_env):
    from seats_eval.tasklib.sources import dataset_source

    no_data_env.setenv("SEATS_DATA_ROOT", str(tmp_path / "typo"))
    for bench in ("worldsense", "omnivideobench", "videomme"):
        _, kwargs = dataset_source(bench)
        assert not {"video", "cache_dir", "create_link"} & set(kwargs)  # lmms-eval's download switches
    (tmp_path / "typo" / "videomme").mkdir(parents=True)
    assert dataset_source("videomme")[1]["video"] is True


# --- subcommands: a bad flag or file is named, never a traceback ------------------------------

@pytest.mark.parametrize("argv,named,rc", [
    (["flops", "--tokens", "100", "--option", "lam"], "'lam' is not KEY=VALUE", 2),
    (["compare-sweeps", "{tmp}/nope-a", "{tmp}/nope-b"], "nope-a is not a sweep folder", 2),
    (["bench", "select", "--hidden", "-1"], "--hidden='-1' is not allowed: must be an integer in [1, inf]", 2),
    (["models", "--backbone", "bogus"], "unknown --backbone 'bogus'; allowed: qwen25omni, qwen3omni", 2),
    (["make-tiny", "--out", "{tmp}/t", "--layers", "0"], "--layers='0' is not allowed", 2),
    (["breakdown", "{tmp}/plain.txt"], "plain.txt: not a readable lmms-eval samples JSONL", 2),
])
def test_a_bad_subcommand_flag_or_file_is_named(tmp_path, argv, named, rc, capsys):
    from seats_eval.cli import main

    (tmp_path / "plain.txt").write_text("not json\n")
    argv = [a.format(tmp=tmp_path) for a in argv]
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse refuses a flag's value
        got = exc.code
    err = capsys.readouterr().err
    assert got == rc and named in err and "Traceback" not in err
    assert not (tmp_path / "t").exists()


def test_a_damaged_job_json_keeps_the_result(tmp_path):
    sw, s, jdir = _done_sweep(tmp_path)
    (jdir / "result" / "job.json").write_text('["x"]')
    [o] = sw.run_sweep(s, progress=False, echo=lambda _: None).outcomes
    assert o.state == "failed" and "--force" in o.message and not o.ran and (jdir / "result").is_dir()


def test_a_cut_results_json_keeps_the_result(tmp_path):
    """A finished job whose results JSON no longer parses: kept and reported, not rerun over."""
    from seats_eval.sweep.store import find_results_json

    sw, s, jdir = _done_sweep(tmp_path)
    res = find_results_json(jdir / "result")
    text = res.read_text()
    res.write_text(text[: len(text) // 2])
    [o] = sw.run_sweep(s, progress=False, echo=lambda _: None).outcomes
    assert o.state == "failed" and "does not verify" in o.message and "--force" in o.message and not o.ran
    assert res.read_text() == text[: len(text) // 2]  # untouched
