"""Scoring: the per-sample payload every seats task returns from `process_results`, the
accuracy that the task YAMLs aggregate (with a logged per-category breakdown), the count of
samples the model could not run (`sample_failures`, reported beside the accuracy in lmms-eval's
results JSON), the per-category accuracies (`category_breakdown`, in the results JSON too),
and the breakdown recomputed offline from `--log_samples` output (`seats-eval breakdown`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from seats_eval.tasklib.answers import extract_choice
from seats_eval.tasklib.records import answer_letter, plain_value

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# The answer the model class gives for a sample whose own data failed (errors.DataError):
# it scores 0 and is counted by `count_failures`.
FAILURE_MARKER = "[seats-eval failure]"
FAILURES_METRIC = "sample_failures"
# The same responses read by the authors' per-benchmark extraction (authors_extraction.py).
AUTHORS_METRIC = "mcq_accuracy_authors"
# Accuracy and count per value of each category field: a mapping, not a score.
BREAKDOWN_METRIC = "category_breakdown"


def make_payload(
    response: Any,
    options: Any,
    answer: Any,
    video_id: Any,
    fields: Mapping[str, Any] | None = None,
    authors: str | None = None,
) -> dict[str, Any]:
    """The per-sample dict every seats task returns from `process_results`:
    `score` (1.0 correct / 0.0 wrong or no answer), `pred` (extracted letter or ""),
    `answer` (ground-truth letter), `video_id` (the cluster key), plus category `fields`;
    with `authors` (the authors' extraction of the same response) also `pred_authors`
    and `score_authors`."""
    if isinstance(response, list | tuple):
        response = response[0] if response else ""
    text = "" if response is None else str(response)
    pred = extract_choice(text, options)
    gold = answer_letter(answer, options)
    failed = text.startswith(FAILURE_MARKER)
    payload: dict[str, Any] = {
        "score": 1.0 if pred and pred == gold and not failed else 0.0,
        "pred": "" if failed else pred,
        "answer": gold,
        "video_id": str(plain_value(video_id)),
        "failed": 1.0 if failed else 0.0,
    }
    if authors is not None:
        payload["pred_authors"] = "" if failed else authors
        payload["score_authors"] = 1.0 if authors and authors == gold and not failed else 0.0
    for key, value in (fields or {}).items():
        payload[key] = plain_value(value)
    return payload


def metrics(metric: str, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a task's `process_results` returns: its accuracy metric, the authors'-extraction
    accuracy when the payload has one, and the failure count (the YAML metrics read the
    same payload)."""
    out = {metric: payload, FAILURES_METRIC: payload, BREAKDOWN_METRIC: payload}
    if "score_authors" in payload:
        out[AUTHORS_METRIC] = payload
    return out


def count_failures(results: Sequence[Mapping[str, Any]]) -> int:
    """The `sample_failures` aggregation: samples answered with the failure marker."""
    return int(sum(float(r.get("failed", 0.0)) for r in results))


def accuracy(results: Iterable[Mapping[str, Any] | float]) -> float:
    """Mean `score` of the payloads, in percent (0-100). 0.0 for no results."""
    scores = [float(r["score"]) if isinstance(r, Mapping) else float(r) for r in results]
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def authors_accuracy(results: Iterable[Mapping[str, Any]]) -> float:
    """The `mcq_accuracy_authors` aggregation: mean `score_authors`, in percent."""
    return accuracy([float(r["score_authors"]) for r in results])


def _group_scores(results: Sequence[Mapping[str, Any]], field_name: str) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    for r in results:
        if field_name not in r:
            continue
        value = r[field_name]
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            groups.setdefault(str(v), []).append(float(r["score"]))
    return groups


def log_breakdown(task: str, results: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> None:
    """Log accuracy per category value of each field (list-valued fields count once per item)."""
    try:
        from loguru import logger
    except ImportError:  # pragma: no cover
        import logging

        logger = logging.getLogger("seats_eval.tasks")
    for name in fields:
        for value, scores in sorted(_group_scores(results, name).items()):
            acc = 100.0 * sum(scores) / len(scores)
            logger.info(f"[{task}] {name}={value}: {acc:.2f} (n={len(scores)})")
    failed = count_failures(results)
    logger.info(f"[{task}] overall: {accuracy(results):.2f} (n={len(results)}"
                + (f", {failed} failed sample(s) scored 0" if failed else "") + ")")


def category_breakdown(results: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, Any]:
    """The `category_breakdown` aggregation: {field: {value: {"accuracy": %, "n": questions}}}
    (list-valued fields count once per item), so the results JSON carries what the log shows."""
    out: dict[str, Any] = {}
    for name in fields:
        groups = _group_scores(list(results), name)
        if groups:
            out[name] = {value: {"accuracy": 100.0 * sum(v) / len(v), "n": len(v)}
                         for value, v in sorted(groups.items())}
    return out


def aggregate(task: str, results: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> float:
    """Aggregation used by the task YAMLs: logs the breakdown, returns accuracy in %."""
    results = list(results)
    log_breakdown(task, results, fields)
    return accuracy(results)


_NON_CATEGORY = {"score", "pred", "answer", "video_id", "question_id", "index", "response", "failed",
                 "pred_authors", "score_authors"}


def sample_payload(sample: Mapping[str, Any], metric: str | None) -> Mapping[str, Any] | None:
    """The per-sample payload of one `--log_samples` row: `metric`'s, else the first with a score."""
    if metric is not None:
        value = sample.get(metric)
        return value if isinstance(value, Mapping) else None
    for key, value in sample.items():
        if key in ("doc", "arguments", "input_media"):
            continue
        if isinstance(value, Mapping) and "score" in value:
            return value
    return None


def breakdown(
    samples_jsonl: str | os.PathLike[str],
    by: Sequence[str] | None = None,
    metric: str | None = None,
) -> pd.DataFrame:
    """Per-category accuracy recomputed from an lmms-eval `--log_samples` jsonl.

    Each line's payload is the dict with a `score` field (or the one named `metric`); a `by`
    field is looked up in the payload first, then in the logged `doc`. By default every
    category field of the payloads is used. List-valued fields (e.g. WorldSense audio
    classes) count the sample once per item. Returns columns field, value, n, correct,
    accuracy (%), starting with the overall row (field "overall", value "all").
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    payload_fields: dict[str, None] = {}
    with open(samples_jsonl, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            sample = json.loads(line)
            payload = sample_payload(sample, metric)
            if payload is None:
                raise ValueError(
                    f"{samples_jsonl}:{lineno}: no result payload with a 'score' field"
                )
            for key in payload:
                if key not in _NON_CATEGORY:
                    payload_fields.setdefault(key, None)
            row = dict(sample.get("doc") or {})
            row.update(payload)
            rows.append(row)
    if not rows:
        raise ValueError(f"{samples_jsonl}: no samples")
    if not by:
        by = list(payload_fields)
    out = [
        {
            "field": "overall",
            "value": "all",
            "n": len(rows),
            "correct": int(sum(float(r["score"]) for r in rows)),
            "accuracy": accuracy(rows),
        }
    ]
    for name in by:
        groups = _group_scores(rows, name)
        if not groups:
            raise ValueError(f"field {name!r} is in neither the payloads nor the docs")
        for value, scores in sorted(groups.items()):
            out.append(
                {
                    "field": name,
                    "value": value,
                    "n": len(scores),
                    "correct": int(sum(scores)),
                    "accuracy": 100.0 * sum(scores) / len(scores),
                }
            )
    return pd.DataFrame(out, columns=["field", "value", "n", "correct", "accuracy"])
