"""Independent reference for in-LLM pruning: never drops anything.

It runs the stock decoder layers one by one over the FULL sequence and hides pruned tokens
with per-layer attention masks instead: a key is visible at layer j iff it is alive at
layer j (kept by every drop before j). Decoding recomputes the whole sequence each step
(no KV cache); generated tokens see only the tokens alive at the end of prefill, which is
what DESIGN 5b's cache pruning promises. If the runtime's slicing, RoPE, masks or cache
handling are wrong anywhere, logits or generated ids differ. Runs on the model's device
(CPU or CUDA, any dtype).
"""

from __future__ import annotations

import torch

from seats_eval.adapters import make_adapter
from seats_eval.methods.base import PruneRecord


def _alive_per_layer(record: PruneRecord, num_layers: int, length: int, device) -> list[torch.Tensor]:
    alive = []
    for j in range(num_layers):
        k = sum(1 for after in record.step_layers if after < j)
        m = torch.zeros(length, dtype=torch.bool, device=device)
        m[record.kept_positions[k].to(device)] = True
        alive.append(m)
    return alive


def _mask(visible: torch.Tensor, dtype) -> torch.Tensor:
    """(q, k) boolean visibility -> additive mask; rows with nothing visible see themselves."""
    q, k = visible.shape
    vis = visible.clone()
    rows = torch.arange(q, device=vis.device)
    empty = ~vis.any(dim=1)
    vis[rows[empty], rows[empty] + (k - q)] = True
    out = torch.zeros(q, k, dtype=dtype, device=vis.device)
    out[~vis] = torch.finfo(dtype).min
    return out[None, None]


class _Oracle:
    """The masked full-sequence forward of one sample, for any continuation of its prompt."""

    def __init__(self, thinker, inputs, record: PruneRecord) -> None:
        self.ad = make_adapter(thinker)
        self.prep = self.ad.prepare(inputs)
        self.dev = self.prep.inputs_embeds.device
        self.deepstack = self.prep.encoder_outputs.get("deepstack") or []
        self.video_pos = torch.nonzero(self.prep.layout.modality == 1).flatten().to(self.dev)
        self.S = self.prep.input_ids.shape[1]
        self.alive = _alive_per_layer(record, self.ad.num_layers, self.S, self.dev)
        self.final = torch.zeros(self.S, dtype=torch.bool, device=self.dev)
        self.final[record.kept_positions[-1].to(self.dev)] = True

    @torch.no_grad()
    def forward(self, tokens: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(fp32 logits of the last position, fp32 logits at the alive prompt text positions)
        after the prompt followed by `tokens`."""
        ad, prep, S, dev = self.ad, self.prep, self.S, self.dev
        n = len(tokens)
        T = S + n
        emb, pos = prep.inputs_embeds, prep.position_ids
        if n:
            gen = torch.tensor(tokens, device=dev).view(1, n)
            emb = torch.cat([emb, ad.lm.get_input_embeddings()(gen)], dim=1)
            delta = prep.rope_deltas.reshape(-1)[0]
            gpos = (S + torch.arange(n, device=dev) + delta).view(1, 1, n).expand(3, 1, n)
            pos = torch.cat([pos, gpos], dim=-1)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=dev))
        cos_sin = ad.lm.rotary_emb(emb, pos)
        h = emb
        ones = torch.ones(n, dtype=torch.bool, device=dev)
        for j, layer in enumerate(ad.layers):
            vis = causal & torch.cat([self.alive[j], ones])[None, :]
            if n:  # generated queries see the final alive prompt tokens and earlier generated ones
                vis[S:, :S] = self.final[None, :]
            h = layer(h, attention_mask=_mask(vis, h.dtype), position_embeddings=cos_sin,
                      position_ids=None, use_cache=False)  # no cache keyword: renamed in 5.25 (cache)
            if j < len(self.deepstack):  # DeepStack (Qwen3-Omni): every video position, alive or not
                h = h.clone()
                h[0, self.video_pos] = h[0, self.video_pos] + self.deepstack[j].to(h.dtype)
        h = ad.lm.norm(h)
        text_pos = torch.nonzero(self.alive[-1] & (prep.layout.modality.to(dev) == 0)).flatten()
        return ad.lm_head(h[:, -1]).float()[0], ad.lm_head(h[0, text_pos]).float()


@torch.no_grad()
def oracle_generate(thinker, inputs, record: PruneRecord, max_new_tokens: int, eos: list[int]):
    """Greedy ids, first-step logits and prompt text logits of the oracle."""
    oracle = _Oracle(thinker, inputs, record)
    tokens: list[int] = []
    first_logits = text_logits = None
    while True:
        logits, text = oracle.forward(tokens)
        if first_logits is None:
            first_logits, text_logits = logits, text
        tok = int(logits.argmax())
        tokens.append(tok)
        if tok in eos or len(tokens) >= max_new_tokens:
            return tokens, first_logits, text_logits


@torch.no_grad()
def oracle_step_logits(thinker, inputs, record: PruneRecord, tokens: list[int]) -> list[torch.Tensor]:
    """Teacher-forced oracle: the logits it gives before each of `tokens` (fp32), so a
    low-precision run can be checked step by step without diverging greedy paths."""
    oracle = _Oracle(thinker, inputs, record)
    return [oracle.forward(tokens[:i])[0] for i in range(len(tokens))]
