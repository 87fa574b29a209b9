"""Method options: typed, ranged, named in every error, before any weights load."""

from __future__ import annotations

import pytest

from seats_eval.backbones.config import load_backbone_config
from seats_eval.errors import ConfigError
from seats_eval.methods import METHOD_IDS, build_method
from seats_eval.methods.options import Options

TINY = load_backbone_config("tiny")
BUDGETED = [m for m in METHOD_IDS if m not in ("full", "remove_at")]


@pytest.mark.parametrize("method", BUDGETED)
@pytest.mark.parametrize("value", ["abc", True, 1.5, 0, -0.2, "nan", float("inf")])
def test_a_bad_ratio_names_the_option_and_its_range(method, value):
    with pytest.raises(ConfigError) as err:
        build_method(method, TINY, {"R": value})
    assert f"{method}: option R={value!r} is not allowed: must be a number in (0, 1]" in str(err.value)


@pytest.mark.parametrize("method", BUDGETED)
def test_ratios_come_as_strings_or_numbers(method):
    a = build_method(method, TINY, {"R": "0.6"}).describe()
    b = build_method(method, TINY, {"R": 0.6}).describe()
    assert a == b and a["R"] == 0.6


@pytest.mark.parametrize("opts,message", [
    ({"R": 0.3, "lam": "abc"}, "option lam='abc' is not allowed: must be a number in (0, inf]"),
    ({"R": 0.3, "tau": 0}, "option tau=0 is not allowed: must be a number in (0, inf]"),
    ({"R": 0.3, "late_removal": "maybe"}, "option late_removal='maybe' is not allowed: must be true or false"),
    ({"R": 0.3, "seed": 1.5}, "option seed=1.5 is not allowed: must be an integer"),
    ({"R": 0.3, "seed": True}, "option seed=True is not allowed: must be an integer"),
    ({"R": 0.3, "boundaries": "2-4-5"}, "option boundaries='2-4-5' is not allowed: must be 4 integers"),
    ({"R": 0.3, "decay": "linear"}, "option decay='linear' is not allowed: must be one of exp, equal"),
    ({"R": 0.3, "mode": "video"}, "option mode='video' is not allowed: must be one of both, audio_intact"),
    ({"R": 0.3, "R_v": "x"}, "option R_v='x' is not allowed: must be a number in (0, 1]"),
    ({"R": 0.3, "lamda": 1.4}, "unknown option(s) lamda; allowed:"),
    ({}, "option R is required"),
])
def test_seats_option_errors(opts, message):
    with pytest.raises(ConfigError) as err:
        build_method("seats", TINY, opts)
    assert message in str(err.value)


def test_booleans_and_choices_accept_their_spellings():
    a = build_method("seats", TINY, {"R": 0.3, "late_removal": "False", "stage1": "VisionZip-om",
                                     "mode": "both_selected"}).describe()
    assert a["late_removal"] is False and a["stage1"] == "visionzip" and a["mode"] == "both"
    assert build_method("fastv", TINY, {"R": 0.35, "K": "1"}).describe()["K"] == 1
    with pytest.raises(ConfigError, match="option K=0 is not allowed: must be an integer in"):
        build_method("fastv", TINY, {"R": 0.35, "K": 0})
    with pytest.raises(ConfigError, match="remove_at: option layer='x' is not allowed"):
        build_method("remove_at", TINY, {"layer": "x"})
    assert build_method("remove_at", TINY, {"layer": -1.0}).describe()["layer"] == -1


def test_options_reader_unit():
    o = Options("m", {"a": "3", "b": 3.0, "c": "yes", "d": "1-2", "e": None}, "abcdef")
    assert (o.integer("a"), o.integer("b"), o.boolean("c", False), o.integers("d")) == (3, 3, True, (1, 2))
    assert o.number("f", None) is None and o.integer("f", 7) == 7 and "a" in o and "f" not in o
    with pytest.raises(ConfigError, match="option e=None is not allowed: must be a number"):
        o.number("e")
