"""seats_fixture_mcq: a few 4-option questions over the generated clips, for the offline demo.

Record fields: question_id, video (clip name without .mp4), question, options
(4 x "A. ..."), answer (letter), category. Clips come from $SEATS_FIXTURE_CLIPS (default
<repo>/artifacts/clips), made by `seats-eval make-clips --out DIR`.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from seats_eval.tasklib import records, scoring, sources
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import records, scoring, sources

TASK = "seats_fixture_mcq"
METRIC = "mcq_accuracy"
BREAKDOWN_FIELDS = ("category",)


def video_id(doc: dict) -> str:
    return str(doc["video"])


def doc_to_visual(doc: dict) -> list[str]:
    return [sources.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    options = "\n".join(records.format_options(doc["options"]))
    return (
        f"{doc['question']}\nOptions:\n{options}\n"
        "Answer with the option's letter from the given choices directly."
    )


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {"question_id": doc.get("question_id"), "category": doc.get("category")}
    payload = scoring.make_payload(results, doc["options"], doc["answer"], video_id(doc), fields)
    return scoring.metrics(METRIC, payload)


def aggregate_results(results: list[dict]) -> float:
    return scoring.aggregate(TASK, results, BREAKDOWN_FIELDS)


count_failures = scoring.count_failures  # the `sample_failures` metric of the YAML


def category_breakdown(results: list[dict]) -> dict:
    return scoring.category_breakdown(results, BREAKDOWN_FIELDS)  # the `category_breakdown` metric
