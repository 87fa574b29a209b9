"""OmniVideoBench (628 videos, 1,000 four-option questions) for seats_omnivideobench.

Record fields (flattened parquet): video, video_type, duration ("MM:SS"), question,
question_type (13 reasoning types), audio_type (Speech / Sound / Music), options
(["A.xxx", ...]), correct_option (letter), answer (the option text).

Videos: the hub repo NJU-LINK/OmniVideoBench (gated) holds a root data.parquet and loose
videos/video_N.mp4. `video` may be "videos/video_N.mp4" (joined under the video root as
is), or a bare "video_N" / "video_N.mp4" (the official data.json's form), looked up as
videos/video_N.mp4 and then video_N.mp4 (a root set to the videos folder itself). With
nothing configured the video root is $HF_HOME/OmniVideoBench (a `--local-dir` download,
or lmms-eval's link to the snapshot), else the snapshot in the local hub cache
(`seats_eval.tasklib.sources.video_root`).

Prompt: the official eval/qwenomni_eval.py prompt, including its two closing sentences.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

try:
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources, subset
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources, subset

BENCH = "omnivideobench"
METRIC = "omnivideobench_perception_score"
BREAKDOWN_FIELDS = ("video_type", "question_type", "audio_type", "duration_bucket")

# Read by seats_omnivideobench.yaml through `!function` (see tasks/README.md).
DATASET_PATH, DATASET_KWARGS = sources.dataset_source(BENCH)


def video_id(doc: dict) -> str:
    return PurePosixPath(str(doc["video"]).replace("\\", "/")).stem


def video_relpaths(value: object) -> list[str]:
    """Candidate paths under the video root for a record's `video` (see the module docstring).
    A value with a folder part is returned as is; `safe_join` refuses any escape."""
    text = str(value).strip()
    if not text or "/" in text or "\\" in text:
        return [text]
    name = text if text.lower().endswith(".mp4") else f"{text}.mp4"
    return [f"videos/{name}", name]


def doc_to_visual(doc: dict) -> list[str]:
    return [sources.video_path(BENCH, video_relpaths(doc["video"]))]


def fixture_doc_to_visual(doc: dict) -> list[str]:
    return [sources.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    options = "\n".join(records.format_options(doc["options"]))
    return (
        "You are given a video. Based on the content of the video, answer the following "
        "question:\n\n"
        f"Question:\n{doc['question']}\n\n"
        f"Options:\n{options}\n\n"
        "Answer with the option's letter directly(e.g., A, B, C, or D)."
        "If your access to the video content is limited, at least one option that is more "
        "likely than the others must be chosen."
        "Mustn't give any other reason for can not choose!"
    )


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {
        "question_id": subset.question_key(BENCH, doc),  # the release has no id: video + question
        "video_type": doc.get("video_type"),
        "question_type": doc.get("question_type"),
        "audio_type": doc.get("audio_type"),
        "duration": str(doc.get("duration")),
        "duration_bucket": records.duration_bucket(doc.get("duration")),
    }
    answer = doc.get("correct_option") or doc.get("answer")
    payload = scoring.make_payload(results, doc["options"], answer, video_id(doc), fields,
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
