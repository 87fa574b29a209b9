"""The layer-removal probe (remove_at, `seats-eval probe`) and the calibration of the block
boundaries from it (seats_eval.backbones.calibrate, `seats-eval calibrate`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from seats_eval.backbones.budgets import build_schedule, layer_counts, resolve_budget
from seats_eval.backbones.calibrate import calibrate_curve, isotonic, write_config
from seats_eval.backbones.config import load_backbone_config
from seats_eval.cli import main as cli_main
from seats_eval.commands import probe as probe_cmd
from seats_eval.driver import generate
from seats_eval.errors import ConfigError
from seats_eval.methods import build_method

from .conftest import EOS
from .oracle import oracle_generate

REPO = Path(__file__).resolve().parents[1]
TINY = load_backbone_config("tiny")

# --------------------------------------------------------------------------- remove_at


@pytest.mark.parametrize("modality, layer", [("both", -1), ("video", 2), ("audio", 0), ("both", 4)])
def test_remove_at_counts_and_oracle(thinker, make_inputs, modality, layer):
    inputs = make_inputs("av_moving.mp4")
    method = build_method("remove_at", TINY, {"layer": layer, "modality": modality})
    res = generate(thinker, inputs, method, max_new_tokens=3, eos_token_ids=EOS)
    rec = res.record
    n_text, n_v, n_a = rec.input_counts
    gone = {"video": {1}, "audio": {2}, "both": {1, 2}}[modality]
    for j, counts in enumerate(rec.layer_counts):  # j: 0-based decoder layer
        for col, n in ((1, n_v), (2, n_a)):
            assert counts[col] == (0 if (col in gone and j >= layer + 1) else n), (j, counts)
        assert counts[0] == n_text
    tokens, logits, _ = oracle_generate(thinker, inputs, rec, max_new_tokens=3, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens


def test_remove_at_options():
    L = TINY.num_layers
    m = build_method("remove_at", TINY, {"layer": L - 2})
    assert m.modality == "both" and m.describe()["first_layer_without"] == L
    assert [s.after_layer for s in m.drop_steps(L)] == [L - 2]
    with pytest.raises(ConfigError, match="after the last layer"):
        build_method("remove_at", TINY, {"layer": L - 1})
    with pytest.raises(ConfigError, match=r"\[-1, 6\]"):
        build_method("remove_at", TINY, {"layer": -2})
    with pytest.raises(ConfigError, match="layer is required"):
        build_method("remove_at", TINY, {})
    with pytest.raises(ConfigError, match="allowed"):
        build_method("remove_at", TINY, {"layer": 1, "modality": "text"})
    with pytest.raises(ConfigError, match="unknown option"):
        build_method("remove_at", TINY, {"layer": 1, "R": 0.3})


def test_remove_at_has_a_model_id():
    from seats_eval.models.registry import model_ids

    assert "remove_at_qwen25omni" in model_ids()


# --------------------------------------------------------------------------- probe helpers


def test_parse_layers_and_modalities():
    assert probe_cmd.parse_layers("0-3", 28) == [0, 1, 2, 3]
    assert probe_cmd.parse_layers("-1-2,8,5", 28) == [-1, 0, 1, 2, 5, 8]
    assert probe_cmd.parse_layers(None, 8) == list(range(-1, 7))
    with pytest.raises(ConfigError, match="outside"):
        probe_cmd.parse_layers("0-27", 28)  # 27 = after the last layer
    with pytest.raises(ConfigError, match="cannot read"):
        probe_cmd.parse_layers("a-b", 28)
    assert probe_cmd.parse_modalities("video, both") == ["video", "both"]
    with pytest.raises(ConfigError):
        probe_cmd.parse_modalities("text")


def test_extract_metrics():
    res = {"results": {"t": {"alias": "t", "acc,none": 50.0, "acc_stderr,none": "N/A"},
                       "u": {"alias": "u", "f1,none": 0.5, "score,none": 0.25},
                       "w": {"alias": "w", "f1,none": 0.5, "score,none": 0.25}},
           "configs": {"t": {"metric_list": [{"metric": "acc"}]},  # one metric: no name needed
                       "u": {"metadata": {"main_metric": "score"}},  # named, though listed second
                       "w": {"metric_list": [{"metric": "f1"}, {"metric": "score"}]}}}
    assert probe_cmd.extract_metrics(res, ["t", "u"]) == {"t": 50.0, "u": 0.25}
    assert probe_cmd.extract_metrics(res, ["u"], "f1") == {"u": 0.5}
    with pytest.raises(ConfigError, match="task w names no main metric"):
        probe_cmd.extract_metrics(res, ["w"])
    with pytest.raises(ConfigError, match="no task"):
        probe_cmd.extract_metrics(res, ["v"])


def _fake_settings(tmp_path: Path) -> dict:
    return {"backbone": "tiny", "num_layers": 8, "pretrained": str(tmp_path), "tasks": ["t"], "limit": 2,
            "model_args": "", "model_suffix": "qwen25omni"}


FAKE_LMMS_EVAL = """
import argparse, json, os, sys
p = argparse.ArgumentParser()
for a in ("--model", "--model_args", "--tasks", "--output_path"):
    p.add_argument(a)
