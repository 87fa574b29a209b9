"""In-LLM drop steps (SEATS, FastV(-om), remove_at) read nothing on the host: no device
sync inside the decoder loop.

A GPU is not needed to see a sync: every host read goes through an op that a dispatch mode
can watch on CPU tensors too (`_local_scalar_dense` behind `bool()` / `int()` / `.item()`,
`nonzero` and boolean-mask indexing whose output size depends on the data, `bincount`,
`unique`, `masked_select`), and so does a tensor made from host data (`torch.tensor`,
`as_tensor` of a Python number: `lift_fresh`), which on an accelerator is a blocking
host-to-device copy. The runtime's per-layer hook runs under such a mode with the value
checks off, as they are on an accelerator (seats_eval/select/checks.py). On CUDA the same
drop steps run under `torch.cuda.set_sync_debug_mode("error")` (tests/test_gpu.py).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from seats_eval.backbones.config import load_backbone_config
from seats_eval.errors import SeatsError
from seats_eval.methods import build_method
from seats_eval.methods.seats import Seats
from seats_eval.runtime import prune
from seats_eval.runtime.generate import generate
from seats_eval.select import checks

aten = torch.ops.aten
SYNC_OPS = {aten._local_scalar_dense, aten.nonzero, aten.bincount, aten.masked_select, aten._unique2,
            aten.unique_consecutive, aten.unique_dim, aten.repeat_interleave,
            aten.lift_fresh}  # host data -> tensor: a blocking host-to-device copy on an accelerator
MASK_INDEXED = {aten.index, aten.index_put, aten.index_put_, aten._index_put_impl_}


class SyncDetector(TorchDispatchMode):
    """Records every op that would make the host wait for the device."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        packet = func.overloadpacket
        if packet in SYNC_OPS:
            self.hits.append(str(func))
        elif packet in MASK_INDEXED and any(
            isinstance(t, torch.Tensor) and t.dtype == torch.bool for t in (args[1] or ()) if t is not None
        ):
            self.hits.append(f"{func} with a boolean mask")
        return func(*args, **(kwargs or {}))


@pytest.fixture
def watched(monkeypatch):
    """Run every prefill hook of the pruning runtime under a SyncDetector."""
    detector = SyncDetector()
    original = prune.PruningRuntime._pre_layer

    def pre_layer(self, i, args, kwargs):
        with detector:
            return original(self, i, args, kwargs)

    monkeypatch.setattr(prune.PruningRuntime, "_pre_layer", pre_layer)
    return detector


@pytest.fixture
def checks_off():
    prev = checks.set_mode("0")
    yield
    checks.set_mode(prev)


@pytest.mark.parametrize("opts", [
    {"R": 0.3},
    {"R": 0.1, "mode": "both"},
    {"R": 0.3, "coupled": False},
    {"R": 0.3, "inter_window": False, "intra_window": False},
    {"R": 0.3, "selection": "global"},
    {"R": 0.3, "score_source": "next_layer"},
])
def test_seats_drop_steps_never_read_the_device(opts, thinker, make_inputs, watched, checks_off):
    # the paper profile; profile=official reads once per step by design (docs/profiles.md)
    method = build_method("seats", load_backbone_config("tiny"), {"profile": "paper", **opts})
    res = generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1)
    assert len(res.record.steps) >= 3  # the drops ran (Stage II steps + late removal)
    assert watched.hits == []


def test_the_detector_sees_syncs(thinker, make_inputs, watched):
    # With value checks on (the CPU default) the same run does read the host ...
    method = build_method("seats", load_backbone_config("tiny"), {"profile": "paper", "R": 0.3})
    generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1)
    assert any("_local_scalar_dense" in h for h in watched.hits)
    # ... and a method that does not declare its kept counts costs a nonzero per drop.
    watched.hits.clear()
    prev = checks.set_mode("0")
    try:
        fastv = build_method("fastv_om", load_backbone_config("tiny"), {"R": 0.35, "K": 1})
        fastv.kept_counts = lambda step, counts, plan: None  # as a method without the declaration
        generate(thinker, make_inputs("av_long.mp4"), fastv, max_new_tokens=1)
    finally:
        checks.set_mode(prev)
    assert any("nonzero" in h for h in watched.hits)


@pytest.mark.parametrize("method_id,opts", [
    ("fastv_om", {"R": 0.35, "K": 1}),
    ("fastv", {"R": 0.35, "K": 1}),
    ("remove_at", {"layer": 0, "modality": "video"}),
])
def test_other_in_llm_methods_never_read_the_device(method_id, opts, thinker, make_inputs, watched, checks_off):
    method = build_method(method_id, load_backbone_config("tiny"), opts)
    res = generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1)
    assert len(res.record.steps) == 1
    assert watched.hits == []


_declared = Seats.kept_counts  # the real declaration, kept before any monkeypatch


def _nothing_dropped(self, step, counts, plan):
    return counts


def _video_for_audio(self, step, counts, plan):  # the right total, the wrong split
    t, v, a = _declared(self, step, counts, plan)
    return t, v + 1, a - 1


@pytest.mark.parametrize("wrong", [_nothing_dropped, _video_for_audio])
def test_declared_counts_are_checked_on_cpu(thinker, make_inputs, monkeypatch, wrong):
    monkeypatch.setattr(Seats, "kept_counts", wrong)
    method = build_method("seats", load_backbone_config("tiny"), {"profile": "paper", "R": 0.3})
    with pytest.raises(SeatsError, match="kept_counts said"):
        generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1, sample="t/0")


def test_qwen3_drop_steps_and_deepstack_never_read_the_device(thinker3, make_inputs3, watched, checks_off):
    method = build_method("seats", load_backbone_config("tiny-qwen3"), {"profile": "paper", "R": 0.3})
    res = generate(thinker3, make_inputs3("av_long.mp4"), method, max_new_tokens=1)
    assert len(res.record.steps) >= 3
    assert watched.hits == []
