"""LVOmniBench (275 long videos, 1,014 four-option questions) for seats_lvomnibench.

Record fields: question_id, video_id ("video_0"), duration ("MM:SS" or "HH:MM:SS"),
video_category, sub_category, question_type, audio_type, difficulty, question, options
(4 x "A. ..." or a string form of that list), answer (letter; `correct_option` in the
official data.json is accepted too).

Annotations: hub xxayt/LVOmniBench. Videos: loose videos/video_N.mp4 of the gated
KD-TAO/LVOmniBench (~187 GB), which lmms-eval never fetches: <root>/videos/<video_id>.mp4,
where the root is a `hf download ... --local-dir` copy or, with nothing configured, the
snapshot in the local hub cache (see tasks/README.md).
Prompt: the authors' fork's (what the paper ran); `prompt: omnieval` in the YAML kwargs gives the
official OmniEval `build_multiple_choice_prompt`. System turn: empty (the YAML).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources

BENCH = "lvomnibench"
METRIC = "lvomnibench_perception_score"
BREAKDOWN_FIELDS = (
    "video_category",
    "sub_category",
    "question_type",
    "audio_type",
    "difficulty",
    "duration_bucket",
)

# Read by seats_lvomnibench.yaml through `!function` (see tasks/README.md).
DATASET_PATH, DATASET_KWARGS = sources.dataset_source(BENCH)


def video_id(doc: dict) -> str:
    return str(doc["video_id"])


def doc_to_visual(doc: dict) -> list[str]:
    return [sources.video_path(BENCH, [f"videos/{video_id(doc)}.mp4"])]


def fixture_doc_to_visual(doc: dict) -> list[str]:
    return [sources.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The authors' fork's prompt (options start on the "Options:" line, no blank line,
    "(A/B/C/D)", a semicolon); `prompt: omnieval` in the YAML kwargs gives OmniEval's own."""
    options = "\n".join(records.format_options(doc["options"]))
    if (lmms_eval_specific_kwargs or {}).get("prompt") == "omnieval":
        return (
            f"Question: {doc['question']}\n"
            f"Options:\n{options}\n\n"
            "Select the best answer from the options above. "
            "Directly provide the letter representing your choice and nothing else. "
            "Do not include the full text of the option, do not provide any explanation."
        )
    return (
        f"Question: {doc['question']}\n"
        f"Options: {options}\n"
        "Select the best answer from the options above. "
        "Directly provide the letter representing your choice (A/B/C/D) and nothing else. "
        "Do not include the full text of the option; do not provide any explanation."
    )


def _answer(doc: dict):
    answer = doc.get("answer")
    return answer if answer not in (None, "") else doc.get("correct_option")


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {
        "question_id": doc.get("question_id"),
        "video_category": doc.get("video_category"),
        "sub_category": doc.get("sub_category"),
        "question_type": doc.get("question_type"),
        "audio_type": doc.get("audio_type"),
        "difficulty": doc.get("difficulty"),
        "duration": str(doc.get("duration")),
        "duration_bucket": records.duration_bucket(doc.get("duration")),
    }
    payload = scoring.make_payload(results, doc["options"], _answer(doc), video_id(doc), fields,
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
