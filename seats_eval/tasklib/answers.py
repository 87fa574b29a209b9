"""Deterministic multiple-choice answer extraction shared by every seats task.

`extract_choice(response, options)` turns a free-form model response into one option letter,
or "" when the response names no option or names several with no clear winner. "" counts as
a wrong answer; nothing here is random. Options are read in any stored form through
`records.option_texts`.

Formats are tried in rank order and the first rank that matches decides:

1. a leading letter: "B", "B.", "B)", "(B)", "[B]", "B:", "B - text", "B\\n..."
2. an answer phrase: "The answer is C", "Answer: (B)", "correct option is D", "I choose A",
   "<answer>B</answer>"
3. a parenthesised letter anywhere: "... so (C)"
4. "X." or "X)" at the start of a later line
5. the option text alone (unique match against the option texts)
6. a standalone capital letter in prose: "I think it's B"
7. a lone lowercase letter where unambiguous: "b", "(c)", "d.", "answer: b"

Within one rank, a single distinct letter wins; two different letters make the response
ambiguous and the result is "". Letters are limited to the number of options, so "E" is
never extracted from a 4-option question. The English words "A" (article) and "I" (pronoun)
are not read as letters when they start an ordinary sentence ("A man plays...").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from seats_eval.tasklib.records import option_letters, option_texts

_THINK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL | re.IGNORECASE)
_MARKDOWN = re.compile(r"(\*\*|__|\*|`+|#+(?=\s))")

_PHRASES = (
    r"(?:the\s+)?(?:final\s+|correct\s+|best\s+|right\s+|most\s+(?:likely|appropriate)\s+)?"
    r"(?:answer|option|choice)(?:\s+(?:is|would\s+be|should\s+be|will\s+be))?"
    r"|i\s+(?:would\s+)?(?:choose|select|pick|go\s+with)"
    r"|my\s+(?:final\s+)?(?:answer|choice)(?:\s+is)?"
    r"|答案(?:是|为)?|选项?"
)
_PHRASE = re.compile(
    rf"(?<![A-Za-z])(?:{_PHRASES})\s*[:：=\-]?\s*(?:option\s+|choice\s+)?[\(\[]?"
    r"(?<![A-Za-z])([A-Za-z])(?![A-Za-z0-9'’])"
    r"\s*[\)\]]?",
    re.IGNORECASE,
)


def _clean(response: str) -> str:
    text = _THINK.sub(" ", response)
    text = _MARKDOWN.sub("", text)
    return text.strip()


# Words after which a capital "A"/"I" is still an option letter ("A is correct", "A or B").
_LETTER_FOLLOWERS = frozenset(
    "is was seems seem appears looks sounds would could should might must can will and or nor "
    "but because since as fits matches describes best correctly accurately option choice answer "
    "here then so which".split()
)
_LETTER_LIST = re.compile(r"\s*(?:,|/|&|\bor\b|\band\b)\s*[\(\[]?[A-Z](?![A-Za-z0-9'’])")


def _is_word_letter(letter: str, following: str) -> bool:
    """True when "A"/"I" at this spot is the English word, not an option letter."""
    if letter not in ("A", "I"):
        return False
    if re.match(r"['’]", following):
        return True
    word = re.match(r"\s+([a-z]+)", following)
    return bool(word) and word.group(1) not in _LETTER_FOLLOWERS


def _leading(text: str, valid: set[str]) -> list[str]:
    match = re.match(r"\s*[\(\[]?([A-Z])(?![A-Za-z0-9'’])", text)
    if not match:
        return []
    letter = match.group(1)
    rest = text[match.end() :]
    if letter not in valid or _is_word_letter(letter, rest):
        return []
    if _LETTER_LIST.match(rest.lstrip(")]")):  # "A or B", "B, C": not a single choice
        return []
    return [letter]


def _phrase(text: str, valid: set[str]) -> list[str]:
    found = []
    for match in _PHRASE.finditer(text):
        letter = match.group(1)
        tail = text[match.end() :]
        if letter.islower():
            # "the answer is b." counts; "the answer is a dog" does not
            if not re.match(r"\s*[.!。]?\s*(?:$|\n)", tail):
                continue
            letter = letter.upper()
        elif _is_word_letter(letter, tail):
            continue
        if letter in valid:
            found.append(letter)
    return found


def _parenthesised(text: str, valid: set[str]) -> list[str]:
    return [m.group(1) for m in re.finditer(r"[\(\[]([A-Z])[\)\]]", text) if m.group(1) in valid]


def _line_start(text: str, valid: set[str]) -> list[str]:
    found = re.findall(r"(?m)^\s*([A-Z])\s*[.)](?:\s|$)", text)
    return [x for x in found if x in valid]


def _normalise(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _option_text(text: str, pairs: Sequence[tuple[str, str]]) -> list[str]:
    response = _normalise(text)
    if not response:
        return []
    norm = [(letter, _normalise(body)) for letter, body in pairs]
    exact = [letter for letter, body in norm if body and body == response]
    if exact:
        return exact
    contained = [
        (letter, body)
        for letter, body in norm
        if body and re.search(rf"(?<!\w){re.escape(body)}(?!\w)", response)
    ]
    # an option whose text is part of a longer matching option does not count separately
    kept = [
        letter
        for letter, body in contained
        if not any(other != body and body in other for _, other in contained)
    ]
    return kept


def _prose(text: str, valid: set[str]) -> list[str]:
    found = []
    for match in re.finditer(r"(?<![A-Za-z0-9'’])([A-Z])(?![A-Za-z0-9'’])", text):
        letter = match.group(1)
        if letter in valid and not _is_word_letter(letter, text[match.end() :]):
            found.append(letter)
    return found


def _lowercase(text: str, valid: set[str]) -> list[str]:
    match = re.fullmatch(r"\s*[\(\[]?([a-z])[\)\]]?\s*[.:)]?\s*", text)
    if match is None:
        match = re.match(r"\s*(?:\(([a-z])\)|\[([a-z])\]|([a-z])[.)])(?:\s|$)", text)
        if match is None:
            return []
    letter = next(g for g in match.groups() if g).upper()
    return [letter] if letter in valid else []


def _decide(candidates: Iterable[str]) -> str | None:
    distinct = set(candidates)
    if not distinct:
        return None
    if len(distinct) == 1:
        return distinct.pop()
    return ""


def extract_choice(response: str, options: Sequence[str] | str | Any) -> str:
    """The option letter a response chooses, or "" (no answer / ambiguous).

    `options` is the question's option list in any form `parse_options` accepts
    (list, numpy array, string repr, with or without "A." prefixes); it fixes how many
    letters are valid and supplies the texts for option-text matching.
    """
    if response is None:
        return ""
    if isinstance(response, list | tuple):
        response = " ".join(str(r) for r in response)
    text = _clean(str(response))
    if not text:
        return ""
    pairs = option_texts(options)
    letters = option_letters(options)
    valid = set(letters)

    tagged = _ANSWER_TAG.search(text)
    if tagged:
        inner = tagged.group(1)
        result = _decide(_leading(inner, valid) or _lowercase(inner, valid))
        if result is not None:
            return result

    ranks = (
        lambda t: _leading(t, valid),
        lambda t: _phrase(t, valid),
        lambda t: _parenthesised(t, valid),
        lambda t: _line_start(t, valid),
        lambda t: _option_text(t, list(zip(letters, (body for _, body in pairs), strict=True))),
        lambda t: _prose(t, valid),
        lambda t: _lowercase(t, valid),
    )
    for rank in ranks:
        result = _decide(rank(text))
        if result is not None:
            return result
    return ""
