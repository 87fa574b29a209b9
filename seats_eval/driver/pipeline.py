"""One thinker, one adapter, one attention wrapper: the path of a sample after its encoding.

`SamplePipeline` is built once per loaded thinker (the model class holds one): it makes the
backbone's adapter and points the text model at the runtime's score-capturing attention
wrapper (output unchanged), once. `run` takes one sample's processor inputs and encoder
features (driver/encoder.py) to the LLM's door (`adapter.prepare`: placeholders, M-RoPE,
TokenLayout) and through the runtime (`runtime.generate.run_prepared`: Stage I, the pruned
prefill, decoding). `generate` is the same from inputs alone (encoders run here): the entry
of the tests and of any caller holding processor inputs rather than a video file.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..adapters import make_adapter
from ..adapters.base import PreparedSample
from ..adapters.features import EncoderFeatures
from ..backbones.config import WindowGeometry
from ..methods.base import EncoderSignals, Method, PruneRecord
from ..runtime.attention import use_wrapped_attention
from ..runtime.decoding import GREEDY, Decoding
from ..runtime.generate import GenerationResult, run_prepared, sync
from ..runtime.prefix import SharedPrefix
from .encoder import encoder_features


class SamplePipeline:
    """Runs samples through one thinker (see the module docstring)."""

    def __init__(self, thinker: Any, window: WindowGeometry | None = None) -> None:
        self.thinker = thinker
        self.adapter = make_adapter(thinker, window)  # `window`: the backbone config's, checked
        use_wrapped_attention(self.adapter.lm.config, self.adapter.eager_attention)

    def prepare(self, inputs: dict[str, Any], features: EncoderFeatures, method: Method,
                sample: str = "") -> tuple[PreparedSample, EncoderSignals | None]:
        """The sample at the LLM's door, and the Stage I signals on its layout when the method
        uses them."""
        prep = self.adapter.prepare(inputs, sample=sample, features=features)
        return prep, features.signals(prep.layout) if method.needs_encoder_signals else None

    @torch.no_grad()
    def run(self, inputs: dict[str, Any], features: EncoderFeatures, method: Method, *, encode_s: float = 0.0,
            max_new_tokens: int = 32, eos_token_ids: list[int] | tuple[int, ...] = (), sample: str = "",
            return_text_logits: bool = False, decoding: Decoding = GREEDY,
            shared: SharedPrefix | None = None) -> GenerationResult:
        """One sample whose encoder `features` are known (computed `encode_s` seconds ago, or
        cached): prepare, then Stage I, pruned prefill and decode. The features used are in
        `result.extras["features"]`. `shared`: prefix sharing between the questions on one
        video (runtime/prefix.py)."""
        record = PruneRecord()
        t0 = time.perf_counter()
        prep, signals = self.prepare(inputs, features, method, sample)
        sync(prep.inputs_embeds)
        record.timings["encode_s"] = encode_s + time.perf_counter() - t0
        result = run_prepared(self.adapter, prep, method, signals, record, max_new_tokens=max_new_tokens,
                              eos_token_ids=eos_token_ids, sample=sample, return_text_logits=return_text_logits,
                              decoding=decoding, shared=shared)
        result.extras["features"] = features
        return result

    @torch.no_grad()
    def generate(self, inputs: dict[str, Any], method: Method, *, features: EncoderFeatures | None = None,
                 capture_signals: bool = False, sample: str = "", **run_options: Any) -> GenerationResult:
        """One sample from processor inputs: the encoders run unless `features` (computed earlier
        for the same media) suffice for `method` (encoder.encoder_features decides);
        `capture_signals` records the Stage I signals even when the method does not use them."""
        t0 = time.perf_counter()
        features = encoder_features(self.adapter, inputs, method, features, capture_signals, sample)
        return self.run(inputs, features, method, encode_s=time.perf_counter() - t0, sample=sample, **run_options)


def generate(thinker: Any, inputs: dict[str, Any], method: Method, *, window: WindowGeometry | None = None,
             **options: Any) -> GenerationResult:
    """One sample end to end on `thinker` (a pipeline made for the call; the model class keeps
    one for the run). Options: SamplePipeline.generate's and .run's (`max_new_tokens`,
    `eos_token_ids`, `sample`, `return_text_logits`, `features`, `capture_signals`, `decoding`)."""
    return SamplePipeline(thinker, window).generate(inputs, method, **options)
