"""Encoder-feature cache: the splice equals the processor, cached runs equal uncached runs,
keys change with every setting, bad entries are misses, and the model class uses it."""

from __future__ import annotations

import json
import os

import pytest
import torch
from transformers import AutoProcessor

from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.driver.feature_cache import CacheEntry, FeatureCache, expand_placeholder, model_identity
from seats_eval.driver.inputs import build_prompt
from seats_eval.errors import SeatsError
from seats_eval.methods import build_method

from .chat import chat_request

QUESTIONS = ("What moves in the video? A. a square B. a circle C. a line D. nothing",
             "Is there a sound? Answer yes or no.")


def _video_id(thinker) -> int:
    cfg = thinker.config
    return int(getattr(cfg, "video_token_index", None) or cfg.video_token_id)


def _entry(processor, thinker, inputs, text, method):
    res = generate(thinker, inputs, method, max_new_tokens=1, capture_signals=True)
    prompt_ids = processor.tokenizer(build_prompt(processor, text))["input_ids"]
    return CacheEntry.build(prompt_ids, inputs, res.extras["features"], {"has_audio": "input_features" in inputs})


@pytest.mark.parametrize("backbone", ["qwen2.5-omni", "qwen3-omni"])
@pytest.mark.parametrize("clip", ["av_moving.mp4", "video_only.mp4"])
def test_splice_equals_the_processor_for_a_new_prompt(backbone, clip, request):
    if backbone == "qwen2.5-omni":
        make, processor = request.getfixturevalue("make_inputs"), request.getfixturevalue("processor")
        thinker = request.getfixturevalue("thinker")
    else:
        make, thinker = request.getfixturevalue("make_inputs3"), request.getfixturevalue("thinker3")
        processor = AutoProcessor.from_pretrained(request.getfixturevalue("tiny3_dir"))
    a, b = make(clip, QUESTIONS[0]), make(clip, QUESTIONS[1])
    entry = _entry(processor, thinker, a, QUESTIONS[0], build_method("full", load_backbone_config("tiny"), {}))
    ids_b = processor.tokenizer(build_prompt(processor, QUESTIONS[1]))["input_ids"]
    spliced = entry.inputs_for(ids_b, _video_id(thinker), "cpu")
    assert spliced["input_ids"].tolist() == b["input_ids"].tolist()
    for k in ("video_grid_thw", "video_second_per_grid", "feature_attention_mask"):
        assert (k in spliced) == (k in b)
        if k in b:
            assert torch.equal(spliced[k], b[k])


@pytest.mark.parametrize("method_id,opts", [("full", {}), ("seats", {"R": 0.3}), ("divprune", {"R": 0.3})])
def test_cached_features_give_identical_logits_and_tokens(method_id, opts, thinker, processor, make_inputs,
                                                          tmp_path):
    method = build_method(method_id, load_backbone_config("tiny"), opts)
    clip = "av_moving.mp4"
    cache = FeatureCache(tmp_path, model_identity("tiny", thinker))
    key = cache.key(__file__, {"fps": 2})
    cache.store(key, _entry(processor, thinker, make_inputs(clip, QUESTIONS[0]), QUESTIONS[0], method))
    entry = cache.load(key)
    assert entry is not None and entry.features.signals_captured
    ids = processor.tokenizer(build_prompt(processor, QUESTIONS[1]))["input_ids"]
    hit = generate(thinker, entry.inputs_for(ids, _video_id(thinker), "cpu"), method, max_new_tokens=4,
                   features=entry.features)
    ref = generate(thinker, make_inputs(clip, QUESTIONS[1]), method, max_new_tokens=4)
    assert torch.equal(hit.prefill_logits, ref.prefill_logits)
    assert hit.tokens == ref.tokens
    assert hit.record.layer_counts == ref.record.layer_counts


def test_features_without_signals_are_recomputed_or_refused(thinker, make_inputs):
    seats = build_method("seats", load_backbone_config("tiny"), {"profile": "paper", "R": 0.3})
    inputs = make_inputs("av_moving.mp4")
    plain = generate(thinker, inputs, build_method("full", load_backbone_config("tiny"), {}), max_new_tokens=1).extras["features"]
    assert not plain.signals_captured
    again = generate(thinker, inputs, seats, max_new_tokens=1, features=plain)  # media present: re-encode
    assert again.extras["features"].signals_captured
    no_media = {k: v for k, v in inputs.items() if k not in ("pixel_values_videos", "input_features")}
    with pytest.raises(SeatsError, match="Stage I signals"):
        generate(thinker, no_media, seats, max_new_tokens=1, features=plain, sample="s/1")


