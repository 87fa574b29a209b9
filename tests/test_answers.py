"""The shared deterministic answer extractor (seats_eval.tasklib.answers)."""

from __future__ import annotations

import numpy as np
import pytest

from seats_eval.tasklib.answers import extract_choice
from seats_eval.tasklib.records import option_letters, option_texts, parse_options

OPT4 = [
    "A. A man playing the guitar",
    "B. A dog barking",
    "C. Rain falling on a roof",
    "D. Nobody is in the room",
]
OPT3 = ["A. red", "B. green", "C. blue"]
OPT4_BARE = ["cat", "dog", "bird", "fish"]  # no "A." prefixes
OPT4_TIGHT = ["A.2", "B.3", "C.4", "D.5"]  # OmniVideoBench style, numeric texts

CASES = [
    # leading letter
    ("B", OPT4, "B"),
    ("B.", OPT4, "B"),
    ("B)", OPT4, "B"),
    ("(B)", OPT4, "B"),
    ("[C]", OPT4, "C"),
    ("B:", OPT4, "B"),
    ("  D  ", OPT4, "D"),
    ("C. Rain falling on a roof", OPT4, "C"),
    ("B - the dog", OPT4, "B"),
    ("A", OPT4, "A"),
    ("A.", OPT4, "A"),
    ("A is correct.", OPT4, "A"),
    ("A\nThe man is clearly visible.", OPT4, "A"),
    ("B is correct because A is only partly right", OPT4, "B"),
    # markdown
    ("**B**", OPT4, "B"),
    ("**Answer: C**", OPT4, "C"),
    ("`D`", OPT4, "D"),
    # answer phrases
    ("The answer is C.", OPT4, "C"),
    ("Answer: (B)", OPT4, "B"),
    ("The correct answer is: **B. A dog barking**", OPT4, "B"),
    ("Final answer: D", OPT4, "D"),
    ("I choose D because the room is empty.", OPT4, "D"),
    ("Looking closely, the best option is A.", OPT4, "A"),
    ("Option C", OPT4, "C"),
    ("<answer>C</answer>", OPT4, "C"),
    ("<think>Maybe A? No.</think>\nD", OPT4, "D"),
    # "(X)" anywhere, "X." at a line start
    ("The sound matches the roof (C).", OPT4, "C"),
    ("Let me think about this.\nB. A dog barking", OPT4, "B"),
    # option text only
    ("A dog barking", OPT4, "B"),
    ("a man playing the guitar.", OPT4, "A"),
    ("It is raining, I hear rain falling on a roof", OPT4, "C"),
    ("fish", OPT4_BARE, "D"),
    ("4", OPT4_TIGHT, "C"),
    # letters in prose
    ("I think it's B", OPT4, "B"),
    ("Based on what I heard, D fits best", OPT4, "D"),
    # lowercase only where unambiguous
    ("b", OPT4, "B"),
    ("(c)", OPT4, "C"),
    ("d.", OPT4, "D"),
    ("answer: b", OPT4, "B"),
    ("the answer is a dog", OPT4, ""),
    # ambiguous / no answer -> ""
    ("A or B", OPT4, ""),
    ("B and C", OPT4, ""),
    ("B, C", OPT4, ""),
    ("Both C and D look plausible.", OPT4, ""),
    ("The answer is A. Actually, the answer is B.", OPT4, ""),
    ("", OPT4, ""),
    ("   \n ", OPT4, ""),
    ("I cannot tell from the video.", OPT4, ""),
    ("A man is walking in the park.", OPT4, ""),
    # letters limited to the options
    ("E", OPT4, ""),
    ("The answer is E.", OPT4, ""),
    ("C", OPT3, "C"),
    ("D", OPT3, ""),
    ("(D)", OPT3, ""),
    ("blue", OPT3, "C"),
    ("The answer is B.", OPT3, "B"),
]


@pytest.mark.parametrize(("response", "options", "expected"), CASES)
def test_extract_choice_table(response, options, expected):
    assert extract_choice(response, options) == expected


def test_table_is_big_enough():
    assert len(CASES) >= 30


def test_options_in_any_stored_form_give_the_same_answer():
    forms = [
        OPT4,
        np.array(OPT4),
        str(OPT4),  # "['A. ...', 'B. ...']"
        "[" + " ".join(repr(o) for o in OPT4) + "]",  # numpy-style, no commas
        "[" + "\n ".join(repr(o) for o in OPT4) + "]",  # numpy-style over lines
    ]
    for form in forms:
        assert extract_choice("a dog barking", form) == "B"
        assert extract_choice("(D)", form) == "D"


def test_deterministic():
    for response, options, _ in CASES:
        assert len({extract_choice(response, options) for _ in range(5)}) == 1


def test_none_and_list_responses():
    assert extract_choice(None, OPT4) == ""
    assert extract_choice(["C"], OPT4) == "C"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["A. x", "B. y"], ["A. x", "B. y"]),
        (("A. x", "B. y", "C. z"), ["A. x", "B. y", "C. z"]),
        (np.array(["A. x", "B. y"]), ["A. x", "B. y"]),
        ("['A. x', 'B. y']", ["A. x", "B. y"]),
        ("['A. x' 'B. y']", ["A. x", "B. y"]),
        ("['A. x y' 'B. z'\n 'C. w']", ["A. x y", "B. z", "C. w"]),
        ("[\"A. it's\" 'B. y']", ["A. it's", "B. y"]),
        ('["A. x", "B. y"]', ["A. x", "B. y"]),
        ("A. x B. y C. z", ["A. x", "B. y", "C. z"]),
        ("A. x\nB. y", ["A. x", "B. y"]),
        ("['cat' 'dog' 'bird']", ["cat", "dog", "bird"]),
        ("['A. Yes, a tone' 'B. No']", ["A. Yes, a tone", "B. No"]),
    ],
)
def test_parse_options(raw, expected):
    assert parse_options(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "[]", [], "just one thing", 42])
def test_parse_options_rejects_garbage(raw):
    with pytest.raises(ValueError):
        parse_options(raw)


def test_option_texts_and_letters():
    assert option_texts(OPT3) == [("A", "red"), ("B", "green"), ("C", "blue")]
    assert option_texts(["(A) x", "B) y", "C: z", "D.w"]) == [
        ("A", "x"),
        ("B", "y"),
        ("C", "z"),
        ("D", "w"),
    ]
    assert option_texts(OPT4_BARE)[3] == ("D", "fish")
    assert option_letters(OPT3) == ["A", "B", "C"]
    assert option_letters("['A. x' 'B. y' 'C. z' 'D. w' 'E. v']") == list("ABCDE")


def test_text_that_looks_like_a_label_is_not_one():
    bare = ["U.S. army", "UK navy", "French air force", "None"]
    assert option_texts(bare)[0] == ("A", "U.S. army")
    assert extract_choice("U.S. army", bare) == "A"
    assert extract_choice("B", bare) == "B"
