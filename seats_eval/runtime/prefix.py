"""Prefix sharing: one video's media prefix prefilled once, reused by every question on it.

In Qwen-Omni's chat layout the system turn and the media come before the question, and
attention is causal: a decoder layer's keys and values at a prefix position depend only on
the prefix's own LLM input (embeddings and M-RoPE positions after Stage I; what the backbone
adds between layers there, e.g. DeepStack, is a function of the same positions). Every layer
up to a method's first in-LLM drop step (`depth`, its `after_layer`; all layers for a method
without one) runs before anything depends on the question, so two questions whose LLM inputs
agree on the prefix have the same prefix KV cache in those layers, and the same hidden states
at the prefix positions entering the first drop. The second question then runs only its own
suffix (the question and the assistant turn) through those layers, on a copy of the prefix's
cache; at the first drop the stored prefix hidden states (and the rotary pair and position ids
the text model built for them) are joined to the suffix's, and from there the sample runs as
it would alone, over the whole sequence (runtime/prune.py).

`SharedPrefix` holds one prefix (one video's at a time). Its key is the prefix's LLM input
itself, compared exactly, and the depth its cache covers, not the video's name: a Stage I
whose selection (or merged vectors) depend on the question misses and that question runs from
scratch, so a cache is never served for inputs it was not computed from. The prefix ends after
the last media token of the question that filled it (`media_end`).
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
class PrefixState:
    """What the layers after the first drop step need of the prefix besides its KV cache: the
    hidden states entering the first drop's next layer (before the backbone's additions there)
    and the per-position inputs the text model built for the prefix (the decoder layers'
    rotary pair, and position ids when the layers take them)."""

    hidden: torch.Tensor  # (1, p, D)
    rope: tuple[torch.Tensor, ...]  # the layers' (cos, sin), p long along the rope dim
    positions: torch.Tensor | None  # the layers' position ids, p long in the last dim


@dataclass
class _Prefix:
    embeds: torch.Tensor  # (1, p, D) the prefix's LLM input
    positions: torch.Tensor  # (3, 1, p) its M-RoPE positions
    cache: PrunableCache  # p positions in layers 0..depth (every layer when depth is None)
    depth: int | None  # the last layer run before anything depends on the question
    state: PrefixState | None  # with a depth: the prefix at the first drop


@dataclass
class PrefixHit:
    """A stored prefix served to a question: a copy of its cache, its length, its state."""

    cache: PrunableCache
    length: int
    state: PrefixState | None


class SharedPrefix:
    """The KV cache of one media prefix and the LLM input it was computed from."""

    def __init__(self) -> None:
        self._prefix: _Prefix | None = None
        self.hits = 0
        self.misses = 0

    def lookup(self, embeds: torch.Tensor, positions: torch.Tensor, depth: int | None = None) -> PrefixHit | None:
        """The stored prefix (its cache copied) when this LLM input starts with it, has at least
        one token after it and its cache covers the layers up to `depth`; None otherwise."""
        pre = self._prefix
        p = 0 if pre is None else pre.embeds.shape[1]
        if (pre is not None and pre.depth == depth and embeds.shape[1] > p
                and torch.equal(embeds[:, :p], pre.embeds) and torch.equal(positions[..., :p], pre.positions)):
            self.hits += 1
            return PrefixHit(pre.cache.fork(), p, pre.state)
        self.misses += 1
        return None

    def store(self, embeds: torch.Tensor, positions: torch.Tensor, cache: PrunableCache, length: int,
              depth: int | None = None, state: PrefixState | None = None) -> None:
        """Keep the first `length` positions of a prefill's cache in layers 0..`depth` (all
        layers when None; taken before any drop step pruned it), and the prefix's `state` at the
        first drop (replacing any earlier prefix: one in memory at a time)."""
        if (depth is None) != (state is None):
            raise ValueError("a prefix that stops at a drop step needs its state there, and only then")
        layers = None if depth is None else depth + 1
        self._prefix = _Prefix(embeds[:, :length], positions[..., :length], cache.fork(length, layers), depth, state)

    def nbytes(self) -> int:
        """Bytes the stored prefix keeps alive: the storages of its cache, LLM input and state,
        each counted once (a cropped cache layer is a view: its whole storage counts)."""
        pre = self._prefix
        if pre is None:
            return 0
        tensors = [pre.embeds, pre.positions]
        for lay in pre.cache.layers:
            tensors += [t for t in (getattr(lay, "keys", None), getattr(lay, "values", None))
                        if isinstance(t, torch.Tensor)]
        if pre.state is not None:
            tensors += [pre.state.hidden, *pre.state.rope]
            tensors += [pre.state.positions] if pre.state.positions is not None else []
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
        return sum(storages.values())

    def clear(self) -> None:
        self._prefix = None
