"""Budgets and the TRR schedule: the paper's numbers (DESIGN sec. 5, Table 2/7, App. A)."""

from __future__ import annotations

import csv
import io
import json
import math
from itertools import pairwise

import pytest

from seats_eval.backbones.budgets import (
    Budget,
    both_selected_rule,
    build_schedule,
    layer_counts,
    resolve_budget,
    round_count,
    split_budget,
    stage_targets,
    trr_constant_C,
)
from seats_eval.backbones.config import BackboneConfig, load_backbone_config
from seats_eval.errors import ConfigError

QWEN25 = "qwen2.5-omni-7b"
QWEN3 = "qwen3-omni-30b-a3b"

# Table 7 of the paper (per-modality ratios in percent), as in paper/tables/table7_budgets.csv.
TABLE7_CSV = """R,model,mode,R_v,R_a
35,qwen2.5-omni-7b,audio-intact,24,100
35,qwen2.5-omni-7b,both-selected,30,65
35,qwen3-omni-30b-a3b,audio-intact,29,100
35,qwen3-omni-30b-a3b,both-selected,32,70
25,qwen2.5-omni-7b,audio-intact,12,100
25,qwen2.5-omni-7b,both-selected,20,55
25,qwen3-omni-30b-a3b,audio-intact,18,100
25,qwen3-omni-30b-a3b,both-selected,22,60
15,qwen2.5-omni-7b,both-selected,10,45
15,qwen3-omni-30b-a3b,audio-intact,8,100
15,qwen3-omni-30b-a3b,both-selected,12,50
10,qwen2.5-omni-7b,both-selected,6,35
10,qwen3-omni-30b-a3b,both-selected,7,45
"""
TABLE7 = list(csv.DictReader(io.StringIO(TABLE7_CSV)))
PAPER_RS = (0.35, 0.25, 0.15, 0.10)


@pytest.fixture(scope="module")
def q25() -> dict:
    return load_backbone_config(QWEN25)


@pytest.fixture(scope="module")
def q3() -> dict:
    return load_backbone_config(QWEN3)


def _geom(cfg: BackboneConfig) -> tuple[int, int]:
    return cfg.video_tokens_per_window, cfg.audio_tokens_per_window


# --- configs ---------------------------------------------------------------------------


def test_backbone_configs_load(q25: dict, q3: BackboneConfig) -> None:
    assert q25.num_layers == 28 and q25.boundaries == (16, 19, 21, 24)
    assert _geom(q25) == (288, 50) and q25.lam == 1.4 and q25.tau == 0.1
    assert q3.num_layers == 48 and q3.boundaries == (27, 32, 36, 40)
    assert _geom(q3) == (288, 26)
    tiny = load_backbone_config("tiny")
    assert tiny.num_layers == 8 and tiny.boundaries == (2, 4, 5, 7)
    assert load_backbone_config("Qwen2.5-Omni-7B").num_layers == 28
    assert load_backbone_config("Qwen/Qwen3-Omni-30B-A3B-Instruct").num_layers == 48


def test_backbone_config_by_path_and_env(tmp_path, monkeypatch) -> None:
    text = (
        "backbone: mine\nnum_layers: 8\nvideo_tokens_per_window: 10\n"
        "audio_tokens_per_window: 5\nboundaries: [2, 4, 5, 7]\nlam: 1.5\ntau: 0.2\n"
    )
    (tmp_path / "mine.yaml").write_text(text)
    assert load_backbone_config(tmp_path / "mine.yaml").num_layers == 8
    monkeypatch.setenv("SEATS_MODEL_CONFIGS", str(tmp_path))
    assert load_backbone_config("mine").boundaries == (2, 4, 5, 7)
    with pytest.raises(ConfigError, match="no such file"):
        load_backbone_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="qwen2_5_omni_7b"):
        load_backbone_config("no-such-backbone")
    (tmp_path / "bad.yaml").write_text("backbone: bad\nnum_layers: 8\n")
    with pytest.raises(ConfigError, match="missing keys"):
        load_backbone_config(tmp_path / "bad.yaml")


# --- Appendix A ------------------------------------------------------------------------


def test_constant_C_and_delta_qwen25() -> None:
    C = trr_constant_C(16, 19, 21, 24)
    assert round(C, 3) == -42.759
    e = math.e
    assert C == pytest.approx(16 + 1 + e * 19 + e**2 * 21 - (1 + e + e**2) * 24, abs=1e-12)
    q25 = load_backbone_config(QWEN25)
    assert round(build_schedule(Budget(0.3, 0.3, 0.3, "both"), q25).video.delta, 5) == 0.02947


