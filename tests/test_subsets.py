"""The stable stratified subsets (seats_eval/tasklib/subset.py, tasks/subsets/): the same
questions under any document order, category counts within one question of the stratified
target, robustness to an added question, and the lmms-eval task variants loading offline."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seats_eval.errors import DataError
from seats_eval.tasklib import subset

REPO = Path(__file__).resolve().parents[1]


def _docs(bench: str, n: int, categories: dict[str, float], seed: int = 0) -> list[dict]:
    """n synthetic records carrying the benchmark's key and category fields."""
    spec = subset.SUBSETS[bench]
    rng = random.Random(seed)
    names, weights = zip(*categories.items(), strict=True)
    docs = []
    for i in range(n):
        doc = {f: f"{f}-{i}" for f in spec.id_fields}
        doc[spec.category] = rng.choices(names, weights)[0]
        doc["payload"] = i
        docs.append(doc)
    return docs


def _keys(bench: str, docs: list[dict], size: int) -> set[str]:
    return {subset.question_key(bench, docs[i]) for i in subset.select_indices(bench, docs, size)}


@pytest.mark.parametrize("bench", sorted(subset.SUBSETS))
def test_subset_is_identical_under_two_document_orders(bench):
    import datasets

    docs = _docs(bench, 900, {"a": 5, "b": 3, "c": 1, "d": 0.3, "e": 0.05})
    shuffled = docs[:]
    random.Random(1).shuffle(shuffled)
    size = subset.SUBSETS[bench].size
    one = subset.subset_docs(bench, datasets.Dataset.from_list(docs))
    two = subset.subset_docs(bench, datasets.Dataset.from_list(shuffled))
    keys = [{subset.question_key(bench, d) for d in ds} for ds in (one, two)]
    assert keys[0] == keys[1] and len(keys[0]) == size == len(one)
    # the kept rows keep their order of the input, and their other fields
    assert [d["payload"] for d in one] == sorted(d["payload"] for d in one)


@pytest.mark.parametrize("bench", sorted(subset.SUBSETS))
def test_category_counts_within_one_question_of_the_stratified_target(bench):
    docs = _docs(bench, 1200, {"big": 10, "mid": 4, "small": 1, "tiny": 0.1}, seed=3)
    size = subset.SUBSETS[bench].size
    cat = subset.SUBSETS[bench].category
    kept = [docs[i] for i in subset.select_indices(bench, docs, size)]
    totals = {c: sum(d[cat] == c for d in docs) for c in {d[cat] for d in docs}}
    for c, n_c in totals.items():
        target = size * n_c / len(docs)
        got = sum(d[cat] == c for d in kept)
        assert abs(got - target) < 1, (c, got, target)


def test_quotas_are_largest_remainder_and_exact():
    # independent: the Hamilton method by hand on 7 / 5 / 1 of 13, 6 seats -> 3.23, 2.31, 0.46
    assert subset.category_quotas({"x": 7, "y": 5, "z": 1}, 6) == {"x": 3, "y": 2, "z": 1}
    assert subset.category_quotas({"x": 2, "y": 1}, 10) == {"x": 2, "y": 1}  # never more than there is


def test_an_added_question_displaces_at_most_two():
    """One in its own category (at the hash threshold), and one where largest remainder moves a
    slot between two other categories: sizes 370 / 240 / 314 at 75 give quotas 30 / 19 / 26,
    and one more question in the first gives 30 / 20 / 25."""
    bench = "dailyomni"
    assert subset.category_quotas({"a": 370, "b": 240, "c": 314}, 75) == {"a": 30, "b": 19, "c": 26}
    assert subset.category_quotas({"a": 371, "b": 240, "c": 314}, 75) == {"a": 30, "b": 20, "c": 25}
    for seed in range(5):
        docs = _docs(bench, 900, {"a": 370, "b": 240, "c": 314}, seed=seed)
        before = _keys(bench, docs, 75)
        for cat in "abc":
            after = _keys(bench, docs + [{"question_id": f"new-{cat}", "Type": cat}], 75)
            assert len(before - after) <= 2 and len(after - before) <= 2


