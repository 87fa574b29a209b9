"""The selection loop without the LLM: plan, Stage I, then every drop step through the
runtime's own rule (`select_step`), layer by layer.

`select_step` is the selection half of a drop step, shared with the runtime's `_drop`
(runtime/prune.py): the method's `kept_counts` and `in_llm`, the mask's validation and the
index rule (`kept_index`). `run_selection` drives the same calls without a model, so
`seats-eval flops` (per-layer lengths of methods whose counts depend on the content) and
`seats-eval bench select` (the selection's time) run what the runtime runs; only the scores
come from the caller (random, or a projection standing in for the layer).

Why in runtime/ and not select/: select/ holds pure tensor rules with no method or layout
imports; the loop is the runtime's bookkeeping (its index rule, its counts on the host), and
bench/ may import runtime/ but not the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch

from ..errors import SeatsError
from ..layout import TokenLayout
from ..methods.base import Counts, DropStep, Method, Plan, PreLLMContext
from ..select import checks

# scores(step, layout, hidden) -> last-text-token scores over the current tokens (or None)
ScoreFn = Callable[[DropStep, TokenLayout, "torch.Tensor | None"], "torch.Tensor | None"]


def kept_index(keep: torch.Tensor, expected: Counts | None) -> torch.Tensor:
    """Indices of the kept tokens, ascending. With the counts known on the host a stable
    sort puts the kept ones first, so the mask is never read (the drop steps always know
    them: declared, or read once as counts); None (Stage I, before the LLM) reads the mask."""
    if expected is None:
        return torch.nonzero(keep).flatten()
    return torch.argsort((~keep).to(torch.uint8), stable=True)[: sum(expected)]


def select_step(method: Method, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout, plan: Plan,
                sample: str = "") -> tuple[torch.Tensor, Counts | None]:
    """(kept indices into the current tokens, their (text, video, audio) counts) of one drop
    step: what the runtime slices its hidden states by. Counts the method does not declare
    (they depend on the scores) are read from the mask once."""
    expected = method.kept_counts(step, layout.counts(), plan)
    keep = method.in_llm(step, scores, layout, plan)
    if keep.dtype != torch.bool or keep.shape != (layout.length,):
        raise SeatsError(f"{method.name}: in_llm must return a bool mask of the current length")
    if checks.enabled(keep):
        if not bool(keep[layout.text_mask].all()):
            raise SeatsError(f"{method.name}: in_llm dropped text tokens ({sample})")
        kept = layout.subset(keep).counts()
        if expected is not None and kept != tuple(expected):
            raise SeatsError(f"{method.name}: in_llm kept (text, video, audio) = {kept}, "
                             f"kept_counts said {tuple(expected)} ({sample})")
    if expected is None:  # counts that depend on the scores: read them, the step's one sync
        expected = layout.counts_in(keep)
    return kept_index(keep, expected), expected


@dataclass
class SelectionTrace:
    """What one selection loop kept: (text, video, audio) per decoder layer, the layout and
    hidden rows after the last step."""

    layer_counts: list[Counts] = field(default_factory=list)
    layout: TokenLayout | None = None
    hidden: torch.Tensor | None = None

    @property
    def lengths(self) -> list[int]:
        return [sum(c) for c in self.layer_counts]


def _untimed(label: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


def run_selection(method: Method, ctx: PreLLMContext, num_layers: int, scores: ScoreFn,
                  hidden: torch.Tensor | None = None,
                  clock: Callable[[str], AbstractContextManager[None]] = _untimed) -> SelectionTrace:
    """The method's selection for one sample without the LLM. `hidden` (S, D): rows carried
    through the drops as the runtime carries its hidden states (the scores' input; None: no
    rows); `clock(label)` wraps Stage I ("pre_llm") and each drop step (its name) for timing.
    Stage I's mask becomes indices as the runtime's Stage I makes them (`kept_index` with no
    counts: every Stage I reads its mask once, before the LLM)."""
    trace = SelectionTrace()
    with clock("pre_llm"):
        plan = method.plan(ctx.layout.counts())
        result = method.pre_llm(ctx, plan)
        keep, layout = result.keep, ctx.layout
        if result.embeds is not None and hidden is not None:  # merge methods: the merged vectors go on
            hidden = result.embeds.to(hidden.device, hidden.dtype)
        if keep is not None:
            idx = kept_index(keep, None)
            layout = layout.subset(idx)
            hidden = hidden.index_select(0, idx) if hidden is not None else None
    layout = layout.with_counts()  # counts on the host from here on, as in the runtime
    steps = {s.after_layer: s for s in method.drop_steps(num_layers)}
    for i in range(num_layers):
        trace.layer_counts.append(layout.counts())
        step = steps.get(i)
        if step is None:
            continue
        with clock(step.name or f"after_{i}"):
            local, expected = select_step(method, step, scores(step, layout, hidden), layout, plan, ctx.sample)
            hidden = hidden.index_select(0, local) if hidden is not None else None
            layout = layout.subset(local).with_counts(expected)
    trace.layout, trace.hidden = layout, hidden
    return trace

