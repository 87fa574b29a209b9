"""WorldSense (1,662 videos, 3,172 four-option questions) for seats_worldsense and its fixture.

Record fields: index, video, video_path ("./videos/<id>.mp4"), duration (a label such as
"<1min", not seconds: kept as is, and as its own duration bucket), domain (8 video domains),
sub_category, audio_class (list or its string form), task_domain, task_type (26), question,
candidates (4 x "A. ..."), answer (letter).

Videos: videos_chunk_*.zip of lmms-lab/WorldSense, which lmms-eval extracts on the first run
to $HF_HOME/WorldSense/videos/<id>.mp4 (the record's video_path).

Prompt: the OmniZip/SEATS WorldSense prompt (question, "Options:", one candidate per line,
"Answer with the option's letter from the given choices directly."); the model adds the
system turn named by the YAML (`lmms_eval_specific_kwargs.default.system_prompt`).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import authors_extraction, prompts, records, scoring, sources

BENCH = "worldsense"
METRIC = "worldsense_score"
BREAKDOWN_FIELDS = ("task_type", "domain", "task_domain", "duration", "audio_class")

# Read by seats_worldsense.yaml through `!function`: hub id, or local parquet when
# SEATS_WORLDSENSE_DATA / SEATS_DATA_ROOT say so (evaluated when the task config is loaded).
DATASET_PATH, DATASET_KWARGS = sources.dataset_source(BENCH)


def video_id(doc: dict) -> str:
    return str(doc["video"])


def doc_to_visual(doc: dict) -> list[str]:
    rel = doc.get("video_path") or f"videos/{video_id(doc)}.mp4"
    return [sources.video_path(BENCH, [str(rel)])]


def fixture_doc_to_visual(doc: dict) -> list[str]:
    return [sources.fixture_video_path(video_id(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    options = "\n".join(records.format_options(doc["candidates"]))
    return (
        f"{doc['question']}\nOptions:\n{options}\n"
        "Answer with the option's letter from the given choices directly."
    )


def process_results(doc: dict, results: list[str]) -> dict:
    fields = {
        "question_id": doc.get("index"),
        "task_type": doc.get("task_type"),
        "domain": doc.get("domain"),
        "task_domain": doc.get("task_domain"),
        "sub_category": doc.get("sub_category"),
        "duration": str(doc.get("duration")),
        "duration_bucket": records.duration_bucket(doc.get("duration")),
        "audio_class": records.parse_str_list(doc.get("audio_class")),
    }
    payload = scoring.make_payload(results, doc["candidates"], doc["answer"], video_id(doc), fields,
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
