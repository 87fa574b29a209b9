"""The spine tests on CUDA (marker `gpu`; scripts/gpu_bench.sh runs them first).

- identity with stock `generate` and equality with the mask oracle (tests/oracle.py), sdpa,
  in fp32 (strict: logits within 1e-3, the same ids) and bf16 (stated tolerances below);
- the drop steps make no host-device sync, checked for real with
  `torch.cuda.set_sync_debug_mode("error")` around every prefill hook (the CPU twin with a
  dispatch-mode detector is tests/test_no_sync.py);
- a two-device split (decoder layers on cuda:0 and on the CPU, dispatched by accelerate as
  `device_map` does) equals the single-device run.

Only transformers, accelerate and torch are needed: tiny thinkers are built in memory
(seats_eval.toys.tiny) and inputs come from tests/omni_inputs.py (no av/decord/torchvision).
`SEATS_TEST_DEVICE=cpu` runs the same tests on the CPU (the dry run of gpu_bench.sh), the
sync check excepted.
"""

from __future__ import annotations

import copy
import os

import pytest
import torch

from seats_eval.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.methods import build_method
from seats_eval.methods.base import Method
from seats_eval.runtime import prune
from seats_eval.select import checks
from seats_eval.toys.tiny import build_tiny_thinker

from .conftest import EOS
from .omni_inputs import omni_inputs
from .oracle import oracle_step_logits
from .test_runtime import ScriptedMethod

DEVICE = os.environ.get("SEATS_TEST_DEVICE", "cuda")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(DEVICE.startswith("cuda") and not torch.cuda.is_available(), reason="needs a CUDA device"),
]
BACKBONES = {"qwen25": ("qwen2.5-omni", "tiny"), "qwen3": ("qwen3-omni", "tiny-qwen3")}
# Tolerances on the logits, as (relative to max|logit|, absolute); a generated id passes when
# it is within the same tolerance of the reference's best logit at its step (teacher-forced,
# so a near-tie cannot derail the comparison). fp32: 1e-3 and the same ids (the strict check:
# fp32 on CPU gives exactly 0; a planted RoPE-position bug 0.07-0.13 relative). bf16 (8-bit
# mantissa; the oracle's masked sdpa also takes another kernel than the runtime's causal one):
# dense 0.05 (bf16 on CPU: 1.0-1.4%); MoE 0.2, because a bf16 rounding can flip a token's
# top-k experts (bf16 on CPU: 0.6-0.8%, 13% after one flip), so bf16 is a smoke test there.
TOL = {(torch.float32, "qwen25"): (0.0, 1e-3), (torch.float32, "qwen3"): (0.0, 1e-3),
       (torch.bfloat16, "qwen25"): (0.05, 0.02), (torch.bfloat16, "qwen3"): (0.2, 0.05)}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
_MODELS: dict = {}


def thinker(name: str, dtype: torch.dtype = torch.float32, device: str = DEVICE):
    """The tiny random thinker of `name` on `device` in `dtype`, built once per process."""
    key = (name, dtype, device)
    if key not in _MODELS:
        base = _MODELS.setdefault((name, None, None), build_tiny_thinker(BACKBONES[name][0]))
        _MODELS[key] = copy.deepcopy(base).to(device=device, dtype=dtype)
    return _MODELS[key]


def inputs_for(model, clip: str = "av"):
    """av: 8 frames with a 4-s audio track; long: 18 frames with 9 s; video: no audio."""
    grid, mel = {"av": ((4, 24, 24), 403), "long": ((9, 24, 24), 902), "video": ((4, 24, 24), None)}[clip]
    return omni_inputs(model.config, grid_thw=grid, mel_frames=mel, device=model.device)


def logit_tol(ref: torch.Tensor, dtype: torch.dtype, name: str) -> float:
    rel, absolute = TOL[(dtype, name)]
    return rel * float(ref.abs().max()) + absolute


def assert_logits_close(ours: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, name: str) -> None:
    tol = logit_tol(ref, dtype, name)
    diff = float((ours.float() - ref.float()).abs().max())
    assert diff <= tol, f"logits differ by {diff:.4g} > {tol:.4g} ({dtype}, {name})"


def assert_ids_match(ours: list[int], ref_ids: list[int], step_logits: list[torch.Tensor], dtype,
                     name: str) -> None:
    """fp32: the same ids. bf16: each of our ids within tolerance of the best reference logit
    at its step (`step_logits`: the reference's logits before each of OUR ids)."""
    if dtype == torch.float32:
        assert ours == ref_ids
        return
    assert len(step_logits) == len(ours)
    for i, (tok, logits) in enumerate(zip(ours, step_logits, strict=True)):
        gap = float(logits.max() - logits[tok])
        assert gap <= logit_tol(logits, dtype, name), f"step {i}: id {tok} is {gap:.4g} below the best logit"


