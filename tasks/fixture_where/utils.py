"""seats_fixture_where(_ci): 4-option questions whose evidence sits in ONE 2-s window of a
16-s generated clip (seats_eval/toys/synth.py: where_question), answered by the trained tiny
models (seats-eval train-tiny). seats_fixture_where holds the 200 held-out questions of the
model cards, seats_fixture_where_ci the first 60 (the CI regression, seats_eval/tables/regression.py).

Record fields: question_id, video, kind (= category), window (the evidence window), question,
options (4 x "A. ..."), answer (letter), seed. A clip is drawn from its record's seed the first
time it is asked for, under $SEATS_FIXTURE_CLIPS/where-v<N>/ (default <repo>/artifacts/clips/; synth.WHERE_CLIP_DIR).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    from seats_eval.tasklib import records, scoring, sources
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import records, scoring, sources

METRIC = "where_accuracy"
BREAKDOWN_FIELDS = ("category",)


def doc_to_visual(doc: dict) -> list[str]:
    from seats_eval.toys.synth import WHERE_CLIP_DIR, where_question, write_where_clip

    path = sources.fixture_clip_root() / WHERE_CLIP_DIR / f"{doc['video']}.mp4"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        q = where_question(int(doc["seed"]), kind=str(doc["kind"]), qid=str(doc["video"]))
        write_where_clip(path, q, tmp_suffix=str(os.getpid()))
    return [str(path)]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    options = "\n".join(records.format_options(doc["options"]))
    return (f"{doc['question']}\nOptions:\n{options}\n"
            "Answer with the option's letter from the given choices directly.")


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {"question_id": doc.get("question_id"), "category": doc.get("kind"), "window": doc.get("window")}
    payload = scoring.make_payload(results, doc["options"], doc["answer"], doc["video"], fields)
    return scoring.metrics(METRIC, payload)


def aggregate_results(results: list[dict]) -> float:
    return scoring.aggregate("seats_fixture_where", results, BREAKDOWN_FIELDS)


count_failures = scoring.count_failures  # the `sample_failures` metric of the YAML


def category_breakdown(results: list[dict]) -> dict:
    return scoring.category_breakdown(results, BREAKDOWN_FIELDS)  # the `category_breakdown` metric
