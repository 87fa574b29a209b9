"""`seats-eval bench sharing` (bench/sharing.py) on the smallest bench thinker (cpu-proxy of the
tiny backbone, one window, one repeat, no warm-up): the second question on a video runs on
the first one's media prefix, so it spares exactly that prefix; the report has one row per
(method, questions per video); the CLI writes the JSON and the markdown.

Timings are not compared here (a loaded 2-core machine), only that they are real numbers.
The rows of methods with in-LLM drop steps are not held to any token count: whether they
share is the runtime's business (tests/test_prefix_sharing.py)."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager

import pytest
import torch

from seats_eval.bench.sharing import bench_sharing

ROW_KEYS = {"method", "R", "questions", "alone_ms", "shared_ms", "ratio", "shared_tokens_per_question", "prefix_mb"}


@contextmanager
def threads_restored():
    """The bench pins torch to one CPU thread for its timings; the tests after it must not inherit that."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def report():
    with threads_restored():
        return bench_sharing([("full", None)], questions=(1, 2), windows=1, repeats=1, warmup=0, backbone="tiny")


def test_the_second_question_spares_the_media_prefix(report):
    one, two = report["results"]
    assert one["shared_tokens_per_question"] == 0  # a lone question has nothing to share
    # the first of two questions fills the prefix, the second runs only its own suffix
    assert 0 < report["media_prefix"] < report["tokens"]
    assert two["shared_tokens_per_question"] * 2 == report["media_prefix"]


def test_report_rows_and_keys(report):
    assert (report["bench"], report["preset"], report["backbone"]) == ("sharing", "cpu-proxy", "tiny")
    assert (report["windows"], report["repeats"], report["warmup"]) == (1, 1, 0)
    rows = report["results"]
    assert [(r["method"], r["R"], r["questions"]) for r in rows] == [("full", None, 1), ("full", None, 2)]
    for r in rows:
        assert set(r) == ROW_KEYS
        for key in ("alone_ms", "shared_ms", "ratio"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["questions"], key, r[key])
        assert r["ratio"] == pytest.approx(r["shared_ms"] / r["alone_ms"])
        assert r["prefix_mb"] > 0  # the first question stores its prefix, alone or not


def test_cli_writes_json_and_markdown(tmp_path):
    from seats_eval.cli import main
    from seats_eval.commands.bench import default_stem

    with threads_restored():
        assert main(["bench", "sharing", "--methods", "full", "--backbone", "tiny", "--windows", "1",
                     "--repeats", "1", "--warmup", "0", "--device", "cpu", "--out", str(tmp_path)]) == 0
    stem = default_stem("sharing", "tiny", "cpu")
    out = json.loads((tmp_path / f"{stem}.json").read_text())
    assert out["bench"] == "sharing" and out["preset"] == "cpu-proxy"  # the CPU default preset
    assert [r["questions"] for r in out["results"]] == [1, 2, 3]  # the CLI's questions per video
    # with k questions, k - 1 of them spare the prefix: (k - 1) / k of it per question
    assert [r["shared_tokens_per_question"] * r["questions"] for r in out["results"]] == pytest.approx([
        0, out["media_prefix"], 2 * out["media_prefix"]])
    md = (tmp_path / f"{stem}.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| full |")]
    assert len(table) == 3 and f"media prefix {out['media_prefix']}" in md