def test_schedule_qwen25_r03(q25: BackboneConfig) -> None:
    s = build_schedule(Budget(0.3, 0.3, 0.3, "both"), q25)
    v = s.video
    assert v.r_s == pytest.approx(0.42)
    assert round(v.delta, 5) == 0.02947
    r_m1 = 0.42 - v.delta
    r_m2 = r_m1 - v.delta * math.e
    r_m3 = r_m2 - v.delta * math.e**2
    assert v.levels == pytest.approx((0.42, r_m1, r_m2, r_m3))
    expected = [0.42] * 16 + [r_m1] * 2 + [r_m2] * 2 + [r_m3] * 3 + [0.0] * 5
    assert list(v.trr) == pytest.approx(expected)
    assert s.drop_after == (15, 17, 19) and s.late_after == 22
    # the official code's keep ratios between levels, independent of R
    ratios = [v.levels[i + 1] / v.levels[i] for i in range(3)]
    assert ratios == pytest.approx([0.9298, 0.7949, 0.2986], abs=1e-4)


def test_schedule_qwen3(q3: BackboneConfig) -> None:
    assert trr_constant_C(*q3.boundaries) == pytest.approx(-63.3025, abs=1e-4)
    s = build_schedule(resolve_budget(0.35, "both", *_geom(q3), backbone=q3), q3)
    assert s.video.delta == pytest.approx(0.0334, abs=1e-4)
    assert s.drop_after == (26, 30, 34) and s.late_after == 38


@pytest.mark.parametrize("backbone", [QWEN25, QWEN3])
@pytest.mark.parametrize("R", PAPER_RS)
@pytest.mark.parametrize("decay", ["exp", "equal"])
def test_mean_trr_equals_R(backbone: str, R: float, decay: str) -> None:
    cfg = load_backbone_config(backbone)
    budget = resolve_budget(R, "both", *_geom(cfg), backbone=cfg)
    assert (budget.R_v, budget.R_a) == cfg.both_selected[R]
    s = build_schedule(budget, cfg, decay=decay)
    for ms, R_m in ((s.video, budget.R_v), (s.audio, budget.R_a)):
        assert len(ms.trr) == cfg.num_layers
        assert sum(ms.trr) / len(ms.trr) == pytest.approx(R_m, rel=1e-12, abs=1e-15)
        assert all(a >= b for a, b in pairwise(ms.trr))


def test_equal_decay_steps(q25: BackboneConfig) -> None:
    s = build_schedule(Budget(0.3, 0.3, 0.3, "both"), q25, decay="equal")
    lv = s.video.levels
    steps = [lv[i] - lv[i + 1] for i in range(3)]
    assert steps == pytest.approx([steps[0]] * 3)
    assert trr_constant_C(16, 19, 21, 24, decay="equal") == -(2 * 1 + 2 * 2 + 3 * 3)
    exp = build_schedule(Budget(0.3, 0.3, 0.3, "both"), q25, decay="exp")
    assert exp.video.levels != pytest.approx(lv)


def test_tiny_schedule() -> None:
    tiny = load_backbone_config("tiny")
    b = resolve_budget(0.3, "both", *_geom(tiny), backbone=tiny)
    assert (b.R_v, b.R_a) == (0.3, 0.3)  # no preset, gamma 1: uniform split
    s = build_schedule(b, tiny)
    assert s.video.mean_trr == pytest.approx(0.3)
    assert s.drop_after == (1, 2, 3) and s.late_after == 5
    assert s.video.trr[-1] == 0.0


def test_schedule_errors(q25: BackboneConfig) -> None:
    b = Budget(0.3, 0.3, 0.3, "both")
    with pytest.raises(ConfigError, match="L_s \\+ 1 < L_m1"):
        build_schedule(b, q25, boundaries=(16, 17, 21, 24))
    with pytest.raises(ConfigError, match="L_s \\+ 1 < L_m1"):
        build_schedule(b, q25, boundaries=(16, 16, 21, 24))
    with pytest.raises(ConfigError, match="L_l <= L"):
        build_schedule(b, q25, boundaries=(16, 19, 21, 29))
    with pytest.raises(ConfigError, match=r"use lam in \[1.2174, 1.3333\]"):
        build_schedule(Budget(0.35, 0.30, 0.75, "both"), q25)
    with pytest.raises(ConfigError, match="go negative"):
        build_schedule(Budget(0.2, 0.2, 0.2, "both"), q25, lam=3.0)
    with pytest.raises(ConfigError, match="lam >="):
        build_schedule(b, q25, lam=1.0)
    with pytest.raises(ConfigError, match="exp, equal"):
        build_schedule(b, q25, decay="linear")


