"""In-LLM drop steps (SEATS, FastV(-om), remove_at) read nothing on the host: no device
sync inside the decoder loop, under both profiles, with one stated exception: an official
SEATS Stage II step keeps a number of tokens that depends on the scores (the authors'
allocation does not fix the totals), and the runtime must know it on the host to slice the
hidden states, so each such step reads its kept (text, video, audio) counts once
(`TokenLayout.counts_in`), and nothing else. docs/profiles.md ("Cost") says why.

A GPU is not needed to see a sync: every host read goes through an op that a dispatch mode
can watch on CPU tensors too (`_local_scalar_dense` behind `bool()` / `int()` / `.item()`,
`nonzero` and boolean-mask indexing whose output size depends on the data, `bincount`,
`unique`, `masked_select`), and so does a tensor made from host data (`torch.tensor`,
`as_tensor` of a Python number: `lift_fresh`), which on an accelerator is a blocking
host-to-device copy. The runtime's per-layer hook runs under such a mode with the value
checks off, as they are on an accelerator (seats_eval/select/checks.py). Reads that never
reach the dispatcher on a CPU tensor (`tolist`, `cpu`, `numpy`: device-to-host copies on an
accelerator) are caught by wrapping those methods while the hook runs. On CUDA the same
drop steps run under `torch.cuda.set_sync_debug_mode("error")` (tests/test_gpu.py).

Every test runs on every backbone family through the `spine` fixture (tests/conftest.py), so
a new family's drop steps (Qwen3's deepstack injection included) are held to the same rule.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from seats_eval.driver import generate
from seats_eval.errors import SeatsError
from seats_eval.methods import build_method
from seats_eval.methods.seats import Seats
from seats_eval.runtime import prune
from seats_eval.select import allocation, checks

aten = torch.ops.aten
SYNC_OPS = {aten._local_scalar_dense, aten.nonzero, aten.bincount, aten.masked_select, aten._unique2,
            aten.unique_consecutive, aten.unique_dim, aten.repeat_interleave,
            aten.lift_fresh}  # host data -> tensor: a blocking host-to-device copy on an accelerator
MASK_INDEXED = {aten.index, aten.index_put, aten.index_put_, aten._index_put_impl_}


HOST_COPIES = ("tolist", "cpu", "numpy")  # Tensor methods that copy to the host without a dispatched op on CPU
COUNTS_READ = "Tensor.tolist"  # the one read of an official Stage II step (TokenLayout.counts_in)


class SyncDetector(TorchDispatchMode):
    """Records every op that would make the host wait for the device."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[str] = []
        self.active = False

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
        detector.active = True
        try:
            with detector:
                return original(self, i, args, kwargs)
        finally:
            detector.active = False

    def host_copy(name):
        method = getattr(torch.Tensor, name)

        def wrapped(self, *args, **kwargs):
            if detector.active:
                detector.hits.append(f"Tensor.{name}")
            return method(self, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(prune.PruningRuntime, "_pre_layer", pre_layer)
    for name in HOST_COPIES:
        monkeypatch.setattr(torch.Tensor, name, host_copy(name))
    return detector


def _allowed_reads(method, record) -> list[str]:
    """The reads a run may make: one counts read per official SEATS Stage II step, none else."""
    if method.name == "seats" and method.profile == "official":
        return [COUNTS_READ] * sum(s["name"].startswith("stage2") for s in record.steps)
    return []


@pytest.fixture
def checks_off():
    prev = checks.set_mode("0")
    yield
    checks.set_mode(prev)


PROFILES = ["paper", "official"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("opts", [
    {"R": 0.3},
    {"R": 0.1, "mode": "both"},
    {"R": 0.3, "coupled": False},
    {"R": 0.3, "inter_window": False, "intra_window": False},
    {"R": 0.3, "selection": "global"},
    {"R": 0.3, "score_source": "next_layer"},
])
def test_seats_drop_steps_never_read_the_device(profile, opts, spine, watched, checks_off):
    # paper: no read at all; official: the kept counts, once per Stage II step
    method = build_method("seats", spine.cfg, {"profile": profile, **opts})
    res = generate(spine.thinker(), spine.make_inputs("av_long.mp4"), method, max_new_tokens=1)
    assert [s["name"] for s in res.record.steps] == ["stage2_1", "stage2_2", "stage2_3", "late"]  # the drops ran
    assert watched.hits == _allowed_reads(method, res.record)


def test_the_detector_sees_syncs(spine, watched):
    thinker, inputs = spine.thinker(), spine.make_inputs("av_long.mp4")
    # With value checks on (the CPU default) the same run does read the host ...
    method = build_method("seats", spine.cfg, {"profile": "paper", "R": 0.3})
    generate(thinker, inputs, method, max_new_tokens=1)
    assert any("_local_scalar_dense" in h for h in watched.hits)
    # ... and a method that does not declare its kept counts costs a counts read per drop.
    watched.hits.clear()
    prev = checks.set_mode("0")
    try:
        fastv = build_method("fastv_om", spine.cfg, {"R": 0.35, "K": 1})
        fastv.kept_counts = lambda step, counts, plan: None  # as a method without the declaration
        generate(thinker, inputs, fastv, max_new_tokens=1)
    finally:
        checks.set_mode(prev)
    assert watched.hits == [COUNTS_READ]


@pytest.mark.parametrize("read", ["item", "tolist", "nonzero"])
def test_a_read_planted_in_the_official_allocation_is_caught(read, spine, watched, checks_off, monkeypatch):
    # the official profile is held to exactly one read per step: one more fails the test above
    real = allocation.allocate_combined

    def planted(p_v, *args, **kwargs):
        {"item": lambda: p_v.sum().item(), "tolist": lambda: p_v.tolist(),
         "nonzero": lambda: torch.nonzero(p_v)}[read]()
        return real(p_v, *args, **kwargs)

    monkeypatch.setattr(allocation, "allocate_combined", planted)
    method = build_method("seats", spine.cfg, {"profile": "official", "R": 0.3})
    res = generate(spine.thinker(), spine.make_inputs("av_long.mp4"), method, max_new_tokens=1)
    assert _allowed_reads(method, res.record)  # Stage II steps ran, so the planted read was reached
    assert watched.hits != _allowed_reads(method, res.record)
    assert len(watched.hits) == 2 * len(_allowed_reads(method, res.record))  # one planted read per step


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("method_id,opts", [
    ("fastv_om", {"R": 0.35, "K": 1}),
    ("fastv", {"R": 0.35, "K": 1}),
    ("remove_at", {"layer": 0, "modality": "video"}),
])
def test_other_in_llm_methods_never_read_the_device(profile, method_id, opts, spine, watched, checks_off):
    extra = {} if method_id == "remove_at" else {"profile": profile}  # remove_at has no profile option
    method = build_method(method_id, spine.cfg, {**opts, **extra})
    res = generate(spine.thinker(), spine.make_inputs("av_long.mp4"), method, max_new_tokens=1)
    assert len(res.record.steps) == 1
    assert watched.hits == []


_declared = Seats.kept_counts  # the real declaration, kept before any monkeypatch


def _nothing_dropped(self, step, counts, plan):
    return counts


def _video_for_audio(self, step, counts, plan):  # the right total, the wrong split
    t, v, a = _declared(self, step, counts, plan)
    return t, v + 1, a - 1


@pytest.mark.parametrize("wrong", [_nothing_dropped, _video_for_audio])
def test_declared_counts_are_checked_on_cpu(spine, monkeypatch, wrong):
    monkeypatch.setattr(Seats, "kept_counts", wrong)
    method = build_method("seats", spine.cfg, {"profile": "paper", "R": 0.3})
    with pytest.raises(SeatsError, match="kept_counts said"):
        generate(spine.thinker(), spine.make_inputs("av_long.mp4"), method, max_new_tokens=1, sample="t/0")
