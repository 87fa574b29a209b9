"""Prefix sharing (runtime/prefix.py): the questions on one video answered from one shared
media prefix give what each gives alone.

Every fixture question (tasks/fixtures/mcq: four questions) is asked on each of two fixture
videos (with and without audio), for every method and both tiny backbones: one by one, then
in order with one `SharedPrefix`. Tolerance: greedy token ids equal exactly; the prefill
logits within 1e-4 (fp32 on the CPU: the suffix runs as a shorter matmul, so the last bits
may round differently); the per-layer token counts equal (records count as if run alone).
Every method must actually share (every question after the first on a video hits): a
method without in-LLM drop steps its whole prefix, one with drop steps the layers up to its
first drop, joined there to the question's suffix; the survivors of every drop step equal.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import SamplePipeline
from seats_eval.errors import SeatsError
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
            assert len(both.record.kept_positions) == len(alone.record.kept_positions)
            for a, b in zip(both.record.kept_positions, alone.record.kept_positions, strict=True):
                assert torch.equal(a, b)  # Stage I's and every drop step's survivors
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
    assert hits == len(VIDEOS) * (len(questions) - 1), f"{method_id}: Stage I depends on the question"


@pytest.mark.parametrize("method_id", ["full", "seats"])
def test_a_question_token_leaked_into_the_prefix_is_caught(thinker, make_inputs, monkeypatch, method_id):
    """Plant: the stored prefix cache keeps 3 tokens of the filling question beyond the media
    (its key still ends at the media), so the next question attends to them."""
    original = SharedPrefix.store

    def leaky(self, embeds, positions, cache, length, depth=None, state=None):
        original(self, embeds, positions, cache, length, depth, state)
        self._prefix.cache = cache.fork(length + 3, None if depth is None else depth + 1)

    monkeypatch.setattr(SharedPrefix, "store", leaky)
    method = build_method(method_id, load_backbone_config("tiny"), {} if method_id == "full" else {"R": 0.35})
    questions = fixture_questions()
    with pytest.raises((AssertionError, SeatsError)):
        compare(SamplePipeline(thinker), method, {VIDEOS[0]: [make_inputs(VIDEOS[0], q) for q in questions]})


@pytest.mark.parametrize("method_id", ["seats", "fastv_om"])
def test_drop_step_methods_share_under_eager_attention(thinker_eager, make_inputs, method_id):
    """The explicit additive mask path: the layers after the join get the whole sequence's
    causal mask, sliced to the survivors, as alone."""
    method = build_method(method_id, load_backbone_config("tiny"), OPTIONS.get(method_id, {"R": 0.35}))
    questions = fixture_questions()
    hits = compare(SamplePipeline(thinker_eager), method, {VIDEOS[0]: [make_inputs(VIDEOS[0], q) for q in questions]})
    assert hits == len(questions) - 1


def test_a_join_without_the_whole_mask_is_caught(thinker_eager, make_inputs, monkeypatch):
    """Plant: after the join the layers get no mask (eager attention then lets every kept
    token see the later ones)."""
    from seats_eval.runtime import prune

    monkeypatch.setattr(prune, "_layer_mask", lambda mask: None)
    method = build_method("seats", load_backbone_config("tiny"), {"R": 0.35})
    questions = fixture_questions()
    with pytest.raises(AssertionError):
        compare(SamplePipeline(thinker_eager), method, {VIDEOS[0]: [make_inputs(VIDEOS[0], q) for q in questions]})


def test_a_prefix_is_served_only_to_the_depth_it_was_filled_for(thinker, make_inputs, monkeypatch):
    """FastV-om's prefix covers layers 0-1 only; SEATS asking next on the same video must miss
    (and answer as alone), and so must full tokens (every layer). Plant: a lookup that ignores
    the depth serves a too-shallow cache."""
    cfg = load_backbone_config("tiny")
    methods = [build_method("fastv_om", cfg, OPTIONS["fastv_om"]), build_method("full", cfg, {}),
               build_method("seats", cfg, {"R": 0.35})]
    pipe = SamplePipeline(thinker)
    q = fixture_questions()
    inputs = [make_inputs(VIDEOS[0], q[i]) for i in range(len(methods))]

    def run_mixed() -> SharedPrefix:
        shared = SharedPrefix()
        for method, x in zip(methods, inputs, strict=True):
            alone = pipe.generate(x, method, max_new_tokens=4, eos_token_ids=EOS)
            both = pipe.generate(x, method, max_new_tokens=4, eos_token_ids=EOS, shared=shared)
            assert both.tokens == alone.tokens
            torch.testing.assert_close(both.prefill_logits, alone.prefill_logits, rtol=0, atol=1e-4)
        return shared

    assert run_mixed().hits == 0
    original = SharedPrefix.lookup
    monkeypatch.setattr(SharedPrefix, "lookup", lambda self, embeds, positions, depth=None:
                        original(self, embeds, positions, self._prefix.depth if self._prefix else depth))
    with pytest.raises((AssertionError, SeatsError, RuntimeError)):  # other answers, or layers of unequal lengths
        run_mixed()


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


def test_seats_shares_through_lmms_eval(tiny_dir, clips_dir, tmp_path):
    """End to end through lmms-eval (`seats-eval eval`, one process) on a task with several
    questions per video: SEATS with prefix sharing answers and scores as without it, and the
    2nd and later questions on a video prefilled only their suffix up to the first drop."""
    from .test_scale_out import SHARED_VIDEOS, eval_shared, logged, rows, shared_task

    tasks = shared_task(tmp_path / "task")
    on = eval_shared(tasks, tmp_path / "on", tiny_dir, clips_dir, 1, model="seats_qwen25omni")
    off = eval_shared(tasks, tmp_path / "off", tiny_dir, clips_dir, 1, sharing=False, model="seats_qwen25omni")
    r_on = sorted(rows(on / "records" / "records.jsonl"), key=lambda r: r["doc_id"])
    r_off = sorted(rows(off / "records" / "records.jsonl"), key=lambda r: r["doc_id"])
    assert [r["shared_prefix_tokens"] > 0 for r in r_on] == [False, True, False, True, True]
    assert all(r["shared_prefix_tokens"] == 0 for r in r_off)
    for a, b in zip(r_on, r_off, strict=True):
        assert (a["answer"], a["layer_counts"], a["tflops"]) == (b["answer"], b["layer_counts"], b["tflops"])
    assert logged(on) == logged(off) and len(logged(on)) == len(SHARED_VIDEOS)


def test_fork_to_the_cache_own_length_keeps_it_whole() -> None:
    """`fork(length)` crops with transformers' negative count; at length == the cache's own,
    crop(-0) would be crop(0) and empty it."""
    from seats_eval.runtime.kv_cache import PrunableCache

    cache = PrunableCache()
    kv = torch.randn(1, 2, 5, 4)
    cache.update(kv, kv, 0)
    assert cache.fork(5).get_seq_length() == 5 and cache.fork(3).get_seq_length() == 3
    assert cache.get_seq_length() == 5  # the original is untouched


def test_fork_of_the_first_layers_starts_the_rest_empty() -> None:
    """A prefix shared up to a drop step: the first layers cropped to the prefix, the later ones
    empty (they run on the question's survivors), the original untouched."""
    from seats_eval.runtime.kv_cache import PrunableCache

    cache = PrunableCache()
    for layer, n in enumerate((6, 6, 4)):  # a pruned prefill: layer 2 saw 4 survivors
        kv = torch.randn(1, 2, n, 4)
        cache.update(kv, kv, layer)
    twin = cache.fork(5, layers=2)
    assert [twin.get_seq_length(i) for i in range(3)] == [5, 5, 0]
    assert torch.equal(twin.layers[1].keys, cache.layers[1].keys[..., :5, :])
    assert [cache.get_seq_length(i) for i in range(3)] == [6, 6, 4]


def test_the_prefix_held_in_memory_is_counted(thinker, make_inputs) -> None:
    """`SharedPrefix.nbytes`: at least the media prefix's keys and values in every layer it
    covers, at most those of the whole input plus the prefix's own input and state; a prefix
    shared up to SEATS' first drop covers fewer layers and holds less."""
    cfg = load_backbone_config("tiny")
    pipe = SamplePipeline(thinker)
    text = thinker.config.text_config
    kv_per_token_layer = 2 * text.num_key_value_heads * (text.hidden_size // text.num_attention_heads) * 4  # fp32
    inputs = make_inputs(VIDEOS[0], fixture_questions()[0])
    held = {}
    for method_id in ("full", "seats"):
        shared = SharedPrefix()
        pipe.generate(inputs, build_method(method_id, cfg, {} if method_id == "full" else {"R": 0.35}),
                      max_new_tokens=1, eos_token_ids=EOS, shared=shared)
        p, depth = shared._prefix.embeds.shape[1], shared._prefix.depth
        layers = text.num_hidden_layers if depth is None else depth + 1
        held[method_id] = shared.nbytes()
        assert held[method_id] >= layers * p * kv_per_token_layer
        assert held[method_id] <= layers * inputs["input_ids"].shape[1] * kv_per_token_layer + 4 * p * text.hidden_size * 4
    assert held["seats"] < held["full"]
    shared.clear()
    assert shared.nbytes() == 0


def test_a_join_hands_on_the_one_mask_kind_or_refuses() -> None:
    """The whole sequence's mask after a join: the adapter's single attention kind's, whatever
    its name; with several kinds (sliding-window layers beside full ones) the join refuses
    loudly instead of handing every layer one kind's mask."""
    from seats_eval.errors import SeamError
    from seats_eval.runtime.prune import _layer_mask

    m = torch.zeros(1, 1, 3, 3)
    assert _layer_mask({"full_attention": m}) is m and _layer_mask({"any_kind": None}) is None and _layer_mask(m) is m
    with pytest.raises(SeamError, match="2 attention kinds"):
        _layer_mask({"full_attention": m, "sliding_attention": m})