def test_identity_schedule(q25: BackboneConfig) -> None:
    s = build_schedule(resolve_budget(1.0, "both", 288, 50), q25)
    assert s.is_identity and s.drop_after == () and s.late_after is None
    counts = layer_counts(s, 100, 7)
    assert counts["video"] == [100] * 28 and counts["audio"] == [7] * 28
    assert stage_targets(s, 100, 7) == []


# --- Table 7 ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", TABLE7, ids=lambda r: f"{r['model']}-{r['mode']}-{r['R']}")
def test_table7_rows(row: BackboneConfig) -> None:
    cfg = load_backbone_config(row["model"])
    n_v, n_a = _geom(cfg)
    R = int(row["R"]) / 100
    R_v, R_a = split_budget(R, row["mode"], n_v, n_a, backbone=cfg)
    if row["mode"] == "audio-intact":
        assert R_a == 1.0
        assert abs(100 * R_v - int(row["R_v"])) <= 1.0
        assert R_v * n_v + R_a * n_a == pytest.approx(R * (n_v + n_a))
    else:
        assert (round(100 * R_v), round(100 * R_a)) == (int(row["R_v"]), int(row["R_a"]))
        assert abs(R_v * n_v + R_a * n_a - R * (n_v + n_a)) / (n_v + n_a) <= 0.006


# Table 7's '-' cells: audio-intact R_v would be impractically low.
TABLE7_DASHES = [(QWEN25, 0.15), (QWEN25, 0.10), (QWEN3, 0.10)]


def test_table7_dash_cells_are_the_missing_rows() -> None:
    listed = {(r["model"], int(r["R"])) for r in TABLE7 if r["mode"] == "audio-intact"}
    missing = {(m, round(R * 100)) for m in (QWEN25, QWEN3) for R in PAPER_RS} - listed
    assert missing == {(m, round(R * 100)) for m, R in TABLE7_DASHES}


@pytest.mark.parametrize(("model", "R"), TABLE7_DASHES)
def test_table7_dashes_raise(model: str, R: float) -> None:
    cfg = load_backbone_config(model)
    with pytest.raises(ConfigError, match="impractically low"):
        split_budget(R, "audio_intact", *_geom(cfg), backbone=cfg)


@pytest.mark.parametrize("model", [QWEN25, QWEN3])
def test_both_rule_close_to_presets(model: str) -> None:
    cfg = load_backbone_config(model)
    n_v, n_a = _geom(cfg)
    assert set(cfg.both_selected) == set(PAPER_RS)
    for R, (pv, pa) in cfg.both_selected.items():
        rv, ra = both_selected_rule(R, n_v, n_a, cfg)
        assert abs(rv - pv) <= 0.02 and abs(ra - pa) <= 0.02
        assert rv * n_v + ra * n_a == pytest.approx(R * (n_v + n_a))
    # off-preset R uses the rule and satisfies the constraint exactly
    rv, ra = split_budget(0.3, "both", n_v, n_a, cfg)
    assert 0 < rv < 0.3 < ra < 1
    assert rv * n_v + ra * n_a == pytest.approx(0.3 * (n_v + n_a))


def test_split_budget_edges() -> None:
    assert split_budget(1.0, "both", 288, 50) == (1.0, 1.0)
    assert split_budget(1.0, "audio_intact", 288, 50) == (1.0, 1.0)
    assert split_budget(0.4, "both", 288, 50) == (0.4, 0.4)  # no backbone: uniform
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match=r"\(0, 1\]"):
            split_budget(bad, "both", 288, 50)
    with pytest.raises(ConfigError, match="both, audio_intact"):
        split_budget(0.3, "video_only", 288, 50)
    with pytest.raises(ConfigError, match="too low"):
        split_budget(0.01, "both", 288, 50, backbone=QWEN25)