def test_the_hash_is_stable_across_processes():
    code = "from seats_eval.tasklib import subset; print(subset.question_hash('videomme', '001-1'))"
    out = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}).stdout for seed in ("1", "2")}
    assert out == {f"{subset.question_hash('videomme', '001-1')}\n"}


def test_a_record_without_its_key_is_named():
    docs = _docs("videomme", 10, {"short": 1})
    docs[4]["question_id"] = None
    with pytest.raises(DataError, match="question_id"):
        subset.select_indices("videomme", docs, 3)
    docs[4]["question_id"] = docs[2]["question_id"]
    with pytest.raises(DataError, match="share the question key"):
        subset.select_indices("videomme", docs, 3)


LOAD = textwrap.dedent(
    """
    import json, sys
    from lmms_eval.tasks import TaskManager, get_task_dict
    tm = TaskManager(include_path=sys.argv[1])
    names = sys.argv[2].split(",")
    out = {"indexed": sorted(t for t in tm.all_tasks if t.startswith("seats_") and "subset" in t)}
    for name, task in get_task_dict(names, tm).items():
        docs = task.test_docs()
        out[name] = {"n": len(docs), "payload": next(iter(task.process_results(docs[0], ["A"]).values())),
                     "prompt": task.doc_to_text(docs[0])}
    print("RESULT" + json.dumps(out, default=str))
    """
)


def test_fixture_twins_load_in_lmms_eval_and_match_the_rule(tmp_path):
    import pyarrow.parquet as pq

    names = [f"seats_fixture_subset_{b}" for b in sorted(subset.SUBSETS)]
    proc = subprocess.run([sys.executable, "-c", LOAD, str(REPO / "tasks"), ",".join(names)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
                               "HF_DATASETS_OFFLINE": "1", "SEATS_FIXTURE_CLIPS": str(tmp_path / "clips"),
                               "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["indexed"] == sorted(names + [f"seats_subset_{b}" for b in subset.SUBSETS])
    for bench in subset.SUBSETS:
        info = out[f"seats_fixture_subset_{bench}"]
        assert info["n"] == subset.FIXTURE_SIZE
        rows = pq.read_table(REPO / "tasks" / "fixtures" / bench / "test-00000-of-00001.parquet").to_pylist()
        kept = [rows[i] for i in subset.select_indices(bench, rows, subset.FIXTURE_SIZE)]
        assert str(info["payload"]["question_id"]) == str(subset.question_key(bench, kept[0]))


@pytest.mark.slow
def test_regression_tiny_end_to_end(tmp_path, artifacts):
    """The GPU recipe's commands on CPU (regression_tiny.yaml: the trained tiny model on the
    fixture twins of the subsets): sweep, --update, the paired check passes its own baseline,
    --against paper prints the paper's layout with every cell. Slow (two tiny jobs)."""
    import os

    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(artifacts / "clips"), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO))
    out, base = tmp_path / "sweep", tmp_path / "baseline.json"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "seats_eval.cli", *args], env=env, capture_output=True,
                              text=True, timeout=1500)

    proc = cli("sweep", "--spec", "regression_tiny", "--out", str(out), "--artifacts", str(artifacts), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    common = ("--spec", "regression_tiny", "--out", str(out), "--artifacts", str(artifacts))
    assert cli("regression", *common, "--update", "--baseline", str(base)).returncode == 0
    stored = json.loads(base.read_text())
    assert len(stored["cells"]) == 10 and all(len(c["outcomes"]) == subset.FIXTURE_SIZE for c in stored["cells"])
    proc = cli("regression", *common, "--baseline", str(base))
    assert proc.returncode == 0 and proc.stdout.strip().endswith("PASS"), proc.stdout
    proc = cli("regression", *common, "--against", "paper")
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| Full tokens |", "| SEATS |"))]
    assert len(rows) == 2 and all(line.count("/ ") == 5 for line in rows), proc.stdout
