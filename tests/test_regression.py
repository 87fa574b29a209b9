"""The quality regression: where questions, the binomial bands, the paired (exact McNemar)
baseline check and the check against the paper (hypergeometric band), each against an
independent computation, and the planted broken selection (tests/plants/least_relevant)
that must fail it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from seats_eval.tables.regression import (
    Cell,
    against_paper,
    band,
    check,
    detectable_band,
    detectable_paired,
    hypergeom_check,
    mcnemar,
    wilson,
    write_baseline,
)
from seats_eval.toys.synth import FIXTURE_KINDS, WHERE_KINDS, render_where, where_question

REPO = Path(__file__).resolve().parents[1]
TRAINED = REPO / "seats_eval" / "data" / "tiny_trained" / "qwen2.5-omni"


def test_where_questions_deterministic_and_balanced():
    a, b = where_question(12345), where_question(12345)
    assert a == b
    fa, aa = render_where(a)
    fb, ab = render_where(b)
    assert np.array_equal(fa, fb) and np.array_equal(aa, ab)
    qs = [where_question(i, kind=WHERE_KINDS[i % 5]) for i in range(200)]
    letters = {c: sum(q.answer == c for q in qs) for c in "ABCD"}
    assert all(30 <= n <= 70 for n in letters.values()), letters  # answers spread over the letters
    assert {q.window for q in qs} == set(range(8))  # evidence in every one of the 8 windows


def test_where_evidence_only_in_its_window():
    q = where_question(7, kind="visual_colour")
    frames, audio = render_where(q)
    w = q.window
    coloured = [bool((np.abs(f.astype(int) - 96).max(-1) > 110).any()) for f in frames]  # the object's saturated colour
    assert [i // 4 for i, c in enumerate(coloured) if c] == [w] * 4  # 4 frames = 2 s at 2 fps
    q = where_question(8, kind="audio_pitch")
    _, audio = render_where(q)
    loud = [float(np.abs(audio[i * 32000:(i + 1) * 32000]).max()) > 0.1 for i in range(8)]
    assert loud == [i == q.window for i in range(8)]


def test_wilson_band():
    lo, hi = wilson(57, 60)
    assert 0.8 < lo < 0.95 < hi <= 1.0
    blo, bhi = band(57, 60)
    assert blo == pytest.approx(lo - 1 / 60) and bhi == min(1.0, hi + 1 / 60)
    assert band(15, 60)[0] < 0.25 < band(15, 60)[1]
    assert band(57, 60)[0] > band(30, 60)[1]  # a drop from 95% to 50% leaves the band


def test_check_pass_low_missing(tmp_path):
    sweep = SimpleNamespace(name="t")
    base = [Cell("full", "full", None, "seats_fixture_where_ci", 60, 57),
            Cell("seats_R35_both", "seats", 0.35, "seats_fixture_where_ci", 60, 54)]
    path = write_baseline(sweep, base, tmp_path / "b.json")
    assert json.loads(path.read_text())["cells"][1]["band"][0] < 90
    ok, lines = check(sweep, base, path)
    assert ok and lines[-1] == "PASS"
    worse = [base[0], Cell("seats_R35_both", "seats", 0.35, "seats_fixture_where_ci", 60, 30)]
    ok, lines = check(sweep, worse, path)
    assert not ok and any("LOW" in line for line in lines)
    ok, lines = check(sweep, worse, path, only="full")
    assert ok
    ok, lines = check(sweep, base[:1], path)
    assert not ok and any("MISSING" in line for line in lines)


def _exact_two_sided(b: int, m: int) -> float:
    """Independent exact McNemar: P(X <= min(b, m - b)) doubled, X ~ Binomial(m, 1/2), by hand."""
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, x) for x in range(min(b, m - b) + 1)) / 2 ** m
    return min(1.0, 2 * tail)


def test_mcnemar_equals_the_exact_binomial_by_hand():
    base = {f"q{i}": 1 for i in range(40)} | {f"q{i}": 0 for i in range(40, 60)}
    for lost, gained in ((0, 0), (1, 0), (7, 0), (8, 0), (9, 3), (5, 5), (0, 10)):
        now = dict(base)
        for i in range(lost):
            now[f"q{i}"] = 0
        for i in range(gained):
            now[f"q{40 + i}"] = 1
        r = mcnemar(base, now)
        assert (r.b, r.c, r.unmatched) == (lost, gained, 0)
        assert r.p == pytest.approx(_exact_two_sided(lost, lost + gained), rel=1e-9)
    assert mcnemar(base, {k: v for k, v in base.items() if k != "q3"}).unmatched == 1
    # 8 questions lost with none gained is the smallest change it flags at 1%: 2 / 2^8 < 0.01 < 2 / 2^7
    assert detectable_paired() == 8 and _exact_two_sided(8, 8) < 0.01 < _exact_two_sided(7, 7)


def test_detectable_band_at_the_ci_n():
    lo, _ = band(56, 60)
    d = detectable_band(56, 60)
    assert (56 - d) / 60 < lo <= (56 - d + 1) / 60


def _cells(outcomes: dict[str, int], job: str = "seats_R35_both") -> list[Cell]:
    return [Cell(job, "seats", 0.35, "seats_fixture_where_ci", len(outcomes), sum(outcomes.values()), outcomes)]


def test_paired_check_passes_its_own_baseline_and_fails_eight_flips(tmp_path):
    sweep = SimpleNamespace(name="t")
    base = {f"q{i}": int(i < 56) for i in range(60)}
    path = write_baseline(sweep, _cells(base), tmp_path / "b.json")
    assert json.loads(path.read_text())["cells"][0]["outcomes"]["q0"] == 1
    ok, lines = check(sweep, _cells(base), path)
    assert ok and lines[-1] == "PASS"
    seven = {k: (0 if int(k[1:]) < 7 else v) for k, v in base.items()}
    eight = {k: (0 if int(k[1:]) < 8 else v) for k, v in base.items()}
    assert check(sweep, _cells(seven), path)[0]
    ok, lines = check(sweep, _cells(eight), path)
    assert not ok and any("FAIL" in line for line in lines[5:-1])
    # the same 8 lost with 8 others gained: the accuracy is unchanged and the band cannot see it;
    # the paired test sees 16 discordant questions split evenly (no evidence of a change either)
    swap = {k: (0 if int(k[1:]) < 8 else (1 if int(k[1:]) >= 56 else v)) for k, v in base.items()}
    assert check(sweep, _cells(swap), path)[0] and check(sweep, _cells(swap), path, test="band")[0]
    # other questions than the baseline's: never a pass
    moved = {f"x{i}": v for i, v in enumerate(base.values())}
    assert not check(sweep, _cells(moved), path)[0]
    # a run without outcomes (no --log_samples): the band decides under `paired` and `both`, and says so
    bare = [Cell(c.job, c.method, c.R, c.task, c.n, c.correct) for c in _cells(base)]
    for test in ("paired", "both"):
        ok, lines = check(sweep, bare, path, test=test)
        assert ok and any("the band decided there" in line for line in lines), test


def test_update_outside_a_project_names_the_file_to_write(monkeypatch):
    """An installed wheel has no project folder: --update must not write into site-packages."""
    from seats_eval.errors import ConfigError
    from seats_eval.io import resources

    monkeypatch.setattr(resources, "project_dir", lambda: None)
    with pytest.raises(ConfigError, match="--baseline"):
        write_baseline(SimpleNamespace(name="t"), _cells({"q0": 1}))


def _hypergeom_by_hand(k: int, n: int, paper: float, N: int, alpha: float = 0.01) -> tuple[int, int, float]:
    """Independent: the hypergeometric pmf from binomial coefficients, its central interval
    from cumulative sums, the equal-tailed two-sided p-value from the two tail sums at k."""
    K = round(paper / 100 * N)
    pmf = {x: math.comb(K, x) * math.comb(N - K, n - x) / math.comb(N, n) for x in range(0, n + 1)
           if x <= K and n - x <= N - K}
    xs = sorted(pmf)
    cdf, lo = 0.0, xs[0]
    for x in xs:
        cdf += pmf[x]
        if cdf >= alpha / 2:
            lo = x
            break
    sf, hi = 0.0, xs[-1]
    for x in reversed(xs):
        if sf + pmf[x] > alpha / 2:
            hi = x
            break
        sf += pmf[x]
    p = 2 * min(sum(v for x, v in pmf.items() if x <= k), sum(v for x, v in pmf.items() if x >= k))
    return lo, hi, min(1.0, p)


@pytest.mark.parametrize("k,n,paper,N", [(70, 150, 46.7, 3172), (30, 150, 46.7, 3172), (96, 150, 64.0, 1197),
                                          (10, 30, 65.3, 2700), (29, 30, 33.3, 1014), (40, 75, 34.1, 1000)])
def test_paper_band_and_p_value_equal_an_independent_computation(k, n, paper, N):
    lo, hi, p = hypergeom_check(k, n, paper, N)
    elo, ehi, ep = _hypergeom_by_hand(k, n, paper, N)
    assert (lo, hi) == (elo, ehi)
    assert p == pytest.approx(ep, rel=1e-6, abs=1e-12)


def test_paper_verdict_and_p_value_agree_on_every_count():
    """Inside the band exactly when p >= alpha, for every k of a few real-sized cells
    (Table 3's LVOmniBench full tokens, 33.3% of 1014, on 30 questions, among them)."""
    for n, paper, N in [(30, 33.3, 1014), (150, 46.7, 3172), (75, 64.0, 1197)]:
        for k in range(n + 1):
            lo, hi, p = hypergeom_check(k, n, paper, N)
            assert (lo <= k <= hi) == (p >= 0.01), (n, paper, N, k, p)


def test_against_paper_on_constructed_results():
    """Constructed subset results of full tokens and SEATS R=35 (Table 3's numbers): a cell at
    the paper's accuracy passes, one 20 points off is outside, the table is in the paper's layout."""
    jobs = [SimpleNamespace(name="full", meta={"R": 100}), SimpleNamespace(name="seats_R35_both", meta={"R": 35})]
    sweep = SimpleNamespace(name="regression_qwen25omni", table="table3", backbone="qwen25omni", jobs=jobs)
    cells = [Cell("full", "full", None, "seats_subset_worldsense", 150, 70),  # 46.7% of 150 = 70
             Cell("full", "full", None, "seats_subset_dailyomni", 150, 96),   # 64.0%
             Cell("seats_R35_both", "seats", 0.35, "seats_subset_worldsense", 150, 40),  # paper 46.2%: 26.7%
             Cell("seats_R35_both", "seats", 0.35, "seats_fixture_where_ci", 60, 50)]
    ok, lines, out = against_paper(sweep, cells)
    assert not ok and len(out) == 3
    by = {(c.label, c.bench): c for c in out}
    assert by[("Full tokens", "worldsense")].inside and by[("Full tokens", "dailyomni")].inside
    seats = by[("SEATS", "worldsense")]
    assert not seats.inside and seats.paper == 46.2 and seats.N == 3172
    assert (seats.lo, seats.hi, seats.p) == pytest.approx(_hypergeom_by_hand(40, 150, 46.2, 3172))
    assert lines[1].startswith("| method | R | WorldSense | Daily-Omni")
    assert any(line.startswith("| SEATS | 35 |") and "OUTSIDE" in line for line in lines)
    assert any("no paper number" in line for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(not (TRAINED / "model.safetensors").exists(), reason="no trained tiny model committed")
def test_planted_least_relevant_selection_fails(tmp_path, artifacts):
    """SEATS at R = 0.35 on the 60 CI where questions (what .ci/run checks, without the sweep):
    the real selection keeps most answers of full tokens; the planted bug (keep the least
    relevant tokens) loses the evidence and falls below the band. Slow (two 60-question runs)."""
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(artifacts / "clips"), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")

    def accuracy(name: str, planted: bool) -> float:
        run_env = dict(env)
        if planted:
            run_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests" / "plants" / "least_relevant"),
                                                     env.get("PYTHONPATH", "")])
        out = tmp_path / name
        cmd = [sys.executable, "-m", "seats_eval.cli", "eval", "--model", "seats_qwen25omni", "--model_args",
               f"pretrained={TRAINED},backbone_config=tiny-trained,max_new_tokens=4,R=0.35",
               "--tasks", "seats_fixture_where_ci", "--include_path", str(REPO / "tasks"),
               "--batch_size", "1", "--output_path", str(out)]
        proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert ("PLANTED BUG" in proc.stderr) == planted
        res = json.loads(next(out.rglob("*_results.json")).read_text())
        return float(res["results"]["seats_fixture_where_ci"]["where_accuracy,none"])

    real, planted = accuracy("real", False), accuracy("planted", True)
    lo, _ = band(round(real / 100 * 60), 60)
    assert real >= 70.0, real
    assert planted / 100 < lo, (real, planted)