def test_resolve_budget_overrides() -> None:
    b = resolve_budget(0.25, "both", 288, 50, R_v=0.25, R_a=0.25)
    assert b == Budget(0.25, 0.25, 0.25, "both")
    b = resolve_budget(0.35, "both", 288, 50, R_a=0.65)
    assert b.R_v * 288 + 0.65 * 50 == pytest.approx(0.35 * 338)
    b = resolve_budget(0.35, "both", 288, 50, R_v=0.3)
    assert 0.3 * 288 + b.R_a * 50 == pytest.approx(0.35 * 338)
    b = resolve_budget(0.35, "audio-intact", 288, 50)
    assert b.mode == "audio_intact" and b.R_a == 1.0
    with pytest.raises(ConfigError, match="R_a must be 1"):
        resolve_budget(0.35, "audio_intact", 288, 50, R_a=0.5)
    with pytest.raises(ConfigError, match="R_a"):
        resolve_budget(0.1, "both", 288, 50, R_v=0.5)  # solved R_a < 0


# --- integer counts --------------------------------------------------------------------


def test_round_count_half_even() -> None:
    assert round_count(2.5) == 2 and round_count(3.5) == 4
    assert round_count(0.35 * 50) == 18 and round_count(0.45 * 50) == 22
    assert round_count(20.9999999999) == 21


def test_layer_counts_qwen25(q25: BackboneConfig) -> None:
    b = resolve_budget(0.35, "both", 288, 50, backbone=q25)
    s = build_schedule(b, q25)
    n_v, n_a = 32 * 288, 32 * 50
    c = layer_counts(s, n_v, n_a)
    assert c["stage1"] == {"video": round(1.4 * 0.30 * n_v), "audio": round(1.4 * 0.65 * n_a)}
    for m, n in (("video", n_v), ("audio", n_a)):
        counts = c[m]
        assert len(counts) == 28 and counts[0] == c["stage1"][m]
        assert all(a >= b for a, b in pairwise(counts))
        assert counts[23:] == [0] * 5 and min(counts[:23]) > 0
        ms = s.modality(m)
        assert all(abs(k - ms.trr[i] * n) <= 0.5 for i, k in enumerate(counts))
    targets = stage_targets(s, n_v, n_a)
    assert [t[0] for t in targets] == [15, 17, 19]
    assert targets == [(i, c["video"][i + 1], c["audio"][i + 1]) for i in (15, 17, 19)]


def test_layer_counts_floor_and_empty(q25: BackboneConfig) -> None:
    s = build_schedule(Budget(0.1, 0.06, 0.35, "both"), q25)
    c = layer_counts(s, 3, 0)  # tiny clip: r*N rounds to 0 but a non-empty modality keeps 1
    assert c["video"][:23] == [1] * 23 and c["video"][23:] == [0] * 5
    assert c["audio"] == [0] * 28
    with pytest.raises(ConfigError):
        layer_counts(s, -1, 0)


# --- CLI -------------------------------------------------------------------------------


def _run_cli(argv: list[str]) -> int:
    import argparse

    from seats_eval.commands import schedule

    p = argparse.ArgumentParser()
    schedule.add_arguments(p)
    return schedule.run(p.parse_args(argv))


def test_cli_schedule(capsys, tmp_path) -> None:
    assert _run_cli(["--R", "0.3", "--R_v", "0.3", "--R_a", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "C=-42.759" in out and "0.02947" in out
    assert _run_cli(["--R", "0.25", "--backbone", QWEN3, "--windows", "4", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["R_v"] == 0.22 and len(rep["layers"]) == 48
    assert rep["layers"][0]["tokens_video"] == round(1.4 * 0.22 * 4 * 288)
    png = tmp_path / "fig4.png"
    assert _run_cli(["--R", "0.3", "--plot", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert _run_cli(["--R", "0.1", "--mode", "audio_intact"]) == 2
    assert "impractically low" in capsys.readouterr().err


def test_the_lam_hints_state_what_works(q25: BackboneConfig) -> None:
    """The hint's range is right: inside it the schedule builds, just outside it fails."""
    b = Budget(0.35, 0.30, 0.75, "both")
    for lam in (1.2175, 1.3333):
        build_schedule(b, q25, lam=lam)
    for lam in (1.2173, 1.3334):
        with pytest.raises(ConfigError):
            build_schedule(b, q25, lam=lam)
    from seats_eval.methods import build_method

    with pytest.raises(ConfigError, match="no lam works for R_a=1.*use mode=both"):
        build_method("seats", q25, {"profile": "paper", "R": 0.35, "mode": "audio_intact"})
