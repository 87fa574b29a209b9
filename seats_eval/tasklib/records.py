"""Record values in the forms the benchmarks store them: option lists (lists, numpy arrays,
their string reprs, labelled text), ground-truth letters, durations and label lists. One
parser per kind of value, shared by the tasks' prompts, payloads and the answer extractor.
"""

from __future__ import annotations

import ast
import json
import math
import re
import string
from typing import Any

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


def format_options(raw: Any) -> list[str]:
    """Options as displayed in prompts: each stored string as is when it already carries its
    "A."-style label, else "A. text" with the positional letter."""
    shown = []
    for i, item in enumerate(parse_options(raw)):
        letter, text = split_option(item, i)
        shown.append(item if text != item.strip() else f"{LETTERS[i]}. {text}")
    return shown


# --------------------------------------------------------------------------- answers

_ANSWER_ONLY = re.compile(r"[\(\[]?([A-Za-z])[\)\]]?[.:]?")
_ANSWER_LABEL = re.compile(r"[\(\[]?([A-Z])(?:[\)\]]|[.:])")


def answer_letter(answer: Any, options: Any | None = None) -> str:
    """The ground-truth letter of a record: "B", "b", "B.", "(B)", "B. text" -> "B"; when
    `options` is given, an answer stored as an option's text maps to that option's letter,
    and a letter beyond the options is refused. ValueError if no letter can be determined."""
    text = "" if answer is None else str(plain_value(answer)).strip()
    match = _ANSWER_ONLY.fullmatch(text) or _ANSWER_LABEL.match(text)
    letter = match.group(1).upper() if match else None
    if letter is None and options is not None and text:
        hits = [lt for lt, body in option_texts(options) if body.strip().lower() == text.lower()]
        letter = hits[0] if len(hits) == 1 else None
    if letter is None:
        raise ValueError(f"cannot read an answer letter from {answer!r}")
    if options is not None:
        valid = option_letters(options)
        if letter not in valid:
            raise ValueError(f"answer {answer!r} is not one of the options {valid}")
    return letter


# --------------------------------------------------------------------------- durations

_CLOCK = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$|^(\d+):(\d{1,2}\.\d+)$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)?$", re.IGNORECASE)
_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:m|min|mins|minute|minutes)$", re.IGNORECASE)


def parse_duration(value: Any) -> float:
    """Seconds from "MM:SS", "H:MM:SS" / "HH:MM:SS", "95", "95.5", "30s", "2min" or a number.
    ValueError for anything else (e.g. Video-MME's "short")."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        clock = _CLOCK.match(text)
        if clock:
            if clock.group(4) is not None:  # "MM:SS.s"
                seconds = int(clock.group(4)) * 60 + float(clock.group(5))
            elif clock.group(3) is None:  # "MM:SS"
                seconds = int(clock.group(1)) * 60 + int(clock.group(2))
            else:  # "H:MM:SS"
                seconds = (
                    int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + float(clock.group(3))
                )
        elif _SECONDS.match(text):
            seconds = float(_SECONDS.match(text).group(1))
        elif _MINUTES.match(text):
            seconds = float(_MINUTES.match(text).group(1)) * 60
        else:
            raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r}")
    return seconds


DURATION_BUCKETS = ((60, "0-1min"), (300, "1-5min"), (600, "5-10min"), (1800, "10-30min"))


def duration_bucket(value: Any) -> str:
    """Duration bucket of the SEATS breakdowns: 0-1min, 1-5min, 5-10min, 10-30min, >30min
    (upper bounds inclusive). A value that is not a duration ("short", "30s"-style labels
    are durations) is returned as its own category string."""
    try:
        seconds = parse_duration(value)
    except ValueError:
        return str(value)
    for upper, label in DURATION_BUCKETS:
        if seconds <= upper:
            return label
    return ">30min"


# --------------------------------------------------------------------------- other values


def parse_str_list(value: Any) -> list[str]:
    """A list of labels stored as a list, a numpy array, "['Speech' 'Music']",
    "['Speech', 'Music']", "Speech, Music" or "Speech"."""
    if value is None:
        return []
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return parse_options(text)
        except ValueError:
            inner = text.strip("[]").strip()
            return [t for t in re.split(r"[,\s]+", inner) if t]
    return [t.strip() for t in text.split(",") if t.strip()]


def plain_value(value: Any) -> Any:
    """JSON-friendly copy of a record value (numpy scalars/arrays to Python)."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return value.tolist()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value
