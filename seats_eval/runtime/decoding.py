"""How the next token is picked after the pruned prefill: greedy, or sampled as lmms-eval's
`--gen_kwargs` ask (temperature, top_p, top_k), reproducibly.

lmms-eval's convention (its own Qwen-Omni model classes): a temperature above 0 samples, 0 is
greedy. Sampling runs through the pruned decoder like greedy decoding does; each sample draws
from its own generator seeded by (the run's torch seed, the sample's id), so an answer does
not depend on the order of the requests or on how data parallel splits them. Beam search
and any generation option not listed here are refused by name rather than ignored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ConfigError

# lmms-eval's generation keys that change nothing here: stop strings (decoding stops at the
# tokenizer's end tokens) and the ones that only restate greedy decoding.
IGNORED = frozenset({"until", "max_new_tokens", "num_beams", "do_sample", "temperature", "top_p", "top_k"})


@dataclass(frozen=True)
class Decoding:
    """Greedy when `temperature` is 0; else softmax(logits / temperature), restricted to the
    `top_k` most likely tokens (0: all) and the smallest set whose mass reaches `top_p`."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def from_gen_kwargs(cls, gen_kwargs: dict[str, Any], seed: int) -> Decoding:
        """Read lmms-eval's generation kwargs (the task YAML's `generation_kwargs` merged with
        `--gen_kwargs`); a value out of range or an option this decoder cannot honour is a
        ConfigError naming it."""
        unknown = sorted(set(gen_kwargs) - IGNORED)
        if unknown:
            raise ConfigError(f"--gen_kwargs: {', '.join(unknown)} not supported by seats-eval's pruned decoder "
                              "(supported: temperature, top_p, top_k, do_sample, max_new_tokens, num_beams=1)")
        num_beams = _number(gen_kwargs, "num_beams", 1, int)
        if num_beams != 1:
            raise ConfigError(f"--gen_kwargs num_beams={num_beams}: beam search is not supported (pruning keeps "
                              "one sequence's caches); use num_beams=1")
        temperature = _number(gen_kwargs, "temperature", 0.0, float)
        top_p = _number(gen_kwargs, "top_p", 1.0, float)
        top_k = _number(gen_kwargs, "top_k", 0, int)
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ConfigError(f"--gen_kwargs temperature={temperature}: must be a finite number >= 0 (0: greedy)")
        if not (0 < top_p <= 1):
            raise ConfigError(f"--gen_kwargs top_p={top_p}: must be in (0, 1]")
        if top_k < 0:
            raise ConfigError(f"--gen_kwargs top_k={top_k}: must be >= 0 (0: no limit)")
        if _flag(gen_kwargs.get("do_sample", False)) and temperature == 0:
            raise ConfigError("--gen_kwargs do_sample=True with temperature=0: give a temperature > 0 to sample "
                              "(lmms-eval's convention: the temperature decides)")
        return cls(temperature=temperature, top_p=top_p, top_k=top_k, seed=seed)

    def generator(self, sample: str, device: torch.device) -> torch.Generator | None:
        """This sample's own random stream (None when greedy)."""
        if self.greedy:
            return None
        digest = hashlib.sha256(f"{self.seed}\0{sample}".encode()).digest()
        return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "little") >> 1)

    def pick(self, logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The next token id (a 0-dim tensor on the logits' device) from fp32 logits (V,)."""
        if self.greedy:
            return logits.argmax()
        scaled = logits / self.temperature
        if self.top_k:
            kth = torch.topk(scaled, min(self.top_k, scaled.shape[-1])).values[-1]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            outside = torch.cumsum(sorted_p, 0) - sorted_p >= self.top_p  # mass before it already reaches top_p
            probs = probs.scatter(0, order, sorted_p.masked_fill(outside, 0.0))
        return torch.multinomial(probs, 1, generator=generator)[0]

    def describe(self) -> dict[str, Any]:
        return {"decoding": "greedy"} if self.greedy else {
            "decoding": "sample", "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}


GREEDY = Decoding()


def _number(gen_kwargs: dict[str, Any], key: str, default: float, kind: type) -> Any:
    value = gen_kwargs.get(key, default)
    if value is None:
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        return kind(float(value)) if kind is int and float(value).is_integer() else kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--gen_kwargs {key}={value!r}: not a {kind.__name__}") from None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "none", ""):
        return False
    raise ConfigError(f"--gen_kwargs do_sample={value!r}: not a boolean")
