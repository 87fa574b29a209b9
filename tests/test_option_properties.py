"""Property tests of the option table (hypothesis): every rule, present and future, refuses
booleans as numbers, non-finite and out-of-range numbers and unknown choices, and gives back
what it accepts; a key given twice in --model_args is always refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seats_eval.errors import ConfigError
from seats_eval.methods.options import COMMON_OPTIONS, OPTIONS, Rule, check_arg_string, model_args

NUMERIC = sorted(k for k, r in OPTIONS.items() if r.kind in ("number", "integer"))
CHOICES = sorted(k for k, r in OPTIONS.items() if r.kind == "choice")
BOOLEANS = sorted(k for k, r in OPTIONS.items() if r.kind == "boolean")


def _inside(rule: Rule, x: float) -> bool:
    if rule.lo is not None and (x <= rule.lo if rule.lo_open and rule.kind == "number" else x < rule.lo):
        return False
    return not (rule.hi is not None and (x >= rule.hi if rule.hi_open and rule.kind == "number" else x > rule.hi))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NUMERIC), x=st.floats(allow_nan=True, allow_infinity=True), as_text=st.booleans())
def test_numbers_are_finite_in_range_and_round_trip(name, x, as_text):
    rule = OPTIONS[name]
    value = repr(x) if as_text else x
    ok = math.isfinite(x) and _inside(rule, x) and (rule.kind == "number" or x.is_integer())
    if ok:
        assert rule.check("t", name, value) == (int(x) if rule.kind == "integer" else x)
    else:
        with pytest.raises(ConfigError, match=f"option {name}="):
            rule.check("t", name, value)


@given(name=st.sampled_from(NUMERIC + CHOICES), b=st.booleans())
def test_a_boolean_is_never_a_number_or_a_choice(name, b):
    with pytest.raises(ConfigError, match=f"option {name}={b!r} is not allowed"):
        OPTIONS[name].check("t", name, b)


@given(name=st.sampled_from(BOOLEANS), text=st.text(max_size=8))
def test_booleans_are_strict(name, text):
    spelled = text.strip().lower()
    if spelled in ("true", "1", "yes", "false", "0", "no"):
        assert OPTIONS[name].check("t", name, text) is (spelled in ("true", "1", "yes"))
    else:
        with pytest.raises(ConfigError):
            OPTIONS[name].check("t", name, text)


@given(name=st.sampled_from(CHOICES), text=st.text(max_size=12))
def test_choices_accept_only_their_spellings(name, text):
    rule = OPTIONS[name]
    known = {c.lower() for c in rule.choices} | set(rule.aliases)
    if text.strip().lower() in known:
        assert rule.check("t", name, text) in rule.choices
    else:
        with pytest.raises(ConfigError, match=f"must be one of {', '.join(rule.choices)}"):
            rule.check("t", name, text)


_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_val = st.from_regex(r"[A-Za-z0-9_.-]{0,6}", fullmatch=True)


@settings(deadline=None)  # the first call imports lmms-eval
@given(items=st.lists(st.tuples(_key, _val), min_size=1, max_size=6), data=st.data())
def test_a_model_arg_given_twice_is_refused(items, data):
    keys = [k for k, _ in items]
    text = ",".join(f"{k}={v}" for k, v in items)
    if len(set(keys)) == len(keys):
        check_arg_string(text)
        dup = data.draw(st.sampled_from(keys))
        text += f",{dup}=1"
    with pytest.raises(ConfigError, match="is given twice"):
        check_arg_string(text)


@given(name=st.sampled_from(sorted(k for k, r in OPTIONS.items() if k in COMMON_OPTIONS
                                   and r.kind in ("number", "integer"))),
       x=st.one_of(st.just(float("nan")), st.just(-1.0), st.booleans(), st.just("abc")))
def test_every_common_model_arg_is_checked(name, x):
    with pytest.raises(ConfigError, match=f"model args: option {name}="):
        model_args("m model args", {name: x})
