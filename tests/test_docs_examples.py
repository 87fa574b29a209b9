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
from seats_eval.driver import generate
from seats_eval.errors import ConfigError
from seats_eval.methods import build_method

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


# --- docs/adding-a-benchmark.md ------------------------------------------------------------
BENCH_DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-a-benchmark.md"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def quiz_tasks(tmp_path):
    """A task root holding the documented benchmark as printed, beside the project's fixtures."""
    text = BENCH_DOC.read_text()
    root = tmp_path / "tasks"
    (root / "quiz").mkdir(parents=True)
    (root / "fixtures").symlink_to(REPO / "tasks" / "fixtures")
    (root / "quiz" / "seats_quiz.yaml").write_text(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    (root / "quiz" / "utils.py").write_text(re.search(r"```python\n(.*?)```", text, re.S).group(1))
    return root


def test_the_documented_benchmark_takes_its_frame_cap_with_no_backbone_edit(quiz_tasks, clips_dir, monkeypatch):
    from lmms_eval.utils import load_yaml_config

    from seats_eval.tasklib import prompts

    monkeypatch.setenv("SEATS_FIXTURE_CLIPS", str(clips_dir))
    config = load_yaml_config(str(quiz_tasks / "quiz" / "seats_quiz.yaml"))
    assert config["metadata"]["main_metric"] == "quiz_accuracy"
    import pyarrow.parquet as pq

    doc = pq.read_table(REPO / "tasks" / "fixtures" / "mcq" / "test-00000-of-00001.parquet").to_pylist()[0]
    messages = config["doc_to_messages"](doc, config["lmms_eval_specific_kwargs"]["default"])
    cap = prompts.frame_cap(messages)
    assert cap == 8
    for yaml_file in sorted((REPO / "model_configs").glob("*.yaml")):  # every backbone as it is
        cfg = load_backbone_config(yaml_file)
        assert "quiz" not in yaml_file.read_text()
        assert cfg.frame_cap(cap) == min(8, cfg.max_frames)


@pytest.mark.slow
def test_the_documented_benchmark_runs_end_to_end(quiz_tasks, tiny_dir, clips_dir, tmp_path):
    import json
    import os
    import subprocess

    from seats_eval.sweep.store import task_scores

    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips_dir), SEATS_RECORD_DIR=str(tmp_path / "rec"),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-m", "seats_eval.cli", "eval", "--model", "seats_qwen25omni", "--model_args",
           f"pretrained={tiny_dir},R=0.25", "--tasks", "seats_quiz", "--include_path", str(quiz_tasks),
           "--batch_size", "1", "--limit", "2", "--output_path", str(tmp_path / "out")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "rec" / "records.jsonl").read_text().splitlines()]
    assert [r["frames"] for r in rows] == [8, 8]  # the task's cap, below the tiny backbone's 16
    [path] = list((tmp_path / "out").rglob("*_results.json"))
    results = json.loads(path.read_text())
    assert results["configs"]["seats_quiz"]["metadata"]["main_metric"] == "quiz_accuracy"  # lmms-eval keeps it
    assert task_scores(results) == {"seats_quiz": results["results"]["seats_quiz"]["quiz_accuracy,none"]}
