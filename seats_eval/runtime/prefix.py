"""Prefix sharing: one video's media prefix prefilled once, reused by every question on it.

In Qwen-Omni's chat layout the system turn and the media come before the question, and
attention is causal: a decoder layer's keys and values at a prefix position depend only on
the prefix's own LLM input (embeddings and M-RoPE positions after Stage I; what the backbone
adds between layers there, e.g. DeepStack, is a function of the same positions). For a
method with no in-LLM drop step every layer is before the first question-dependent step, so
two questions whose LLM inputs agree on the prefix have the same prefix KV cache in every
layer, and the second needs to run only its own suffix (the question and the assistant turn)
on a copy of it.

`SharedPrefix` holds one prefix (one video's at a time). Its key is the prefix's LLM input
itself, compared exactly, not the video's name: a Stage I whose selection (or merged
vectors) depend on the question misses and that question runs from scratch, so a cache is
never served for inputs it was not computed from. The prefix ends after the last media token
of the question that filled it (`media_end`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..layout import TEXT, TokenLayout
from .kv_cache import PrunableCache


def media_end(layout: TokenLayout) -> int:
    """The LLM-input index just after the last media token (0 without media): where the
    question's own tokens can begin. Reads the layout once (a host sync, before the prefill)."""
    media = torch.nonzero(layout.modality != TEXT).flatten()
    return int(media[-1]) + 1 if media.numel() else 0


@dataclass
class _Prefix:
    embeds: torch.Tensor  # (1, p, D) the prefix's LLM input
    positions: torch.Tensor  # (3, 1, p) its M-RoPE positions
    cache: PrunableCache  # p positions in every layer


class SharedPrefix:
    """The KV cache of one media prefix and the LLM input it was computed from."""

    def __init__(self) -> None:
        self._prefix: _Prefix | None = None
        self.hits = 0
        self.misses = 0

    def lookup(self, embeds: torch.Tensor, positions: torch.Tensor) -> tuple[PrunableCache, int] | None:
        """(a copy of the prefix cache, its length p) when this LLM input starts with the stored
        prefix and has at least one token after it; None otherwise."""
        pre = self._prefix
        p = 0 if pre is None else pre.embeds.shape[1]
        if (pre is not None and embeds.shape[1] > p and torch.equal(embeds[:, :p], pre.embeds)
                and torch.equal(positions[..., :p], pre.positions)):
            self.hits += 1
            return pre.cache.fork(), p
        self.misses += 1
        return None

    def store(self, embeds: torch.Tensor, positions: torch.Tensor, cache: PrunableCache, length: int) -> None:
        """Keep the first `length` positions of a full prefill's cache (replacing any earlier
        prefix: one in memory at a time)."""
        self._prefix = _Prefix(embeds[:, :length], positions[..., :length], cache.fork(length))

    def clear(self) -> None:
        self._prefix = None
