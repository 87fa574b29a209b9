"""The worked example of docs/adding-a-method.md runs as printed: registered like a real
method, it keeps exactly its plan on the tiny model and equals the mask oracle."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from seats_eval.backbones.config import load_backbone_config
from seats_eval.bench.flops import planned_lengths
from seats_eval.errors import ConfigError
from seats_eval.methods import build_method
from seats_eval.runtime.generate import generate

from .conftest import EOS
from .oracle import oracle_generate

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-a-method.md"


@pytest.fixture
def normkeep(monkeypatch):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    module = types.ModuleType("seats_docs_normkeep")
    exec(compile(code, str(DOC), "exec"), module.__dict__)  # noqa: S102 - our own documentation
    monkeypatch.setitem(sys.modules, module.__name__, module)
    from seats_eval import methods

    monkeypatch.setitem(methods._REGISTRY, "normkeep", f"{module.__name__}:build")
    return module


def test_the_documented_method_runs_and_equals_the_oracle(normkeep, thinker, make_inputs):
    tiny = load_backbone_config("tiny")
    method = build_method("normkeep", tiny, {"R": 0.3, "layer": 3})
    inputs = make_inputs("av_long.mp4")
    res = generate(thinker, inputs, method, max_new_tokens=4, eos_token_ids=EOS)
    rec = res.record
    plan = method.plan(rec.input_counts)
    assert rec.layer_counts == list(plan.layers)  # what ran is the plan, layer by layer
    assert rec.layer_counts[4][1] == 0 and rec.layer_counts[3][1] > 0  # no video after layer 3
    assert [sum(c) for c in rec.layer_counts] == planned_lengths(method, *rec.input_counts)
    tokens, logits, _ = oracle_generate(thinker, inputs, rec, max_new_tokens=4, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens
    with pytest.raises(ConfigError, match="option layer=7 is not allowed"):
        build_method("normkeep", tiny, {"R": 0.3, "layer": 7})
