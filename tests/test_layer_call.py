"""The seam to transformers (runtime/layer_call.py): the hooks find the KV cache, rotary pair,
mask and positions by what they are, so a renamed keyword (transformers 5.25 calls the cache
`cache`) still prunes correctly, and a call the runtime cannot read stops the run loudly
with the transformers version in the message. The call-level tests run on every backbone
family (the `spine` fixture)."""

from __future__ import annotations

import contextlib

import pytest
import torch
import transformers

from seats_eval import errors
from seats_eval.driver import generate
from seats_eval.runtime.kv_cache import PrunableCache
from seats_eval.runtime.layer_call import LayerCall, SeamError, cache_keyword

from .conftest import EOS
from .oracle import oracle_generate
from .test_runtime import ScriptedMethod


@contextlib.contextmanager
def rewritten_layer_calls(model, rewrite, restore=None):
    """Every decoder layer is called with `rewrite(kwargs)` as the hooks see it; `restore`
    turns it back into what the stock layer's forward takes (as a release that renamed a
    keyword would: the layer still works, only the name the hooks see changed)."""
    from seats_eval.adapters import make_adapter

    layers = make_adapter(model).layers
    handles = [lay.register_forward_pre_hook(lambda m, a, kw: (a, rewrite(dict(kw))), with_kwargs=True)
               for lay in layers]  # registered before the runtime's hooks: runs first
    originals = [lay.forward for lay in layers]
    for lay, fwd in zip(layers, originals, strict=True):
        lay.forward = (lambda f: lambda *a, **kw: f(*a, **(restore(dict(kw)) if restore else kw)))(fwd)
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for lay in layers:
            del lay.forward


def _moved_cache(put):
    """(rewrite, restore) that take the cache out of the stock keyword, `put(kwargs, cache)` it
    elsewhere (or nowhere), and hand it back to the layer under its stock keyword."""
    held = {}

    def rewrite(kw):
        held["name"] = next(k for k, v in kw.items() if isinstance(v, transformers.Cache))
        held["cache"] = kw.pop(held["name"])
        put(kw, held["cache"])
        return kw

    def restore(kw):
        kw.pop("kv_store_renamed", None)
        kw[held["name"]] = held["cache"]
        return kw

    return rewrite, restore


def test_renamed_cache_keyword_still_prunes_the_cache(spine):
    """The cache under a name no release used: the oracle still agrees on every token."""
    thinker, inputs = spine.thinker(), spine.make_inputs("av_moving.mp4")
    with rewritten_layer_calls(thinker, *_moved_cache(lambda kw, cache: kw.update(kv_store_renamed=cache))):
        res = generate(thinker, inputs, ScriptedMethod(), max_new_tokens=5, eos_token_ids=EOS)
    tokens, logits, _ = oracle_generate(thinker, inputs, res.record, max_new_tokens=5, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    assert len(tokens) > 1 and res.tokens == tokens


def test_a_cache_the_hooks_cannot_see_is_a_loud_error(spine):
    """A layer that gets its cache some other way than its call: the hooks could not prune
    it, so the run stops (before: decoding on stale keys, exit 0)."""
    thinker, inputs = spine.thinker(), spine.make_inputs("av_moving.mp4")
    with rewritten_layer_calls(thinker, *_moved_cache(lambda kw, cache: None)), \
            pytest.raises(SeamError) as err:
        generate(thinker, inputs, ScriptedMethod(), max_new_tokens=3, eos_token_ids=EOS)
    assert f"transformers {transformers.__version__}" in str(err.value)
    assert "KV cache" in str(err.value)


def test_an_unknown_sequence_long_input_is_a_loud_error(spine):
    """A per-position input the runtime does not slice would be misaligned after a drop."""
    thinker, inputs = spine.thinker(), spine.make_inputs("av_moving.mp4")

    def add(kw):
        cos = next(v for v in kw.values() if isinstance(v, tuple))[0]
        kw["token_type_bias"] = torch.zeros(cos.shape[1])
        return kw

    def drop(kw):
        kw.pop("token_type_bias", None)
        return kw

    with rewritten_layer_calls(thinker, add, drop), pytest.raises(SeamError, match="token_type_bias"):
        generate(thinker, inputs, ScriptedMethod(), max_new_tokens=3, eos_token_ids=EOS)


def test_find_classifies_by_value_not_name():
    cache = transformers.DynamicCache()
    L = 7
    cos = torch.zeros(1, L, 4)
    mask = torch.zeros(1, 1, L, L, dtype=torch.bool)
    pos = torch.arange(L).view(1, 1, L).expand(3, 1, L)
    hidden = torch.zeros(1, 5, 8)
    call = LayerCall.find((), {"h": hidden, "kv": cache, "rot": (cos, cos), "m": mask, "p": pos, "use_cache": True},
                          cache, L, 5, 1, layer=3)
    assert call == LayerCall(hidden="h", cache="kv", rope="rot", mask="m", positions="p")
    args, kwargs = call.with_hidden((), {"h": hidden}, torch.ones(1, 4, 8))
    assert args == () and kwargs["h"].shape == (1, 4, 8)
    with pytest.raises(SeamError, match="two candidates for the positions"):
        LayerCall.find((hidden,), {"kv": cache, "rot": (cos, cos), "a": pos, "b": pos[0]}, cache, L, 5, 1, 0)
    with pytest.raises(SeamError, match="rotary"):
        LayerCall.find((hidden,), {"kv": cache, "rot": (cos[:, :3], cos[:, :3])}, cache, L, 5, 1, 0)
    with pytest.raises(SeamError, match="hidden states"):
        LayerCall.find((), {"kv": cache, "rot": (cos, cos)}, cache, L, 5, 1, 0)
    with pytest.raises(SeamError, match="KV cache"):  # another cache object is not the runtime's
        LayerCall.find((hidden,), {"kv": transformers.DynamicCache(), "rot": (cos, cos)}, cache, L, 5, 1, 0)


def test_cache_keyword_follows_the_signature():
    class New(torch.nn.Module):
        def forward(self, inputs_embeds=None, cache=None):
            return None

    class Old(torch.nn.Module):
        def forward(self, inputs_embeds=None, past_key_values=None):
            return past_key_values

    class Neither(torch.nn.Module):
        def forward(self, inputs_embeds=None):
            return None

    assert cache_keyword(New()) == "cache"
    assert cache_keyword(Old()) == "past_key_values"
    with pytest.raises(SeamError, match="no KV cache keyword"):
        cache_keyword(Neither())


def test_keep_positions_refuses_a_layer_of_another_length():
    cache = PrunableCache()
    for j, n in enumerate((5, 5, 4)):
        keys = torch.arange(2 * n, dtype=torch.float32).view(1, 1, n, 2)
        cache.update(keys, keys.clone(), j)
    idx = torch.tensor([0, 2, 4])
    cache.keep_positions(range(2), 5, lambda dev: idx)
    assert cache.layers[0].keys[0, 0, :, 0].tolist() == [0.0, 4.0, 8.0]
    assert cache.layers[1].values[0, 0, :, 0].tolist() == [0.0, 4.0, 8.0]
    with pytest.raises(SeamError, match="cache layer 2"):
        cache.keep_positions(range(3), 3, lambda dev: torch.tensor([0, 1]))


def test_seam_error_names_the_installed_version():
    assert errors.transformers_version() == transformers.__version__
    assert transformers.__version__ in str(SeamError("x"))
