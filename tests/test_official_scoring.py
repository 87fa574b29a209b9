"""`mcq_accuracy_authors`: the authors' per-benchmark answer extraction, quirks included
(reference section 7), beside our robust parser (which must not change)."""

from __future__ import annotations

import pytest

from seats_eval.tasklib import authors_extraction as oa
from seats_eval.tasklib import scoring
from seats_eval.tasklib.answers import extract_choice

OPTIONS = ["A. a dog", "B. a cat", "C. a bird", "D. a fish"]


@pytest.mark.parametrize(("response", "want"), [
    ("B", "B"), ("b. a cat", "B"), ("  C) bird", "C"), ("E", "E"),
    ("The answer is B", "T"),  # the first character, whatever it is
    ("", ""),
])
def test_worldsense_reads_the_first_character(response, want):
    assert oa.worldsense(response, {}) == want


def test_dailyomni_quirks_of_the_forks_parser():
    as_string = {"Choice": "['A. a dog' 'B. a cat' 'C. a bird' 'D. a fish']", "question_id": 7}
    as_list = {"Choice": OPTIONS, "question_id": 7}
    assert oa.dailyomni("Answer: B", as_string) == "A"  # any capital A-D, then "(X)" positions: all -1
    assert oa.dailyomni("(B) a cat", as_list) == "B"
    assert oa.dailyomni("C", as_list) == "C"
    # > 5 words, no capital A-D: the option texts; sliced from a string they are "" and all match
    assert oa.dailyomni("i think it is the cat here", as_string) == "A"
    assert oa.dailyomni("i think it is a fish in the bowl", as_list) == "D"
    # 3 options: letters A-C only
    assert oa.dailyomni("D", {"Choice": OPTIONS[:3], "question_id": 1}) in "ABC"


def test_dailyomni_random_fallback_is_seeded_by_the_question():
    draws = {q: oa.dailyomni("dunno", {"Choice": OPTIONS, "question_id": q}) for q in range(40)}
    assert set(draws.values()) <= set("ABCD") and len(set(draws.values())) > 1  # it is a draw
    again = {q: oa.dailyomni("dunno", {"Choice": OPTIONS, "question_id": q}) for q in range(40)}
    assert again == draws  # the same question draws the same letter in every run


@pytest.mark.parametrize(("response", "want"), [
    ("The best answer is C", "C"),
    ("Best option: D", "D"),
    ("the video shows that the man walks to the door and then he leaves it open", ""),
    ("I would say it is B or C", "B"),  # the first capital A-D anywhere
    ("Answer: A", "A"),
])
def test_characters_regex(response, want):
    assert oa.characters_regex(response) == want


def test_characters_regex_removes_prefixes_before_reading():
    assert oa.characters_regex("Best answer: C") == "C"  # not the "B" of "Best"
    assert oa.characters_regex("Best option: D") == "D"


def test_videomme_uses_lmms_evals_extractor():
    from lmms_eval.tasks._task_utils.mcq_extract import extract_mcq_answer

    for response in ("B", "The answer is (C).", "A. a dog", "I think D", "none"):
        assert oa.videomme(response, {}) == extract_mcq_answer(response, choices=list("ABCD"))


def test_payload_scores_both_extractions():
    doc = {"Choice": OPTIONS, "question_id": 1}
    response = "The answer is B"
    payload = scoring.make_payload(response, OPTIONS, "B", "v", {},
                                   authors=oa.authors_choice("worldsense", [response], doc))
    assert payload["pred"] == extract_choice(response, OPTIONS) == "B" and payload["score"] == 1.0
    assert payload["pred_authors"] == "T" and payload["score_authors"] == 0.0
    out = scoring.metrics("worldsense_score", payload)
    assert set(out) == {"worldsense_score", scoring.AUTHORS_METRIC, scoring.FAILURES_METRIC, scoring.BREAKDOWN_METRIC}
    assert scoring.authors_accuracy([payload, {**payload, "score_authors": 1.0}]) == 50.0
    failed = scoring.make_payload(f"{scoring.FAILURE_MARKER} x", OPTIONS, "A", "v", {}, authors="A")
    assert failed["score_authors"] == 0.0 and failed["pred_authors"] == ""
    assert scoring.AUTHORS_METRIC not in scoring.metrics("m", scoring.make_payload("A", OPTIONS, "A", "v"))