def stock_step_logits(model, inputs, tokens: list[int]) -> list[torch.Tensor]:
    """Stock forward over the prompt + our ids (teacher forcing): logits before each id."""
    ids = torch.cat([inputs["input_ids"], torch.tensor([tokens[:-1]], dtype=torch.long, device=model.device)], dim=1)
    feed = {**inputs, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.no_grad():
        logits = model(**feed, use_audio_in_video=True).logits[0].float()
    S = inputs["input_ids"].shape[1]
    return [logits[S - 1 + i] for i in range(len(tokens))]


@pytest.mark.parametrize("dtype", DTYPES, ids=list(DTYPES))
@pytest.mark.parametrize("name", BACKBONES)
def test_identity_with_stock_generate(name, dtype):
    dt = DTYPES[dtype]
    model = thinker(name, dt)
    inputs = inputs_for(model)
    with torch.no_grad():
        ref_logits = model(**inputs, use_audio_in_video=True).logits[0, -1].float()
        ref = model.generate(**inputs, use_audio_in_video=True, max_new_tokens=6, do_sample=False,
                             eos_token_id=EOS, pad_token_id=EOS[-1])
    ref_ids = ref[0, inputs["input_ids"].shape[1]:].tolist()
    res = generate(model, inputs, Method(), max_new_tokens=6, eos_token_ids=EOS)
    assert_logits_close(res.prefill_logits, ref_logits, dt, name)
    steps = stock_step_logits(model, inputs, res.tokens) if dt != torch.float32 else []
    assert_ids_match(res.tokens, ref_ids, steps, dt, name)


def _method(name: str, which: str) -> Method:
    if which == "scripted":
        return ScriptedMethod()
    return build_method("seats", load_backbone_config(BACKBONES[name][1]), {"R": float(which.split("@")[1])})


@pytest.mark.parametrize("which", ["scripted", "seats@0.35", "seats@0.1"])
@pytest.mark.parametrize("dtype", DTYPES, ids=list(DTYPES))
@pytest.mark.parametrize("name", BACKBONES)
def test_pruning_matches_mask_oracle(name, dtype, which):
    dt = DTYPES[dtype]
    model = thinker(name, dt)
    inputs = inputs_for(model, "long")
    res = generate(model, inputs, _method(name, which), max_new_tokens=4, eos_token_ids=EOS,
                   return_text_logits=True)
    assert len(res.record.steps) >= 3  # the drops ran
    assert res.record.layer_counts[-1][1:] == (0, 0)  # late removal leaves text only
    steps = oracle_step_logits(model, inputs, res.record, res.tokens)
    assert_logits_close(res.prefill_logits, steps[0], dt, name)
    ref_ids = [int(s.argmax()) for s in steps]  # the oracle's choice at each teacher-forced step
    assert_ids_match(res.tokens, ref_ids, steps, dt, name)


@pytest.fixture
def sync_errors():
    """Every prefill hook of the pruning runtime under torch.cuda.set_sync_debug_mode('error'):
    any host-device sync inside the decoder loop (a value read, nonzero, a blocking copy)
    raises there."""
    if not DEVICE.startswith("cuda"):
        pytest.skip("the CUDA sync check needs CUDA (CPU twin: tests/test_no_sync.py)")
    original = prune.PruningRuntime._pre_layer

    def pre_layer(self, i, args, kwargs):
        prev = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            return original(self, i, args, kwargs)
        finally:
            torch.cuda.set_sync_debug_mode(prev)

    prune.PruningRuntime._pre_layer = pre_layer
    prev = checks.set_mode("auto")  # the accelerator default: value checks off
    try:
        yield
    finally:
        prune.PruningRuntime._pre_layer = original
        checks.set_mode(prev)


@pytest.mark.parametrize("name, method_id, opts", [
    ("qwen25", "seats", {"R": 0.3, "profile": "paper"}),
    ("qwen25", "seats", {"R": 0.3}),
    ("qwen25", "seats", {"R": 0.1, "mode": "both"}),
    ("qwen25", "seats", {"R": 0.3, "selection": "global"}),
    ("qwen25", "seats", {"R": 0.3, "score_source": "next_layer", "profile": "paper"}),
    ("qwen25", "fastv_om", {"R": 0.35, "K": 1}),
    ("qwen25", "fastv", {"R": 0.35, "K": 1, "profile": "paper"}),
    ("qwen25", "remove_at", {"layer": 0, "modality": "video"}),
    ("qwen3", "seats", {"R": 0.3, "profile": "paper"}),
    ("qwen3", "seats", {"R": 0.3}),
])
@pytest.mark.parametrize("dtype", DTYPES, ids=list(DTYPES))
def test_drop_steps_never_sync_on_cuda(name, method_id, opts, dtype, sync_errors, monkeypatch):
    # the one stated read (an official SEATS Stage II step's kept counts, docs/profiles.md "Cost")
    # runs with the check off and is counted; any other sync raises
    from seats_eval.layout import TokenLayout

    reads, counts_in = [], TokenLayout.counts_in

    def counted(self, keep):
        prev = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode(0)
        try:
            reads.append(1)
            return counts_in(self, keep)
        finally:
            torch.cuda.set_sync_debug_mode(prev)

    monkeypatch.setattr(TokenLayout, "counts_in", counted)
    model = thinker(name, DTYPES[dtype])
    method = build_method(method_id, load_backbone_config(BACKBONES[name][1]), opts)
    res = generate(model, inputs_for(model, "long"), method, max_new_tokens=2, eos_token_ids=EOS)
    assert res.record.steps  # the drops ran, under the sync check
    official_seats = method.name == "seats" and method.profile == "official"
    assert len(reads) == (sum(s["name"].startswith("stage2") for s in res.record.steps) if official_seats else 0)


def test_the_cuda_sync_check_can_fail(sync_errors):
    checks.set_mode("1")  # value checks read the device: the sync check must trip on them
    model = thinker("qwen25")
    method = build_method("seats", load_backbone_config("tiny"), {"profile": "paper", "R": 0.3})
    with pytest.raises(RuntimeError, match="synchroniz"):
        generate(model, inputs_for(model, "long"), method, max_new_tokens=1)


def split_device_map(model, first: str, second: str, n_first: int) -> dict[str, str]:
    """Encoders, embeddings, rotary and the first `n_first` decoder layers on `first`; the
    other layers, the final norm and lm_head on `second`."""
    lm = "model.language_model"
    dmap = {"model.audio_tower": first, "model.visual": first, f"{lm}.embed_tokens": first,
            f"{lm}.rotary_emb": first, f"{lm}.norm": second, "lm_head": second}
    for i in range(len(model.model.language_model.layers)):
        dmap[f"{lm}.layers.{i}"] = first if i < n_first else second
    return dmap


@pytest.mark.parametrize("which", ["scripted", "seats@0.35"])
@pytest.mark.parametrize("name, n_first", [("qwen25", 2), ("qwen3", 1)])
def test_two_device_split_equals_one_device(name, n_first, which):
    """Layers split between DEVICE and the CPU (cuda:0 + cpu: a real two-device map on one GPU;
    main_device=cpu so that accelerate runs the CPU layers on the CPU instead of offloading
    them). Drops fall on both sides of the boundary and at it; Qwen3's DeepStack is added
    on the CPU side; the KV cache spans both devices."""
    accelerate = pytest.importorskip("accelerate")
    ref_model = thinker(name)
    inputs = inputs_for(ref_model, "long")
    ref = generate(ref_model, inputs, _method(name, which), max_new_tokens=4, eos_token_ids=EOS,
                   return_text_logits=True)
    split = copy.deepcopy(_MODELS[(name, None, None)])
    first = "cuda:0" if DEVICE == "cuda" else DEVICE
    dmap = split_device_map(split, first, "cpu", n_first)
    accelerate.dispatch_model(split, device_map=dmap, main_device="cpu",
                              skip_keys=split._skip_keys_device_placement)
    if DEVICE != "cpu":
        assert split.model.language_model.layers[0].self_attn.q_proj.weight.device.type == "cuda"
        assert split.model.language_model.layers[-1].self_attn.q_proj.weight.device.type == "cpu"
    res = generate(split, inputs, _method(name, which), max_new_tokens=4, eos_token_ids=EOS,
                   return_text_logits=True)
    assert [s["counts"] for s in res.record.steps] == [s["counts"] for s in ref.record.steps]
    for a, b in zip(res.record.kept_positions, ref.record.kept_positions, strict=True):
        assert torch.equal(a.cpu(), b.cpu())
    torch.testing.assert_close(res.prefill_logits.cpu(), ref.prefill_logits.cpu(), rtol=0, atol=1e-3)
    torch.testing.assert_close(res.text_logits.cpu(), ref.text_logits.cpu(), rtol=0, atol=1e-3)
    assert res.tokens == ref.tokens
