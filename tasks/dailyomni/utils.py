"""Daily-Omni (684 videos, 1,197 four-option questions) for seats_dailyomni.

Record fields: question_id, video_id, Question, Choice (4 x "A. ..."; in the hub parquet a
numpy-style string without commas; fewer options are parsed too), Answer (letter), Type
(6 QA types), video_category (15), video_duration ("30s" / "60s").

Annotations: hub xxayt/Daily-Omni. Videos: Videos.tar of liarliar/Daily-Omni, extracted
into the video root: <root>/Videos/<video_id>/<video_id>_video.mp4 (a lowercase videos/
folder is accepted too). lmms-eval never fetches this second repo: see tasks/README.md.

Prompt: the official Daily-Omni test prompt with one choice per line (as SEATS uses it).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources

BENCH = "dailyomni"
METRIC = "dailyomni_score"
BREAKDOWN_FIELDS = ("Type", "video_category", "video_duration")

# Read by seats_dailyomni.yaml through `!function` (see tasks/README.md).
DATASET_PATH, DATASET_KWARGS = sources.dataset_source(BENCH)

PROMPT = (
    "Your task is to accurately answer multiple-choice questions based on the given video.\n"
    "Select the single most accurate answer from the given choices.\n"
    "Question: {question}\n"
    "Choices: {choices}\n"
    "Your answer should be a capital letter representing your choice: A, B, C, or D. "
    "Don't generate any other text.\n"
)


def video_id(doc: dict) -> str:
    return str(doc["video_id"])


def doc_to_visual(doc: dict) -> list[str]:
    vid = video_id(doc)
    candidates = [f"Videos/{vid}/{vid}_video.mp4", f"videos/{vid}/{vid}_video.mp4"]
    return [sources.video_path(BENCH, candidates)]


def fixture_doc_to_visual(doc: dict) -> list[str]:
    return [sources.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    choices = "\n".join(records.format_options(doc["Choice"]))
    return PROMPT.format(question=doc["Question"], choices=choices)


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {
        "question_id": doc.get("question_id"),
        "Type": doc.get("Type"),
        "video_category": doc.get("video_category"),
        "video_duration": doc.get("video_duration"),
    }
    payload = scoring.make_payload(results, doc["Choice"], doc["Answer"], video_id(doc), fields,
                                   authors=authors_extraction.authors_choice(BENCH, results, doc))
    return scoring.metrics(METRIC, payload)


def aggregate_results(results: list[dict]) -> float:
    return scoring.aggregate(BENCH, results, BREAKDOWN_FIELDS)


count_failures = scoring.count_failures  # the `sample_failures` metric of the YAML


def category_breakdown(results: list[dict]) -> dict:
    return scoring.category_breakdown(results, BREAKDOWN_FIELDS)  # the `category_breakdown` metric
authors_accuracy = scoring.authors_accuracy  # the `mcq_accuracy_authors` metric of the YAML

# The chat messages lmms-eval hands the model: the YAML's system turn, then video + text.
doc_to_messages = prompts.chat_messages(doc_to_visual, doc_to_text)
fixture_doc_to_messages = prompts.chat_messages(fixture_doc_to_visual, doc_to_text)
