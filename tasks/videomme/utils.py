"""Video-MME with audio and without subtitles (900 videos, 2,700 questions) for seats_videomme.

Record fields: video_id ("001"), duration (short / medium / long), domain (6),
sub_category (30), url, videoID (YouTube id), question_id, task_type (12), question,
options (4 x "A. ..."), answer (letter).

Videos: <root>/data/<videoID>.mp4 (.MP4 / .mkv accepted), as lmms-eval's videomme task:
videos_chunked_*.zip of lmms-eval/Video-MME, extracted by lmms-eval on the first run to
$HF_HOME/videomme/data/.
Prompt: lmms-eval's `videomme` (no-subtitle) prompt, whose first sentence mentions subtitles
even without them; default post_prompt "\\nAnswer with the option's letter from the given
choices directly." (from lmms_eval_specific_kwargs).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources

BENCH = "videomme"
METRIC = "videomme_perception_score"
BREAKDOWN_FIELDS = ("duration", "domain", "sub_category", "task_type")

# Read by seats_videomme.yaml through `!function` (see tasks/README.md).
DATASET_PATH, DATASET_KWARGS = sources.dataset_source(BENCH)

OPTION_PROMPT = (
    "Select the best answer to the following multiple-choice question based on the video and "
    "the subtitles. Respond with only the letter (A, B, C, or D) of the correct option."
)
DEFAULT_POST_PROMPT = "\nAnswer with the option's letter from the given choices directly."


def video_id(doc: dict) -> str:
    return str(doc["videoID"])


def doc_to_visual(doc: dict) -> list[str]:
    vid = video_id(doc)
    candidates = [f"data/{vid}.mp4", f"data/{vid}.MP4", f"data/{vid}.mkv"]
    return [sources.video_path(BENCH, candidates)]


def fixture_doc_to_visual(doc: dict) -> list[str]:
    return [sources.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    pre_prompt = kwargs.get("pre_prompt", "") or ""
    post_prompt = kwargs.get("post_prompt", DEFAULT_POST_PROMPT)
    options = "\n".join(records.format_options(doc["options"]))
    return f"{pre_prompt}{OPTION_PROMPT}\n{doc['question']}\n{options}\n{post_prompt}"


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {
        "question_id": doc.get("question_id"),
        "duration": doc.get("duration"),
        "domain": doc.get("domain"),
        "sub_category": doc.get("sub_category"),
        "task_type": doc.get("task_type"),
    }
    payload = scoring.make_payload(results, doc["options"], doc["answer"], video_id(doc), fields,
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