def test_keys_change_with_settings_file_and_model(thinker, tmp_path):
    clip = tmp_path / "v.mp4"
    clip.write_bytes(b"x" * 10)
    cache = FeatureCache(tmp_path / "c", model_identity("tiny", thinker))
    base = cache.key(str(clip), {"fps": 2, "max_frames": 64})
    assert base == cache.key(str(clip), {"max_frames": 64, "fps": 2})
    assert base != cache.key(str(clip), {"fps": 1, "max_frames": 64})
    assert base != cache.key(str(clip), {"fps": 2, "max_frames": 32})
    os.utime(clip, ns=(1, 1))
    assert base != cache.key(str(clip), {"fps": 2, "max_frames": 64})
    other = FeatureCache(tmp_path / "c", dict(cache.model_id, dtype="torch.bfloat16"))
    assert other.key(str(clip), {"fps": 2}) != cache.key(str(clip), {"fps": 2})


def test_unreadable_or_foreign_entries_are_misses(thinker, tmp_path):
    cache = FeatureCache(tmp_path, model_identity("tiny", thinker))
    path = cache.path("ab" * 20)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    assert cache.load("ab" * 20) is None
    torch.save({"version": 0, "key": "ab" * 20, "entry": {}}, path)
    assert cache.load("ab" * 20) is None
    assert cache.load("cd" * 20) is None
    assert (cache.hits, cache.misses) == (0, 3)


def test_splice_refuses_a_prompt_of_another_form():
    with pytest.raises(SeatsError, match="exactly one video placeholder"):
        expand_placeholder([1, 9, 2], [1, 5, 5, 2], [1, 2], 9, "t/0")
    with pytest.raises(SeatsError, match="not in the form"):
        expand_placeholder([1, 7, 9, 8, 2], [1, 5, 5, 2], [1, 3, 9, 8, 2], 9, "t/0")
    assert expand_placeholder([1, 7, 9, 8, 2], [1, 5, 5, 2], [4, 4, 7, 9, 8], 9) == [4, 4, 5, 5]


def test_model_class_fills_then_hits_the_cache(tiny_dir, clips_dir, tmp_path):
    from seats_eval.models.ids import Model_seats_qwen25omni

    rec = tmp_path / "rec"
    m = Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, record_dir=str(rec),
                               feature_cache=str(tmp_path / "cache"))
    m.task_dict = {"seats_fixture_mcq": {"test": {0: {}, 1: {}, 2: {}}}}
    path = str(clips_dir / "av_moving.mp4")
    reqs = [chat_request(path, q, i)
            for i, q in enumerate(QUESTIONS + QUESTIONS[:1])]
    cached = m.generate_until(reqs)
    rows = [json.loads(x) for x in (rec / "records.jsonl").read_text().splitlines()]
    assert [r["encoder_cache"] for r in rows] == [False, True, True]
    assert (m.encoder.cache.hits, m.encoder.cache.misses) == (2, 1)
    assert len(list((tmp_path / "cache").rglob("*.pt"))) == 1
    m.encoder.cache = None  # the same model without the cache answers the same
    assert m.generate_until(reqs) == cached


def _tensors(tree) -> list[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return [tree]
    items = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, (list, tuple)) else []
    return [t for v in items for t in _tensors(v)]


def _stored_tensor_bytes(path) -> int:
    from seats_eval.driver.feature_cache import load_state

    return sum(t.numel() * t.element_size() for t in _tensors(load_state(path)["entry"]))


