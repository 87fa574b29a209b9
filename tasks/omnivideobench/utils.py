"""OmniVideoBench (628 videos, 1,000 four-option questions) for seats_omnivideobench.

Record fields (flattened parquet): video ("videos/video_N.mp4"), video_type, duration
("MM:SS"), question, question_type (13 reasoning types), audio_type (Speech / Sound /
Music), options (["A.xxx", ...]), correct_option (letter), answer (the option text).

Prompt: the official eval/qwenomni_eval.py prompt, including its two closing sentences.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

try:
    from seats_eval import taskutils as tu
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval import taskutils as tu

BENCH = "omnivideobench"
METRIC = "omnivideobench_perception_score"
BREAKDOWN_FIELDS = ("video_type", "question_type", "audio_type", "duration_bucket")

# Read by seats_omnivideobench.yaml through `!function` (see tasks/README.md).
DATASET_PATH, DATASET_KWARGS = tu.dataset_source(BENCH)


def video_id(doc: dict) -> str:
    return PurePosixPath(str(doc["video"]).replace("\\", "/")).stem


def doc_to_visual(doc: dict) -> list[str]:
    return [tu.video_path(BENCH, [str(doc["video"])])]


def fixture_doc_to_visual(doc: dict) -> list[str]:
    return [tu.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    options = "\n".join(tu.format_options(doc["options"]))
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
        "video_type": doc.get("video_type"),
        "question_type": doc.get("question_type"),
        "audio_type": doc.get("audio_type"),
        "duration": str(doc.get("duration")),
        "duration_bucket": tu.duration_bucket(doc.get("duration")),
    }
    answer = doc.get("correct_option") or doc.get("answer")
    payload = tu.make_payload(results, doc["options"], answer, video_id(doc), fields)
    return {METRIC: payload}


def aggregate_results(results: list[dict]) -> float:
    return tu.aggregate(BENCH, results, BREAKDOWN_FIELDS)
