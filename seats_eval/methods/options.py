"""Every option seats-eval reads, checked by one table of rules: `--model_args`, sweep spec
values and subcommand flags.

lmms-eval hands `--model_args` over as strings, or as numbers and booleans it guessed
("true" -> True, "0.3" -> 0.3); YAML and the Python API may pass anything. A `Rule` says what
a value must be (a finite number in an interval, a whole number, true/false, one of some
choices, text) and turns an allowed value into its type; anything else fails with a
ConfigError that names where the value came from, the option, the value and what is allowed:
a boolean is never a number (`R=true` is not R=1), "false" is never true, NaN and infinity
are never numbers, a key given twice is refused (`R=0.1,R=0.35`). `OPTIONS` holds the rules
shared by every model id (the common model args, the budget options) and by sweep specs and
subcommand flags; each method builder reads its own options through `Options`, with the same
rules, so a typo fails before any weights load.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backbones.budgets import MODES
from ..errors import ConfigError

_MISSING = object()


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    return f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{right}"


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class Rule:
    """What one option's value must be. kind: number | integer | boolean | choice | text | any
    (passed on as given: `device_map` may be a dict through the Python API)."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # other spellings of a choice

    def what(self) -> str:
        if self.kind == "number":
            return f"a number in {_interval(self.lo, self.hi, self.lo_open, self.hi_open)}"
        if self.kind == "integer":
            return f"an integer in {_interval(self.lo, self.hi, False, False)}"
        if self.kind == "boolean":
            return "true or false"
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        return "a text" if self.kind == "text" else "anything"

    def parse(self, value: Any) -> Any:
        """The value in its type; ValueError (with `what()`) when it is not allowed."""
        bad = ValueError(self.what())
        if self.kind in ("number", "integer"):
            try:
                x = None if isinstance(value, bool) else float(value)
            except (TypeError, ValueError):
                x = None
            if x is None or not math.isfinite(x) or (self.kind == "integer" and not x.is_integer()):
                raise bad
            lo_open, hi_open = (self.lo_open, self.hi_open) if self.kind == "number" else (False, False)
            if self.lo is not None and (x <= self.lo if lo_open else x < self.lo):
                raise bad
            if self.hi is not None and (x >= self.hi if hi_open else x > self.hi):
                raise bad
            return int(x) if self.kind == "integer" else x
        if self.kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise bad
        if self.kind == "choice":
            if not isinstance(value, str):
                raise bad
            text = value.strip()
            text = self.aliases.get(text.lower(), text)
            for c in self.choices:
                if text.lower() == c.lower():
                    return c
            raise bad
        if self.kind == "any":
            return value
        if not isinstance(value, (str, int, float, os.PathLike)) or isinstance(value, bool):
            raise bad
        return str(value)

    def check(self, where: str, key: str, value: Any) -> Any:
        """`parse`, with a ConfigError naming `where` the value came from and the option."""
        try:
            return self.parse(value)
        except ValueError:
            raise ConfigError(f"{where}: option {key}={value!r} is not allowed: must be {self.what()}") from None

    def argparse_type(self, flag: str) -> Any:
        """An argparse `type=` that applies the rule to a command-line flag."""
        import argparse

        def parse(text: str) -> Any:
            try:
                return self.parse(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{flag}={text!r} is not allowed: must be {self.what()}") from None

        parse.__name__ = flag  # argparse names the type in some messages
        return parse


def _num(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> Rule:
    return Rule("number", lo, hi, lo_open, hi_open)


def _int(lo: int | None = None, hi: int | None = None) -> Rule:
    return Rule("integer", lo, hi)


_TEXT, _BOOL, _RATIO = Rule("text"), Rule("boolean"), _num(0.0, 1.0, lo_open=True)
# official: the authors' rules, the default of every method, model id and sweep; paper: the
# text's (docs/profiles.md). A method's profile is chosen once, when it is built (methods/base.py).
PROFILES = ("official", "paper")
DEFAULT_PROFILE = "official"
DTYPES = ("auto", "float32", "float16", "bfloat16")

# Options every model id takes besides its method's own (models/omni.py reads them).
COMMON_OPTIONS: dict[str, Rule] = {
    "pretrained": _TEXT, "device": Rule("any"), "device_map": Rule("any"), "batch_size": _int(1, 1),
    "attn_implementation": _TEXT, "dtype": Rule("choice", choices=DTYPES),
    "max_frames": _int(1), "fps": _num(0.0, lo_open=True), "min_pixels": _int(1), "max_pixels": _int(1),
    "total_pixels": _num(0.0, lo_open=True), "system_prompt": _TEXT, "max_new_tokens": _int(1),
    "record_dir": _TEXT, "backbone_config": _TEXT,
    "feature_cache": Rule("any"),  # a folder, or off / none / false (lmms-eval reads "false" as False)
    "prefix_sharing": _BOOL,  # one video's questions share its media prefix (runtime/prefix.py)
}
# lmms-eval's names for our options (its Qwen wrappers say max_num_frames).
ALIASES: dict[str, str] = {"max_num_frames": "max_frames"}
# The budget options of every budgeted method (methods/common.py), also checked in sweep specs.
BUDGET_RULES: dict[str, Rule] = {
    "R": _RATIO, "R_v": _RATIO, "R_a": _RATIO, "lam": _num(0.0, lo_open=True),
    "mode": Rule("choice", choices=MODES,
                 aliases={"both_selected": "both", "audio-intact": "audio_intact"}),
    "profile": Rule("choice", choices=PROFILES),
}
# Sweep spec values (sweep/spec.py) and subcommand flags.
SPEC_RULES: dict[str, Rule] = {
    "limit": _num(0.0, lo_open=True), "num_processes": _int(1), "main_process_port": _int(1, 65535),
    "tiny": _BOOL, "cache": _BOOL, "launcher": Rule("choice", choices=("local", "accelerate")),
    "unregistered": Rule("choice", choices=("fail", "skip")),
}
FLAG_RULES: dict[str, Rule] = {"layers": _int(1), "hidden": _int(1), "tokens": _int(1)}
# lmms-eval's --gen_kwargs that the pruned decoder honours (runtime/decoding.py); max_new_tokens
# is the common option's rule.
GEN_RULES: dict[str, Rule] = {"temperature": _num(0.0), "top_p": _num(0.0, 1.0, lo_open=True), "top_k": _int(0),
                              "num_beams": _int(1), "do_sample": _BOOL}
# The one table: an option's name means the same rule wherever it is given.
OPTIONS: dict[str, Rule] = {**COMMON_OPTIONS, **BUDGET_RULES, **SPEC_RULES, **FLAG_RULES, **GEN_RULES}


def flag(name: str, flag_name: str | None = None) -> Any:
    """argparse `type=` for a subcommand flag checked by the table's rule `name`."""
    return OPTIONS[name].argparse_type(flag_name or f"--{name.replace('_', '-')}")


def key_value(text: str) -> tuple[str, str]:
    """argparse `type=` of a KEY=VALUE flag (`flops --option lam=1.4`)."""
    import argparse

    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. lam=1.4)")
    return key.strip(), value


def check_arg_string(text: str) -> None:
    """Refuse what lmms-eval's own parser of a `--model_args` string would silently lose:
    a key given twice (it keeps the last) and an item without `=`."""
    from lmms_eval.utils import _smart_comma_split  # lmms-eval's split (commas inside quotes or braces kept)

    seen: set[str] = set()
    for item in _smart_comma_split(text.strip()) if text.strip() else []:
        if "=" not in item:
            raise ConfigError(f"--model_args: {item!r} is not key=value")
        key = item.split("=", 1)[0].strip()
        canonical = ALIASES.get(key, key)
        if canonical in seen:
            raise ConfigError(f"--model_args: option {key} is given twice (lmms-eval would keep the last "
                              f"silently); give it once")
        seen.add(canonical)


def model_args(where: str, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(common options parsed by their rules, the method's own options unparsed) of a model's
    args; lmms-eval's aliases map onto ours (both given: refused). None means absent."""
    raw = {k: v for k, v in raw.items() if v is not None}
    for alias, name in ALIASES.items():
        if alias in raw:
            if name in raw:
                raise ConfigError(f"{where}: give {name} or {alias} (lmms-eval's name for it), not both")
            raw[name] = raw.pop(alias)
    common = {k: COMMON_OPTIONS[k].check(where, k, v) for k, v in raw.items() if k in COMMON_OPTIONS}
    return common, {k: v for k, v in raw.items() if k not in COMMON_OPTIONS}


def check_known(where: str, values: Mapping[str, Any]) -> None:
    """Check every value whose name the table knows (a sweep job's model args at load)."""
    _, own = model_args(where, values)
    for k, v in own.items():
        if k in BUDGET_RULES:
            BUDGET_RULES[k].check(where, k, v)


class Options:
    """Typed access to one method's options (each read by a `Rule`); `allowed` lists every
    key the method understands."""

    def __init__(self, method: str, raw: Mapping[str, Any], allowed: Iterable[str]) -> None:
        self.method = method
        self.allowed = frozenset(allowed)
        unknown = sorted(set(raw) - self.allowed)
        if unknown:
            raise ConfigError(f"{method}: unknown option(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(self.allowed)) or 'none'}; common to every model: "
                              f"{', '.join(sorted(COMMON_OPTIONS))} (lmms-eval's "
                              f"{', '.join(f'{a} = {n}' for a, n in ALIASES.items())})")
        self._raw = dict(raw)

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def _fail(self, key: str, value: Any, what: str) -> ConfigError:
        return ConfigError(f"{self.method}: option {key}={value!r} is not allowed: must be {what}")

    def get(self, key: str, rule: Rule, default: Any = _MISSING) -> Any:
        """The option checked by `rule`; `default` when absent (ConfigError without one)."""
        if key not in self._raw:
            if default is _MISSING:
                raise ConfigError(f"{self.method}: option {key} is required ({rule.what()})")
            return default
        return rule.check(self.method, key, self._raw[key])

    def number(self, key: str, default: Any = _MISSING, *, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float | None:
        """A finite real number within the interval; `default` (may be None) when absent,
        ConfigError when absent without a default."""
        return self.get(key, Rule("number", lo, hi, lo_open, hi_open), default)

    def integer(self, key: str, default: Any = _MISSING, *, lo: int | None = None, hi: int | None = None) -> int:
        """A whole number (3, "3" or 3.0; never True) within [lo, hi]."""
        return self.get(key, Rule("integer", lo, hi), default)

    def boolean(self, key: str, default: bool) -> bool:
        """true/false (also 1/0, yes/no); nothing else."""
        return self.get(key, _BOOL, default)

    def choice(self, key: str, default: str, allowed: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
        """One of `allowed` (case-insensitive; `aliases` map other spellings onto them)."""
        if key in self._raw and not isinstance(self._raw[key], str):  # lmms-eval turned "1" into 1
            self._raw[key] = str(self._raw[key])
        return self.get(key, Rule("choice", choices=tuple(allowed), aliases=dict(aliases or {})), default)

    def profile(self) -> str:
        """The `profile` option (DEFAULT_PROFILE when absent), checked by the table's rule."""
        return self.get("profile", BUDGET_RULES["profile"], DEFAULT_PROFILE)

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
