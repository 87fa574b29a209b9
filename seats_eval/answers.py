"""Deterministic multiple-choice answer extraction shared by every seats task.

`extract_choice(response, options)` turns a free-form model response into one option letter,
or "" when the response names no option or names several with no clear winner. "" counts as
a wrong answer; nothing here is random.

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

import ast
import json
import re
import string
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "extract_choice",
    "option_letters",
    "option_texts",
    "parse_options",
    "split_option",
]

LETTERS = string.ascii_uppercase

# "A. text", "A) text", "(A) text", "A: text", "A.text", "[A] text"
_OPTION_PREFIX = re.compile(r"^\s*[\(\[]?([A-Z])\s*(?:[\)\]]\s*[.:]?|[.:：．])\s*(.*)$", re.DOTALL)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", re.DOTALL)


# --------------------------------------------------------------------------- options


def _unescape(token: str, quote: str) -> str:
    try:
        value = ast.literal_eval(quote + token + quote)
    except (ValueError, SyntaxError):
        return token
    return value if isinstance(value, str) else token


def _quoted_items(body: str) -> list[str]:
    """Items of "'a', 'b'" or "'a' 'b'" (the inside of a list literal); [] unless the whole
    body is quoted strings separated by commas and/or whitespace."""
    tokens: list[str] = []
    pos = 0
    for match in _QUOTED.finditer(body):
        if body[pos : match.start()].strip(" \t\r\n,"):
            return []
        if match.group(1) is not None:
            tokens.append(_unescape(match.group(1), "'"))
        else:
            tokens.append(_unescape(match.group(2), '"'))
        pos = match.end()
    if body[pos:].strip(" \t\r\n,"):
        return []
    return tokens


def _split_labelled_text(text: str) -> list[str]:
    """Split "A. x B. y C. z" (labels in order from A) into ["A. x", "B. y", "C. z"]."""
    starts: list[int] = []
    pos = 0
    for letter in LETTERS:
        pattern = re.compile(rf"(?:^|(?<=[\s,;]))[\(\[]?{letter}\s*(?:[\)\]]|[.:])")
        match = pattern.search(text, pos)
        if match is None:
            break
        starts.append(match.start())
        pos = match.end()
    if len(starts) < 2:
        return []
    bounds = starts + [len(text)]
    parts = [text[bounds[i] : bounds[i + 1]].strip(" \t\r\n,;") for i in range(len(starts))]
    return [p for p in parts if p]


def parse_options(raw: Any) -> list[str]:
    """Options of a record as a list of strings, whatever form the record stores them in.

    Accepts a list/tuple, a numpy array, a JSON or Python list literal ("['A. x', 'B. y']"),
    numpy's comma-less repr ("['A. x' 'B. y']", possibly across lines) and, as a last resort,
    plain text with labels in order ("A. x B. y"). Items are stripped; empty items dropped.
    Raises ValueError when nothing usable is found.
    """
    if raw is None:
        raise ValueError("options are missing (None)")
    if hasattr(raw, "tolist") and not isinstance(raw, str | bytes):
        raw = raw.tolist()
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if isinstance(raw, list | tuple):
        items = [str(x).strip() for x in raw]
        items = [x for x in items if x]
        if not items:
            raise ValueError(f"options list is empty: {raw!r}")
        return items
    if not isinstance(raw, str):
        raise ValueError(f"unsupported options type {type(raw).__name__}: {raw!r}")

    text = raw.strip()
    if not text:
        raise ValueError("options string is empty")
    if text.startswith("[") and text.endswith("]"):
        # Quoted items separated by commas (Python/JSON) or by whitespace only (numpy's repr,
        # which Python would otherwise read as implicit string concatenation).
        tokens = _quoted_items(text[1:-1])
        if tokens:
            return parse_options(tokens)
        for loader in (json.loads, ast.literal_eval):
            try:
                value = loader(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, list | tuple):
                return parse_options(list(value))
        text = text[1:-1].strip()
    parts = _split_labelled_text(text)
    if parts:
        return parts
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2:
        return lines
    raise ValueError(f"cannot parse options from {raw!r}")


def split_option(option: str, position: int) -> tuple[str, str]:
    """(letter, text) of the option at `position` (0-based). An "A."-style prefix is removed
    when its letter is the positional one; otherwise (no prefix, or text such as "U.S. army"
    that only looks like one) the whole string is the text and the letter is positional."""
    option = str(option).strip()
    letter = LETTERS[position]
    match = _OPTION_PREFIX.match(option)
    if match and match.group(1) == letter:
        return letter, match.group(2).strip()
    return letter, option


def option_texts(options: Any) -> list[tuple[str, str]]:
    """[(letter, text), ...] for raw options in any form accepted by `parse_options`."""
    items = parse_options(options)
    if len(items) > len(LETTERS):
        raise ValueError(f"too many options ({len(items)})")
    return [split_option(item, i) for i, item in enumerate(items)]


def option_letters(options: Any) -> list[str]:
    """The valid answer letters of a question ("A".."C" for 3 options, "A".."D" for 4, ...)."""
    return [letter for letter, _ in option_texts(options)]


# --------------------------------------------------------------------------- responses

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
