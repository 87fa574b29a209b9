"""Prefix sharing (runtime/prefix.py): the questions on one video answered from one shared
media prefix give what each gives alone.

Every fixture question (tasks/fixtures/mcq: four questions) is asked on each of two fixture
videos (with and without audio), for every method and both tiny backbones: one by one, then
in order with one `SharedPrefix`. Tolerance: greedy token ids equal exactly; the prefill
logits within 1e-4 (fp32 on the CPU: the suffix runs as a shorter matmul, so the last bits
may round differently); the per-layer token counts equal (records count as if run alone).
A method without in-LLM drop steps must actually share (every question after the first on
a video hits), one with drop steps must not.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import SamplePipeline
from seats_eval.methods import METHOD_IDS, build_method
from seats_eval.runtime.prefix import SharedPrefix

from .chat import chat_request
from .conftest import EOS

FIXTURE = "tasks/fixtures/mcq/test-00000-of-00001.parquet"
VIDEOS = ("av_moving.mp4", "video_only.mp4")
OPTIONS = {"full": {}, "remove_at": {"modality": "video", "layer": 1}, "fastv": {"R": 0.35, "K": 1},
           "fastv_om": {"R": 0.35, "K": 1}, "dycoke": {"R": 0.35, "R_v": 0.25}}  # others: R=0.35


def fixture_questions() -> list[str]:
    from pathlib import Path

    rows = pd.read_parquet(Path(__file__).resolve().parents[1] / FIXTURE).to_dict("records")
    return [f"{r['question']}\n" + "\n".join(r["options"]) + "\nAnswer with the option's letter." for r in rows]


def compare(pipe: SamplePipeline, method, videos: dict[str, list]) -> int:
    """Assert shared == alone for every question; the number of shared prefills."""
    shared = SharedPrefix()
    for inputs_list in videos.values():
        for inputs in inputs_list:
            alone = pipe.generate(inputs, method, max_new_tokens=4, eos_token_ids=EOS)
            both = pipe.generate(inputs, method, max_new_tokens=4, eos_token_ids=EOS, shared=shared)
            assert both.tokens == alone.tokens
            torch.testing.assert_close(both.prefill_logits, alone.prefill_logits, rtol=0, atol=1e-4)
            assert both.record.layer_counts == alone.record.layer_counts
        shared.clear()
    return shared.hits


def _cases():
    for backbone in ("qwen2.5", "qwen3"):
        for method_id in METHOD_IDS:
            quick = backbone == "qwen2.5" and method_id in ("full", "divprune", "seats")
            yield pytest.param(backbone, method_id, marks=() if quick else pytest.mark.slow,
                               id=f"{backbone}-{method_id}")


@pytest.mark.parametrize("backbone,method_id", list(_cases()))
def test_shared_prefix_answers_equal_one_by_one(request, backbone, method_id):
    qwen3 = backbone == "qwen3"
    thinker = request.getfixturevalue("thinker3" if qwen3 else "thinker")
    make = request.getfixturevalue("make_inputs3" if qwen3 else "make_inputs")
    cfg = load_backbone_config("tiny-qwen3" if qwen3 else "tiny")
    method = build_method(method_id, cfg, OPTIONS.get(method_id, {"R": 0.35}))
    pipe = SamplePipeline(thinker)
    questions = fixture_questions()
    videos = {v: [make(v, q) for q in questions] for v in VIDEOS}
    hits = compare(pipe, method, videos)
    if method.drop_steps(pipe.adapter.num_layers):
        assert hits == 0  # a question-dependent drop inside the LLM: nothing to share yet
    else:
        assert hits == len(VIDEOS) * (len(questions) - 1), f"{method_id}: Stage I depends on the question"


def test_a_question_token_leaked_into_the_prefix_is_caught(thinker, make_inputs, monkeypatch):
    """Plant: the stored prefix cache keeps 3 tokens of the filling question beyond the media
    (its key still ends at the media), so the next question attends to them."""
    original = SharedPrefix.store

    def leaky(self, embeds, positions, cache, length):
        original(self, embeds, positions, cache, length)
        self._prefix.cache = cache.fork(length + 3)

    monkeypatch.setattr(SharedPrefix, "store", leaky)
    method = build_method("full", load_backbone_config("tiny"), {})
    questions = fixture_questions()
    with pytest.raises(AssertionError):
        compare(SamplePipeline(thinker), method, {VIDEOS[0]: [make_inputs(VIDEOS[0], q) for q in questions]})


def test_model_class_groups_a_videos_questions(tiny_dir, clips_dir, tmp_path):
    """Requests of two videos interleaved: answers come back in request order, equal to the
    unshared run's, records count tokens as if each ran alone and say what was shared."""
    import json

    from seats_eval.models.ids import Model_divprune_qwen25omni

    questions = fixture_questions()
    runs = {}
    for sharing in (False, True):
        rec = tmp_path / f"rec{sharing}"
        m = Model_divprune_qwen25omni(pretrained=str(tiny_dir), R=0.35, record_dir=str(rec),
                                      prefix_sharing=sharing)
        m.task_dict = {"seats_fixture_mcq": {"test": {i: {} for i in range(4)}}}
        reqs = [chat_request(clips_dir / VIDEOS[i % 2], questions[i], i, max_new_tokens=4) for i in range(4)]
        answers = [r.text for r in m.generate_until(reqs)]
        rows = {r["doc_id"]: r for r in map(json.loads, (rec / "records.jsonl").read_text().splitlines())}
        runs[sharing] = answers, rows
    (plain, plain_rows), (shared, shared_rows) = runs[False], runs[True]
    assert shared == plain
    assert [shared_rows[i]["video"] for i in range(4)] == [str(clips_dir / VIDEOS[i % 2]) for i in range(4)]
    for i in range(4):
        assert shared_rows[i]["layer_counts"] == plain_rows[i]["layer_counts"]
        assert shared_rows[i]["tflops"] == plain_rows[i]["tflops"]
    assert [shared_rows[i]["shared_prefix_tokens"] > 0 for i in range(4)] == [False, False, True, True]
    assert all(plain_rows[i]["shared_prefix_tokens"] == 0 for i in range(4))


def test_fork_to_the_cache_own_length_keeps_it_whole() -> None:
    """`fork(length)` crops with transformers' negative count; at length == the cache's own,
    crop(-0) would be crop(0) and empty it."""
    from seats_eval.runtime.kv_cache import PrunableCache

    cache = PrunableCache()
    kv = torch.randn(1, 2, 5, 4)
    cache.update(kv, kv, 0)
    assert cache.fork(5).get_seq_length() == 5 and cache.fork(3).get_seq_length() == 3
    assert cache.get_seq_length() == 5  # the original is untouched
