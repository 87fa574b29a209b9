"""Last-text-token attention scores, captured inside the stock attention call.

We register wrapper attention functions (`seats_sdpa`, `seats_eager_<backbone module>`, ...)
with transformers' AttentionInterface. They call the stock function unchanged and, only for modules flagged by
the runtime (`set_probe`), additionally compute the softmax row of the LAST query over all
keys (one query row: never the full attention matrix), averaged over heads, in fp32.
Unflagged calls cost one dictionary lookup. (Stage I encoder statistics are captured elsewhere:
runtime/signals.py.)
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import torch

PREFIX = "seats_"


def last_row_attention(q_last: torch.Tensor, k: torch.Tensor, scaling: float | None = None,
                       model_dtype: bool = False) -> torch.Tensor:
    """Head-mean softmax(q_last k^T * scaling) for one query row.

    q_last: (B, H, 1, d); k: (B, H_kv, S, d) with H a multiple of H_kv. Returns (B, S): in
    fp32 by default (GQA keys repeated implicitly by grouping the queries); with
    `model_dtype` as the authors compute it (profile=official): keys repeated per head,
    logits divided by sqrt(d), softmax and head mean in the inputs' dtype (bf16 on GPU, so
    small probabilities tie as they do there).
    """
    b, h, _, d = q_last.shape
    h_kv = k.shape[1]
    if model_dtype:
        k_rep = k[:, :, None].expand(b, h_kv, h // h_kv, k.shape[2], d).reshape(b, h, k.shape[2], d)
        logits = torch.matmul(q_last, k_rep.transpose(-1, -2)) / d**0.5
        return torch.softmax(logits, dim=-1).mean(dim=1)[:, 0]
    scale = scaling if scaling is not None else 1.0 / math.sqrt(d)
    q = q_last.float().reshape(b, h_kv, h // h_kv, d)  # group queries by their kv head
    logits = torch.einsum("bgqd,bgsd->bgqs", q, k.float()) * scale
    return logits.softmax(dim=-1).mean(dim=(1, 2))


_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # attention module -> probe(module, q, k, scaling)


def set_probe(module: torch.nn.Module, probe: Callable | None) -> None:
    """Ask the wrapper to call `probe` on `module`'s query and keys (None: stop)."""
    if probe is None:
        _PROBES.pop(module, None)
    else:
        _PROBES[module] = probe


def _make_wrapper(base: Callable) -> Callable:
    def wrapper(module, query, key, value, attention_mask, **kwargs):
        probe = _PROBES.get(module)
        if probe is not None:
            probe(module, query, key, kwargs.get("scaling"))
        return base(module, query, key, value, attention_mask, **kwargs)

    return wrapper


def use_wrapped_attention(config, eager: Callable) -> str:
    """Point `config` (a text config) at the wrapper of its current attention function
    (`eager`: the backbone's own eager attention, which transformers does not register).

    Registers `seats_<impl>` on first use; returns the new implementation name. Idempotent.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    impl = str(config._attn_implementation)
    if impl in _WRAPPED:
        return impl
    # each backbone's eager function gets its own name: one process may hold two backbones
    name = PREFIX + impl + (f"_{eager.__module__.rsplit('.', 1)[-1]}" if impl == "eager" else "")
    if name not in ALL_ATTENTION_FUNCTIONS:
        base = eager if impl == "eager" else ALL_ATTENTION_FUNCTIONS[impl]
        AttentionInterface.register(name, _make_wrapper(base))
        AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[impl])
    _WRAPPED[name] = impl
    config._attn_implementation = name
    return name


_WRAPPED: dict[str, str] = {}  # registered wrapper name -> the implementation it wraps


def is_wrapped(config) -> bool:
    """Whether `config` points at one of the wrappers (the probes can see its attention)."""
    return str(config._attn_implementation) in _WRAPPED


def base_implementation(config) -> str:
    impl = str(config._attn_implementation)
    return _WRAPPED.get(impl, impl)
