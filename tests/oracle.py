"""Independent reference for in-LLM pruning: never drops anything.

It runs the stock decoder layers one by one over the FULL sequence and hides pruned tokens
with per-layer attention masks instead: a key is visible at layer j iff it is alive at
layer j (kept by every drop before j). Decoding recomputes the whole sequence each step
(no KV cache); generated tokens see only the tokens alive at the end of prefill, which is
what DESIGN 5b's cache pruning promises. If the runtime's slicing, RoPE, masks or cache
handling are wrong anywhere, logits or generated ids differ.
"""

from __future__ import annotations

import torch

from seats_eval.methods.base import PruneRecord
from seats_eval.runtime.generate import make_adapter


def _alive_per_layer(record: PruneRecord, num_layers: int, length: int) -> list[torch.Tensor]:
    alive = []
    for j in range(num_layers):
        k = sum(1 for after in record.step_layers if after < j)
        m = torch.zeros(length, dtype=torch.bool)
        m[record.kept_positions[k].cpu()] = True
        alive.append(m)
    return alive


def _mask(visible: torch.Tensor, dtype) -> torch.Tensor:
    """(q, k) boolean visibility -> additive mask; rows with nothing visible see themselves."""
    q, k = visible.shape
    vis = visible.clone()
    empty = ~vis.any(dim=1)
    vis[empty, torch.arange(q)[empty] + (k - q)] = True
    out = torch.zeros(q, k, dtype=dtype)
    out[~vis] = torch.finfo(dtype).min
    return out[None, None]


@torch.no_grad()
def oracle_generate(thinker, inputs, record: PruneRecord, max_new_tokens: int, eos: list[int]):
    ad = make_adapter(thinker)
    prep = ad.prepare(inputs)
    deepstack = prep.encoder_outputs.get("deepstack") or []
    video_pos = torch.nonzero(prep.layout.modality == 1).flatten()
    S = prep.input_ids.shape[1]
    L = ad.num_layers
    alive = _alive_per_layer(record, L, S)
    final = torch.zeros(S, dtype=torch.bool)
    final[record.kept_positions[-1].cpu()] = True
    delta = prep.rope_deltas.reshape(-1)[0]
    embed = ad.lm.get_input_embeddings()
    tokens: list[int] = []
    first_logits = None
    while True:
        n = len(tokens)
        T = S + n
        emb = prep.inputs_embeds
        pos = prep.position_ids
        if n:
            gen = torch.tensor(tokens).view(1, n)
            emb = torch.cat([emb, embed(gen)], dim=1)
            gpos = (S + torch.arange(n) + delta).view(1, 1, n).expand(3, 1, n)
            pos = torch.cat([pos, gpos], dim=-1)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        cos_sin = ad.lm.rotary_emb(emb, pos)
        h = emb
        for j, layer in enumerate(ad.layers):
            key_ok = torch.cat([alive[j], torch.ones(n, dtype=torch.bool)])
            vis = causal & key_ok[None, :]
            if n:  # generated queries see the final alive prompt tokens and earlier generated ones
                vis[S:, :S] = final[None, :]
            h = layer(h, attention_mask=_mask(vis, h.dtype), position_embeddings=cos_sin,
                      position_ids=None, past_key_values=None, use_cache=False)
            if j < len(deepstack):  # DeepStack (Qwen3-Omni): every video position, alive or not
                h = h.clone()
                h[0, video_pos] = h[0, video_pos] + deepstack[j].to(h.dtype)
        h = ad.lm.norm(h)
        logits = ad.lm_head(h[:, -1]).float()[0]
        if first_logits is None:
            first_logits = logits
            text_pos = torch.nonzero(alive[-1] & (prep.layout.modality == 0)).flatten()
            text_logits = ad.lm_head(h[0, text_pos]).float()
        tok = int(logits.argmax())
        tokens.append(tok)
        if tok in eos or len(tokens) >= max_new_tokens:
            return tokens, first_logits, text_logits
