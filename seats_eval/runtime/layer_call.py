"""The seam to transformers' decoder-layer call: every value the hooks use, found by what it is.

transformers renames the keywords of a decoder layer's call between releases (5.25 hands the
KV cache over as `cache`, 5.23 as `past_key_values`). A hook that looks a value up by one
name gets None after such a rename and silently skips its work: decoding then attends to
the stale keys of dropped tokens. So the hooks never read a keyword by name. Each call's
keywords are classified by what their values are:

- the KV cache: the very object the runtime handed to the text model (identity);
- the rotary (cos, sin): a pair of float tensors, sequence-long along the backbone's rope dim;
- the attention mask: a 4-D tensor whose query dim is the sequence length;
- the position ids: an integer tensor whose last dim is the sequence length;
- the hidden states: the first positional argument, else a (1, S', D) float tensor.

The text model itself is called with the cache under the keyword its `forward` declares
(`cache_keyword`).

A value the runtime cannot find (the cache, the rotary pair, the hidden states) and any
other sequence-long input it would leave unsliced is a `SeamError` naming the installed
transformers version: the run stops loudly instead of decoding something else. The checks
read shapes, dtypes and identities only (host metadata): no device sync.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import SeamError


@dataclass(frozen=True)
class LayerCall:
    """Where one decoder-layer call carries each value the hooks use (keyword names; None:
    absent from this call; `hidden` None: the first positional argument)."""

    hidden: str | None
    cache: str
    rope: str
    mask: str | None
    positions: str | None

    @classmethod
    def find(cls, args: tuple, kwargs: dict[str, Any], cache: Any, length: int, hidden_length: int,
             rope_seq_dim: int, layer: int) -> LayerCall:
        """Classify a call. `length`: the sequence length the text model built the rotary
        pair, mask and position ids for (the LLM input's in the prefill, 1 in a decode step);
        `hidden_length`: the length of the hidden states entering this layer (shorter after a drop)."""
        found: dict[str, str | None] = {"hidden": None, "cache": None, "rope": None, "mask": None,
                                        "positions": None}
        hidden_positional = bool(args) and isinstance(args[0], torch.Tensor)
        for name, value in kwargs.items():
            role = _role(value, cache, length, rope_seq_dim, None if hidden_positional else hidden_length)
            if role is None:
                if _sequence_long(value, length):
                    raise SeamError(f"decoder layer {layer} got a sequence-long input `{name}` "
                                    f"({_describe(value)}) that the runtime would leave unsliced")
                continue
            if found[role] is not None:
                raise SeamError(f"decoder layer {layer} got two candidates for the {role}: "
                                f"`{found[role]}` and `{name}`")
            found[role] = name
        if not hidden_positional and found["hidden"] is None:
            raise SeamError(f"decoder layer {layer} got no hidden states (keywords: {sorted(kwargs)})")
        if found["cache"] is None:
            raise SeamError(f"decoder layer {layer} was not handed the runtime's KV cache (keywords: "
                            f"{sorted(kwargs)}), so the caches of dropped tokens could not be pruned")
        if found["rope"] is None:
            raise SeamError(f"decoder layer {layer} got no rotary (cos, sin) pair of length {length} "
                            f"(keywords: {sorted(kwargs)})")
        return cls(**found)

    def hidden_states(self, args: tuple, kwargs: dict[str, Any]) -> torch.Tensor:
        return args[0] if self.hidden is None else kwargs[self.hidden]

    def with_hidden(self, args: tuple, kwargs: dict[str, Any], hidden: torch.Tensor) -> tuple[tuple, dict]:
        """The call's (args, kwargs) with the hidden states replaced."""
        if self.hidden is None:
            return (hidden,) + tuple(args[1:]), kwargs
        return args, {**kwargs, self.hidden: hidden}


def _role(value: Any, cache: Any, length: int, rope_seq_dim: int, hidden_length: int | None) -> str | None:
    if value is cache:
        return "cache"
    if (isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(t, torch.Tensor) for t in value)
            and value[0].shape == value[1].shape and value[0].is_floating_point()
            and value[0].dim() > rope_seq_dim and value[0].shape[rope_seq_dim] == length):
        return "rope"
    if not isinstance(value, torch.Tensor):
        return None
    if value.dim() == 4 and value.shape[-2] == length:
        return "mask"
    if not value.is_floating_point() and value.dtype != torch.bool and value.shape[-1:] == (length,):
        return "positions"
    if (hidden_length is not None and value.is_floating_point() and value.dim() == 3
            and value.shape[:2] == (1, hidden_length)):
        return "hidden"
    return None


def cache_keyword(module: Any) -> str:
    """The keyword under which `module.forward` takes the KV cache (`cache` from transformers
    5.25 on, `past_key_values` before): passing the old name to a newer release works only
    through a deprecation shim, and a name it does not take at all would drop the cache."""
    params = inspect.signature(module.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in params:
            return name
    raise SeamError(f"{type(module).__name__}.forward takes no KV cache keyword (parameters: {list(params)})")


def _sequence_long(value: Any, length: int) -> bool:
    """A tensor (or tuple of tensors) with a dim of the sequence's length: per-position data."""
    if isinstance(value, tuple | list):
        return any(_sequence_long(v, length) for v in value)
    return isinstance(value, torch.Tensor) and length > 1 and length in value.shape


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)} {value.dtype}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return type(value).__name__
