"""A method's options (`--model_args`), read once, with their types and ranges.

lmms-eval hands `--model_args` over as strings, or as numbers and booleans it guessed
("true" -> True, "0.3" -> 0.3); the Python API may pass anything. Every method builder reads
its options through one `Options`, so that an unknown key, a value of the wrong type (a
boolean where a number is due: `R=true` is not R=1; "abc" for a ratio) or a value out of
range fails at once, before any weights load, with a ConfigError that names the method,
the option, the value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError

_MISSING = object()


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    return f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{right}"


class Options:
    """Typed access to one method's options; `allowed` lists every key it understands."""

    def __init__(self, method: str, raw: Mapping[str, Any], allowed: Iterable[str]) -> None:
        self.method = method
        self.allowed = frozenset(allowed)
        unknown = sorted(set(raw) - self.allowed)
        if unknown:
            raise ConfigError(f"{method}: unknown option(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(self.allowed)) or 'none'}")
        self._raw = dict(raw)

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def _fail(self, key: str, value: Any, what: str) -> ConfigError:
        return ConfigError(f"{self.method}: option {key}={value!r} is not allowed: must be {what}")

    def number(self, key: str, default: Any = _MISSING, *, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float | None:
        """A real number within the interval; `default` (may be None) when absent,
        ConfigError when absent without a default."""
        what = f"a number in {_interval(lo, hi, lo_open, hi_open)}"
        if key not in self._raw:
            if default is _MISSING:
                raise ConfigError(f"{self.method}: option {key} is required ({what})")
            return default
        value = self._raw[key]
        if isinstance(value, bool):
            raise self._fail(key, value, what)
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise self._fail(key, value, what) from None
        below = lo is not None and (x <= lo if lo_open else x < lo)
        above = hi is not None and (x >= hi if hi_open else x > hi)
        if not math.isfinite(x) or below or above:
            raise self._fail(key, value, what)
        return x

    def integer(self, key: str, default: Any = _MISSING, *, lo: int | None = None, hi: int | None = None) -> int:
        """A whole number (3, "3" or 3.0; never True) within [lo, hi]."""
        what = f"an integer in {_interval(lo, hi, False, False)}"
        if key not in self._raw:
            if default is _MISSING:
                raise ConfigError(f"{self.method}: option {key} is required ({what})")
            return default
        value = self._raw[key]
        try:
            x = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            x = None
        if x is None or not x.is_integer() or (lo is not None and x < lo) or (hi is not None and x > hi):
            raise self._fail(key, value, what)
        return int(x)

    def boolean(self, key: str, default: bool) -> bool:
        """true/false (also 1/0, yes/no)."""
        if key not in self._raw:
            return default
        value = self._raw[key]
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise self._fail(key, value, "true or false")

    def choice(self, key: str, default: str, allowed: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
        """One of `allowed` (case-insensitive; `aliases` map other spellings onto them)."""
        if key not in self._raw:
            return default
        value = str(self._raw[key]).strip()
        value = (aliases or {}).get(value.lower(), value)
        for a in allowed:
            if value.lower() == a.lower():
                return a
        raise self._fail(key, self._raw[key], f"one of {', '.join(allowed)}")

    def integers(self, key: str, count: int | None = None) -> tuple[int, ...] | None:
        """A list of integers written "16-19-21-24" (lmms-eval splits model args on commas),
        "16 19 21 24" or given as a sequence; None when absent."""
        if key not in self._raw:
            return None
        value = self._raw[key]
        parts = value if isinstance(value, (list, tuple)) else str(value).replace(",", "-").replace(" ", "-").split("-")
        what = f"{count} integers like 16-19-21-24" if count else "integers like 16-19-21-24"
        try:
            out = tuple(int(str(p)) for p in parts if str(p) != "")
        except ValueError:
            raise self._fail(key, value, what) from None
        if count is not None and len(out) != count:
            raise self._fail(key, value, what)
        return out