def test_corrupted_entry_is_reported_deleted_and_recomputed(tiny_dir, clips_dir, tmp_path):
    from loguru import logger

    from seats_eval.models.ids import Model_seats_qwen25omni

    m = Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, feature_cache=str(tmp_path / "cache"))
    m.task_dict = {"seats_fixture_mcq": {"test": {0: {}, 1: {}}}}
    path = str(clips_dir / "av_moving.mp4")
    reqs = [chat_request(path, q, i)
            for i, q in enumerate(QUESTIONS)]
    good = m.generate_until(reqs)
    [entry_file] = list((tmp_path / "cache").rglob("*.pt"))
    # compact: the file holds the tensors' own bytes, not the buffers they were sliced from
    assert entry_file.stat().st_size < 1.1 * _stored_tensor_bytes(entry_file) + 64 * 1024
    data = bytearray(entry_file.read_bytes())
    data[-len(data) // 3] ^= 0x10  # flip one bit inside the stored entry
    entry_file.write_bytes(bytes(data))
    warnings: list[str] = []
    sink = logger.add(lambda msg: warnings.append(str(msg)), level="WARNING")
    try:
        again = m.generate_until(reqs)
    finally:
        logger.remove(sink)
    assert again == good
    assert m.encoder.cache.bad == 1
    assert any("does not match its checksum" in w and str(entry_file) in w for w in warnings)
    assert read_entry_ok(entry_file)  # recomputed and stored again, verified


def read_entry_ok(path) -> bool:
    from seats_eval.driver.feature_cache import read_entry

    return read_entry(path, key=path.stem) is not None


def test_cache_info_lists_entries_and_bad_ones(thinker, processor, make_inputs, tmp_path, capsys):
    from seats_eval.cli import main

    cache = FeatureCache(tmp_path, model_identity("tiny", thinker))
    method = build_method("full", load_backbone_config("tiny"), {})
    entry = _entry(processor, thinker, make_inputs("av_moving.mp4", QUESTIONS[0]), QUESTIONS[0], method)
    good, bad = cache.store("aa" * 20, entry), cache.store("bb" * 20, entry)
    data = bytearray(bad.read_bytes())
    data[-100] ^= 0x01  # one flipped bit near the end (the zip directory torch.load does not check)
    bad.write_bytes(bytes(data))
    assert main(["cache", "info", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "2 entries" in out and f"BAD {bad}" in out and str(good) not in out
    assert main(["cache", "info", str(tmp_path), "--delete-bad"]) == 0
    assert good.exists() and not bad.exists()
    assert main(["cache", "info", str(tmp_path)]) == 0 and "all entries verified" in capsys.readouterr().out


# --- concurrent workers (data-parallel ranks, Slurm array tasks) on one cache -------------------

def _tiny_entry(seed: int) -> CacheEntry:
    from seats_eval.adapters.features import EncoderFeatures

    g = torch.Generator().manual_seed(seed)
    feats = EncoderFeatures(audio=torch.randn(6, 8, generator=g), video=torch.randn(12, 8, generator=g),
                            deepstack=None, vision_recv=None, audio_recv=None, signals_captured=False,
                            audio_frames_per_token=1, audio_window=None)
    return CacheEntry([1, 2, 3], [1, 9, 9, 3], {"video_grid_thw": torch.tensor([[2, 4, 4]])}, feats, {"frames": 4})


def _hammer(root: str, key: str, rounds: int, out) -> None:  # a worker process
    cache = FeatureCache(root, {"model": "m"})
    seen = []
    for i in range(rounds):
        entry = cache.load(key)
        if entry is None or i % 3 == 0:
            cache.store(key, _tiny_entry(0))
        else:
            seen.append(torch.equal(entry.features.video, _tiny_entry(0).features.video))
    out.put((cache.hits, cache.bad, all(seen)))


def test_concurrent_workers_never_see_or_leave_a_partial_entry(tmp_path):
    """Four processes fill and read one key at once: every read entry is whole and verified,
    nothing is found bad, and no temp file is left behind."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    key = "ab" + "0" * 38
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), key, 30, q)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(r[0] for r in results) > 0 and all(r[1] == 0 for r in results) and all(r[2] for r in results)
    assert sorted(p.name for p in (tmp_path / "ab").iterdir()) == [f"{key}.lock", f"{key}.pt"]


def test_a_bad_entry_replaced_by_another_worker_is_read_not_deleted(tmp_path, monkeypatch):
    """Worker A finds an entry bad; before A deletes it, worker B writes a good one under the
    same key. A must not delete B's entry: it reads it instead."""
    import seats_eval.driver.feature_cache as fc

    a, b = FeatureCache(tmp_path, {"model": "m"}), FeatureCache(tmp_path, {"model": "m"})
    key = "cd" + "1" * 38
    a.path(key).parent.mkdir(parents=True)
    a.path(key).write_bytes(b"not a torch file")
    real = fc.read_entry
    calls = []

    def racing_read(path, k=None):
        calls.append(path)
        if len(calls) == 1:  # A read the bad file; meanwhile B replaces it
            b.store(key, _tiny_entry(1))
            raise fc.CorruptEntry("unreadable: truncated")
        return real(path, k)

    monkeypatch.setattr(fc, "read_entry", racing_read)
    got = a.load(key)
    assert got is not None and torch.equal(got.features.video, _tiny_entry(1).features.video)
    assert a.bad == 0 and a.path(key).exists()
    # a bad entry nobody replaced is still deleted (and counted)
    a.path(key).write_bytes(b"garbage")
    monkeypatch.setattr(fc, "read_entry", real)
    assert a.load(key) is None and a.bad == 1 and not a.path(key).exists()


def test_a_writer_waits_for_the_key_lock(tmp_path):
    """store() renames only under the key's lock: while another holder has it, the entry does
    not appear."""
    import threading

    cache = FeatureCache(tmp_path, {"model": "m"})
    key = "ef" + "2" * 38
    done = threading.Event()
    with cache.lock(key):
        t = threading.Thread(target=lambda: (cache.store(key, _tiny_entry(2)), done.set()))
        t.start()
        assert not done.wait(1.0) and not cache.path(key).exists()
    t.join(timeout=30)
    assert done.is_set() and cache.load(key) is not None