args, _ = p.parse_known_args()
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(json.dumps([args.model, args.model_args]) + "\\n")
score = 10.0 if "layer=-1" in args.model_args else 40.0
os.makedirs(os.path.join(args.output_path, "model"), exist_ok=True)
os.makedirs(os.environ["SEATS_RECORD_DIR"], exist_ok=True)
with open(os.path.join(args.output_path, "model", "x_results.json"), "w") as f:
    json.dump({"results": {"t": {"acc,none": score}}, "configs": {"t": {"metadata": {"main_metric": "acc"}}}}, f)
"""


def test_probe_jobs_run_as_a_sweep_are_not_rerun_and_outputs_are_written(tmp_path, monkeypatch):
    from seats_eval.sweep.runner import run_sweep

    settings = _fake_settings(tmp_path)
    fake = tmp_path / "fake_lmms_eval.py"
    fake.write_text(FAKE_LMMS_EVAL)
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    monkeypatch.setattr("seats_eval.sweep.runner._registered_ids", lambda: None)
    out = tmp_path / "probe"
    points = [(None, None), ("both", -1), ("both", 3)]
    sweep = probe_cmd.probe_sweep(settings, points, out, "tasks", [sys.executable, str(fake)])
    assert run_sweep(sweep, progress=False, echo=lambda _: None).ok
    calls = [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c[0] for c in calls] == ["qwen25omni", "remove_at_qwen25omni", "remove_at_qwen25omni"]
    assert "layer=-1,modality=both" in calls[1][1]
    again = probe_cmd.probe_sweep(settings, points[2:], out, "tasks", [sys.executable, str(fake)])
    assert [o.state for o in run_sweep(again, progress=False, echo=lambda _: None).outcomes] == ["done"]
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 3  # finished: not rerun
    probe = probe_cmd.collect(out, settings)
    probe_cmd.write_outputs(out, probe)
    assert probe["full"]["score"] == 40.0
    assert [(p["layer"], p["first_layer_without"], p["score"]) for p in probe["points"]] == [(-1, 1, 10.0), (3, 5, 40.0)]
    assert (out / "probe.csv").read_text().splitlines()[0] == "modality,layer,first_layer_without,score,t"
    assert (out / "probe.png").stat().st_size > 0
    with pytest.raises(ConfigError, match="--model-args sets layer"):
        probe_cmd.probe_sweep({**settings, "model_args": "layer=2"}, points, out, "tasks")


def test_probe_cli_dry_run_and_pinned_settings(tmp_path, capsys):
    args = ["probe", "--backbone", "tiny", "--pretrained", str(tmp_path), "--tasks", "t", "--modalities", "audio",
            "--layers=-1,2", "--out", str(tmp_path / "p"), "--dry-run"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert out.count("[probe]") == 3 and "layer=2,modality=audio" in out
    (tmp_path / "p").mkdir()
    s = {**_fake_settings(tmp_path), "tasks": ["other"]}
    (tmp_path / "p" / "settings.json").write_text(json.dumps(s))
    assert cli_main(args[:-1]) == 2
    assert "other settings" in capsys.readouterr().err


# --------------------------------------------------------------------------- calibration


def fig2_curve(L: int, L_s: int, L_l: int, full: float = 46.2, floor: float = 0.56) -> list[float]:
    """A curve shaped like Fig. 2 over x = 1..L (x = first 1-based layer without the tokens),
    in relative accuracy: collapse near chance (floor +- 1%) up to x = L_s; a rapid recovery
    that jumps to 60% of the way at L_s + 1 and rises concavely to 0.97 at L_l - 1; flat
    (1 +- 0.5%) from L_l on. Deterministic noise."""
    ys = []
    start = floor + 0.6 * (1 - floor)
    for x in range(1, L + 1):
        if x <= L_s:
            a = floor + 0.01 * math.sin(7.3 * x)
        elif x < L_l:
            u = (x - L_s - 1) / max(1, L_l - L_s - 2)
            a = start + (0.97 - start) * math.sin(u * math.pi / 2)
        else:
            a = 1.0 + 0.005 * math.sin(7.3 * x)
        ys.append(full * a)
    return ys


@pytest.mark.parametrize("L, truth", [(28, (16, 19, 21, 24)), (48, (27, 32, 36, 40)), (8, (2, 4, 5, 7))])
def test_rule_recovers_the_papers_boundaries(L, truth):
    ys = fig2_curve(L, truth[0], truth[3])
    cal = calibrate_curve(range(1, L + 1), ys, L, acc_full=46.2)
    assert cal.boundaries == truth
    assert not cal.notes
    # without a full-token run the tail's level stands in for it
    assert calibrate_curve(range(1, L + 1), ys, L).boundaries == truth


def test_rule_on_qwen25_details():
    ys = fig2_curve(28, 16, 24)
    cal = calibrate_curve(range(1, 29), ys, 28, acc_full=46.2)
    assert cal.progress[15] < 0.5 <= cal.progress[16]  # x = 16 collapsed, x = 17 recovering
    assert cal.relative[22] < 0.98 <= cal.relative[23]  # x = 23 still drops, 24 on flat
    # shuffled input order and every second layer only: same shallow/late boundaries
    xs = list(range(1, 29))
    assert calibrate_curve(xs[::-1], ys[::-1], 28, 46.2).boundaries == (16, 19, 21, 24)
    coarse = calibrate_curve(xs[1::2], ys[1::2], 28, 46.2)  # even x only: linear interpolation between
    assert abs(coarse.boundaries[0] - 16) <= 1 and abs(coarse.boundaries[3] - 24) <= 1
    rec = calibrate_curve(xs, ys, 28, 46.2, split="recovery")  # the alternative split stays valid
    assert rec.boundaries[0] == 16 and rec.boundaries[3] == 24 and 17 < rec.boundaries[1] < rec.boundaries[2] < 24


def test_rule_edge_cases():
    with pytest.raises(ConfigError, match="no measurable collapse"):
        calibrate_curve(range(1, 29), [46.0] * 28, 28, 46.2)
    late = [20.0] * 27 + [46.0]  # collapse until the very end
    cal = calibrate_curve(range(1, 29), late, 28, 46.2)
    assert cal.boundaries == (24, 26, 27, 28) and cal.notes  # widened to the smallest valid middle, noted
    never = [20.0 + x for x in range(28)]  # never within tolerance of 46.2... until x = 27
    cal = calibrate_curve(range(1, 29), [min(v, 40.0) for v in never], 28, 46.2)
    assert cal.boundaries[3] == 28 and any("never" in n for n in cal.notes)
    with pytest.raises(ConfigError, match="L >= 5"):
        calibrate_curve([1, 2], [1.0, 2.0], 4, 2.0)
    with pytest.raises(ConfigError, match="distinct"):
        calibrate_curve([0, 2], [1.0, 2.0], 8, 2.0)
    assert isotonic([1, 3, 2, 4, 0]) == [1, 2.25, 2.25, 2.25, 2.25]


def _probe_json(path: Path, backbone: str, L: int, ys: list[float], full: float | None) -> Path:
    points = [{"modality": "both", "layer": x - 2, "first_layer_without": x, "metrics": {"t": y}, "score": y}
              for x, y in zip(range(1, L + 1), ys, strict=True)]
    data = {"backbone": backbone, "num_layers": L, "pretrained": "x", "tasks": ["t"], "limit": None,
            "model_args": "", "full": None if full is None else {"metrics": {"t": full}, "score": full},
            "points": points}
    path.write_text(json.dumps(data))
    return path


def test_calibrate_cli_writes_a_config_that_loads(tmp_path):
    probe = _probe_json(tmp_path / "probe.json", "qwen2.5-omni-7b", 28, fig2_curve(28, 16, 24), 46.2)
    out = tmp_path / "model_configs" / "qwen25_calibrated.yaml"
    assert cli_main(["calibrate", "--probe", str(probe), "--out", str(out)]) == 0
    cfg = load_backbone_config(out)
    base = load_backbone_config("qwen2.5-omni-7b")
    assert cfg.boundaries == (16, 19, 21, 24)
    assert replace(cfg, path="") == replace(base, path="")  # only the boundaries could change: they did not
    budget = resolve_budget(0.3, "both", 288, 50, backbone=cfg)
    s = build_schedule(budget, cfg)
    assert (s.drop_after, s.late_after) == ((15, 17, 19), 22)
    assert sum(s.video.trr) / 28 == pytest.approx(budget.R_v)
    assert cli_main(["calibrate", "--probe", str(tmp_path / "nope.json"), "--out", str(out)]) == 2


def test_calibrated_tiny_config_runs_seats(thinker, make_inputs, tmp_path):
    """An 8-layer curve that collapses until x = 1 and is flat from x = 7 gives new tiny
    boundaries; SEATS built from the written YAML runs and matches the mask oracle."""
    cal = calibrate_curve(range(1, 9), fig2_curve(8, 1, 7), 8, 46.2)
    assert cal.boundaries == (1, 3, 5, 7)
    path = write_config(cal, "tiny", tmp_path / "tiny_calibrated.yaml", source="synthetic")
    cfg = load_backbone_config(path)
    assert cfg.boundaries == (1, 3, 5, 7) and cfg.lam == TINY.lam and cfg.tau == TINY.tau
    # flat from x = 6 would need lam >= 8 / 5 = 1.6 (Appendix A's delta >= 0): refused, or pass lam
    early = calibrate_curve(range(1, 9), fig2_curve(8, 1, 6), 8, 46.2)
    assert early.boundaries == (1, 3, 4, 6)
    with pytest.raises(ConfigError, match="lam >= L / \\(L_l - 1\\) = 1.6"):
        write_config(early, "tiny", tmp_path / "early.yaml")
    assert load_backbone_config(write_config(early, "tiny", tmp_path / "early.yaml", lam=1.6)).lam == 1.6
    inputs = make_inputs("av_moving.mp4")
    method = build_method("seats", cfg, {"profile": "paper", "R": 0.25})
    res = generate(thinker, inputs, method, max_new_tokens=3, eos_token_ids=EOS)
    assert res.record.step_layers == [0, 1, 3, 5]
    n_text, n_v, n_a = res.record.input_counts
    assert [c[1] for c in res.record.layer_counts] == layer_counts(method.schedule, n_v, n_a)["video"]
    tokens, logits, _ = oracle_generate(thinker, inputs, res.record, max_new_tokens=3, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_probe_and_calibrate_end_to_end_on_tiny(tiny_dir, clips_dir, tmp_path):
    """Real lmms-eval runs: full tokens + 'both' removed before the LLM and after layer 3,
    2 fixture samples each; a second call reruns nothing; calibrate reads the result."""
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips_dir), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    out = tmp_path / "probe"
    cmd = [sys.executable, "-m", "seats_eval.cli", "probe", "--backbone", "tiny", "--pretrained", str(tiny_dir),
           "--tasks", "seats_fixture_mcq", "--modalities", "both", "--layers=-1,3", "--limit", "2",
           "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    probe = json.loads((out / "probe.json").read_text())
    assert probe["full"] is not None
    assert [(p["modality"], p["layer"], p["first_layer_without"]) for p in probe["points"]] == \
        [("both", -1, 1), ("both", 3, 5)]
    assert all(0 <= p["score"] <= 100 for p in probe["points"])
    assert (out / "probe.csv").exists() and (out / "probe.png").stat().st_size > 0
    records = [json.loads(x) for x in
               (out / "jobs" / "both_L3" / "result" / "records" / "records.jsonl").read_text().splitlines()]
    assert records and all(r["layer_counts"][4][1:] == [0, 0] and r["layer_counts"][3][1] > 0 for r in records)
    before = {p: p.stat().st_mtime for p in out.rglob("*_results.json")}
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert again.returncode == 0 and "lmms-eval" not in again.stdout.replace("lmms-eval failed", "")
    assert {p: p.stat().st_mtime for p in out.rglob("*_results.json")} == before
    # calibration on the real curve: the random-weight tiny model answers (next to) nothing right, so
    # expect a clear refusal (no full-token accuracy / no collapse) unless its curve happens to qualify
    cal = subprocess.run([sys.executable, "-m", "seats_eval.cli", "calibrate", "--probe", str(out / "probe.json"),
                          "--out", str(tmp_path / "cal.yaml")], env=env, capture_output=True, text=True, cwd=REPO)
    if cal.returncode == 0:
        assert load_backbone_config(tmp_path / "cal.yaml")["num_layers"] == 8
    else:
        assert cal.returncode == 2 and ("collapse" in cal.stderr or "must be > 0" in cal.stderr), cal.stderr