def test_where_tasks_load_and_score(tmp_path, monkeypatch):
    """The where task's utils: 200 / 60 records, the clip drawn on first use, letter scoring."""
    import importlib.util

    import pyarrow.parquet as pq

    monkeypatch.setenv("SEATS_FIXTURE_CLIPS", str(tmp_path))
    spec = importlib.util.spec_from_file_location("where_utils", REPO / "tasks" / "fixture_where" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    rows = pq.read_table(REPO / "tasks" / "fixtures" / "where" / "test-00000-of-00001.parquet").to_pylist()
    ci = pq.read_table(REPO / "tasks" / "fixtures" / "where_ci" / "test-00000-of-00001.parquet").to_pylist()
    assert len(rows) == 200 and ci == rows[:60]
    assert {r["kind"] for r in rows} == set(FIXTURE_KINDS)
    # the committed records are what the generator draws today (a drawing change that moves
    # a question must regenerate them, and bump synth.WHERE_CLIP_DIR)
    gen_spec = importlib.util.spec_from_file_location("make_where", REPO / "tasks" / "fixtures" / "make_where_fixtures.py")
    gen = importlib.util.module_from_spec(gen_spec)
    gen_spec.loader.exec_module(gen)
    assert gen.where_records(len(rows)) == rows
    doc = rows[3]
    (path,) = utils.doc_to_visual(doc)
    assert Path(path).stat().st_size > 0 and utils.doc_to_visual(doc) == [path]
    assert "Answer with the option's letter" in utils.doc_to_text(doc)
    assert utils.process_results(doc, [doc["answer"]])["where_accuracy"]["score"] == 1.0


def test_read_outcomes_from_logged_samples(tmp_path):
    """Per-question outcomes from lmms-eval's samples file: the payload's question_id (else
    doc_id), the doc's own fields ignored, a question logged twice refused."""
    from seats_eval.tables.regression import read_outcomes

    out = tmp_path / "output" / "model"
    out.mkdir(parents=True)
    rows = [{"doc_id": 0, "doc": {"score": 7}, "where_accuracy": {"score": 1.0, "question_id": "w-3"}},
            {"doc_id": 1, "where_accuracy": {"score": 0.0, "question_id": "w-9"}},
            {"doc_id": 2, "where_accuracy": {"score": 1.0, "question_id": None}}]
    path = out / "20261207_samples_seats_fixture_where_ci.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert read_outcomes(tmp_path, "seats_fixture_where_ci") == {"w-3": 1, "w-9": 0, "doc2": 1}
    assert read_outcomes(tmp_path, "other_task") is None
    path.write_text("\n".join(json.dumps(r) for r in rows + rows[:1]) + "\n")
    with pytest.raises(ValueError, match="logged twice"):
        read_outcomes(tmp_path, "seats_fixture_where_ci")
