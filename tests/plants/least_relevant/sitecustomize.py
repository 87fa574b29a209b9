"""A PLANTED BUG for the regression's own check (tests/test_regression.py, .ci/run): never a
user option. Put this folder first on PYTHONPATH and SEATS keeps the LEAST relevant tokens:
its per-window and global top-k and its window relevance (seats_eval/methods/seats.py) see
negated scores. The patch is applied when that module is first imported (nothing else is
imported early)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plant_hook import patch_on_import  # noqa: E402


def _plant(module) -> None:
    per_window, global_k = module.topk_per_window, module.global_topk
    relevance, seg_mean = module.window_relevance, module.segment_mean
    module.topk_per_window = lambda scores, window, budget, member: per_window(-scores, window, budget, member)
    module.global_topk = lambda scores, member, k: global_k(-scores, member, k)
    # the window budgets too: the least relevant windows get the most (a flipped sign of the
    # relevance, not only of the top-k; the where clips fill their evidence window, so a
    # per-window inversion alone still kept some evidence tokens)
    module.window_relevance = lambda scores, *args, **kw: relevance(-scores, *args, **kw)
    module.segment_mean = lambda scores, *args, **kw: seg_mean(-scores, *args, **kw)
    print("seats-eval PLANTED BUG: SEATS keeps the least relevant tokens", file=sys.stderr)


patch_on_import("seats_eval.methods.seats", _plant)
